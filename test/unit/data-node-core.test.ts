import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capacityLimits } from '../../apps/control-plane/src/clusters/cluster-rules.js';
import { cacheEntryBytes, VersionedCache } from '../../apps/data-node/src/cache/versioned-cache.js';
import { limitsFor, TokenBucket } from '../../apps/data-node/src/capacity/capacity.js';
import { GroupScheduler } from '../../apps/data-node/src/engine/group-scheduler.js';
import { LatencyHistogram } from '../../apps/data-node/src/metrics/latency-histogram.js';
import {
  CU_PER_WRITER_MAX,
  CU_STEP,
  KEY_BYTES_MAX,
  PER_CAPACITY_UNIT,
  STORAGE_KEY_BYTES_MAX,
  writerCapacityProblem,
} from '../../libs/limits/src/index.js';
import { isQuorumMessage } from '../../libs/quorum/src/index.js';
import { mulberry32 } from '../support/prng.js';

/** What the eviction tests' entries are charged (a key of 4 characters, a value of 100 bytes). */
const ENTRY_BYTES = cacheEntryBytes('key0', new Uint8Array(100));

describe('capacity units', () => {
  it('buys 2,000 commands/s, 64 MiB of cache and 200 connections per CU', () => {
    assert.deepEqual(limitsFor(2.5), {
      cu: 2.5,
      commandsPerSecond: 5_000,
      burstCommands: 5_000,
      cacheBytes: 2.5 * 64 * 1024 * 1024,
      connections: 500,
    });
  });

  it('accepts steps of 0.5 between 0.5 and 8 only: one writer holds at most 8 CU', () => {
    assert.equal(writerCapacityProblem(0.5), null);
    assert.equal(writerCapacityProblem(8), null);
    assert.match(writerCapacityProblem(0) ?? '', /between 0\.5 and 8/);
    assert.match(
      writerCapacityProblem(8.5) ?? '',
      /between 0\.5 and 8: one writer holds at most 8 capacity units/,
    );
    assert.match(writerCapacityProblem(16) ?? '', /more writers/);
    assert.match(writerCapacityProblem(1.25) ?? '', /multiple of 0.5/);
    assert.match(writerCapacityProblem('2') ?? '', /number/);
    assert.match(writerCapacityProblem(Number.NaN) ?? '', /number/);
  });

  it('agrees with the control plane on the step and the per-writer maximum', () => {
    assert.equal(capacityLimits.cuPerWriterMax, CU_PER_WRITER_MAX);
    assert.equal(capacityLimits.stepCu, CU_STEP);
    // The largest writer the control plane may ask for is one the data node accepts, and no larger.
    assert.equal(writerCapacityProblem(capacityLimits.cuPerWriterMax), null);
    assert.notEqual(writerCapacityProblem(capacityLimits.cuPerWriterMax + capacityLimits.stepCu), null);
    assert.deepEqual(limitsFor(1), { cu: 1, ...PER_CAPACITY_UNIT, burstCommands: 2_000 });
  });

  it('has one key limit, which the storage protocol checks with room for the escape byte', () => {
    const read = (key: string) => ({ type: 'read', volume: 'v', requestId: 1, keys: [key] });
    assert.equal(isQuorumMessage(read(`\xff${'\xff'.repeat(KEY_BYTES_MAX)}`)), true);
    assert.equal(isQuorumMessage(read('k'.repeat(STORAGE_KEY_BYTES_MAX))), true);
    assert.equal(isQuorumMessage(read('k'.repeat(STORAGE_KEY_BYTES_MAX + 1))), false);
  });

  it('token bucket: a one-second burst, then the rate; resize keeps earned tokens up to the new burst', () => {
    const bucket = new TokenBucket(100, 100, 0);
    let taken = 0;
    while (bucket.take(0)) taken++;
    assert.equal(taken, 100);
    assert.equal(bucket.waitMs(0), 10);
    assert.equal(bucket.take(10), true);
    assert.equal(bucket.take(10), false);
    // Over one simulated second at a steady pace, the rate holds exactly.
    let granted = 0;
    for (let ms = 11; ms <= 1_010; ms++) if (bucket.take(ms)) granted++;
    assert.ok(granted >= 99 && granted <= 101, `granted ${granted}`);
    bucket.resize(1_000, 1_000, 2_000);
    let afterResize = 0;
    while (bucket.take(2_000)) afterResize++;
    assert.ok(afterResize >= 99 && afterResize <= 101, `after resize ${afterResize}`);
    assert.equal(bucket.take(2_001), true, 'the new rate refills 1 token per ms');
  });
});

