// The command table against the real thing: COMMAND INFO and COMMAND DOCS of every command the
// node serves must be Redis 7.0's byte for byte (in RESP3 and RESP2), and the keys the node finds
// in a request (which decide what a command's transaction works on) must be the ones COMMAND
// GETKEYS and GETKEYSANDFLAGS of a real Redis name, for random requests to every Redis command.
// The committed metadata must also be exactly what the generator writes from that Redis.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { commandReply } from '../../apps/data-node/src/commands/command-command.js';
import {
  ALL_DEFINITIONS,
  type CommandDefinition,
  createCommandTable,
  SESSION_COMMANDS,
} from '../../apps/data-node/src/commands/command-table.js';
import { COMMAND_TABLE } from '../../apps/data-node/src/commands/served-commands.js';
import { encodeReply, type Reply, type RespVersion } from '../../libs/resp/src/index.js';
import { RawConnection } from '../support/clients.js';
import { repoRoot, testEnvironment } from '../support/environment.js';
import { mulberry32, seedFromEnvironment } from '../support/prng.js';

const SEED = seedFromEnvironment('FUZZ_SEED', 20261202);
const REQUESTS_PER_COMMAND = 40;
/** Ours, not Redis 7.0's: Borealis's command, and CLIENT SETINFO and NO-TOUCH (Redis 7.2, as 7.4 has them). */
const NOT_IN_REDIS_7_0 = new Set(['borealis', 'client|setinfo', 'client|no-touch']);
/** Served as Redis 7.2 changed them: ZRANK and ZREVRANK take WITHSCORE (arity -3, one more argument). */
const CHANGED_SINCE_7_0 = new Set(['zrank', 'zrevrank']);
/**
 * GETKEYS of these uses a rule of Redis's own that the node does not need, as it serves none of
 * them: SORT's BY/GET patterns, MIGRATE's KEYS, XREAD's search for STREAMS from the start where
 * the key spec's search finds no keys.
 */
const KEYS_NOT_MODELLED = new Set(['sort', 'sort_ro', 'migrate', 'xread', 'xreadgroup']);

const connections: Record<RespVersion, RawConnection | null> = { 2: null, 3: null };

async function openRedis(protocol: RespVersion): Promise<RawConnection> {
  const url = new URL(testEnvironment.redisUrl());
  const connection = await RawConnection.open(Number(url.port || 6379));
  const hello = ['HELLO', String(protocol)];
  if (url.password !== '')
    hello.push('AUTH', decodeURIComponent(url.username || 'default'), decodeURIComponent(url.password));
  const [reply] = await connection.call(hello);
  assert.equal(reply?.kind, protocol === 3 ? 'map' : 'array', 'HELLO');
  return connection;
}

before(async () => {
  connections[2] = await openRedis(2);
  connections[3] = await openRedis(3);
});

after(() => {
  connections[2]?.end();
  connections[3]?.end();
});

async function redis(protocol: RespVersion, requests: string[][]): Promise<Reply[]> {
  const connection = connections[protocol];
  assert.ok(connection, 'connected to Redis');
  return connection.call(...requests);
}

/** Every served command and subcommand, by full name. */
function servedNames(): string[] {
  return COMMAND_TABLE.specs.flatMap((spec) => [
    spec.name,
    ...[...(spec.subcommands?.values() ?? [])].map((sub) => sub.name),
  ]);
}

/**
 * Redis lists a container's subcommands in its hash table's order, and all of them: keep the
 * ones the node serves, by name. `entries` are COMMAND INFO's subcommand array or DOCS's map.
 */
