// Real clients against real data-node processes over a real six-node storage fleet: ioredis
// (one suite per command family, pipelines, transactions, binary data, a 1 MiB value), a raw
// socket speaking RESP3, AUTH against a node with a password, a scripted redis-cli session and
// redis-benchmark. Replies and error texts are the ones Redis 7.0 gives for the same commands.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis, type RedisOptions } from 'ioredis';
import { ParseError, type Reply, ReplyParser } from '../../libs/resp/src/index.js';
import { COMMAND_TIMEOUT_MS, connectRedis, runTool } from '../support/clients.js';
import { type RunningDataNode, startDataNode } from '../support/data-nodes.js';
import { mulberry32 } from '../support/prng.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';
import { waitUntil } from '../support/wait.js';

const PASSWORD = 'correct horse battery staple';
const TOOL_TIMEOUT_MS = 30_000;
const BENCHMARK_TIMEOUT_MS = 90_000;

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';
const NOT_AN_INTEGER = 'ERR value is not an integer or out of range';
const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';
const EXECABORT = 'EXECABORT Transaction discarded because of previous errors.';

let fleet: StorageFleet | undefined;
let node: RunningDataNode | undefined;
let secured: RunningDataNode | undefined;
const clients = new Set<Redis>();
const sockets = new Set<Socket>();
const tools = new Set<ChildProcess>();

function dataNode(): RunningDataNode {
  assert.ok(node, 'the data node is running');
  return node;
}

function securedNode(): RunningDataNode {
  assert.ok(secured, 'the data node with a password is running');
  return secured;
}

/** An ioredis client that fails fast instead of reconnecting, closed in after(). */
function openClient(port: number, options: RedisOptions = {}): Promise<Redis> {
  return connectRedis(port, options, clients);
}

async function rejectsWith(promise: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(promise, (cause: Error) => {
    assert.equal(cause.message, message);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// A raw RESP connection: requests encoded by hand, replies read with ReplyParser, every byte kept.

function encodeRequest(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

class RespConnection {
  private readonly parser = new ReplyParser();
  private readonly waiting: { resolve(reply: Reply): void; reject(cause: Error): void }[] = [];
  private readonly received: Buffer[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received.push(Buffer.from(chunk));
      this.parser.push(chunk);
      for (;;) {
        const reply = this.parser.next();
        if (reply === null) break;
        if (reply instanceof ParseError) {
          this.failAll(new Error(`unparsable reply: ${reply.message}`));
          break;
        }
        this.waiting.shift()?.resolve(reply);
      }
    });
    socket.on('close', () => this.failAll(new Error('the connection closed')));
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<RespConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      sockets.add(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no connection to port ${port} within 5 s`));
      }, 5_000);
      socket.once('error', (cause) => {
        clearTimeout(timer);
        reject(cause);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new RespConnection(socket));
      });
    });
  }

  /** Sends one request and resolves with its reply, parsed. */
  command(...args: (string | Buffer)[]): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no reply to ${String(args[0])} within ${COMMAND_TIMEOUT_MS} ms`)),
        COMMAND_TIMEOUT_MS,
      );
      this.waiting.push({
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (cause) => {
          clearTimeout(timer);
          reject(cause);
        },
      });
      this.socket.write(encodeRequest(args));
    });
  }

  /** Every byte received so far, as latin1 text. */
  transcript(): string {
    return Buffer.concat(this.received).toString('latin1');
  }

  close(): void {
    this.socket.destroy();
    sockets.delete(this.socket);
  }

  private failAll(cause: Error): void {
    for (const waiter of this.waiting.splice(0)) waiter.reject(cause);
  }
}

const bulkText = (text: string): Reply => ({ kind: 'bulk', value: Buffer.from(text) });

/** Replies compared as data: bulk strings by their bytes, whatever their buffer. */
function normalized(reply: Reply): unknown {
  switch (reply.kind) {
    case 'bulk':
      return { bulk: Buffer.from(reply.value).toString('latin1') };
    case 'array':
    case 'set':
      return { [reply.kind]: reply.items.map(normalized) };
    case 'map':
      return { map: reply.entries.map(([key, value]) => [normalized(key), normalized(value)]) };
    default:
      return reply;
  }
}

function assertReply(actual: Reply, expected: Reply, message?: string): void {
  assert.deepEqual(normalized(actual), normalized(expected), message);
}

// ---------------------------------------------------------------------------------------------
// The pipeline: random commands over a few keys, each reply predicted by a small model.

type Expected = { error: string } | { value: unknown };

interface PipelineStep {
  args: (string | number)[];
  expected: Expected;
}

function pipelineSteps(seed: number, count: number): PipelineStep[] {
  const random = mulberry32(seed);
  const below = (limit: number): number => Math.floor(random() * limit);
  const pick = <T>(items: readonly T[]): T => items[below(items.length)] as T;
  const stringKeys = ['pipe:s0', 'pipe:s1', 'pipe:s2', 'pipe:s3'];
  const counterKeys = ['pipe:c0', 'pipe:c1', 'pipe:c2'];
  const hashKeys = ['pipe:h0', 'pipe:h1', 'pipe:h2'];
  const allKeys = [...stringKeys, ...counterKeys, ...hashKeys];
  const fields = ['f0', 'f1', 'f2', 'f3', 'f4'];
  const strings = new Map<string, string>();
  const hashes = new Map<string, Map<string, string>>();
  const word = (): string => `${'abcdefgh'.charAt(below(8))}${below(1000)}`;
  const typeOf = (key: string): string => (strings.has(key) ? 'string' : hashes.has(key) ? 'hash' : 'none');
  const steps: PipelineStep[] = [];
  const step = (args: (string | number)[], expected: Expected) => steps.push({ args, expected });
  const value = (result: unknown): Expected => ({ value: result });

  // About a fifth of the commands write. A connection runs its commands one at a time and each
  // write waits for its quorum commit, while reads come from the cache.
  while (steps.length < count) {
    const roll = below(100);
    if (roll < 5) {
      const key = pick(stringKeys);
      const text = word();
      strings.set(key, text);
      step(['SET', key, text], value('OK'));
    } else if (roll < 28) {
      const key = pick([...stringKeys, ...counterKeys]);
      step(['GET', key], value(strings.get(key) ?? null));
    } else if (roll < 31) {
      const key = pick(stringKeys);
      const suffix = word();
      const next = `${strings.get(key) ?? ''}${suffix}`;
      strings.set(key, next);
      step(['APPEND', key, suffix], value(next.length));
    } else if (roll < 36) {
      const key = pick(stringKeys);
      step(['STRLEN', key], value(strings.get(key)?.length ?? 0));
    } else if (roll < 41) {
      const key = pick(counterKeys);
      const increment = below(101) - 50;
      const current = strings.get(key);
      if (current !== undefined && !/^(?:0|-?[1-9]\d*)$/.test(current)) {
        step(['INCRBY', key, increment], { error: NOT_AN_INTEGER });
      } else {
        const next = Number(current ?? '0') + increment;
        strings.set(key, String(next));
        step(['INCRBY', key, increment], value(next));
      }
    } else if (roll < 42) {
      const key = pick(counterKeys);
      const text = word();
      strings.set(key, text);
      step(['SET', key, text], value('OK'));
    } else if (roll < 47) {
      const key = pick(hashKeys);
      const field = pick(fields);
      const text = word();
      const hash = hashes.get(key) ?? new Map<string, string>();
      const created = hash.has(field) ? 0 : 1;
      hash.set(field, text);
      hashes.set(key, hash);
      step(['HSET', key, field, text], value(created));
    } else if (roll < 63) {
      const key = pick(hashKeys);
      const field = pick(fields);
      step(['HGET', key, field], value(hashes.get(key)?.get(field) ?? null));
    } else if (roll < 68) {
      const key = pick(hashKeys);
      step(['HLEN', key], value(hashes.get(key)?.size ?? 0));
    } else if (roll < 71) {
      const key = pick(hashKeys);
      const field = pick(fields);
      const hash = hashes.get(key);
      const removed = hash?.delete(field) === true ? 1 : 0;
      if (hash !== undefined && hash.size === 0) hashes.delete(key);
      step(['HDEL', key, field], value(removed));
    } else if (roll < 73) {
      const key = pick(allKeys);
      const existed = strings.delete(key) || hashes.delete(key) ? 1 : 0;
      step(['DEL', key], value(existed));
    } else if (roll < 82) {
      const key = pick(allKeys);
      step(['EXISTS', key], value(typeOf(key) === 'none' ? 0 : 1));
    } else if (roll < 90) {
      const key = pick(allKeys);
      step(['TYPE', key], value(typeOf(key)));
    } else if (roll < 95) {
      // A hash command on a string key, or a string command on a hash key.
      const key = pick(stringKeys);
      step(['HGET', key, 'f0'], strings.has(key) ? { error: WRONGTYPE } : value(null));
    } else {
      const key = pick(hashKeys);
      step(['GET', key], hashes.has(key) ? { error: WRONGTYPE } : value(null));
    }
  }
  return steps;
}

/** SCAN with its options until the cursor is back at 0; every key returned, duplicates kept. */
async function scanAll(client: Redis, options: string[]): Promise<{ keys: string[]; calls: number }> {
  const keys: string[] = [];
  let cursor = '0';
  let calls = 0;
  do {
    const [next, page] = (await client.call('SCAN', [cursor, ...options])) as [string, string[]];
    calls++;
    assert.ok(calls < 10_000, 'SCAN comes back to cursor 0');
    keys.push(...page);
    cursor = next;
  } while (cursor !== '0');
  return { keys, calls };
}

function infoField(info: string, field: string): string {
  const match = new RegExp(`^${field}:(.*)$`, 'm').exec(info);
  assert.ok(match, `INFO has ${field}`);
  return (match[1] as string).trim();
}

