// The benches' floor (bench/lib/floor-node.ts) is a peer whose figures the docs compare Borealis
// with, so it must do what it claims: values written through the front come back through it and
// through the replicas, in order per connection, and every acknowledged write was fdatasynced.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { type Floor, startFloor } from '../../bench/lib/floor.js';
import { FloorWriter } from '../../bench/lib/floor-link.js';

describe('the benches’ floor', () => {
  let root: string;
  const stops: (() => Promise<void>)[] = [];
  let floor: Floor;
  let client: Redis;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'borealis-floor-'));
    floor = await startFloor(root, stops);
    client = new Redis({ host: '127.0.0.1', port: floor.port, lazyConnect: true, maxRetriesPerRequest: 0 });
    await client.connect();
  });

  after(async () => {
    client?.disconnect();
    for (const stop of stops.reverse()) await stop();
    await rm(root, { recursive: true, force: true });
  });

  it('answers a GET with the value a SET wrote, and null for a key never written', async () => {
    assert.equal(await client.set('floor:a', 'one'), 'OK');
    assert.equal(await client.get('floor:a'), 'one');
    assert.equal(await client.get('floor:never'), null);
    const stats = await floor.stats();
    assert.ok(stats.commits >= 1);
    assert.ok(stats.hits >= 1, 'the GET after the SET is a cache hit');
    assert.ok(stats.misses >= 1, 'the unknown key is read from the replicas');
  });

  it('answers pipelined commands of one connection in order', async () => {
    const pipeline = client.pipeline();
    for (let index = 0; index < 50; index++) pipeline.set(`floor:p${index}`, `v${index}`);
    for (let index = 0; index < 50; index++) pipeline.get(`floor:p${index}`);
    const results = (await pipeline.exec()) ?? [];
    assert.equal(results.length, 100);
    results.slice(0, 50).forEach(([error, reply]) => {
      assert.equal(error, null);
      assert.equal(reply, 'OK');
    });
    results.slice(50).forEach(([error, reply], index) => {
      assert.equal(error, null);
      assert.equal(reply, `v${index}`);
    });
  });

  it('keeps a value on the replicas: another writer reads it back, and the replicas fdatasynced it', async () => {
    const writer = await FloorWriter.connect(floor.replicaPorts);
    try {
      const fsyncsBefore = await writer.fsyncs();
      await writer.write([{ key: Buffer.from('floor:direct'), value: Buffer.from('kept') }]);
      assert.ok((await writer.fsyncs()) >= fsyncsBefore + 4, 'at least 4 of 6 replicas synced the write');
      assert.equal((await writer.read('floor:direct'))?.toString(), 'kept');
      assert.equal((await writer.read('floor:a'))?.toString(), 'one', 'written through the front');
      assert.equal(await writer.read('floor:never'), null);
    } finally {
      writer.close();
    }
  });
});