function servedSubcommandsOnly(reply: Reply): Reply {
  const served = new Set(servedNames().filter((name) => !NOT_IN_REDIS_7_0.has(name)));
  const name = (item: Reply): string => {
    const nameReply = item.kind === 'array' ? item.items[0] : item;
    return nameReply?.kind === 'bulk' ? nameReply.value.toString() : '';
  };
  const normalise = (entry: Reply): Reply => {
    if (entry.kind === 'array' && entry.items.length === 10 && entry.items[9]?.kind === 'array') {
      const subcommands = entry.items[9].items
        .filter((item) => served.has(name(item)))
        .sort((left, right) => (name(left) < name(right) ? -1 : 1));
      return { kind: 'array', items: [...entry.items.slice(0, 9), { kind: 'array', items: subcommands }] };
    }
    if (entry.kind === 'map') {
      return {
        kind: 'map',
        entries: entry.entries.map(([key, value]) => {
          if (key.kind !== 'bulk' || key.value.toString() !== 'subcommands' || value.kind !== 'map') {
            return [key, value];
          }
          const kept = value.entries
            .filter(([subName]) => served.has(name(subName)))
            .sort(([left], [right]) => (name(left) < name(right) ? -1 : 1));
          return [key, { kind: 'map', entries: kept }];
        }),
      };
    }
    return entry;
  };
  if (reply.kind === 'array') return { kind: 'array', items: reply.items.map(normalise) };
  if (reply.kind === 'map')
    return { kind: 'map', entries: reply.entries.map(([key, value]) => [key, normalise(value)]) };
  return reply;
}

test('COMMAND INFO and COMMAND DOCS of every served command are Redis 7.0 byte for byte', async () => {
  const names = servedNames().filter(
    (name) =>
      !NOT_IN_REDIS_7_0.has(name.split('|')[0] as string) &&
      !NOT_IN_REDIS_7_0.has(name) &&
      !CHANGED_SINCE_7_0.has(name),
  );
  assert.ok(names.length >= 80, `${names.length} served commands`);
  const requests = names.flatMap((name) => [
    ['COMMAND', 'INFO', name],
    ['COMMAND', 'DOCS', name],
  ]);
  const mismatches: string[] = [];
  for (const protocol of [2, 3] as const) {
    const theirs = await redis(protocol, requests);
    requests.forEach((request, index) => {
      const isContainer = COMMAND_TABLE.lookupByFullName(request[2] as string)?.subcommands != null;
      // RESP2 flattens maps, so a container's subcommands are picked out in RESP3 only.
      if (protocol === 2 && isContainer) return;
      const ourReply = commandReply(
        COMMAND_TABLE,
        request.map((arg) => Buffer.from(arg)),
      );
      // Both sides without the subcommands Redis 7.0 lacks (CLIENT SETINFO) or the node does not serve.
      const ours = encodeReply(isContainer ? servedSubcommandsOnly(ourReply) : ourReply, protocol);
      const reply = theirs[index] as Reply;
      const expected = encodeReply(isContainer ? servedSubcommandsOnly(reply) : reply, protocol);
      if (!ours.equals(expected)) {
        mismatches.push(
          `RESP${protocol} ${request.join(' ')}\n  ours:  ${ours.toString()}\n  Redis: ${expected.toString()}`,
        );
      }
    });
  }
  assert.deepEqual(mismatches.slice(0, 5), []);
});

