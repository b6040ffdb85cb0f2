// Hashes, sets and sorted sets through a real data-node process over a real six-node storage
// fleet, side by side with the real Redis 7.0 (BOREALIS_TEST_REDIS_URL, else 127.0.0.1:6379): a
// script of every command of each family, valid and invalid, sent over raw RESP2 and RESP3
// connections (one at a time and pipelined), through ioredis and through redis-cli, must give the
// same replies from both (redis-cli's output byte for byte); MULTI/EXEC and WATCH behave as in
// Redis. Keys carry a random prefix, so the shared Redis keeps nothing of ours after it.
//
// Order. Sorted sets are ordered, and are compared exactly. Hashes and sets are not: Redis answers
// a small one in its listpack or intset order, the data node in its buckets' order, and neither
// promises any. A script step whose reply is such a collection is marked, and only its reply is
// compared as a multiset (of members, or of field-value pairs that stay together); through
// redis-cli such steps run one at a time and their output lines are compared as a multiset. The
// random commands (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER) appear only in forms whose answer
// is determined: a count of 0, a count at least the size, a one-element collection, a missing key.
//
// Left out, because the reference is Redis 7.0 and the data node follows a later version (the
// same exceptions as test/integration/redis-differential.test.ts): HSCAN … NOVALUES (7.4),
// ZRANK/ZREVRANK … WITHSCORE (7.2), and scores with no short exact decimal form (7.0 prints 0.1
// as 0.10000000000000001, 7.2 and the data node as 0.1), so the scores here print the same in
// both.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Reply } from '../../libs/resp/src/index.js';
import { ClientSet, type RawConnection } from '../support/clients.js';
import { type RunningDataNode, startDataNode } from '../support/data-nodes.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';

