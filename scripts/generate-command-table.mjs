// Writes apps/data-node/src/commands/redis-command-metadata.json: every command and subcommand of
// the reference Redis (7.0) as its own COMMAND INFO and COMMAND DOCS describe them.
//
// Why generated: clients read this metadata (redis-cli's hints, cluster clients' key positions,
// COMMAND DOCS browsers), so it must be Redis's own, field for field. Copied by hand, it drifted:
// missing tips, key specs rebuilt from the legacy range, no argument docs. The data node's command
// table (command-table.ts) is built from this file; which of these commands the node serves is
// decided there, by the implementations it has.
//
//   node scripts/generate-command-table.mjs                 # a private redis-server from PATH
//   node scripts/generate-command-table.mjs --redis-url redis://127.0.0.1:6379
//   node scripts/generate-command-table.mjs --output /tmp/metadata.json      # elsewhere (tests)
//
// The output is deterministic (commands and subcommands sorted by name, every field in the order
// Redis gives it), so regenerating from the same Redis version gives no diff.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const metadataFile = resolve(repoRoot, 'apps/data-node/src/commands/redis-command-metadata.json');
const REPLY_TIMEOUT_MS = 10_000;
const SERVER_START_TIMEOUT_MS = 10_000;
const REPLY_BYTES_MAX = 64 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// A RESP3 reader that keeps the reply types: bulk strings become JS strings, simple strings
// { simple }, sets { set: [] }, maps { map: [[key, value]…] }, so that nothing is lost.

class Incomplete extends Error {}