test('COMMAND errors for unknown names and GETKEYS errors match Redis', async () => {
  const requests = [
    ['COMMAND', 'INFO', 'get', 'nosuch', 'client|setname', 'client|nosuch', 'get|x', 'a|b|c'],
    ['COMMAND', 'DOCS', 'get', 'nosuch', 'client|getname'],
    ['COMMAND', 'GETKEYS', 'nosuch', 'a'],
    ['COMMAND', 'GETKEYS', 'ping', 'a'],
    ['COMMAND', 'GETKEYS', 'get', 'a', 'b'],
    ['COMMAND', 'GETKEYS', 'get', 'a'],
    ['COMMAND', 'GETKEYS', 'client', 'getname'],
    ['COMMAND', 'GETKEYS', 'client', 'nosuch'],
    ['COMMAND', 'GETKEYS', 'mset', 'a', '1', 'b'],
    ['COMMAND', 'GETKEYSANDFLAGS', 'mset', 'a', '1', 'b', '2'],
    ['COMMAND', 'GETKEYSANDFLAGS', 'SET', 'a', '1', 'GET'],
    ['COMMAND', 'GETKEYSANDFLAGS', 'set', 'a', '1', 'EX', '10'],
    ['COMMAND', 'GETKEYS'],
    ['COMMAND', 'GETKEYS', 'get'],
    ['COMMAND', 'HELP'],
  ];
  for (const protocol of [2, 3] as const) {
    const theirs = await redis(protocol, requests);
    requests.forEach((request, index) => {
      const ours = commandReply(
        COMMAND_TABLE,
        request.map((arg) => Buffer.from(arg)),
      );
      assert.equal(
        encodeReply(ours, protocol).toString(),
        encodeReply(theirs[index] as Reply, protocol).toString(),
        `RESP${protocol} ${request.join(' ')}`,
      );
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Keys: a table serving every Redis command, asked GETKEYS for random requests.

/** The tokens a command's arguments use (STREAMS, STORE, WEIGHTS…), from its docs. */
function tokensOf(definition: CommandDefinition): string[] {
  const tokens: string[] = [];
  const visit = (argumentsDocs: CommandDefinition['docs']['arguments']): void => {
    for (const argument of argumentsDocs ?? []) {
      if (argument.token !== undefined) tokens.push(argument.token);
      visit(argument.arguments);
    }
  };
  visit(definition.docs.arguments);
  return tokens;
}

const FILLERS = [
  'k1',
  'k2',
  'k3',
  'v',
  '0',
  '1',
  '2',
  '3',
  '-1',
  '01',
  '2x',
  ' 2',
  '4294967297',
  'get',
  'GET',
];

function randomRequest(random: () => number, definition: CommandDefinition): string[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const words = [...definition.name.split('|')];
  const tokens = tokensOf(definition);
  const length = Math.abs(definition.arity) + Math.floor(random() * 6) - (random() < 0.1 ? 1 : 0);
  while (words.length < length)
    words.push(tokens.length > 0 && random() < 0.3 ? pick(tokens) : pick(FILLERS));
  return words;
}

test('the keys found in a request are the ones COMMAND GETKEYS and GETKEYSANDFLAGS give', async () => {
  const random = mulberry32(SEED);
  const everything = ALL_DEFINITIONS.filter(
    (definition) => !NOT_IN_REDIS_7_0.has(definition.name) && !CHANGED_SINCE_7_0.has(definition.name),
  );
  const flatten = (definition: CommandDefinition): CommandDefinition[] =>
    definition.subcommands === undefined
      ? [definition]
      : definition.subcommands.filter((sub) => !NOT_IN_REDIS_7_0.has(sub.name));
  const commands = everything
    .flatMap(flatten)
    .filter((definition) => !KEYS_NOT_MODELLED.has(definition.name));
  // Every Redis command served, so that GETKEYS knows each of them.
  const table = createCommandTable(
    commands.map((definition) => definition.name).filter((name) => !SESSION_COMMANDS.has(name)),
  );
  const requests: string[][] = [];
  for (const definition of commands) {
    for (let count = 0; count < REQUESTS_PER_COMMAND; count++) {
      const request = randomRequest(random, definition);
      requests.push(['COMMAND', 'GETKEYSANDFLAGS', ...request], ['COMMAND', 'GETKEYS', ...request]);
    }
  }
  const theirs = await redis(3, requests);
  const mismatches: string[] = [];
  requests.forEach((request, index) => {
    const ours = encodeReply(
      commandReply(
        table,
        request.map((arg) => Buffer.from(arg)),
      ),
      3,
    ).toString();
    const expected = encodeReply(theirs[index] as Reply, 3).toString();
    if (ours !== expected)
      mismatches.push(
        `${JSON.stringify(request)}\n  ours:  ${JSON.stringify(ours)}\n  Redis: ${JSON.stringify(expected)}`,
      );
  });
  assert.deepEqual(
    mismatches.slice(0, 8),
    [],
    `FUZZ_SEED=${SEED}: ${mismatches.length} of ${requests.length} differ`,
  );
});

test('the committed metadata is what the generator writes from the reference Redis', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'command-metadata-'));
  try {
    const output = join(directory, 'metadata.json');
    await promisify(execFile)(
      process.execPath,
      [
        join(repoRoot, 'scripts', 'generate-command-table.mjs'),
        '--redis-url',
        testEnvironment.redisUrl(),
        '--output',
        output,
      ],
      { timeout: 60_000 },
    );
    const committed = join(repoRoot, 'apps', 'data-node', 'src', 'commands', 'redis-command-metadata.json');
    // Equal bytes: hand edits would show here, and so would a reference of another version.
    assert.ok(
      readFileSync(output).equals(readFileSync(committed)),
      'regenerate with scripts/generate-command-table.mjs',
    );
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
