// Large keys and values: what fits one transaction is stored and read back, batches that
// together outgrow a transaction are split, and what can never fit gets a clear error while
// the data node and the storage nodes keep serving.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { type RunningDataNode, startDataNode } from '../support/data-nodes.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';

const MIB = 1024 * 1024;

function payload(seed: number, bytes: number): Buffer {
  const value = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4096) value[i] = (seed + i) & 0xff;
  value[bytes - 1] = seed & 0xff;
  return value;
}

describe('data node: large keys and values', { timeout: 120_000 }, () => {
  let fleet: StorageFleet | undefined;
  let node: RunningDataNode | undefined;
  let client: Redis | undefined;

  before(async () => {
    fleet = await startStorageFleet();
    node = await startDataNode({ id: 'large', storage: fleet.nodes, coordinatorId: 7, cu: 8 });
    client = new Redis({
      port: node.respPort,
      host: '127.0.0.1',
      maxRetriesPerRequest: 0,
      commandTimeout: 60_000,
    });
  });

  after(async () => {
    client?.disconnect();
    await node?.stop();
    await fleet?.stop();
  });

  it('stores 4 pipelined 1 MiB values on distinct keys, and 3 of 3 MiB on one key, and reads them back', async () => {
    const redis = client as Redis;
    const distinct = redis.pipeline();
    for (let i = 0; i < 4; i++) distinct.set(`big:${i}`, payload(i, MIB));
    const results = (await distinct.exec()) ?? [];
    assert.deepEqual(
      results.map(([error, reply]) => error?.message ?? reply),
      new Array(4).fill('OK'),
    );
    for (let i = 0; i < 4; i++) {
      const read = await redis.getBuffer(`big:${i}`);
      assert.ok(read?.equals(payload(i, MIB)), `big:${i} reads back`);
    }
    // Three on one key would be one 9 MiB transaction, over the 8 MiB limit: the batch is split, in order.
    const sameKey = redis.pipeline();
    for (let i = 0; i < 3; i++) sameKey.set('big:same', payload(100 + i, 3 * MIB));
    const sameResults = (await sameKey.exec()) ?? [];
    assert.deepEqual(
      sameResults.map(([error, reply]) => error?.message ?? reply),
      new Array(3).fill('OK'),
    );
    assert.ok((await redis.getBuffer('big:same'))?.equals(payload(102, 3 * MIB)), 'the last write wins');
  });

  it("lists keys with large values: SCAN, KEYS and DBSIZE read only the values' headers", async () => {
    const redis = client as Redis;
    // One at a time: large commits running together can outlast the commit deadline on a busy disk.
    for (let i = 4; i < 9; i++) assert.equal(await redis.set(`big:${i}`, payload(i, 3 * MIB)), 'OK');
    const keys = (await redis.keys('big:*')).sort();
    assert.equal(keys.length, 10, '9 distinct keys and big:same: 22 MiB of values, more than a reply frame');
    const scanned = new Set<string>();
    let cursor = '0';
    do {
      const [next, page] = await redis.scan(cursor, 'MATCH', 'big:*', 'COUNT', 100);
      for (const key of page) scanned.add(key);
      cursor = next;
    } while (cursor !== '0');
    assert.deepEqual([...scanned].sort(), keys);
    assert.equal(await redis.dbsize(), 10);
    assert.deepEqual((await redis.scan('0', 'COUNT', 1000, 'TYPE', 'hash'))[1], []);
  });

  it('refuses a value over the transaction limit and an over-long key, and keeps serving', async () => {
    const redis = client as Redis;
    await assert.rejects(
      redis.set('too-big', payload(1, 9 * MIB)),
      /would write \d+ bytes; a transaction writes at most 8388608 bytes/,
    );
    await assert.rejects(
      redis.set('k'.repeat(70_000), 'v'),
      /a key of 70000 bytes is too long: keys are at most 65536 bytes/,
    );
    assert.equal(await redis.exists('too-big'), 0);
    assert.equal(await redis.set('small', 'ok'), 'OK');
    assert.equal(await redis.get('small'), 'ok');
    for (let index = 0; index < 6; index++)
      assert.ok(fleet?.isRunning(index), `storage node ${index + 1} still runs`);
    const health = await (node as RunningDataNode).health();
    assert.equal(health.state, 'attached');
  });
});