function parseReply(buffer, start) {
  const lineEnd = buffer.indexOf('\r\n', start);
  if (lineEnd < 0) throw new Incomplete();
  const type = String.fromCharCode(buffer[start]);
  const line = buffer.toString('latin1', start + 1, lineEnd);
  let position = lineEnd + 2;
  switch (type) {
    case '+':
      return [{ simple: line }, position];
    case '-':
      return [{ error: line }, position];
    case ':':
      return [Number(line), position];
    case '_':
      return [null, position];
    case '$':
    case '=': {
      // A verbatim string ('=') starts with its three-letter format and a colon.
      const length = Number(line);
      if (length < 0) return [null, position];
      if (buffer.length < position + length + 2) throw new Incomplete();
      const text = buffer.toString('utf8', position, position + length);
      return [type === '=' ? text.slice(4) : text, position + length + 2];
    }
    case '*':
    case '~':
    case '%': {
      const count = Number(line);
      const items = [];
      for (let index = 0; index < count * (type === '%' ? 2 : 1); index++) {
        const [item, next] = parseReply(buffer, position);
        items.push(item);
        position = next;
      }
      if (type === '*') return [items, position];
      if (type === '~') return [{ set: items }, position];
      const entries = [];
      for (let index = 0; index < items.length; index += 2) entries.push([items[index], items[index + 1]]);
      return [{ map: entries }, position];
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

async function openConnection(port, host) {
  const socket = await new Promise((resolveSocket, reject) => {
    const opened = connect({ port, host }, () => resolveSocket(opened));
    opened.once('error', reject);
  });
  let buffered = Buffer.alloc(0);
  let waiting = null;
  const deliver = () => {
    if (waiting === null) return;
    try {
      const [reply, end] = parseReply(buffered, 0);
      buffered = buffered.subarray(end);
      const { resolveReply } = waiting;
      waiting = null;
      resolveReply(reply);
    } catch (cause) {
      if (!(cause instanceof Incomplete)) waiting.reject(cause);
    }
  };
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    if (buffered.length > REPLY_BYTES_MAX) socket.destroy(new Error('reply too large'));
    deliver();
  });
  socket.on('error', (cause) => waiting?.reject(cause));
  const send = (args) =>
    new Promise((resolveReply, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${args.join(' ')}`)), REPLY_TIMEOUT_MS);
      waiting = {
        resolveReply: (reply) => {
          clearTimeout(timer);
          if (reply !== null && typeof reply === 'object' && 'error' in reply) {
            reject(new Error(`${args.join(' ')}: ${reply.error}`));
          } else {
            resolveReply(reply);
          }
        },
        reject: (cause) => {
          clearTimeout(timer);
          reject(cause);
        },
      };
      socket.write(
        `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`,
      );
      deliver();
    });
  return { send, close: () => socket.end() };
}

// ---------------------------------------------------------------------------------------------
// The reference server: --redis-url, or a private redis-server from PATH on a free port.

async function freePort() {
  const server = createServer();
  await new Promise((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address();
  await new Promise((resolveClose) => server.close(resolveClose));
  return port;
}

async function startPrivateRedis() {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--logfile', ''],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server did not start')), SERVER_START_TIMEOUT_MS);
    let output = '';
    child.once('error', (cause) => {
      clearTimeout(timer);
      reject(new Error(`cannot start redis-server from PATH (or pass --redis-url): ${cause.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${output}`));
    });
    child.stdout.on('data', (chunk) => {
      output = `${output}${chunk}`.slice(-10_000);
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolveReady();
      }
    });
  });
  child.removeAllListeners('exit');
  return { host: '127.0.0.1', port, stop: () => child.kill('SIGTERM') };
}

function optionValue(argv, name) {
  const index = argv.indexOf(name);
  return index < 0 ? null : (argv[index + 1] ?? '');
}

function referenceFromArguments(argv) {
  const redisUrl = optionValue(argv, '--redis-url');
  if (redisUrl === null) return null;
  const url = new URL(redisUrl);
  const auth =
    url.password === ''
      ? []
      : ['AUTH', decodeURIComponent(url.username || 'default'), decodeURIComponent(url.password)];
  return { host: url.hostname || '127.0.0.1', port: Number(url.port || 6379), auth, stop: () => {} };
}

// ---------------------------------------------------------------------------------------------
// From the replies to the file's shape.

const byName = (left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0);

/** A RESP3 map, set or value as plain JSON: maps become objects in Redis's field order. */
function plain(value) {
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    if ('simple' in value) return value.simple;
    if ('set' in value) return value.set.map(plain);
    if ('map' in value) return Object.fromEntries(value.map.map(([key, item]) => [key, plain(item)]));
  }
  return value;
}

function commandEntry(info, docsByName) {
  const [name, arity, flags, firstKey, lastKey, keyStep, aclCategories, tips, keySpecs, subcommands] = info;
  const docs = plain(docsByName.get(name) ?? { map: [] });
  // A subcommand's docs come with its own entry.
  const subcommandDocs = new Map(
    (docsByName.get(name)?.map ?? []).find(([key]) => key === 'subcommands')?.[1].map,
  );
  delete docs.subcommands;
  const entry = {
    name,
    arity,
    flags: plain(flags),
    firstKey,
    lastKey,
    keyStep,
    aclCategories: plain(aclCategories),
    tips: plain(tips),
    keySpecs: plain(keySpecs),
    docs,
  };
  if (Array.isArray(subcommands)) {
    entry.subcommands = subcommands.map((sub) => commandEntry(sub, subcommandDocs)).sort(byName);
  }
  return entry;
}

/**
 * JSON with objects one field a line and arrays of plain values on one line: readable diffs
 * without a line per flag.
 */
function format(value, indent = '') {
  if (Array.isArray(value)) {
    if (value.every((item) => item === null || typeof item !== 'object')) {
      return `[${value.map((item) => JSON.stringify(item)).join(', ')}]`;
    }
    const inner = `${indent}  `;
    return `[\n${value.map((item) => `${inner}${format(item, inner)}`).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    const inner = `${indent}  `;
    const lines = entries.map(([key, item]) => `${inner}${JSON.stringify(key)}: ${format(item, inner)}`);
    return `{\n${lines.join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}

async function main() {
  const reference = referenceFromArguments(process.argv.slice(2)) ?? (await startPrivateRedis());
  try {
    const connection = await openConnection(reference.port, reference.host);
    await connection.send(['HELLO', '3', ...(reference.auth ?? [])]);
    const serverInfo = await connection.send(['INFO', 'server']);
    const version = /redis_version:(\S+)/.exec(String(serverInfo))?.[1] ?? 'unknown';
    const infos = await connection.send(['COMMAND']);
    const docs = await connection.send(['COMMAND', 'DOCS']);
    connection.close();
    const docsByName = new Map(docs.map);
    const commands = infos.map((info) => commandEntry(info, docsByName)).sort(byName);
    const file = {
      source: `Redis ${version}: COMMAND and COMMAND DOCS, written by scripts/generate-command-table.mjs`,
      commands,
    };
    const outputFile = optionValue(process.argv.slice(2), '--output') ?? metadataFile;
    writeFileSync(outputFile, `${format(file)}\n`);
    console.log(`${commands.length} commands from Redis ${version} written to ${outputFile}`);
  } finally {
    reference.stop();
  }
}

await main();