describe('versioned cache', () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  it('never replaces a newer version with an older one, and invalidates only older versions', () => {
    const cache = new VersionedCache(1 << 20, 10_000);
    cache.offer('k', { seq: 5, txid: 'a.5', value: bytes('five') }, 0);
    cache.offer('k', { seq: 4, txid: 'a.4', value: bytes('four') }, 0);
    assert.equal(cache.get('k', 0)?.seq, 5);
    cache.invalidate('k', 5);
    assert.equal(cache.get('k', 0)?.seq, 5, 'a notice of the cached version itself changes nothing');
    cache.invalidate('k', 6);
    assert.equal(cache.get('k', 0), null);
    assert.equal(cache.stats.invalidations, 1);
  });

  it('does not serve entries older than the age bound', () => {
    const cache = new VersionedCache(1 << 20, 1_000);
    cache.offer('k', { seq: 1, txid: 'a.1', value: null }, 0);
    assert.equal(cache.get('k', 1_000)?.seq, 1);
    assert.equal(cache.get('k', 1_001), null);
  });

  it('evicts least recently used entries to stay within its bytes, also after a resize', () => {
    const cache = new VersionedCache(10 * ENTRY_BYTES, 10_000);
    for (let i = 0; i < 50; i++) cache.offer(`key${i}`, { seq: 1, txid: 't', value: new Uint8Array(100) }, 0);
    assert.ok(cache.size.bytes <= 10 * ENTRY_BYTES);
    assert.ok(cache.size.entries >= 9 && cache.size.entries <= 10);
    assert.equal(cache.get('key49', 0)?.seq, 1, 'the newest stays');
    assert.equal(cache.get('key0', 0), null, 'the oldest went');
    cache.resize(2 * ENTRY_BYTES);
    assert.ok(cache.size.bytes <= 2 * ENTRY_BYTES);
    assert.equal(cache.get('key49', 0)?.seq, 1, 'the most recently used stays');
  });
});

describe('versioned cache eviction', () => {
  it('passes over an entry read since eviction last met it, and evicts it once it goes unread', () => {
    const cache = new VersionedCache(10 * ENTRY_BYTES, 10_000);
    const offer = (key: string): void =>
      cache.offer(key, { seq: 1, txid: 't', value: new Uint8Array(100) }, 0);
    for (let i = 0; i < 9; i++) offer(`key${i}`);
    assert.equal(cache.get('key0', 0)?.seq, 1);
    for (let i = 9; i < 12; i++) offer(`key${i}`);
    assert.equal(cache.get('key1', 0), null, 'the oldest unread entry went');
    assert.equal(cache.get('key0', 0)?.seq, 1, 'the oldest, read meanwhile, stays');
    // Unread from now on, key0 is passed over once more and then goes like any other entry.
    for (let i = 12; i < 40; i++) offer(`key${i}`);
    assert.equal(cache.get('key0', 0), null, 'unread since, it went');
    assert.equal(cache.get('key39', 0)?.seq, 1);
    assert.ok(cache.size.bytes <= 10 * ENTRY_BYTES);
  });
});

