// Lists through a real data-node process over a real six-node storage fleet, side by side with
// the real Redis 7.0 (BOREALIS_TEST_REDIS_URL, else 127.0.0.1:6379): a script of every list
// command, valid and invalid, sent over raw RESP2 and RESP3 connections (one at a time and
// pipelined), through ioredis and through redis-cli, must give the same replies from both
// (redis-cli's output byte for byte); MULTI/EXEC with list commands and WATCH on a list behave
// as in Redis. Keys carry a random prefix, so the shared Redis keeps nothing of ours after it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Reply } from '../../libs/resp/src/index.js';
import { ClientSet } from '../support/clients.js';
import { type RunningDataNode, startDataNode } from '../support/data-nodes.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';

const REDIS_PORT = Number(
  new URL(process.env.BOREALIS_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379').port || 6379,
);
const PREFIX = `lists-e2e-${randomBytes(4).toString('hex')}:`;
const TOOL_TIMEOUT_MS = 30_000;

const k = (name: string): string => PREFIX + name;

/** Every list command, valid and not, on keys of their own; the same script goes to both servers. */
function script(): string[][] {
  const [l, m, s, none] = [k('l'), k('m'), k('s'), k('none')];
  return [
    ['DEL', l, m, s],
    ['RPUSH', l, 'a', 'b', 'c', 'd', 'e', 'a'],
    ['LPUSH', l, 'z', 'y'],
    ['LPUSHX', none, 'x'],
    ['RPUSHX', l, 'tail'],
    ['LLEN', l],
    ['LLEN', none],
    ['LRANGE', l, '0', '-1'],
    ['LRANGE', l, '-3', '100'],
    ['LRANGE', l, '5', '2'],
    ['LRANGE', l, 'x', '2'],
    ['LINDEX', l, '2'],
    ['LINDEX', l, '-1'],
    ['LINDEX', l, '100'],
    ['LINDEX', l, 'x'],
    ['LSET', l, '0', 'Z'],
    ['LSET', l, '100', 'Z'],
    ['LSET', none, '0', 'Z'],
    ['LPOS', l, 'a'],
    ['LPOS', l, 'a', 'RANK', '-1'],
    ['LPOS', l, 'a', 'COUNT', '0'],
    ['LPOS', l, 'a', 'RANK', '0'],
    ['LPOS', l, 'nope', 'COUNT', '2', 'MAXLEN', '3'],
    ['LPOS', l, 'a', 'COUNT', '-1'],
    ['LPOS', l, 'a', 'BOGUS'],
    ['LINSERT', l, 'BEFORE', 'c', 'inserted'],
    ['LINSERT', l, 'after', 'nope', 'x'],
    ['LINSERT', l, 'MIDDLE', 'c', 'x'],
    ['LINSERT', none, 'BEFORE', 'c', 'x'],
    ['LREM', l, '0', 'a'],
    ['LREM', l, '-1', 'tail'],
    ['LREM', l, 'x', 'a'],
    ['LTRIM', l, '1', '-2'],
    ['LRANGE', l, '0', '-1'],
    ['LPOP', l],
    ['RPOP', l, '2'],
    ['LPOP', l, '0'],
    ['LPOP', l, '-1'],
    ['LPOP', none, '2'],
    ['RPOP', none],
    ['LMOVE', l, m, 'LEFT', 'RIGHT'],
    ['RPOPLPUSH', l, m],
    ['LMOVE', l, m, 'UP', 'LEFT'],
    ['LMOVE', m, m, 'RIGHT', 'LEFT'],
    ['LRANGE', m, '0', '-1'],
    ['LMPOP', '2', none, m, 'RIGHT', 'COUNT', '5'],
    ['LMPOP', '2', none, m, 'RIGHT'],
    ['LMPOP', '0', m, 'LEFT'],
    ['LMPOP', '1', m, 'LEFT', 'COUNT', '0'],
    ['LMPOP', '1', m],
    ['SET', s, 'str'],
    ['LPUSH', s, 'x'],
    ['LRANGE', s, '0', '-1'],
    ['RPOPLPUSH', l, s],
    ['TYPE', l],
    ['EXISTS', m],
    ['LPOP', l, '1', '2'],
    ['RPUSH', l],
    ['LTRIM', l, '1', '0'],
    ['EXISTS', l],
    ['DEL', l, m, s],
  ];
}

describe('lists through a data node, compared with Redis 7.0', { timeout: 120_000 }, () => {
  let fleet: StorageFleet | undefined;
  let node: RunningDataNode | undefined;
  const clients = new ClientSet();
  const port = (): number => (node as RunningDataNode).respPort;

  before(async () => {
    fleet = await startStorageFleet();
    node = await startDataNode({ id: 'lists1', storage: fleet.nodes, coordinatorId: 7, cluster: 'lists' });
  });

  after(async () => {
    clients.closeAll();
    const cleaner = await new ClientSet().redis(REDIS_PORT);
    await cleaner.del(...(script()[0] as string[]).slice(1), k('q'), k('r'));
    cleaner.disconnect();
    await node?.stop();
    await fleet?.stop();
  });

  for (const protocol of [2, 3]) {
    it(`answers every list command as Redis does over RESP${protocol}`, async () => {
      const ours = await clients.raw(port());
      const theirs = await clients.raw(REDIS_PORT);
      const hello = ['HELLO', String(protocol)];
      await ours.call(hello);
      await theirs.call(hello);
      for (const request of script()) {
        const [mine] = (await ours.call(request)) as [Reply];
        const [reference] = (await theirs.call(request)) as [Reply];
        assert.deepEqual(mine, reference, request.join(' '));
      }
    });
  }

  it('answers the whole script pipelined (one write) as Redis does: commands on a key keep their order', async () => {
    const ours = await clients.raw(port());
    const theirs = await clients.raw(REDIS_PORT);
    const requests = script();
    assert.deepEqual(await ours.call(...requests), await theirs.call(...requests));
  });

  it('answers every list command as Redis does through ioredis', async () => {
    const ours = await clients.redis(port());
    const theirs = await clients.redis(REDIS_PORT);
    const outcome = async (client: Redis, request: string[]): Promise<unknown> => {
      try {
        return await client.call(request[0] as string, ...request.slice(1));
      } catch (error) {
        return { error: (error as Error).message };
      }
    };
    for (const request of script()) {
      assert.deepEqual(await outcome(ours, request), await outcome(theirs, request), request.join(' '));
    }
  });

  it('prints what Redis prints through redis-cli', async () => {
    const input = `${script()
      .map((request) => request.map((arg) => (arg === '' ? '""' : arg)).join(' '))
      .join('\n')}\n`;
    const mine = await clients.tool('redis-cli', ['-p', String(port())], input, TOOL_TIMEOUT_MS);
    const reference = await clients.tool('redis-cli', ['-p', String(REDIS_PORT)], input, TOOL_TIMEOUT_MS);
    assert.equal(mine.code, 0, mine.stderr);
    assert.equal(mine.stdout, reference.stdout);
    assert.equal(mine.stderr, reference.stderr);
  });

  it('runs a MULTI of a hundred pushes and forty pops on one list as Redis does', async () => {
    const run = async (serverPort: number): Promise<Reply[]> => {
      const connection = await clients.raw(serverPort);
      const key = k('batch');
      const requests = [
        ['DEL', key],
        ['MULTI'],
        ...Array.from({ length: 100 }, (_, index) => [index % 3 === 0 ? 'LPUSH' : 'RPUSH', key, `e${index}`]),
        ...Array.from({ length: 40 }, (_, index) => [index % 2 === 0 ? 'LPOP' : 'RPOP', key]),
        ['LRANGE', key, '0', '-1'],
        ['EXEC'],
        ['DEL', key],
      ];
      const replies = await connection.call(...requests);
      connection.destroy();
      return replies;
    };
    const mine = await run(port());
    const reference = await run(REDIS_PORT);
    assert.deepEqual(mine.at(-2), reference.at(-2));
    assert.deepEqual(mine, reference);
  });

  it('runs list commands in MULTI/EXEC and honours WATCH on a list, as Redis does', async () => {
    const run = async (serverPort: number): Promise<Reply[]> => {
      const first = await clients.raw(serverPort);
      const second = await clients.raw(serverPort);
      const [q, r] = [k('q'), k('r')];
      const replies: Reply[] = [];
      const both = async (connection: typeof first, ...requests: string[][]) => {
        replies.push(...(await connection.call(...requests)));
      };
      await both(first, ['DEL', q, r], ['RPUSH', q, 'a', 'b', 'c']);
      // A transaction of list commands: all run together, at EXEC.
      await both(
        first,
        ['MULTI'],
        ['LPUSH', q, 'z'],
        ['RPOP', q],
        ['LMOVE', q, r, 'LEFT', 'LEFT'],
        ['LRANGE', q, '0', '-1'],
        ['LPOS', r, 'z'],
        ['EXEC'],
      );
      // A WATCHed list changed by another client: EXEC answers null and runs nothing.
      await both(first, ['WATCH', q]);
      await both(second, ['RPUSH', q, 'from-second']);
      await both(first, ['MULTI'], ['LPOP', q], ['EXEC'], ['LRANGE', q, '0', '-1']);
      // Unchanged: EXEC runs.
      await both(first, ['WATCH', q], ['LLEN', q]);
      await both(first, ['MULTI'], ['LPOP', q], ['RPUSH', r, 'x'], ['EXEC'], ['LRANGE', r, '0', '-1']);
      // A pop by another client that empties and deletes the list is a change too.
      await both(first, ['WATCH', r]);
      await both(second, ['LMPOP', '1', r, 'LEFT', 'COUNT', '10']);
      await both(first, ['MULTI'], ['RPUSH', r, 'y'], ['EXEC'], ['EXISTS', r]);
      // A command that fails inside the transaction fails alone.
      await both(first, ['MULTI'], ['LSET', q, '99', 'v'], ['LLEN', q], ['EXEC'], ['DEL', q, r]);
      first.destroy();
      second.destroy();
      return replies;
    };
    const mine = await run(port());
    const reference = await run(REDIS_PORT);
    assert.deepEqual(mine, reference);
  });
});