const REDIS_PORT = Number(
  new URL(process.env.BOREALIS_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379').port || 6379,
);
const PREFIX = `collection-scripts-${randomBytes(4).toString('hex')}:`;
const TOOL_TIMEOUT_MS = 30_000;

const k = (name: string): string => PREFIX + name;

/** How a step's reply is compared: exactly, or as a multiset of members or of field-value pairs. */
type Order = 'exact' | 'members' | 'pairs' | 'scan-members' | 'scan-pairs';

interface Step {
  request: string[];
  order: Order;
}

const exact = (...request: string[]): Step => ({ request, order: 'exact' });
const members = (...request: string[]): Step => ({ request, order: 'members' });
const pairs = (...request: string[]): Step => ({ request, order: 'pairs' });
const scanMembers = (...request: string[]): Step => ({ request, order: 'scan-members' });
const scanPairs = (...request: string[]): Step => ({ request, order: 'scan-pairs' });

const NAMES = ['h', 'one', 's', 't', 'd', 'z', 'y', 'w', 'u', 'v', 'str', 'none'] as const;
const [h, one, s, t, d, z, y, w, u, v, str, none] = NAMES.map(k) as [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
];

function hashScript(): Step[] {
  return [
    exact('DEL', h, one, str),
    exact('HSET', h, 'f1', 'v1', 'f2', 'v2'),
    exact('HSET', h, 'f1', 'v1b'),
    exact('HSETNX', h, 'f1', 'x'),
    exact('HSETNX', h, 'f3', 'v3'),
    exact('HGET', h, 'f1'),
    exact('HGET', h, 'nope'),
    exact('HGET', none, 'f'),
    exact('HMGET', h, 'f1', 'nope', 'f2'),
    exact('HMGET', none, 'a'),
    exact('HLEN', h),
    exact('HLEN', none),
    exact('HSTRLEN', h, 'f1'),
    exact('HSTRLEN', h, 'nope'),
    exact('HEXISTS', h, 'f2'),
    exact('HEXISTS', h, 'nope'),
    exact('HINCRBY', h, 'n', '5'),
    exact('HINCRBY', h, 'n', '-12'),
    exact('HINCRBY', h, 'f1', '1'),
    exact('HINCRBY', h, 'n', 'x'),
    exact('HINCRBY', h, 'n', '9223372036854775807'),
    exact('HINCRBYFLOAT', h, 'fl', '1.5'),
    exact('HINCRBYFLOAT', h, 'fl', '1e2'),
    exact('HINCRBYFLOAT', h, 'f1', '1'),
    exact('HINCRBYFLOAT', h, 'fl', 'abc'),
    exact('HMSET', h, 'a', '1', 'b', '2'),
    exact('HMSET', h, 'a'),
    exact('HDEL', h, 'a', 'nope'),
    exact('HDEL', none, 'a'),
    members('HKEYS', h),
    members('HVALS', h),
    pairs('HGETALL', h),
    exact('HGETALL', none),
    scanPairs('HSCAN', h, '0'),
    scanPairs('HSCAN', h, '0', 'MATCH', 'f*'),
    scanPairs('HSCAN', h, '0', 'COUNT', '100'),
    exact('HSCAN', none, '0'),
    exact('HSCAN', h, 'x'),
    exact('HSCAN', h, '0', 'COUNT', '0'),
    exact('HSET', one, 'only', 'value'),
    exact('HRANDFIELD', none),
    exact('HRANDFIELD', none, '3'),
    exact('HRANDFIELD', h, '0'),
    exact('HRANDFIELD', one),
    exact('HRANDFIELD', one, '-3'),
    exact('HRANDFIELD', one, '-2', 'WITHVALUES'),
    members('HRANDFIELD', h, '100'),
    pairs('HRANDFIELD', h, '100', 'WITHVALUES'),
    exact('HRANDFIELD', h, '1', 'BOGUS'),
    exact('HRANDFIELD', h, 'x'),
    exact('SET', str, 'x'),
    exact('HSET', str, 'f', 'v'),
    exact('HGET', str, 'f'),
    exact('HGETALL', str),
    exact('HSET', h),
    exact('HSET', h, 'f'),
    exact('HGET', h),
    exact('DEL', h, one, str),
  ];
}

function setScript(): Step[] {
  return [
    exact('DEL', s, t, d, one, str),
    exact('SADD', s, 'a', 'b', 'c'),
    exact('SADD', s, 'a', 'd'),
    exact('SADD', t, 'c', 'd', 'e'),
    exact('SADD', one, 'x'),
    exact('SCARD', s),
    exact('SCARD', none),
    exact('SISMEMBER', s, 'a'),
    exact('SISMEMBER', s, 'z'),
    exact('SMISMEMBER', s, 'a', 'z', 'b'),
    exact('SMISMEMBER', none, 'a'),
    members('SMEMBERS', s),
    exact('SMEMBERS', none),
    exact('SREM', s, 'd', 'z'),
    exact('SREM', none, 'a'),
    members('SINTER', s, t),
    members('SUNION', s, t),
    members('SDIFF', s, t),
    exact('SINTER', s, none),
    exact('SDIFF', none, s),
    exact('SINTERSTORE', d, s, t),
    members('SMEMBERS', d),
    exact('SUNIONSTORE', d, s, t),
    members('SMEMBERS', d),
    exact('SDIFFSTORE', d, s, t),
    members('SMEMBERS', d),
    exact('SDIFFSTORE', d, none, s),
    exact('EXISTS', d),
    exact('SINTERCARD', '2', s, t),
    exact('SINTERCARD', '2', s, t, 'LIMIT', '1'),
    exact('SINTERCARD', '0', s),
    exact('SINTERCARD', '3', s, t),
    exact('SINTERCARD', '2', s, t, 'LIMIT', '-1'),
    exact('SMOVE', s, t, 'a'),
    exact('SMOVE', s, t, 'nope'),
    exact('SMOVE', none, t, 'a'),
    exact('SPOP', one),
    exact('EXISTS', one),
    exact('SPOP', none),
    exact('SPOP', s, '0'),
    exact('SPOP', s, '-1'),
    exact('SADD', one, 'x'),
    exact('SRANDMEMBER', one),
    exact('SRANDMEMBER', one, '-3'),
    exact('SRANDMEMBER', t, '0'),
    members('SRANDMEMBER', t, '100'),
    exact('SRANDMEMBER', none, '5'),
    exact('SRANDMEMBER', none),
    scanMembers('SSCAN', t, '0'),
    scanMembers('SSCAN', t, '0', 'MATCH', 'c*'),
    exact('SSCAN', none, '0'),
    exact('SSCAN', t, 'x'),
    members('SPOP', s, '100'),
    exact('EXISTS', s),
    exact('SET', str, 'v'),
    exact('SADD', str, 'a'),
    exact('SINTER', t, str),
    exact('SMOVE', t, str, 'c'),
    exact('SADD', s),
    exact('SISMEMBER', s),
    exact('DEL', s, t, d, one, str),
  ];
}

function zsetScript(): Step[] {
  return [
    exact('DEL', z, y, w, u, v, d, one, str),
    exact('ZADD', z, '1', 'a', '2', 'b', '3', 'c'),
    exact('ZADD', z, 'NX', '10', 'a', '4', 'd'),
    exact('ZADD', z, 'XX', 'CH', '5', 'a', '6', 'nope'),
    exact('ZADD', z, 'GT', 'CH', '1', 'b', '7', 'c'),
    exact('ZADD', z, 'LT', '0', 'b'),
    exact('ZADD', z, 'INCR', '2', 'a'),
    exact('ZADD', z, 'NX', 'XX', '1', 'a'),
    exact('ZADD', z, 'GT', 'LT', '1', 'a'),
    exact('ZADD', z, 'GT', 'NX', '1', 'a'),
    exact('ZADD', z, 'INCR', '1', 'a', '2', 'b'),
    exact('ZADD', z, 'nan', 'a'),
    exact('ZADD', z, 'abc', 'a'),
    exact('ZADD', z, '1'),
    exact('ZADD', y, 'inf', 'x', '-inf', 'm', '0', 'n', '1e3', 'o', '0.5', 'p', '-2.25', 'q'),
    exact('ZSCORE', z, 'a'),
    exact('ZSCORE', z, 'nope'),
    exact('ZSCORE', none, 'a'),
    exact('ZMSCORE', z, 'a', 'nope', 'b'),
    exact('ZMSCORE', none, 'a'),
    exact('ZINCRBY', z, '2.5', 'b'),
    exact('ZINCRBY', z, 'abc', 'b'),
    exact('ZINCRBY', y, '1', 'x'),
    exact('ZINCRBY', y, '-inf', 'x'),
    exact('ZCARD', z),
    exact('ZCARD', none),
    exact('ZCOUNT', z, '-inf', '+inf'),
    exact('ZCOUNT', z, '(1', '5'),
    exact('ZCOUNT', z, 'x', '5'),
    exact('ZADD', w, '0', 'a', '0', 'b', '0', 'c', '0', 'd', '0', 'e'),
    exact('ZLEXCOUNT', w, '-', '+'),
    exact('ZLEXCOUNT', w, '[b', '(d'),
    exact('ZLEXCOUNT', w, 'b', 'd'),
    exact('ZRANGE', z, '0', '-1'),
    exact('ZRANGE', z, '0', '-1', 'WITHSCORES'),
    exact('ZRANGE', z, '1', '2', 'REV'),
    exact('ZRANGE', z, '-inf', '+inf', 'BYSCORE'),
    exact('ZRANGE', z, '(2', '+inf', 'BYSCORE', 'LIMIT', '0', '2', 'WITHSCORES'),
    exact('ZRANGE', z, '+inf', '-inf', 'BYSCORE', 'REV'),
    exact('ZRANGE', w, '[b', '[d', 'BYLEX'),
    exact('ZRANGE', w, '+', '-', 'BYLEX', 'REV', 'LIMIT', '1', '2'),
    exact('ZRANGE', z, '0', '-1', 'LIMIT', '0', '1'),
    exact('ZRANGE', w, '0', '-1', 'BYLEX'),
    exact('ZRANGE', z, '0', '-1', 'BYSCORE', 'BYLEX'),
    exact('ZRANGE', w, '-', '+', 'BYLEX', 'WITHSCORES'),
    exact('ZRANGE', y, '0', '-1', 'WITHSCORES'),
    exact('ZRANGESTORE', d, z, '0', '1'),
    exact('ZRANGE', d, '0', '-1', 'WITHSCORES'),
    exact('ZRANGESTORE', d, w, '[a', '[c', 'BYLEX'),
    exact('ZRANGE', d, '0', '-1', 'WITHSCORES'),
    exact('ZRANGESTORE', d, z, '5', '10'),
    exact('EXISTS', d),
    exact('ZRANGEBYSCORE', z, '-inf', '+inf', 'WITHSCORES', 'LIMIT', '1', '2'),
    exact('ZREVRANGEBYSCORE', z, '+inf', '-inf'),
    exact('ZRANGEBYSCORE', z, '1', '(3'),
    exact('ZRANGEBYSCORE', z, '1', 'x'),
    exact('ZRANGEBYLEX', w, '-', '+', 'LIMIT', '1', '2'),
    exact('ZREVRANGEBYLEX', w, '+', '-'),
    exact('ZREVRANGE', z, '0', '1', 'WITHSCORES'),
    exact('ZRANK', z, 'c'),
    exact('ZRANK', z, 'nope'),
    exact('ZREVRANK', z, 'c'),
    exact('ZRANK', none, 'c'),
    exact('ZPOPMIN', z),
    exact('ZPOPMAX', z, '2'),
    exact('ZPOPMIN', none),
    exact('ZPOPMIN', z, '-1'),
    exact('ZPOPMIN', z, '0'),
    exact('ZADD', z, '1', 'a', '2', 'b', '3', 'c'),
    exact('ZMPOP', '2', none, z, 'MIN', 'COUNT', '2'),
    exact('ZMPOP', '1', z, 'MAX'),
    exact('ZMPOP', '0', z, 'MIN'),
    exact('ZMPOP', '1', z, 'BOGUS'),
    exact('ZMPOP', '1', none, 'MIN'),
    exact('ZADD', one, '5', 'only'),
    exact('ZRANDMEMBER', none),
    exact('ZRANDMEMBER', one),
    exact('ZRANDMEMBER', one, '-2', 'WITHSCORES'),
    exact('ZRANDMEMBER', y, '0'),
    members('ZRANDMEMBER', y, '100'),
    pairs('ZRANDMEMBER', y, '100', 'WITHSCORES'),
    exact('ZREMRANGEBYSCORE', y, '-inf', '(0'),
    exact('ZREMRANGEBYRANK', w, '0', '0'),
    exact('ZREMRANGEBYLEX', w, '[b', '[c'),
    exact('ZRANGE', w, '0', '-1'),
    exact('ZREMRANGEBYLEX', w, 'b', 'c'),
    exact('ZADD', u, '1', 'a', '2', 'b', '3', 'c'),
    exact('ZADD', v, '10', 'b', '20', 'c', '30', 'd'),
    exact('ZUNION', '2', u, v, 'WITHSCORES'),
    exact('ZINTER', '2', u, v, 'WEIGHTS', '2', '3', 'AGGREGATE', 'MAX', 'WITHSCORES'),
    exact('ZDIFF', '2', u, v, 'WITHSCORES'),
    exact('ZUNION', '2', u, v, 'AGGREGATE', 'MIN'),
    exact('ZUNIONSTORE', d, '2', u, v, 'WEIGHTS', '1', '1'),
    exact('ZRANGE', d, '0', '-1', 'WITHSCORES'),
    exact('ZINTERSTORE', d, '2', u, v),
    exact('ZRANGE', d, '0', '-1', 'WITHSCORES'),
    exact('ZDIFFSTORE', d, '2', v, u),
    exact('ZRANGE', d, '0', '-1', 'WITHSCORES'),
    exact('ZINTERCARD', '2', u, v),
    exact('ZINTERCARD', '2', u, v, 'LIMIT', '1'),
    exact('ZUNION', '0', u),
    exact('ZINTER', '2', u, v, 'WEIGHTS', '1'),
    exact('ZUNION', '2', u, v, 'AGGREGATE', 'AVG'),
    scanPairs('ZSCAN', u, '0'),
    scanPairs('ZSCAN', u, '0', 'MATCH', 'a*'),
    exact('ZSCAN', none, '0'),
    exact('SET', str, 'x'),
    exact('ZADD', str, '1', 'a'),
    exact('ZRANGE', str, '0', '-1'),
    exact('ZUNION', '2', u, str),
    exact('ZSCORE', z),
    exact('DEL', z, y, w, u, v, d, one, str),
  ];
}

const FAMILIES: [string, () => Step[]][] = [
  ['hash', hashScript],
  ['set', setScript],
  ['sorted-set', zsetScript],
];

const byJson = (a: unknown, b: unknown): number => {
  const [x, y] = [JSON.stringify(a), JSON.stringify(b)];
  return x < y ? -1 : x > y ? 1 : 0;
};

/** Groups a flat list into pairs, sorted; nested two-element lists are pairs already. */
function sortedPairs<T>(items: T[], isPair: (item: T) => boolean): T[][] {
  const grouped: T[][] = [];
  if (items.length > 0 && items.every(isPair)) {
    for (const item of items) grouped.push([item]);
  } else {
    for (let index = 0; index < items.length; index += 2) grouped.push(items.slice(index, index + 2));
  }
  return grouped.sort(byJson);
}

/** A parsed reply in the comparable form its step's order asks for. */
function normalizeReply(reply: Reply, order: Order): unknown {
  if (order === 'exact' || reply.kind === 'error') return reply;
  if (order === 'scan-members' || order === 'scan-pairs') {
    if (reply.kind !== 'array' || reply.items.length !== 2) return reply;
    const [cursor, page] = reply.items as [Reply, Reply];
    return [cursor, normalizeReply(page, order === 'scan-members' ? 'members' : 'pairs')];
  }
  if (reply.kind === 'map') return [...reply.entries].sort(byJson);
  if (reply.kind !== 'array' && reply.kind !== 'set') return reply;
  if (order === 'members') return [...reply.items].sort(byJson);
  return sortedPairs(reply.items, (item) => item.kind === 'array' && item.items.length === 2);
}

/** An ioredis result in the comparable form its step's order asks for. */
function normalizeValue(value: unknown, order: Order): unknown {
  if (order === 'exact' || !Array.isArray(value)) return value;
  if (order === 'scan-members' || order === 'scan-pairs') {
    const [cursor, page] = value as [unknown, unknown];
    return [cursor, normalizeValue(page, order === 'scan-members' ? 'members' : 'pairs')];
  }
  if (order === 'members') return [...value].sort(byJson);
  return sortedPairs(value, (item) => Array.isArray(item) && item.length === 2);
}

const cliLine = (request: string[]): string => request.map((arg) => (arg === '' ? '""' : arg)).join(' ');

describe('hashes, sets and sorted sets through a data node, compared with Redis 7.0', {
  timeout: 120_000,
}, () => {
  let fleet: StorageFleet | undefined;
  let node: RunningDataNode | undefined;
  const clients = new ClientSet();
  const port = (): number => (node as RunningDataNode).respPort;

  before(async () => {
    fleet = await startStorageFleet();
    node = await startDataNode({
      id: 'scripts1',
      storage: fleet.nodes,
      coordinatorId: 7,
      cluster: 'scripts',
    });
  });

  after(async () => {
    clients.closeAll();
    const cleaner = await new ClientSet().redis(REDIS_PORT);
    await cleaner.del(...NAMES.map(k), k('q'), k('r'));
    cleaner.disconnect();
    await node?.stop();
    await fleet?.stop();
  });

  for (const [family, script] of FAMILIES) {
    for (const protocol of [2, 3]) {
      it(`answers every ${family} command as Redis does over RESP${protocol}`, async () => {
        const ours = await clients.raw(port());
        const theirs = await clients.raw(REDIS_PORT);
        const hello = ['HELLO', String(protocol)];
        await ours.call(hello);
        await theirs.call(hello);
        for (const { request, order } of script()) {
          const [mine] = (await ours.call(request)) as [Reply];
          const [reference] = (await theirs.call(request)) as [Reply];
          assert.deepEqual(normalizeReply(mine, order), normalizeReply(reference, order), request.join(' '));
        }
      });
    }

    it(`answers the whole ${family} script pipelined (one write) as Redis does`, async () => {
      const ours = await clients.raw(port());
      const theirs = await clients.raw(REDIS_PORT);
      const steps = script();
      const requests = steps.map((step) => step.request);
      const mine = await ours.call(...requests);
      const reference = await theirs.call(...requests);
      assert.equal(mine.length, reference.length);
      steps.forEach((step, index) => {
        assert.deepEqual(
          normalizeReply(mine[index] as Reply, step.order),
          normalizeReply(reference[index] as Reply, step.order),
          step.request.join(' '),
        );
      });
    });

    it(`answers every ${family} command as Redis does through ioredis`, async () => {
      const ours = await clients.redis(port());
      const theirs = await clients.redis(REDIS_PORT);
      const outcome = async (client: Redis, { request, order }: Step): Promise<unknown> => {
        try {
          return normalizeValue(await client.call(request[0] as string, ...request.slice(1)), order);
        } catch (error) {
          return { error: (error as Error).message };
        }
      };
      for (const step of script()) {
        assert.deepEqual(await outcome(ours, step), await outcome(theirs, step), step.request.join(' '));
      }
    });

    it(`prints what Redis prints through redis-cli for every ${family} command`, async () => {
      // Runs of ordered steps go as one script each and are compared byte for byte; an unordered
      // step goes alone, and its lines are compared as a multiset.
      const runs: { steps: Step[]; ordered: boolean }[] = [];
      for (const step of script()) {
        const ordered = step.order === 'exact';
        const last = runs.at(-1);
        if (ordered && last?.ordered === true) last.steps.push(step);
        else runs.push({ steps: [step], ordered });
      }
      for (const run of runs) {
        const input = `${run.steps.map((step) => cliLine(step.request)).join('\n')}\n`;
        const mine = await clients.tool('redis-cli', ['-p', String(port())], input, TOOL_TIMEOUT_MS);
        const reference = await clients.tool('redis-cli', ['-p', String(REDIS_PORT)], input, TOOL_TIMEOUT_MS);
        assert.equal(mine.code, 0, mine.stderr);
        assert.equal(mine.stderr, reference.stderr);
        if (run.ordered) {
          assert.equal(mine.stdout, reference.stdout, input);
        } else {
          const lines = (output: string) => output.split('\n').sort();
          assert.deepEqual(lines(mine.stdout), lines(reference.stdout), input);
        }
      }
    });
  }

  it('runs hash, set and sorted-set commands in MULTI/EXEC and honours WATCH on them, as Redis does', async () => {
    const run = async (serverPort: number): Promise<unknown[]> => {
      const first = await clients.raw(serverPort);
      const second = await clients.raw(serverPort);
      const replies: unknown[] = [];
      const send = async (connection: RawConnection, ...requests: string[][]) => {
        for (const reply of await connection.call(...requests)) replies.push(reply);
      };
      await send(first, ['DEL', h, s, z], ['HSET', h, 'f', '1'], ['SADD', s, 'a'], ['ZADD', z, '1', 'a']);
      // One transaction over the three families: everything runs at EXEC, a failing command alone.
      await send(
        first,
        ['MULTI'],
        ['HINCRBY', h, 'f', '2'],
        ['SADD', s, 'b'],
        ['ZINCRBY', z, '5', 'a'],
        ['ZADD', z, '2', 'b'],
        ['HINCRBY', s, 'f', '1'],
        ['SCARD', s],
        ['ZRANGE', z, '0', '-1', 'WITHSCORES'],
        ['HGET', h, 'f'],
        ['EXEC'],
      );
      for (const [key, change] of [
        [h, ['HSET', h, 'g', '2']],
        [s, ['SREM', s, 'a']],
        [z, ['ZINCRBY', z, '1', 'b']],
      ] as [string, string[]][]) {
        // Changed by another connection after WATCH: EXEC answers null and runs nothing.
        await send(first, ['WATCH', key]);
        await send(second, change);
        await send(first, ['MULTI'], ['DEL', key], ['EXEC'], ['EXISTS', key]);
        // Unchanged: EXEC runs.
        await send(first, ['WATCH', key], ['MULTI'], ['TYPE', key], ['EXEC']);
      }
      await send(first, ['DEL', h, s, z]);
      first.destroy();
      second.destroy();
      return replies;
    };
    assert.deepEqual(await run(port()), await run(REDIS_PORT));
  });
});
