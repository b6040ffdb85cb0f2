// Collections over the real storage nodes (ADR 0008): a 50,000-member set and hash answer their
// single-member and whole-collection commands; DEL answers while other commands keep being
// served, and the element keys are then reclaimed in the background until none is left on
// the replicas; listings count only Redis keys; MULTI/EXEC and WATCH work for hashes and sets;
// a 64 KiB key that begins with 0xff works.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { KEY_BYTES_MAX } from '../../libs/limits/src/index.js';
import { QuorumClient } from '../../libs/storage-client/src/index.js';
import { type RunningDataNode, startDataNode } from '../support/data-nodes.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';
import { waitUntil } from '../support/wait.js';

const VOLUME = 'collections-e2e';
const MEMBERS = 50_000;
const BATCH = 2_500;

describe('data node: collections over the storage nodes', { timeout: 400_000 }, () => {
  let fleet: StorageFleet | undefined;
  let node: RunningDataNode | undefined;
  let client: Redis | undefined;
  let other: Redis | undefined;
  let store: QuorumClient | undefined;

  const connect = (): Redis =>
    new Redis({
      port: (node as RunningDataNode).respPort,
      host: '127.0.0.1',
      maxRetriesPerRequest: 0,
      commandTimeout: 60_000,
    });

  before(async () => {
    fleet = await startStorageFleet();
    node = await startDataNode({
      id: 'coll',
      storage: fleet.nodes,
      coordinatorId: 7,
      cu: 8,
      cluster: VOLUME,
    });
    client = connect();
    other = connect();
    store = new QuorumClient({ writerId: 'collections-probe', coordinatorId: 99, nodes: fleet.nodes });
    await store.waitForNodes(6, 20_000);
  });

  after(async () => {
    client?.disconnect();
    other?.disconnect();
    await store?.close();
    await node?.stop();
    await fleet?.stop();
  });

  /** Another writer of the volume, with a cache of its own. */
  const startWriter = (id: string, coordinatorId: number): Promise<RunningDataNode> =>
    startDataNode({ id, storage: (fleet as StorageFleet).nodes, coordinatorId, cu: 8, cluster: VOLUME });

  /** Internal keys of the volume that still hold a value: element keys and reclaim records. */
  function liveInternalKeys(): Promise<number> {
    return liveVolumeKeys((key) => key.startsWith('\xffe') || key.startsWith('\xffr'));
  }

  async function liveVolumeKeys(selected: (key: string) => boolean): Promise<number> {
    const quorum = store as QuorumClient;
    const names: string[] = [];
    let cursor = 0;
    do {
      const page = await quorum.scan(VOLUME, cursor, 5_000);
      for (const key of page.keys) if (selected(key)) names.push(key);
      cursor = page.nextHash;
    } while (cursor !== 0);
    let live = 0;
    for (let start = 0; start < names.length; start += 256) {
      const values = await quorum.read(VOLUME, names.slice(start, start + 256));
      live += values.filter((value) => value.value !== null).length;
    }
    return live;
  }

  it('serves a 50,000-member set and hash, and reclaims them after DEL', async () => {
    const redis = client as Redis;
    for (let start = 0; start < MEMBERS; start += BATCH) {
      const members = Array.from({ length: BATCH }, (_, index) => `member:${start + index}`);
      assert.equal(await redis.sadd('big:set', ...members), BATCH);
      const fields = members.flatMap((member) => [member, `value:${member}`]);
      assert.equal(await redis.hset('big:hash', ...fields), BATCH);
    }
    assert.equal(await redis.scard('big:set'), MEMBERS);
    assert.equal(await redis.hlen('big:hash'), MEMBERS);
    assert.equal(await redis.sismember('big:set', 'member:4242'), 1);
    assert.equal(await redis.sismember('big:set', 'nope'), 0);
    assert.equal(await redis.hget('big:hash', 'member:4242'), 'value:member:4242');
    assert.equal(await redis.srem('big:set', 'member:0'), 1);
    assert.equal(await redis.hdel('big:hash', 'member:0'), 1);
    assert.equal(await redis.hincrby('big:hash', 'counter', 5), 5);
    const members = await redis.smembers('big:set');
    assert.equal(members.length, MEMBERS - 1);
    assert.equal(new Set(members).size, MEMBERS - 1);
    assert.equal(Object.keys(await redis.hgetall('big:hash')).length, MEMBERS);
    const scanned = new Set<string>();
    let cursor = '0';
    do {
      const [next, page] = await redis.sscan('big:set', cursor, 'COUNT', 1000);
      for (const member of page) scanned.add(member);
      cursor = next;
    } while (cursor !== '0');
    assert.equal(scanned.size, MEMBERS - 1);
    await redis.set('small', 'v');
    assert.equal(await redis.dbsize(), 3, 'DBSIZE counts Redis keys, not element keys');
    assert.deepEqual((await redis.keys('*')).sort(), ['big:hash', 'big:set', 'small']);
    assert.ok((await liveInternalKeys()) > 1_000, 'the elements are in element keys');

    // DEL answers, and another client's commands go on being served while the reclaim runs.
    const deletion = redis.del('big:set', 'big:hash');
    const meanwhile = Array.from({ length: 20 }, (_, index) => (other as Redis).incr(`counter:${index % 4}`));
    assert.equal(await deletion, 2);
    assert.equal((await Promise.all(meanwhile)).length, 20);
    assert.equal(await redis.exists('big:set', 'big:hash'), 0);
    await waitUntil(
      'the element keys to be reclaimed',
      240_000,
      async () => (await liveInternalKeys()) === 0,
      500,
    );
    assert.equal(await redis.get('small'), 'v');
  });

  it('runs hashes and sets in MULTI/EXEC, and WATCH sees their changes', async () => {
    const redis = client as Redis;
    const results = await redis
      .multi()
      .sadd('tx:set', 'a', 'b')
      .hset('tx:hash', 'f', 'v')
      .scard('tx:set')
      .exec();
    assert.deepEqual(
      results?.map(([error, reply]) => error ?? reply),
      [2, 1, 2],
    );
    await redis.watch('tx:set');
    await (other as Redis).sadd('tx:set', 'c');
    assert.equal(
      await redis.multi().scard('tx:set').exec(),
      null,
      'a watched set changed: EXEC answers null',
    );
    await redis.watch('tx:hash');
    await (other as Redis).hset('tx:hash', 'g', 'w');
    assert.equal(await redis.multi().hgetall('tx:hash').exec(), null, 'a watched hash changed');
    await redis.watch('tx:hash');
    const unchanged = await redis.multi().hget('tx:hash', 'g').srem('tx:set', 'a').exec();
    assert.deepEqual(
      unchanged?.map(([error, reply]) => error ?? reply),
      ['w', 1],
    );
  });

  it('FLUSHALL empties the keyspace in one write; the old keys are reclaimed once a listing meets them', async () => {
    const redis = client as Redis;
    await redis.sadd('flush:set', 'a', 'b', 'c');
    await redis.set('flush:string', 'v');
    assert.ok((await redis.dbsize()) >= 2);
    assert.equal(await redis.flushall(), 'OK');
    assert.equal(await redis.dbsize(), 0);
    assert.deepEqual(await redis.keys('*'), []);
    assert.equal(
      await (other as Redis).exists('flush:set', 'flush:string'),
      0,
      'every connection sees it at once',
    );
    await redis.set('after', '1');
    assert.deepEqual(await redis.keys('*'), ['after']);
    await waitUntil(
      'the flushed keys to be reclaimed',
      120_000,
      async () => {
        await redis.dbsize();
        return (await liveVolumeKeys((key) => key === 'flush:set' || key === 'flush:string')) === 0;
      },
      500,
    );
  });

  it('after FLUSHALL, reclaims every old key and element in the background, with no listing', async () => {
    const redis = client as Redis;
    const strings = Array.from({ length: 2_000 }, (_, index) => [`old:string:${index}`, `v${index}`]).flat();
    await redis.mset(...strings);
    await redis.sadd('old:set', ...Array.from({ length: 3_000 }, (_, index) => `member-${index}`));
    await redis.hset('old:hash', ...Array.from({ length: 500 }, (_, index) => [`f${index}`, 'v']).flat());
    await redis.rpush('old:list', ...Array.from({ length: 300 }, (_, index) => `e${index}`));
    await redis.zadd('old:zset', ...Array.from({ length: 300 }, (_, index) => [index, `m${index}`]).flat());
    // Every key of the volume but the generation itself (earlier tests' keys included).
    const everyKeyButTheGeneration = (key: string): boolean => key !== '\xffg';
    assert.ok((await liveVolumeKeys(everyKeyButTheGeneration)) > 2_000 + 3_000 / 64);
    assert.equal(await redis.flushall(), 'OK');
    // No SCAN, KEYS or DBSIZE from here on: the writer that flushed walks the volume itself.
    await waitUntil(
      'every key of the flushed generation, and every element of its collections, to be reclaimed',
      120_000,
      async () => (await liveVolumeKeys(everyKeyButTheGeneration)) === 0,
      500,
    );
    const health = await (node as RunningDataNode).health();
    const reclaim = health.reclaim as {
      failedSteps: number;
      flushSweeps: { walks: number; keysHandedOn: number };
    };
    assert.equal(reclaim.failedSteps, 0, JSON.stringify(reclaim));
    assert.ok(reclaim.flushSweeps.walks >= 1);
    assert.ok(reclaim.flushSweeps.keysHandedOn >= 2_000, JSON.stringify(reclaim));
    assert.equal(await redis.exists('old:set', 'old:hash', 'old:string:0'), 0);
  });

  it('stores a key of KEY_BYTES_MAX bytes that begins with 0xff', async () => {
    const redis = client as Redis;
    const key = Buffer.alloc(KEY_BYTES_MAX, 0xff);
    assert.equal(await redis.sadd(key, 'm'), 1);
    assert.deepEqual(await redis.smembers(key), ['m']);
    assert.equal(await redis.type(key), 'set');
    assert.equal(await redis.del(key), 1);
  });

  it('a SET from a writer that never read the key replaces a collection and reclaims its elements (ADR 0016)', async () => {
    const redis = client as Redis;
    const before = await liveInternalKeys();
    const fields = Array.from({ length: 2_000 }, (_, index) => [`f${index}`, 'v']).flat();
    assert.equal(await redis.hset('blind:hash', ...fields), 2_000);
    assert.ok((await liveInternalKeys()) > before, 'the hash is held in element keys');
    // A second writer of the volume with a cold cache: its plain SETs are blind writes.
    const second = await startWriter('coll-blind', 9);
    const secondClient = new Redis({ port: second.respPort, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    try {
      assert.equal(await secondClient.set('blind:fresh', 'new'), 'OK');
      assert.equal(await secondClient.set('blind:hash', 'now a string'), 'OK');
      assert.equal(await secondClient.type('blind:hash'), 'string');
      assert.equal(await secondClient.get('blind:hash'), 'now a string');
      assert.equal(
        await redis.get('blind:fresh'),
        'new',
        'never cached by the first writer: read from the replicas',
      );
      // The first writer cached the hash's header; the storage nodes' notice of the commit drops it.
      await waitUntil(
        'the first writer to see the string',
        10_000,
        async () => (await redis.get('blind:hash').catch(() => null)) === 'now a string',
        50,
      );
      const info = await secondClient.info('Borealis');
      const counter = (name: string): number => Number(new RegExp(`${name}:(\\d+)`).exec(info)?.[1] ?? -1);
      // The fresh key went blind; the hash's replicas refused the blind write (its guard keeps
      // collections out), and the retry read the header, so the elements are reclaimed.
      assert.ok(counter('blind_commits') >= 1, info);
      assert.ok(counter('conflicts') >= 1, info);
      await waitUntil(
        "the replaced hash's element keys to be reclaimed",
        120_000,
        async () => (await liveInternalKeys()) <= before,
        500,
      );
    } finally {
      secondClient.disconnect();
      await second.stop();
    }
  });

  // Last: it kills the writer the other tests use.
  it('a walk over the volume cut short by a writer that stopped is done by the next writer to attach', async () => {
    const redis = client as Redis;
    await redis.mset(...Array.from({ length: 3_000 }, (_, index) => [`cut:${index}`, 'v']).flat());
    assert.equal(await redis.flushall(), 'OK');
    (node as RunningDataNode).kill();
    client?.disconnect();
    other?.disconnect();
    const everyKeyButTheGeneration = (key: string): boolean => key !== '\xffg';
    assert.ok(
      (await liveVolumeKeys(everyKeyButTheGeneration)) > 0,
      'the killed writer had not finished its walk (else this test shows nothing)',
    );
    const next = await startWriter('coll-next', 8);
    try {
      await waitUntil(
        'the next writer to reclaim every key of the flushed generation',
        120_000,
        async () => (await liveVolumeKeys(everyKeyButTheGeneration)) === 0,
        500,
      );
      const reclaim = (await next.health()).reclaim as { flushSweeps: { walks: number } };
      assert.ok(reclaim.flushSweeps.walks >= 1, JSON.stringify(reclaim));
    } finally {
      await next.stop();
    }
  });
});