describe('group scheduler', () => {
  interface TestWork {
    keys: string[];
    id: number;
  }

  it('runs work on free keys at once, batches work behind a busy key, keeps per-key order', async () => {
    const groups: number[][] = [];
    const releases: (() => void)[] = [];
    const scheduler = new GroupScheduler<TestWork>(
      (works) =>
        new Promise<void>((resolve) => {
          groups.push(works.map((work) => work.id));
          releases.push(resolve);
        }),
      { worksPerGroupMax: 100, groupsRunningMax: 100 },
    );
    scheduler.submit({ id: 1, keys: ['a'] });
    scheduler.submit({ id: 2, keys: ['b'] });
    scheduler.submit({ id: 3, keys: ['a'] });
    scheduler.submit({ id: 4, keys: ['a'] });
    scheduler.submit({ id: 5, keys: ['a', 'c'] });
    assert.deepEqual(groups, [[1], [2]]);
    assert.deepEqual(scheduler.stats, { groupsRunning: 2, groupsWaiting: 1 });
    releases[0]?.();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(groups, [[1], [2], [3, 4, 5]]);
  });

  it('at the running limit, work on free keys gathers in one batch that starts when a slot frees', async () => {
    const groups: number[][] = [];
    const releases: (() => void)[] = [];
    const scheduler = new GroupScheduler<TestWork>(
      (works) =>
        new Promise<void>((resolve) => {
          groups.push(works.map((work) => work.id));
          releases.push(resolve);
        }),
      { worksPerGroupMax: 3, groupsRunningMax: 2 },
    );
    for (let id = 1; id <= 8; id++) scheduler.submit({ id, keys: [`k${id}`] });
    scheduler.submit({ id: 9, keys: ['k3'] });
    // 1 and 2 run; 3, 4, 5 filled a batch, which was started when 6 needed a new one.
    assert.deepEqual(groups, [[1], [2], [3, 4, 5]]);
    releases[0]?.();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(groups.slice(3), [], 'three running: no slot yet');
    releases[1]?.();
    releases[2]?.();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(groups.slice(3), [[6, 7, 8], [9]], 'the batch, and 9 behind 3 on key k3');
  });

  it('random workloads: no two running groups share a key, and every key sees its work in submission order', async () => {
    const random = mulberry32(7);
    const running = new Set<TestWork[]>();
    const seenOrder = new Map<string, number[]>();
    const releases: (() => void)[] = [];
    const scheduler = new GroupScheduler<TestWork>(
      (works) => {
        for (const other of running) {
          for (const work of works) {
            for (const otherWork of other) {
              assert.ok(
                !work.keys.some((key) => otherWork.keys.includes(key)),
                'two running groups share a key',
              );
            }
          }
        }
        running.add(works);
        for (const work of works) {
          for (const key of work.keys) {
            const order = seenOrder.get(key) ?? [];
            order.push(work.id);
            seenOrder.set(key, order);
          }
        }
        return new Promise<void>((resolve) =>
          releases.push(() => {
            running.delete(works);
            resolve();
          }),
        );
      },
      { worksPerGroupMax: 4, groupsRunningMax: 3 },
    );
    const submitted = new Map<string, number[]>();
    for (let id = 0; id < 2_000; id++) {
      const keys = [
        ...new Set(
          Array.from({ length: 1 + Math.floor(random() * 3) }, () => `k${Math.floor(random() * 10)}`),
        ),
      ];
      scheduler.submit({ id, keys });
      for (const key of keys) submitted.set(key, [...(submitted.get(key) ?? []), id]);
      while (releases.length > 0 && random() < 0.5) {
        const index = Math.floor(random() * releases.length);
        releases.splice(index, 1)[0]?.();
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    while (releases.length > 0) {
      releases.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(scheduler.stats, { groupsRunning: 0, groupsWaiting: 0 });
    assert.deepEqual(seenOrder, submitted);
  });
});

describe('latency histogram', () => {
  it('gives percentiles within its 5% bucket resolution', () => {
    const histogram = new LatencyHistogram();
    for (let micros = 1; micros <= 10_000; micros++) histogram.record(micros);
    const p50 = histogram.percentileMicros(0.5);
    const p99 = histogram.percentileMicros(0.99);
    assert.ok(p50 >= 5_000 && p50 <= 5_250, `p50 ${p50}`);
    assert.ok(p99 >= 9_900 && p99 <= 10_400, `p99 ${p99}`);
    histogram.reset();
    assert.equal(histogram.percentileMicros(0.5), 0);
  });
});