describe('a data node served to real clients', { timeout: 240_000 }, () => {
  let client: Redis;
  let other: Redis;

  before(async () => {
    fleet = await startStorageFleet();
    const storage = fleet.nodes;
    // Both start at once; whichever started is kept for after() even if the other failed.
    const [plain, withPassword] = await Promise.allSettled([
      startDataNode({ id: 'clients-d1', storage, coordinatorId: 7, cluster: 'clients' }),
      startDataNode({
        id: 'clients-d2',
        storage,
        coordinatorId: 8,
        cluster: 'clients-secured',
        password: PASSWORD,
      }),
    ]);
    if (plain.status === 'fulfilled') node = plain.value;
    if (withPassword.status === 'fulfilled') secured = withPassword.value;
    if (plain.status === 'rejected') throw plain.reason;
    if (withPassword.status === 'rejected') throw withPassword.reason;
    client = await openClient(dataNode().respPort);
    other = await openClient(dataNode().respPort);
  });

  after(async () => {
    for (const each of clients) each.disconnect();
    for (const socket of sockets) socket.destroy();
    for (const child of tools) child.kill('SIGKILL');
    await Promise.all([node?.stop(), secured?.stop()]);
    await fleet?.stop();
  });

  describe('ioredis: connection', () => {
    it('answers PING, ECHO and SELECT 0', async () => {
      assert.equal(await client.ping(), 'PONG');
      assert.equal(await client.ping('hello there'), 'hello there');
      assert.equal(await client.echo('echo → ✓'), 'echo → ✓');
      assert.equal(await client.select(0), 'OK');
      await rejectsWith(client.call('SELECT', ['x']), NOT_AN_INTEGER);
      // One database per cluster, as Redis configured with `databases 1` answers.
      await rejectsWith(client.select(1), 'ERR DB index is out of range');
    });

    it('negotiated RESP3 with HELLO and reports the connection in CLIENT INFO', async () => {
      const hello = (await client.call('HELLO')) as unknown[];
      const fields = new Map<unknown, unknown>();
      for (let index = 0; index < hello.length; index += 2) fields.set(hello[index], hello[index + 1]);
      assert.equal(fields.get('server'), 'redis');
      assert.equal(fields.get('version'), '7.0.15');
      assert.equal(fields.get('proto'), 3);
      assert.equal(fields.get('mode'), 'standalone');
      assert.equal(fields.get('role'), 'master');
      assert.deepEqual(fields.get('modules'), []);
      const id = (await client.client('ID')) as number;
      assert.equal(fields.get('id'), id);
      const info = (await client.client('INFO')) as string;
      assert.match(info, new RegExp(`^id=${id} `));
      assert.match(info, / resp=3\b/);
      assert.match(info, / db=0 /);
    });

    it('keeps a name per connection: CLIENT SETNAME/GETNAME and the connectionName option', async () => {
      assert.equal(await client.client('GETNAME'), null);
      assert.equal(await client.client('SETNAME', 'main-connection'), 'OK');
      assert.equal(await client.client('GETNAME'), 'main-connection');
      assert.match((await client.client('INFO')) as string, / name=main-connection /);
      await rejectsWith(
        client.client('SETNAME', 'with space'),
        'ERR Client names cannot contain spaces, newlines or special characters.',
      );
      assert.equal(await other.client('GETNAME'), null, 'the name belongs to its connection');
      const named = await openClient(dataNode().respPort, { connectionName: 'named-by-option' });
      assert.equal(await named.client('GETNAME'), 'named-by-option');
      assert.equal(await client.client('SETNAME', ''), 'OK');
      assert.equal(await client.client('GETNAME'), null);
    });

    it('serves a RESP2 client the same replies', async () => {
      const resp2 = await openClient(dataNode().respPort, { protocol: 2 });
      assert.match((await resp2.client('INFO')) as string, / resp=2\b/);
      assert.equal(await resp2.set('conn:resp2', 'v2'), 'OK');
      assert.equal(await resp2.get('conn:resp2'), 'v2');
      assert.equal(await resp2.get('conn:missing'), null);
      assert.equal(await resp2.hset('conn:resp2-hash', 'a', '1', 'b', '2'), 2);
      assert.deepEqual(await resp2.hgetall('conn:resp2-hash'), { a: '1', b: '2' });
      assert.deepEqual(await client.hgetall('conn:resp2-hash'), { a: '1', b: '2' });
    });

    it('gives Redis 7 errors for unknown commands, subcommands and wrong arity', async () => {
      await rejectsWith(
        client.call('FOO', ['bar', 'baz']),
        "ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' ",
      );
      await rejectsWith(
        client.call('NOSUCHCOMMAND'),
        "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: ",
      );
      await rejectsWith(client.call('GET'), "ERR wrong number of arguments for 'get' command");
      await rejectsWith(client.call('GET', ['a', 'b']), "ERR wrong number of arguments for 'get' command");
      await rejectsWith(client.call('SET', ['conn:k']), "ERR wrong number of arguments for 'set' command");
      await rejectsWith(
        client.call('HSET', ['conn:h', 'f']),
        "ERR wrong number of arguments for 'hset' command",
      );
      await rejectsWith(
        client.call('MSET', ['a', '1', 'b']),
        "ERR wrong number of arguments for 'mset' command",
      );
      await rejectsWith(client.call('CLIENT', ['NOPE']), "ERR unknown subcommand 'NOPE'. Try CLIENT HELP.");
      await rejectsWith(
        client.call('CLIENT', ['ID', 'x']),
        "ERR wrong number of arguments for 'client|id' command",
      );
      assert.equal(await client.ping(), 'PONG', 'errors leave the connection usable');
    });

    it('serves many connections at once, each with its own id', async () => {
      const many = await Promise.all(Array.from({ length: 20 }, () => openClient(dataNode().respPort)));
      const ids = await Promise.all(many.map((each) => each.client('ID') as Promise<number>));
      assert.equal(new Set(ids).size, 20);
      assert.deepEqual(
        await Promise.all(many.map((each, index) => each.echo(`from ${index}`))),
        many.map((_, index) => `from ${index}`),
      );
      for (const each of many) {
        each.disconnect();
        clients.delete(each);
      }
    });

    it('answers QUIT with OK and closes the connection', async () => {
      const leaving = await openClient(dataNode().respPort);
      assert.equal(await leaving.quit(), 'OK');
      await waitUntil('the QUIT connection to end', 5_000, () => leaving.status === 'end');
    });
  });

  describe('ioredis: server', () => {
    it('reports INFO sections', async () => {
      const info = await client.info();
      for (const section of ['# Server', '# Clients', '# Stats', '# Keyspace'])
        assert.ok(info.includes(section));
      assert.equal(infoField(info, 'redis_version'), '7.0.15');
      assert.equal(infoField(info, 'redis_mode'), 'standalone');
      assert.equal(infoField(info, 'tcp_port'), String(dataNode().respPort));
      assert.equal(infoField(info, 'loading'), '0');
      assert.ok(Number(infoField(info, 'connected_clients')) >= 2);
      const server = await client.info('server');
      assert.ok(server.startsWith('# Server\r\n'));
      assert.ok(!server.includes('# Stats'));
      const stats = await client.info('stats');
      assert.ok(Number(infoField(stats, 'total_commands_processed')) > 0);
    });

    it('counts keys with DBSIZE', async () => {
      const before = await client.dbsize();
      assert.equal(await client.mset('srv:a', '1', 'srv:b', '2', 'srv:c', '3'), 'OK');
      assert.equal(await client.dbsize(), before + 3);
      assert.equal(await client.del('srv:a', 'srv:b', 'srv:c', 'srv:none'), 3);
      assert.equal(await client.dbsize(), before);
    });

    it('describes commands as Redis 7.0 does in COMMAND INFO, COUNT and DOCS', async () => {
      assert.deepEqual(await client.call('COMMAND', ['INFO', 'get', 'nosuchcommand']), [
        [
          'get',
          2,
          ['readonly', 'fast'],
          1,
          1,
          1,
          ['@read', '@string', '@fast'],
          [],
          [
            [
              'flags',
              ['RO', 'access'],
              'begin_search',
              ['type', 'index', 'spec', ['index', 1]],
              'find_keys',
              ['type', 'range', 'spec', ['lastkey', 0, 'keystep', 1, 'limit', 0]],
            ],
          ],
          [],
        ],
        null,
      ]);
      const count = (await client.call('COMMAND', ['COUNT'])) as number;
      const all = (await client.call('COMMAND')) as unknown[][];
      assert.equal(all.length, count);
      const names = new Set(all.map((entry) => entry[0]));
      for (const name of [
        'get',
        'set',
        'hgetall',
        'multi',
        'exec',
        'watch',
        'scan',
        'incrbyfloat',
        'hello',
      ]) {
        assert.ok(names.has(name), `COMMAND lists ${name}`);
      }
      const docs = (await client.call('COMMAND', ['DOCS', 'incr'])) as unknown[];
      assert.equal(docs[0], 'incr');
      // Then the arguments' docs, as Redis gives them (redis-cli's hints come from them).
      assert.deepEqual((docs[1] as unknown[]).slice(8), [
        'arguments',
        [['name', 'key', 'type', 'key', 'key_spec_index', 0]],
      ]);
      assert.deepEqual((docs[1] as unknown[]).slice(0, 8), [
        'summary',
        'Increment the integer value of a key by one',
        'since',
        '1.0.0',
        'group',
        'string',
        'complexity',
        'O(1)',
      ]);
    });

    it('switches read consistency per connection with BOREALIS CONSISTENCY', async () => {
      const probe = await openClient(dataNode().respPort);
      assert.equal(await probe.call('BOREALIS', ['CONSISTENCY']), 'instance');
      assert.equal(await probe.call('BOREALIS', ['CONSISTENCY', 'CLUSTER']), 'OK');
      assert.equal(await probe.call('BOREALIS', ['CONSISTENCY']), 'cluster');
      assert.equal(
        await client.call('BOREALIS', ['CONSISTENCY']),
        'instance',
        'other connections keep theirs',
      );
      assert.equal(await probe.set('srv:linearizable', 'yes'), 'OK');
      assert.equal(await probe.get('srv:linearizable'), 'yes');
      assert.deepEqual(await probe.mget('srv:linearizable', 'srv:none'), ['yes', null]);
      assert.equal(await probe.call('BOREALIS', ['CONSISTENCY', 'DEFAULT']), 'OK');
      assert.equal(await probe.call('BOREALIS', ['CONSISTENCY']), 'instance');
      await rejectsWith(
        probe.call('BOREALIS', ['CONSISTENCY', 'SOMETIMES']),
        "ERR read consistency must be INSTANCE, CLUSTER or DEFAULT (the cluster's setting)",
      );
    });
  });

  describe('ioredis: keys', () => {
    const stringKeys = Array.from({ length: 300 }, (_, index) => `scan:s:${index}`);
    const hashKeys = Array.from({ length: 60 }, (_, index) => `scan:h:${index}`);
    const scanKeys = [...stringKeys, ...hashKeys];

    before(async () => {
      // One MSET and one MULTI: two transactions for the 360 keys.
      assert.equal(await client.mset(...stringKeys.flatMap((key) => [key, `value of ${key}`])), 'OK');
      const transaction = client.multi();
      for (const key of hashKeys) transaction.hset(key, 'field', key);
      const replies = await transaction.exec();
      assert.deepEqual(
        replies,
        hashKeys.map(() => [null, 1]),
      );
    });

    it('scanStream returns every key exactly once', async () => {
      const seen = new Map<string, number>();
      const stream = client.scanStream({ match: 'scan:*', count: 25 });
      for await (const page of stream) {
        for (const key of page as string[]) seen.set(key, (seen.get(key) ?? 0) + 1);
      }
      assert.deepEqual(
        [...seen.entries()].filter(([, times]) => times !== 1),
        [],
        'no key twice',
      );
      assert.deepEqual([...seen.keys()].sort(), [...scanKeys].sort());
    });

    it('SCAN over the whole keyspace agrees with KEYS * and DBSIZE', async () => {
      const { keys, calls } = await scanAll(client, ['COUNT', '40']);
      assert.ok(calls > 1, 'COUNT 40 pages through more than 360 keys');
      assert.equal(new Set(keys).size, keys.length, 'no key twice');
      for (const key of scanKeys) assert.ok(keys.includes(key), `SCAN returns ${key}`);
      const everything = await client.keys('*');
      assert.deepEqual([...everything].sort(), [...keys].sort());
      assert.equal(await client.dbsize(), keys.length);
    });

    it('SCAN with MATCH, COUNT and TYPE', async () => {
      const hashes = await scanAll(client, ['MATCH', 'scan:*', 'TYPE', 'hash', 'COUNT', '50']);
      assert.deepEqual([...hashes.keys].sort(), [...hashKeys].sort());
      const strings = await scanAll(client, ['TYPE', 'string', 'MATCH', 'scan:s:*']);
      assert.deepEqual([...strings.keys].sort(), [...stringKeys].sort());
      const none = await scanAll(client, ['TYPE', 'list', 'COUNT', '500']);
      assert.deepEqual(none.keys, []);
      const tens = await scanAll(client, ['MATCH', 'scan:s:1?', 'COUNT', '100']);
      assert.deepEqual(
        [...tens.keys].sort(),
        Array.from({ length: 10 }, (_, index) => `scan:s:1${index}`),
      );
      const [cursor, page] = (await client.call('SCAN', ['0', 'COUNT', '10'])) as [string, string[]];
      assert.notEqual(cursor, '0', 'COUNT 10 stops before the end');
      assert.ok(page.length <= 10);
      const [wholeCursor, wholePage] = (await client.call('SCAN', [
        '0',
        'COUNT',
        '10000',
        'MATCH',
        'scan:*',
      ])) as [string, string[]];
      assert.equal(wholeCursor, '0', 'COUNT 10000 covers the keyspace in one call');
      assert.equal(new Set(wholePage).size, scanKeys.length);
    });

    it('SCAN refuses bad arguments as Redis does', async () => {
      await rejectsWith(client.call('SCAN', ['abc']), 'ERR invalid cursor');
      await rejectsWith(client.call('SCAN', ['0', 'COUNT', '0']), 'ERR syntax error');
      await rejectsWith(client.call('SCAN', ['0', 'COUNT', 'ten']), NOT_AN_INTEGER);
      await rejectsWith(client.call('SCAN', ['0', 'FOO', 'bar']), 'ERR syntax error');
      await rejectsWith(client.call('SCAN', ['0', 'MATCH']), 'ERR syntax error');
    });

    it('KEYS matches glob patterns', async () => {
      assert.deepEqual((await client.keys('scan:h:*')).sort(), [...hashKeys].sort());
      assert.deepEqual((await client.keys('scan:[sh]:42')).sort(), ['scan:h:42', 'scan:s:42']);
      assert.deepEqual(
        (await client.keys('scan:s:29?')).sort(),
        Array.from({ length: 10 }, (_, i) => `scan:s:29${i}`),
      );
      assert.deepEqual(await client.keys('scan:[^sh]*'), []);
      assert.deepEqual(await client.keys('nomatch:*'), []);
    });

    it('EXISTS, TYPE, DEL and UNLINK', async () => {
      assert.equal(await client.exists('scan:s:1', 'scan:h:1', 'scan:none'), 2);
      assert.equal(await client.exists('scan:s:1', 'scan:s:1'), 2, 'a key named twice counts twice');
      assert.equal(await client.type('scan:s:1'), 'string');
      assert.equal(await client.type('scan:h:1'), 'hash');
      assert.equal(await client.type('scan:none'), 'none');
      assert.equal(await client.del('scan:s:1', 'scan:h:1', 'scan:none'), 2);
      assert.equal(await client.unlink('scan:s:2', 'scan:s:2', 'scan:h:2'), 2);
      assert.equal(await client.exists('scan:s:1', 'scan:h:1', 'scan:s:2', 'scan:h:2'), 0);
      const left = await scanAll(client, ['MATCH', 'scan:*', 'COUNT', '100']);
      assert.equal(left.keys.length, scanKeys.length - 4);
      for (const key of ['scan:s:1', 'scan:h:1', 'scan:s:2', 'scan:h:2']) assert.ok(!left.keys.includes(key));
    });

    it('TTL, PTTL, EXPIRETIME and PEXPIRETIME', async () => {
      const startedMs = Date.now();
      assert.equal(await client.set('ttl:k', 'v', 'EX', 100), 'OK');
      const ttl = await client.ttl('ttl:k');
      assert.ok(ttl === 100 || ttl === 99, `TTL ${ttl}`);
      const pttl = await client.pttl('ttl:k');
      assert.ok(pttl > 90_000 && pttl <= 100_000, `PTTL ${pttl}`);
      const pexpiretime = (await client.call('PEXPIRETIME', ['ttl:k'])) as number;
      assert.ok(
        pexpiretime >= startedMs + 100_000 && pexpiretime <= Date.now() + 100_000,
        `PEXPIRETIME ${pexpiretime}`,
      );
      assert.equal(await client.call('EXPIRETIME', ['ttl:k']), Math.round(pexpiretime / 1000));
      assert.equal(await client.ttl('ttl:none'), -2);
      assert.equal(await client.pttl('ttl:none'), -2);
      assert.equal(await client.call('EXPIRETIME', ['ttl:none']), -2);
      assert.equal(await client.set('ttl:forever', 'v'), 'OK');
      assert.equal(await client.ttl('ttl:forever'), -1);
      assert.equal(await client.call('PEXPIRETIME', ['ttl:forever']), -1);
    });

    it('EXPIRE and its NX/XX/GT/LT options, PERSIST', async () => {
      assert.equal(await client.persist('ttl:k'), 1);
      assert.equal(await client.persist('ttl:k'), 0);
      assert.equal(await client.ttl('ttl:k'), -1);
      assert.equal(await client.expire('ttl:k', 50, 'XX'), 0);
      assert.equal(await client.expire('ttl:k', 50, 'NX'), 1);
      assert.equal(await client.expire('ttl:k', 60, 'NX'), 0);
      assert.equal(await client.expire('ttl:k', 60, 'GT'), 1);
      assert.equal(await client.expire('ttl:k', 10, 'GT'), 0);
      assert.equal(await client.expire('ttl:k', 10, 'LT'), 1);
      assert.ok((await client.ttl('ttl:k')) <= 10);
      assert.equal(await client.expire('ttl:none', 10), 0);
      await rejectsWith(
        client.call('EXPIRE', ['ttl:k', '10', 'NX', 'XX']),
        'ERR NX and XX, GT or LT options at the same time are not compatible',
      );
      await rejectsWith(
        client.call('EXPIRE', ['ttl:k', '10', 'GT', 'LT']),
        'ERR GT and LT options at the same time are not compatible',
      );
      await rejectsWith(client.call('EXPIRE', ['ttl:k', 'soon']), NOT_AN_INTEGER);
      await rejectsWith(client.call('EXPIRE', ['ttl:k', '10', 'FOO']), 'ERR Unsupported option FOO');
      await rejectsWith(
        client.call('EXPIRE', ['ttl:k', '9223372036854775807']),
        "ERR invalid expire time in 'expire' command",
      );
    });

    it('SET keeps or clears the TTL; INCR and APPEND keep it; GETEX sets or removes it', async () => {
      assert.equal(await client.set('ttl:k', 'v1', 'PX', 100_000), 'OK');
      assert.equal(await client.set('ttl:k', 'v2', 'KEEPTTL'), 'OK');
      assert.ok((await client.pttl('ttl:k')) > 90_000);
      assert.equal(await client.set('ttl:k', 'v3'), 'OK');
      assert.equal(await client.ttl('ttl:k'), -1);
      assert.equal(await client.setex('ttl:n', 100, '5'), 'OK');
      assert.equal(await client.incr('ttl:n'), 6);
      assert.equal(await client.append('ttl:n', '0'), 2);
      assert.ok((await client.ttl('ttl:n')) > 90);
      assert.equal(await client.psetex('ttl:p', 100_000, 'x'), 'OK');
      assert.ok((await client.pttl('ttl:p')) > 90_000);
      assert.equal(await client.getex('ttl:p', 'PERSIST'), 'x');
      assert.equal(await client.ttl('ttl:p'), -1);
      assert.equal(await client.getex('ttl:p', 'EX', 200), 'x');
      assert.ok((await client.ttl('ttl:p')) > 190);
      assert.equal(await client.getex('ttl:none', 'EX', 200), null);
    });

    it('expired keys are gone for GET, EXISTS, TTL, SCAN and KEYS', async () => {
      assert.equal(await client.set('ttl:short', 'v', 'PX', 300), 'OK');
      assert.equal(await client.hset('ttl:short-hash', 'f', 'v'), 1);
      assert.equal(await client.pexpire('ttl:short-hash', 300), 1);
      assert.equal(await client.exists('ttl:short', 'ttl:short-hash'), 2);
      await waitUntil(
        'the keys to expire',
        5_000,
        async () => (await client.exists('ttl:short', 'ttl:short-hash')) === 0,
      );
      assert.equal(await client.get('ttl:short'), null);
      assert.deepEqual(await client.hgetall('ttl:short-hash'), {});
      assert.equal(await client.ttl('ttl:short'), -2);
      assert.equal(await client.type('ttl:short-hash'), 'none');
      assert.deepEqual(await client.keys('ttl:short*'), []);
      assert.deepEqual((await scanAll(client, ['MATCH', 'ttl:short*', 'COUNT', '1000'])).keys, []);
      // A write after the expiry starts from nothing.
      assert.equal(await client.incr('ttl:short'), 1);
      assert.equal(await client.ttl('ttl:short'), -1);
    });

    it('EXPIREAT in the past deletes at once; PEXPIREAT sets the exact time', async () => {
      assert.equal(await client.set('ttl:past', 'v'), 'OK');
      assert.equal(await client.expireat('ttl:past', Math.floor(Date.now() / 1000) - 10), 1);
      assert.equal(await client.exists('ttl:past'), 0);
      const atMs = Date.now() + 3_600_000;
      assert.equal(await client.set('ttl:at', 'v'), 'OK');
      assert.equal(await client.pexpireat('ttl:at', atMs), 1);
      assert.equal(await client.call('PEXPIRETIME', ['ttl:at']), atMs);
      assert.equal(await client.call('EXPIRETIME', ['ttl:at']), Math.round(atMs / 1000));
    });
  });

  describe('ioredis: strings', () => {
    it('GET, SET and the SET options', async () => {
      assert.equal(await client.get('str:k'), null);
      assert.equal(await client.set('str:k', 'one', 'NX'), 'OK');
      assert.equal(await client.set('str:k', 'two', 'NX'), null);
      assert.equal(await client.set('str:k', 'three', 'XX'), 'OK');
      assert.equal(await client.set('str:missing', 'x', 'XX'), null);
      assert.equal(await client.set('str:k', 'four', 'GET'), 'three');
      assert.equal(
        await client.set('str:k', 'five', 'NX', 'GET'),
        'four',
        'NX with GET answers the old value',
      );
      assert.equal(await client.get('str:k'), 'four');
      assert.equal(await client.set('str:new', 'v', 'GET'), null);
      assert.equal(await client.set('str:k', 'v', 'EXAT', Math.floor(Date.now() / 1000) + 100), 'OK');
      assert.ok((await client.ttl('str:k')) > 90);
      await rejectsWith(client.call('SET', ['str:k', 'v', 'NX', 'XX']), 'ERR syntax error');
      await rejectsWith(client.call('SET', ['str:k', 'v', 'KEEPTTL', 'EX', '10']), 'ERR syntax error');
      await rejectsWith(client.call('SET', ['str:k', 'v', 'EX']), 'ERR syntax error');
      await rejectsWith(
        client.call('SET', ['str:k', 'v', 'EX', '0']),
        "ERR invalid expire time in 'set' command",
      );
      await rejectsWith(
        client.call('SET', ['str:k', 'v', 'PX', '-5']),
        "ERR invalid expire time in 'set' command",
      );
      await rejectsWith(client.call('SET', ['str:k', 'v', 'EX', 'soon']), NOT_AN_INTEGER);
      await rejectsWith(
        client.call('SETEX', ['str:k', '0', 'v']),
        "ERR invalid expire time in 'setex' command",
      );
      await rejectsWith(
        client.call('PSETEX', ['str:k', '-1', 'v']),
        "ERR invalid expire time in 'psetex' command",
      );
    });

    it('SETNX, GETSET, GETDEL, GETEX', async () => {
      assert.equal(await client.setnx('str:nx', 'first'), 1);
      assert.equal(await client.setnx('str:nx', 'second'), 0);
      assert.equal(await client.getset('str:nx', 'third'), 'first');
      assert.equal(await client.getset('str:gs-new', 'v'), null);
      assert.equal(await client.getdel('str:nx'), 'third');
      assert.equal(await client.getdel('str:nx'), null);
      assert.equal(await client.exists('str:nx'), 0);
      assert.equal(await client.getex('str:gs-new'), 'v');
      await rejectsWith(client.call('GETEX', ['str:gs-new', 'EX', '10', 'PERSIST']), 'ERR syntax error');
    });

    it('MGET, MSET, MSETNX', async () => {
      assert.equal(await client.mset('str:a', '1', 'str:b', '2', 'str:c', '3'), 'OK');
      assert.equal(await client.hset('str:hash', 'f', 'v'), 1);
      assert.deepEqual(await client.mget('str:a', 'str:b', 'str:c', 'str:none', 'str:hash'), [
        '1',
        '2',
        '3',
        null,
        null,
      ]);
      assert.equal(await client.msetnx('str:a', '9', 'str:z', '9'), 0);
      assert.equal(await client.exists('str:z'), 0, 'MSETNX sets nothing when one key exists');
      assert.equal(await client.msetnx('str:y', '8', 'str:z', '9'), 1);
      assert.deepEqual(await client.mget('str:a', 'str:y', 'str:z'), ['1', '8', '9']);
    });

    it('APPEND, STRLEN, GETRANGE, SUBSTR, SETRANGE', async () => {
      assert.equal(await client.append('str:text', 'Hello'), 5);
      assert.equal(await client.append('str:text', ' World'), 11);
      assert.equal(await client.strlen('str:text'), 11);
      assert.equal(await client.strlen('str:none'), 0);
      assert.equal(await client.getrange('str:text', 0, 4), 'Hello');
      assert.equal(await client.getrange('str:text', -5, -1), 'World');
      assert.equal(await client.getrange('str:text', 6, 100), 'World');
      assert.equal(await client.getrange('str:text', 5, 2), '');
      assert.equal(await client.getrange('str:none', 0, -1), '');
      assert.equal(await client.call('SUBSTR', ['str:text', '0', '0']), 'H');
      assert.equal(await client.setrange('str:text', 6, 'Redis'), 11);
      assert.equal(await client.get('str:text'), 'Hello Redis');
      assert.equal(await client.setrange('str:padded', 5, 'x'), 6);
      assert.deepEqual(await client.getBuffer('str:padded'), Buffer.from([0, 0, 0, 0, 0, 0x78]));
      assert.equal(await client.setrange('str:empty', 3, ''), 0);
      assert.equal(await client.exists('str:empty'), 0, 'an empty SETRANGE creates nothing');
      await rejectsWith(client.call('SETRANGE', ['str:text', '-1', 'x']), 'ERR offset is out of range');
      await rejectsWith(client.call('GETRANGE', ['str:text', 'a', '1']), NOT_AN_INTEGER);
    });

    it('string commands on a hash answer WRONGTYPE', async () => {
      await rejectsWith(client.get('str:hash'), WRONGTYPE);
      await rejectsWith(client.append('str:hash', 'x'), WRONGTYPE);
      await rejectsWith(client.strlen('str:hash'), WRONGTYPE);
      await rejectsWith(client.getrange('str:hash', 0, 1), WRONGTYPE);
      await rejectsWith(client.set('str:hash', 'v', 'GET'), WRONGTYPE);
      await rejectsWith(client.getdel('str:hash'), WRONGTYPE);
      assert.equal(await client.set('str:hash', 'now a string'), 'OK', 'a plain SET replaces any type');
      assert.equal(await client.type('str:hash'), 'string');
    });
  });

  describe('ioredis: counters', () => {
    it('INCR, DECR, INCRBY, DECRBY', async () => {
      assert.equal(await client.incr('ctr:n'), 1);
      assert.equal(await client.incrby('ctr:n', 10), 11);
      assert.equal(await client.decr('ctr:n'), 10);
      assert.equal(await client.decrby('ctr:n', 3), 7);
      assert.equal(await client.incrby('ctr:n', -17), -10);
      assert.equal(await client.get('ctr:n'), '-10');
      assert.equal(await client.decr('ctr:fresh'), -1);
    });

    it('refuses values and increments that are not 64-bit integers', async () => {
      assert.equal(await client.set('ctr:text', 'abc'), 'OK');
      await rejectsWith(client.incr('ctr:text'), NOT_AN_INTEGER);
      assert.equal(await client.set('ctr:float', '1.5'), 'OK');
      await rejectsWith(client.incr('ctr:float'), NOT_AN_INTEGER);
      assert.equal(await client.set('ctr:spaced', ' 1'), 'OK');
      await rejectsWith(client.incr('ctr:spaced'), NOT_AN_INTEGER);
      await rejectsWith(client.call('INCRBY', ['ctr:n', '1.5']), NOT_AN_INTEGER);
      await rejectsWith(client.call('INCRBY', ['ctr:n', '99999999999999999999']), NOT_AN_INTEGER);
      assert.equal(await client.set('ctr:max', '9223372036854775807'), 'OK');
      await rejectsWith(client.incr('ctr:max'), 'ERR increment or decrement would overflow');
      await rejectsWith(
        client.call('DECRBY', ['ctr:max', '-1']),
        'ERR increment or decrement would overflow',
      );
      await rejectsWith(
        client.call('DECRBY', ['ctr:n', '-9223372036854775808']),
        'ERR decrement would overflow',
      );
      assert.equal(await client.get('ctr:max'), '9223372036854775807', 'a refused increment changes nothing');
      assert.equal(await client.hset('ctr:hash', 'f', '1'), 1);
      await rejectsWith(client.incr('ctr:hash'), WRONGTYPE);
      await rejectsWith(client.incrbyfloat('ctr:hash', 1), WRONGTYPE);
    });

    it('INCRBYFLOAT computes in long double and prints as Redis does', async () => {
      assert.equal(await client.incrbyfloat('ctr:f', '0.1'), '0.1');
      assert.equal(await client.incrbyfloat('ctr:f', '0.2'), '0.3');
      assert.equal(await client.set('ctr:f2', '10.50'), 'OK');
      assert.equal(await client.incrbyfloat('ctr:f2', '0.1'), '10.6');
      assert.equal(await client.incrbyfloat('ctr:f2', '-5'), '5.6');
      assert.equal(await client.set('ctr:f3', '5.0e3'), 'OK');
      assert.equal(await client.incrbyfloat('ctr:f3', '2.0e2'), '5200');
      assert.equal(await client.incrbyfloat('ctr:n', '0.5'), '-9.5');
      await rejectsWith(client.incrbyfloat('ctr:text', '1'), 'ERR value is not a valid float');
      await rejectsWith(client.call('INCRBYFLOAT', ['ctr:f', 'x']), 'ERR value is not a valid float');
      await rejectsWith(
        client.call('INCRBYFLOAT', ['ctr:f', 'inf']),
        'ERR increment would produce NaN or Infinity',
      );
    });

    it('counts every INCR of 10 concurrent connections exactly once', async () => {
      const connections = await Promise.all(
        Array.from({ length: 10 }, () => openClient(dataNode().respPort)),
      );
      const perConnection = 30;
      const replies = await Promise.all(
        connections.map(async (connection) => {
          const seen: number[] = [];
          for (let index = 0; index < perConnection; index++) seen.push(await connection.incr('ctr:shared'));
          return seen;
        }),
      );
      for (const seen of replies) {
        for (let index = 1; index < seen.length; index++) {
          assert.ok(
            (seen[index] as number) > (seen[index - 1] as number),
            'one connection sees its INCRs in order',
          );
        }
      }
      const total = connections.length * perConnection;
      assert.deepEqual(
        replies.flat().sort((a, b) => a - b),
        Array.from({ length: total }, (_, index) => index + 1),
      );
      assert.equal(await client.get('ctr:shared'), String(total));
      for (const connection of connections) {
        connection.disconnect();
        clients.delete(connection);
      }
    });
  });

  describe('ioredis: hashes', () => {
    it('HSET, HGET, HMGET, HGETALL, HLEN, HEXISTS, HKEYS, HVALS, HSTRLEN', async () => {
      assert.equal(await client.hset('hash:user', 'name', 'ada', 'lang', 'en'), 2);
      assert.equal(await client.hset('hash:user', { name: 'Ada', city: 'London' }), 1);
      assert.equal(await client.hget('hash:user', 'name'), 'Ada');
      assert.equal(await client.hget('hash:user', 'nope'), null);
      assert.equal(await client.hget('hash:none', 'name'), null);
      assert.deepEqual(await client.hmget('hash:user', 'name', 'nope', 'city'), ['Ada', null, 'London']);
      assert.deepEqual(await client.hmget('hash:none', 'a', 'b'), [null, null]);
      assert.deepEqual(await client.hgetall('hash:user'), { name: 'Ada', lang: 'en', city: 'London' });
      assert.deepEqual(await client.hgetall('hash:none'), {});
      assert.equal(await client.hlen('hash:user'), 3);
      assert.equal(await client.hlen('hash:none'), 0);
      assert.equal(await client.hexists('hash:user', 'lang'), 1);
      assert.equal(await client.hexists('hash:user', 'nope'), 0);
      assert.deepEqual(await client.hkeys('hash:user'), ['name', 'lang', 'city']);
      assert.deepEqual(await client.hvals('hash:user'), ['Ada', 'en', 'London']);
      assert.equal(await client.hstrlen('hash:user', 'city'), 6);
      assert.equal(await client.hstrlen('hash:user', 'nope'), 0);
      assert.equal(await client.hmset('hash:user', 'a', '1', 'b', '2'), 'OK');
      assert.equal(await client.hlen('hash:user'), 5);
      await rejectsWith(
        client.call('HSET', ['hash:user', 'a', '1', 'b']),
        "ERR wrong number of arguments for 'hset' command",
      );
      await rejectsWith(
        client.call('HMSET', ['hash:user', 'a']),
        "ERR wrong number of arguments for 'hmset' command",
      );
    });

    it('HSETNX, HINCRBY, HINCRBYFLOAT', async () => {
      assert.equal(await client.hsetnx('hash:user', 'name', 'Bob'), 0);
      assert.equal(await client.hsetnx('hash:user', 'nick', 'bob'), 1);
      assert.equal(await client.hincrby('hash:user', 'visits', 3), 3);
      assert.equal(await client.hincrby('hash:user', 'visits', -5), -2);
      assert.equal(await client.hincrbyfloat('hash:user', 'score', '2.5'), '2.5');
      assert.equal(await client.hincrbyfloat('hash:user', 'score', '0.1'), '2.6');
      await rejectsWith(client.hincrby('hash:user', 'name', 1), 'ERR hash value is not an integer');
      await rejectsWith(client.call('HINCRBY', ['hash:user', 'visits', 'x']), NOT_AN_INTEGER);
      await rejectsWith(client.hincrbyfloat('hash:user', 'name', '1'), 'ERR hash value is not a float');
      await rejectsWith(
        client.call('HINCRBYFLOAT', ['hash:user', 'score', 'x']),
        'ERR value is not a valid float',
      );
      assert.equal(await client.hset('hash:big', 'n', '9223372036854775807'), 1);
      await rejectsWith(client.hincrby('hash:big', 'n', 1), 'ERR increment or decrement would overflow');
    });

    it('HDEL of the last field deletes the key', async () => {
      assert.equal(await client.hset('hash:small', 'a', '1', 'b', '2'), 2);
      assert.equal(await client.hdel('hash:small', 'a', 'nope'), 1);
      assert.equal(await client.hdel('hash:small', 'a'), 0);
      assert.equal(await client.hdel('hash:none', 'a'), 0);
      assert.equal(await client.hdel('hash:small', 'b'), 1);
      assert.equal(await client.exists('hash:small'), 0);
      assert.equal(await client.type('hash:small'), 'none');
    });

    it('hash commands on a string answer WRONGTYPE', async () => {
      assert.equal(await client.set('hash:string', 'v'), 'OK');
      await rejectsWith(client.hget('hash:string', 'f'), WRONGTYPE);
      await rejectsWith(client.hset('hash:string', 'f', 'v'), WRONGTYPE);
      await rejectsWith(client.hgetall('hash:string'), WRONGTYPE);
      await rejectsWith(client.hmget('hash:string', 'f'), WRONGTYPE);
      await rejectsWith(client.hlen('hash:string'), WRONGTYPE);
      await rejectsWith(client.hdel('hash:string', 'f'), WRONGTYPE);
      await rejectsWith(client.hincrby('hash:string', 'f', 1), WRONGTYPE);
      await rejectsWith(client.hkeys('hash:string'), WRONGTYPE);
    });
  });

  describe('ioredis: transactions', () => {
    it('MULTI/EXEC answers each queued command, errors included', async () => {
      const replies = await client
        .multi()
        .set('tx:a', '1')
        .incr('tx:a')
        .get('tx:a')
        .hget('tx:a', 'f')
        .incrby('tx:a', 10)
        .exec();
      assert.ok(replies);
      assert.equal(replies.length, 5);
      assert.deepEqual(replies[0], [null, 'OK']);
      assert.deepEqual(replies[1], [null, 2]);
      assert.deepEqual(replies[2], [null, '2']);
      const [failure] = replies[3] as [Error | null, unknown];
      assert.ok(failure instanceof Error);
      assert.equal(failure.message, WRONGTYPE);
      assert.deepEqual(replies[4], [null, 12], 'a runtime error does not stop the commands after it');
      assert.equal(await client.get('tx:a'), '12');
    });

    it('a command refused while queued aborts the EXEC (EXECABORT)', async () => {
      await assert.rejects(
        client.multi().set('tx:aborted', '1').call('SET', ['tx:aborted']).incr('tx:aborted').exec(),
        (cause: Error & { previousErrors?: Error[] }) => {
          assert.equal(cause.message, EXECABORT);
          assert.deepEqual(
            cause.previousErrors?.map((each) => each.message),
            ["ERR wrong number of arguments for 'set' command"],
          );
          return true;
        },
      );
      await assert.rejects(
        client.multi().set('tx:aborted', '1').call('NOSUCH', ['x']).exec(),
        (cause: Error) => {
          assert.equal(cause.message, EXECABORT);
          return true;
        },
      );
      assert.equal(await client.exists('tx:aborted'), 0, 'nothing of an aborted transaction ran');
    });

    it('DISCARD drops the queue; EXEC and DISCARD without MULTI fail', async () => {
      const session = await openClient(dataNode().respPort);
      assert.equal(await session.multi({ pipeline: false }), 'OK');
      assert.equal(await session.set('tx:discarded', '1'), 'QUEUED');
      assert.equal(await session.incr('tx:discarded'), 'QUEUED');
      await rejectsWith(session.call('MULTI'), 'ERR MULTI calls can not be nested');
      await rejectsWith(session.watch('tx:discarded'), 'ERR WATCH inside MULTI is not allowed');
      assert.equal(await session.discard(), 'OK');
      assert.equal(await session.exists('tx:discarded'), 0);
      await rejectsWith(session.exec(), 'ERR EXEC without MULTI');
      await rejectsWith(session.discard(), 'ERR DISCARD without MULTI');
      assert.equal(await session.multi({ pipeline: false }), 'OK');
      assert.equal(await session.set('tx:queued', 'v'), 'QUEUED');
      assert.deepEqual(await session.exec(), [[null, 'OK']]);
      assert.equal(await session.get('tx:queued'), 'v');
    });

    it('WATCH: a change by another connection makes EXEC answer null', async () => {
      assert.equal(await client.set('tx:watched', 'start'), 'OK');
      assert.equal(await client.watch('tx:watched'), 'OK');
      assert.equal(await other.set('tx:watched', 'theirs'), 'OK');
      assert.equal(await client.multi().set('tx:watched', 'mine').incr('tx:side').exec(), null);
      assert.equal(await client.get('tx:watched'), 'theirs');
      assert.equal(await client.exists('tx:side'), 0, 'no command of the aborted EXEC ran');
    });

    it('WATCH: an EXEC runs when nothing changed, and the WATCH ends with it', async () => {
      assert.equal(await client.watch('tx:watched', 'tx:never-written'), 'OK');
      assert.equal(await other.get('tx:watched'), 'theirs', 'reads by others do not count');
      assert.deepEqual(await client.multi().set('tx:watched', 'mine').incr('tx:side').exec(), [
        [null, 'OK'],
        [null, 1],
      ]);
      assert.equal(await other.get('tx:watched'), 'mine');
      assert.equal(await other.set('tx:watched', 'later'), 'OK');
      assert.deepEqual(await client.multi().incr('tx:side').exec(), [[null, 2]], 'EXEC ended the WATCH');
    });

    it('WATCH: a missing key created by another connection, a change by the same connection, UNWATCH', async () => {
      assert.equal(await client.watch('tx:created'), 'OK');
      assert.equal(await other.set('tx:created', 'x'), 'OK');
      assert.equal(await client.multi().get('tx:created').exec(), null);

      assert.equal(await client.watch('tx:own'), 'OK');
      assert.equal(await client.set('tx:own', 'changed after WATCH'), 'OK');
      assert.equal(await client.multi().get('tx:own').exec(), null);

      assert.equal(await client.watch('tx:own'), 'OK');
      assert.equal(await client.unwatch(), 'OK');
      assert.equal(await other.set('tx:own', 'changed after UNWATCH'), 'OK');
      assert.deepEqual(await client.multi().get('tx:own').exec(), [[null, 'changed after UNWATCH']]);

      assert.equal(await client.watch('tx:own'), 'OK');
      assert.equal(await other.set('tx:own', 'changed before DISCARD'), 'OK');
      assert.equal(await client.multi({ pipeline: false }), 'OK');
      assert.equal(await client.discard(), 'OK', 'DISCARD ends the WATCH too');
      assert.deepEqual(await client.multi().get('tx:own').exec(), [[null, 'changed before DISCARD']]);
    });

    it('concurrent transactions over two keys stay atomic', async () => {
      const connections = await Promise.all(Array.from({ length: 5 }, () => openClient(dataNode().respPort)));
      const rounds = 10;
      const results = await Promise.all(
        connections.map(async (connection) => {
          const pairs: [number, number][] = [];
          for (let round = 0; round < rounds; round++) {
            const replies = await connection.multi().incr('tx:left').incr('tx:right').exec();
            assert.ok(replies);
            pairs.push([replies[0]?.[1] as number, replies[1]?.[1] as number]);
          }
          return pairs;
        }),
      );
      for (const [left, right] of results.flat())
        assert.equal(left, right, 'both INCRs of an EXEC see the same state');
      assert.deepEqual(await client.mget('tx:left', 'tx:right'), [
        String(connections.length * rounds),
        String(connections.length * rounds),
      ]);
      for (const connection of connections) {
        connection.disconnect();
        clients.delete(connection);
      }
    });
  });

  describe('ioredis: pipelines, binary data and large values', () => {
    it('a pipeline of 1,000 mixed commands answers each in order', async () => {
      const steps = pipelineSteps(20_260_301, 1_000);
      const pipeline = client.pipeline();
      for (const { args } of steps) pipeline.call(String(args[0]), args.slice(1).map(String));
      const replies = await pipeline.exec();
      assert.ok(replies);
      assert.equal(replies.length, steps.length);
      steps.forEach((step, index) => {
        const [failure, result] = replies[index] as [Error | null, unknown];
        const what = `reply ${index} to ${step.args.join(' ')}`;
        if ('error' in step.expected) {
          assert.ok(failure instanceof Error, `${what} is an error`);
          assert.equal(failure.message, step.expected.error, what);
        } else {
          assert.equal(failure, null, `${what}: ${failure?.message}`);
          assert.deepEqual(result, step.expected.value, what);
        }
      });
      const errors = steps.filter((step) => 'error' in step.expected).length;
      assert.ok(errors > 0 && errors < 200, `the script holds some errors (${errors})`);
    });

    /** The CLIENT LIST line of the connection named `name`, or '' while there is none. */
    const clientListLine = async (name: string): Promise<string> =>
      String(await other.call('CLIENT', 'LIST'))
        .split('\n')
        .find((line) => line.includes(` name=${name} `)) ?? '';

    it('a command read while an earlier one of its connection waits starts at once; replies keep their order', async () => {
      // A client that sends on a schedule, whatever the replies do, pipelines whenever a reply is
      // late. The SET below waits for its commit while three of the six storage nodes are
      // stopped (SIGSTOP); the STRLEN sent after it on the same connection, answered from the
      // cache, must run meanwhile (INFO commandstats counts it as it ends), not wait for the SET.
      const storage = fleet as StorageFleet;
      const piped = await openClient(dataNode().respPort, { connectionName: 'pipe-a' });
      assert.equal(await piped.set('pipe:cached', 'abc'), 'OK');
      const strlenCalls = async () =>
        Number(/^cmdstat_strlen:calls=(\d+)/m.exec(await other.info('commandstats'))?.[1] ?? 0);
      const callsBefore = await strlenCalls();
      const stopped = [0, 1, 2];
      let setAnswered = false;
      let held: Promise<string> | undefined;
      let strlen: Promise<number> | undefined;
      for (const index of stopped) storage.pause(index);
      try {
        // Four YES votes are needed: the commit waits until the nodes go on.
        held = piped.set('pipe:held', 'v');
        void held.then(() => {
          setAnswered = true;
        });
        const lineOfPiped = () => clientListLine('pipe-a');
        await waitUntil('the SET to start', 5_000, async () => / cmd=set /.test(await lineOfPiped()));
        strlen = piped.strlen('pipe:cached');
        await waitUntil(
          'the STRLEN sent after it to run',
          5_000,
          async () => (await strlenCalls()) > callsBefore,
        );
        assert.equal(setAnswered, false, 'the SET still waits for its commit');
      } finally {
        for (const index of stopped) storage.resume(index);
      }
      assert.equal(await held, 'OK');
      assert.equal(await strlen, 3);
      assert.equal(await other.get('pipe:held'), 'v');
    });

    it('under CLIENT PAUSE WRITE a held write holds the later commands of its connection, as in Redis', async () => {
      const piped = await openClient(dataNode().respPort, { connectionName: 'pipe-b' });
      const pauser = await openClient(dataNode().respPort);
      assert.equal(await piped.set('pipe:paused', 'old'), 'OK');
      assert.equal(await pauser.call('CLIENT', 'PAUSE', '60000', 'WRITE'), 'OK');
      let written: Promise<string> | undefined;
      let read: Promise<string | null> | undefined;
      try {
        written = piped.set('pipe:paused', 'new');
        const lineOfPiped = () => clientListLine('pipe-b');
        // Held by the pause: CLIENT LIST shows the connection blocked (flag b).
        await waitUntil('the SET to be held by the pause', 5_000, async () =>
          / flags=\S*b\S* .* cmd=set /.test(await lineOfPiped()),
        );
        // A read is not held by a WRITE pause, but this one comes after the held SET.
        read = piped.get('pipe:paused');
      } finally {
        await pauser.call('CLIENT', 'UNPAUSE');
      }
      assert.equal(await written, 'OK');
      assert.equal(await read, 'new');
    });

    it('keys and values are binary safe (bytes 0 to 255)', async () => {
      const allBytes = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
      const reversed = Buffer.from(allBytes).reverse();
      assert.equal(await client.set(allBytes, reversed), 'OK');
      assert.deepEqual(await client.getBuffer(allBytes), reversed);
      assert.equal(await client.strlen(allBytes), 256);
      assert.equal(await client.exists(allBytes), 1);
      assert.equal(await client.type(allBytes), 'string');
      assert.equal(await client.append(allBytes, Buffer.from([0, 13, 10])), 259);
      assert.deepEqual(await client.getrangeBuffer(allBytes, -4, -1), Buffer.from([0, 0, 13, 10]));

      const prefix = Buffer.from('bin:');
      const keyOf = (byte: number) => Buffer.concat([prefix, Buffer.from([byte])]);
      const binaryValue = (byte: number) => Buffer.from([byte, 0, 255 - byte, 13, 10, byte]);
      const bytes = Array.from({ length: 256 }, (_, byte) => byte);
      assert.equal(await client.mset(...bytes.flatMap((byte) => [keyOf(byte), binaryValue(byte)])), 'OK');
      assert.deepEqual(await client.mgetBuffer(...bytes.map(keyOf)), bytes.map(binaryValue));
      const listed = await client.keysBuffer('bin:*');
      assert.deepEqual(
        listed.map((key) => key.toString('hex')).sort(),
        bytes.map((byte) => keyOf(byte).toString('hex')).sort(),
      );
      const scanned = new Map<string, number>();
      for await (const page of client.scanBufferStream({ match: 'bin:*', count: 64 })) {
        for (const key of page as Buffer[])
          scanned.set(key.toString('hex'), (scanned.get(key.toString('hex')) ?? 0) + 1);
      }
      assert.equal(scanned.size, 256);
      assert.ok(
        [...scanned.values()].every((times) => times === 1),
        'SCAN returns each binary key once',
      );

      assert.equal(
        await client.hset('bin:hash', allBytes, reversed, Buffer.from([0]), Buffer.from([255])),
        2,
      );
      assert.deepEqual(await client.hgetBuffer('bin:hash', allBytes), reversed);
      const flat = (await client.callBuffer('HGETALL', ['bin:hash'])) as Buffer[];
      const pairs = [0, 2].map((at) => `${flat[at]?.toString('hex')}=${flat[at + 1]?.toString('hex')}`);
      assert.equal(flat.length, 4);
      assert.deepEqual(
        pairs.sort(),
        [`${allBytes.toString('hex')}=${reversed.toString('hex')}`, '00=ff'].sort(),
      );
    });

    it('a value of 1 MiB round-trips', async () => {
      const random = mulberry32(1_048_576);
      const big = Buffer.alloc(1 << 20);
      for (let index = 0; index < big.length; index++) big[index] = Math.floor(random() * 256);
      assert.equal(await client.set('big:value', big), 'OK');
      assert.equal(await client.strlen('big:value'), 1 << 20);
      assert.ok((await client.getBuffer('big:value'))?.equals(big), 'GET returns the same 1 MiB');
      assert.ok((await other.getBuffer('big:value'))?.equals(big), 'another connection reads the same 1 MiB');
      assert.deepEqual(await client.getrangeBuffer('big:value', -3, -1), big.subarray(-3));
      assert.equal(await client.append('big:value', 'tail'), (1 << 20) + 4);
      assert.equal(await client.del('big:value'), 1);
    });
  });

  describe('RESP3 on a raw socket', () => {
    it('HELLO 3 switches to maps, nulls and RESP3 aggregates; HELLO 2 switches back', async () => {
      const connection = await RespConnection.open(dataNode().respPort);
      try {
        const idReply = await connection.command('CLIENT', 'ID');
        assert.equal(idReply.kind, 'integer');
        const id = Number((idReply as { value: number }).value);
        // A map in RESP3; the same pairs as a flat array in RESP2.
        const hello = (id: number, protocol: number): Reply => {
          const entries: [Reply, Reply][] = [
            [bulkText('server'), bulkText('redis')],
            [bulkText('version'), bulkText('7.0.15')],
            [bulkText('proto'), { kind: 'integer', value: protocol }],
            [bulkText('id'), { kind: 'integer', value: id }],
            [bulkText('mode'), bulkText('standalone')],
            [bulkText('role'), bulkText('master')],
            [bulkText('modules'), { kind: 'array', items: [] }],
          ];
          return protocol === 3 ? { kind: 'map', entries } : { kind: 'array', items: entries.flat() };
        };
        assertReply(await connection.command('HELLO', '3'), hello(id, 3));
        assertReply(await connection.command('DEL', 'r3:h', 'r3:f', 'r3:missing'), {
          kind: 'integer',
          value: 0,
        });
        assertReply(await connection.command('HSET', 'r3:h', 'f', 'v', 'g', 'w'), {
          kind: 'integer',
          value: 2,
        });
        assertReply(await connection.command('HGETALL', 'r3:h'), {
          kind: 'map',
          entries: [
            [bulkText('f'), bulkText('v')],
            [bulkText('g'), bulkText('w')],
          ],
        });
        assertReply(await connection.command('GET', 'r3:missing'), { kind: 'null' });
        assertReply(await connection.command('INCRBYFLOAT', 'r3:f', '1.5'), bulkText('1.5'));
        assertReply(await connection.command('HGETALL', 'r3:missing'), { kind: 'map', entries: [] });
        assertReply(await connection.command('HMGET', 'r3:h', 'f', 'zz'), {
          kind: 'array',
          items: [bulkText('v'), { kind: 'null' }],
        });
        assertReply(await connection.command('EXISTS', 'r3:h', 'r3:missing'), { kind: 'integer', value: 1 });
        assertReply(await connection.command('TYPE', 'r3:h'), { kind: 'simple', value: 'hash' });
        assertReply(await connection.command('WATCH', 'r3:h'), { kind: 'simple', value: 'OK' });
        assertReply(await connection.command('HSET', 'r3:h', 'f', 'x'), { kind: 'integer', value: 0 });
        assertReply(await connection.command('MULTI'), { kind: 'simple', value: 'OK' });
        assertReply(await connection.command('GET', 'r3:missing'), { kind: 'simple', value: 'QUEUED' });
        assertReply(await connection.command('EXEC'), { kind: 'null' });
        assertReply(await connection.command('MULTI'), { kind: 'simple', value: 'OK' });
        assertReply(await connection.command('HGETALL', 'r3:h'), { kind: 'simple', value: 'QUEUED' });
        assertReply(await connection.command('INCRBYFLOAT', 'r3:f', '0.25'), {
          kind: 'simple',
          value: 'QUEUED',
        });
        assertReply(await connection.command('EXEC'), {
          kind: 'array',
          items: [
            {
              kind: 'map',
              entries: [
                [bulkText('f'), bulkText('x')],
                [bulkText('g'), bulkText('w')],
              ],
            },
            bulkText('1.75'),
          ],
        });
        assertReply(await connection.command('INCR', 'r3:h'), { kind: 'error', message: WRONGTYPE });
        assertReply(await connection.command('HELLO', '2'), hello(id, 2));
        assertReply(await connection.command('GET', 'r3:missing'), { kind: 'null' });
        assertReply(await connection.command('HGETALL', 'r3:h'), {
          kind: 'array',
          items: [bulkText('f'), bulkText('x'), bulkText('g'), bulkText('w')],
        });
        assertReply(await connection.command('WATCH', 'r3:h'), { kind: 'simple', value: 'OK' });
        assertReply(await connection.command('HSET', 'r3:h', 'f', 'y'), { kind: 'integer', value: 0 });
        assertReply(await connection.command('MULTI'), { kind: 'simple', value: 'OK' });
        assertReply(await connection.command('EXEC'), { kind: 'nullArray' });
        assertReply(await connection.command('INCRBYFLOAT', 'r3:f', '-1.75'), bulkText('0'));

        // The same exchange, byte for byte, as Redis 7.0.15 sends it.
        const helloBytes = (protocol: number) =>
          `${protocol === 3 ? '%7' : '*14'}\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n` +
          `$5\r\nproto\r\n:${protocol}\r\n$2\r\nid\r\n:${id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n` +
          '$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n';
        const expected = [
          `:${id}\r\n`,
          helloBytes(3),
          ':0\r\n:2\r\n%2\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n$1\r\nw\r\n_\r\n$3\r\n1.5\r\n%0\r\n',
          '*2\r\n$1\r\nv\r\n_\r\n:1\r\n+hash\r\n+OK\r\n:0\r\n+OK\r\n+QUEUED\r\n_\r\n',
          '+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n%2\r\n$1\r\nf\r\n$1\r\nx\r\n$1\r\ng\r\n$1\r\nw\r\n$4\r\n1.75\r\n',
          `-${WRONGTYPE}\r\n`,
          helloBytes(2),
          '$-1\r\n*4\r\n$1\r\nf\r\n$1\r\nx\r\n$1\r\ng\r\n$1\r\nw\r\n+OK\r\n:0\r\n+OK\r\n*-1\r\n$1\r\n0\r\n',
        ].join('');
        assert.equal(connection.transcript(), expected);
      } finally {
        connection.close();
      }
    });

    it('RESP3 carries INFO as a verbatim string and COMMAND INFO flags as sets', async () => {
      const connection = await RespConnection.open(dataNode().respPort);
      try {
        assert.equal((await connection.command('HELLO', '3')).kind, 'map');
        const info = await connection.command('INFO', 'server');
        assert.equal(info.kind, 'verbatim');
        if (info.kind === 'verbatim') {
          assert.equal(info.format, 'txt');
          assert.ok(info.value.startsWith('# Server\r\nredis_version:7.0.15\r\n'));
        }
        const commandInfo = await connection.command('COMMAND', 'INFO', 'incr');
        assert.equal(commandInfo.kind, 'array');
        const entry = commandInfo.kind === 'array' ? commandInfo.items[0] : undefined;
        assert.ok(entry?.kind === 'array');
        assertReply(entry.items[2] as Reply, {
          kind: 'set',
          items: [
            { kind: 'simple', value: 'write' },
            { kind: 'simple', value: 'denyoom' },
            { kind: 'simple', value: 'fast' },
          ],
        });
        assertReply(await connection.command('HELLO', '4'), {
          kind: 'error',
          message: 'NOPROTO unsupported protocol version',
        });
        assertReply(await connection.command('HELLO', 'three'), {
          kind: 'error',
          message: 'ERR Protocol version is not an integer or out of range',
        });
        assertReply(await connection.command('PING'), { kind: 'simple', value: 'PONG' });
      } finally {
        connection.close();
      }
    });
  });

  describe('AUTH on a node with a password', () => {
    it('refuses commands before AUTH and wrong passwords, then serves', async () => {
      const connection = await RespConnection.open(securedNode().respPort);
      const expectError = async (args: string[], message: string) =>
        assertReply(await connection.command(...args), { kind: 'error', message });
      try {
        await expectError(['GET', 'auth:k'], 'NOAUTH Authentication required.');
        await expectError(['PING'], 'NOAUTH Authentication required.');
        await expectError(['MULTI'], 'NOAUTH Authentication required.');
        await expectError(['CLIENT', 'ID'], 'NOAUTH Authentication required.');
        // Redis looks the command up and checks its arity before it checks authentication.
        await expectError(['NOSUCH'], "ERR unknown command 'NOSUCH', with args beginning with: ");
        await expectError(['GET'], "ERR wrong number of arguments for 'get' command");
        await expectError(['AUTH'], "ERR wrong number of arguments for 'auth' command");
        await expectError(['AUTH', 'wrong'], WRONGPASS);
        await expectError(['AUTH', 'default', 'wrong'], WRONGPASS);
        await expectError(['AUTH', 'someone', PASSWORD], WRONGPASS);
        await expectError(['AUTH', 'default', PASSWORD, 'extra'], 'ERR syntax error');
        const helloNoauth =
          'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time';
        await expectError(['HELLO', '3'], helloNoauth);
        await expectError(['HELLO'], helloNoauth);
        await expectError(['HELLO', '3', 'AUTH', 'default', 'wrong'], WRONGPASS);
        await expectError(['GET', 'auth:k'], 'NOAUTH Authentication required.');
        assertReply(await connection.command('AUTH', PASSWORD), { kind: 'simple', value: 'OK' });
        assertReply(await connection.command('GET', 'auth:k'), { kind: 'null' });
        assertReply(await connection.command('SET', 'auth:k', 'v'), { kind: 'simple', value: 'OK' });
        assertReply(await connection.command('AUTH', 'default', 'wrong'), {
          kind: 'error',
          message: WRONGPASS,
        });
        assertReply(
          await connection.command('GET', 'auth:k'),
          bulkText('v'),
          'a failed AUTH keeps the session',
        );
      } finally {
        connection.close();
      }
      const viaHello = await RespConnection.open(securedNode().respPort);
      try {
        const hello = await viaHello.command(
          'HELLO',
          '3',
          'AUTH',
          'default',
          PASSWORD,
          'SETNAME',
          'hello-auth',
        );
        assert.equal(hello.kind, 'map');
        assertReply(await viaHello.command('CLIENT', 'GETNAME'), bulkText('hello-auth'));
        assertReply(await viaHello.command('GET', 'auth:k'), bulkText('v'));
      } finally {
        viaHello.close();
      }
    });

    it('ioredis with the password works over RESP3 (HELLO AUTH) and RESP2 (AUTH)', async () => {
      const resp3 = await openClient(securedNode().respPort, { password: PASSWORD });
      assert.equal(await resp3.set('auth:io', 'three'), 'OK');
      assert.equal(await resp3.get('auth:io'), 'three');
      assert.match((await resp3.client('INFO')) as string, / resp=3\b/);
      const resp2 = await openClient(securedNode().respPort, { password: PASSWORD, protocol: 2 });
      assert.equal(await resp2.get('auth:io'), 'three');
      assert.equal(await resp2.incr('auth:count'), 1);
      const user = await openClient(securedNode().respPort, {
        username: 'default',
        password: PASSWORD,
        protocol: 2,
      });
      assert.equal(await user.get('auth:count'), '1');
    });

    it('ioredis with a wrong password is refused with WRONGPASS', async () => {
      for (const protocol of [2, 3] as const) {
        const refused = new Redis({
          host: '127.0.0.1',
          port: securedNode().respPort,
          password: 'wrong',
          protocol,
          lazyConnect: true,
          retryStrategy: () => null,
          maxRetriesPerRequest: 0,
          commandTimeout: COMMAND_TIMEOUT_MS,
        });
        clients.add(refused);
        const errors: string[] = [];
        refused.on('error', (cause: Error) => errors.push(cause.message));
        // The handshake's error is emitted; connect() then fails as the connection closes.
        await assert.rejects(refused.connect());
        assert.deepEqual(errors, [WRONGPASS], `RESP${protocol}`);
      }
    });

    it('a node without a password answers AUTH as Redis does', async () => {
      await rejectsWith(
        client.call('AUTH', ['anything']),
        'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
      );
    });
  });

  describe('redis-cli', () => {
    it('runs a scripted session fed on stdin', async () => {
      const script = [
        'DEL cli:str cli:n cli:h cli:tx cli:f cli:tmp',
        'PING',
        'ECHO "hello world"',
        'CLIENT SETNAME cli-session',
        'CLIENT GETNAME',
        'SET cli:str hello',
        'APPEND cli:str " world"',
        'GET cli:str',
        'STRLEN cli:str',
        'GETRANGE cli:str 0 4',
        'SETRANGE cli:str 6 WORLD',
        'GETDEL cli:str',
        'GET cli:str',
        'SET cli:n 10',
        'INCR cli:n',
        'INCRBY cli:n 5',
        'DECRBY cli:n 20',
        'INCRBYFLOAT cli:f 0.1',
        'INCRBYFLOAT cli:f 0.2',
        'INCR cli:f',
        'MSET cli:a 1 cli:b 2',
        'MGET cli:a cli:b cli:missing',
        'HSET cli:h name ada lang en',
        'HGETALL cli:h',
        'HINCRBY cli:h visits 3',
        'HMGET cli:h name visits nope',
        'HDEL cli:h lang',
        'HKEYS cli:h',
        'GET cli:h',
        'TYPE cli:h',
        'EXISTS cli:h cli:n cli:missing',
        'SET cli:tmp v EX 1000',
        'PERSIST cli:tmp',
        'TTL cli:tmp',
        'TTL cli:missing',
        'MULTI',
        'SET cli:tx 1',
        'INCR cli:tx',
        'HSET cli:tx f v',
        'GET cli:tx',
        'EXEC',
        'MULTI',
        'SET cli:tx 2',
        'NOSUCH cmd',
        'EXEC',
        'GET cli:tx',
        'MULTI',
        'INCR cli:tx',
        'DISCARD',
        'EXEC',
        'WATCH cli:tx',
        'MULTI',
        'INCR cli:tx',
        'EXEC',
        'KEYS cli:h*',
        'DEL cli:str cli:n cli:h cli:tx cli:f cli:tmp cli:a cli:b',
        'GET',
        'FOO bar',
      ].join('\n');
      // What redis-cli 7.0 prints for this script against Redis 7.0.15 (an error is followed by
      // an empty line; a null prints as an empty line).
      const expected = [
        '0',
        'PONG',
        'hello world',
        'OK',
        'cli-session',
        'OK',
        '11',
        'hello world',
        '11',
        'hello',
        '11',
        'hello WORLD',
        '',
        'OK',
        '11',
        '16',
        '-4',
        '0.1',
        '0.3',
        NOT_AN_INTEGER,
        '',
        'OK',
        '1',
        '2',
        '',
        '2',
        'name',
        'ada',
        'lang',
        'en',
        '3',
        'ada',
        '3',
        '',
        '1',
        'name',
        'visits',
        WRONGTYPE,
        '',
        'hash',
        '2',
        'OK',
        '1',
        '-1',
        '-2',
        'OK',
        'QUEUED',
        'QUEUED',
        'QUEUED',
        'QUEUED',
        'OK',
        '2',
        WRONGTYPE,
        '',
        '2',
        'OK',
        'QUEUED',
        "ERR unknown command 'NOSUCH', with args beginning with: 'cmd' ",
        '',
        EXECABORT,
        '',
        '2',
        'OK',
        'QUEUED',
        'OK',
        'ERR EXEC without MULTI',
        '',
        'OK',
        'OK',
        'QUEUED',
        '3',
        'cli:h',
        '7',
        "ERR wrong number of arguments for 'get' command",
        '',
        "ERR unknown command 'FOO', with args beginning with: 'bar' ",
        '',
      ]
        .map((line) => `${line}\n`)
        .join('');
      const result = await runTool(
        'redis-cli',
        ['-p', String(dataNode().respPort)],
        `${script}\n`,
        TOOL_TIMEOUT_MS,
        tools,
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, expected);
      assert.equal(result.stderr, '');
    });

    it('speaks RESP3 with -3', async () => {
      const script = [
        'HSET cli3:h a 1 b 2',
        'HGETALL cli3:h',
        'GET cli3:missing',
        'INCRBYFLOAT cli3:f 0.5',
        'MULTI',
        'GET cli3:missing',
        'HGETALL cli3:h',
        'EXEC',
      ].join('\n');
      const expected = ['2', 'a 1', 'b 2', '', '0.5', 'OK', 'QUEUED', 'QUEUED', '', 'a 1', 'b 2']
        .map((line) => `${line}\n`)
        .join('');
      const result = await runTool(
        'redis-cli',
        ['-3', '-p', String(dataNode().respPort)],
        `${script}\n`,
        TOOL_TIMEOUT_MS,
        tools,
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, expected);
    });

    it('authenticates with -a against the node with a password', async () => {
      const port = String(securedNode().respPort);
      const refused = await runTool('redis-cli', ['-p', port], 'GET auth:k\n', TOOL_TIMEOUT_MS, tools);
      assert.equal(refused.stdout, 'NOAUTH Authentication required.\n\n');
      const result = await runTool(
        'redis-cli',
        ['--no-auth-warning', '-a', PASSWORD, '-p', port],
        'GET auth:k\nINCR auth:count\n',
        TOOL_TIMEOUT_MS,
        tools,
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'v\n2\n');
    });
  });

  describe('redis-benchmark', () => {
    it('runs SET, GET, INCR and MSET from 50 connections without an error', async () => {
      const statsBefore = await client.info('stats');
      const commandsBefore = Number(infoField(statsBefore, 'total_commands_processed'));
      const result = await runTool(
        'redis-benchmark',
        [
          '-p',
          String(dataNode().respPort),
          '-t',
          'set,get,incr,mset',
          '-n',
          '2000',
          '-c',
          '50',
          '-r',
          '1000',
          '--csv',
        ],
        '',
        BENCHMARK_TIMEOUT_MS,
        tools,
      );
      assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
      const output = `${result.stdout}\n${result.stderr}`;
      assert.ok(!/error/i.test(output), `no error from the benchmark:\n${output}`);
      const rows = result.stdout
        .split('\n')
        .filter((line) => line.startsWith('"'))
        .map((line) => line.split(',').map((cell) => cell.replace(/^"|"$/g, '')));
      assert.deepEqual(rows[0]?.slice(0, 2), ['test', 'rps']);
      const tests = new Map(rows.slice(1).map((row) => [row[0], Number(row[1])]));
      assert.deepEqual([...tests.keys()], ['SET', 'GET', 'INCR', 'MSET (10 keys)']);
      for (const [name, rate] of tests) assert.ok(rate > 0, `${name} ran at ${rate} requests/s`);

      const statsAfter = await client.info('stats');
      const commandsAfter = Number(infoField(statsAfter, 'total_commands_processed'));
      assert.ok(
        commandsAfter - commandsBefore >= 4 * 2000,
        `${commandsAfter - commandsBefore} commands counted`,
      );

      // SET and MSET wrote one 3-byte payload (the default size) to keys among key:000000000000..999.
      // redis-benchmark 7 fills it with random letters from a fixed seed ('VXK'), no longer 'xxx'.
      const keys = await client.keys('key:*');
      assert.ok(keys.length > 0 && keys.length <= 1000, `${keys.length} benchmark keys`);
      assert.ok(keys.every((key) => /^key:\d{12}$/.test(key)));
      const payload = await client.get(keys[0] as string);
      assert.match(payload ?? '', /^[A-Za-z]{3}$/);
      assert.ok((await client.mget(...keys)).every((value) => value === payload));
      // Every one of the 2,000 INCRs is counted once, spread over counter:000000000000..999.
      const counters = await client.keys('counter:*');
      const values = await client.mget(...counters);
      assert.equal(
        values.reduce((sum, value) => sum + Number(value), 0),
        2000,
      );
    });
  });
});
