// Single-element commands on a huge collection cost what they cost on a tiny one (ADR 0008):
// one data node over its six storage nodes builds each collection of the CASES table at
// 1,000,000 elements (large batched commands) and at 10, then times each single-element
// command on both, interleaved, and prints the ratio of their latencies (the target is ≤ 2×).
// Then DEL of each huge collection, while another client keeps sending commands: the DEL's
// latency, and that client's p99 while the DEL runs and the element keys are reclaimed.
//
// Lists and sorted sets add their cases to CASES: a type, how to add a batch of elements, and
// the single-element commands to time. `COLLECTIONS_BENCH_ELEMENTS=<n>` changes the size.
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { CU_PER_WRITER_MAX } from '../libs/limits/src/index.js';
import { startDataNode } from '../test/support/data-nodes.js';
import { startStorageFleet } from '../test/support/storage-fleet.js';
import { scratchRun } from './lib/cleanup.js';
import { LatencyRecorder } from './lib/latency.js';
import type { BenchOptions, BenchResult, Row } from './lib/report.js';

const LARGE_ELEMENTS = Number(process.env.COLLECTIONS_BENCH_ELEMENTS ?? 1_000_000);
const SMALL_ELEMENTS = 10;
/** Elements per building command: its buckets stay well under a transaction's 8 MiB of writes. */
const BUILD_BATCH = 2_000;
/** Building commands in flight at once (on one key they run as one transaction at a time). */
const BUILD_IN_FLIGHT = 2;
/** Timed operations per command and collection size. */
const TIMED_OPERATIONS = 400;
/** Commands the other client sends while a DEL and its reclaim run. */
const BACKGROUND_OPERATIONS_MAX = 20_000;

/** One collection type: how to build it, and the single-element commands to time on it. */
export interface CollectionCase {
  type: string;
  /** Adds elements `from` … `from + count − 1` to `key`. */
  add(redis: Redis, key: string, from: number, count: number): Promise<unknown>;
  commands: { name: string; run(redis: Redis, key: string, index: number, size: number): Promise<unknown> }[];
}

const member = (index: number): string => `member:${index}`;

export const CASES: CollectionCase[] = [
  {
    type: 'hash',
    add: (redis, key, from, count) =>
      redis.hset(
        key,
        ...Array.from({ length: count }, (_, offset) => [
          member(from + offset),
          `value:${from + offset}`,
        ]).flat(),
      ),
    commands: [
      {
        name: 'HSET',
        run: (redis, key, index, size) => redis.hset(key, member(index % size), `new:${index}`),
      },
      { name: 'HGET', run: (redis, key, index, size) => redis.hget(key, member((index * 7) % size)) },
      // Deletes a field and puts it back, so the size stays the same.
      {
        name: 'HDEL',
        run: async (redis, key, index, size) => {
          await redis.hdel(key, member((index * 13) % size));
          return redis.hset(key, member((index * 13) % size), 'back');
        },
      },
    ],
  },
  {
    type: 'set',
    add: (redis, key, from, count) =>
      redis.sadd(key, ...Array.from({ length: count }, (_, offset) => member(from + offset))),
    commands: [
      { name: 'SADD', run: (redis, key, index) => redis.sadd(key, `extra:${index}`) },
      {
        name: 'SISMEMBER',
        run: (redis, key, index, size) => redis.sismember(key, member((index * 7) % size)),
      },
      { name: 'SREM', run: (redis, key, index) => redis.srem(key, `extra:${index}`) },
    ],
  },
  {
    type: 'list',
    add: (redis, key, from, count) =>
      redis.rpush(key, ...Array.from({ length: count }, (_, offset) => member(from + offset))),
    commands: [
      // Pushes at the head and pops at the tail: over the two commands the length is unchanged.
      { name: 'LPUSH', run: (redis, key, index) => redis.lpush(key, `new:${index}`) },
      { name: 'RPOP', run: (redis, key) => redis.rpop(key) },
      { name: 'LINDEX', run: (redis, key, index, size) => redis.lindex(key, (index * 7) % size) },
      {
        name: 'LSET',
        run: (redis, key, index, size) => redis.lset(key, (index * 13) % size, `set:${index}`),
      },
    ],
  },
  {
    type: 'zset',
    add: (redis, key, from, count) =>
      redis.zadd(
        key,
        ...Array.from({ length: count }, (_, offset) => [from + offset, member(from + offset)]).flat(),
      ),
    commands: [
      // Moves a member to a new score (above every other): out of its leaf and into the last one.
      {
        name: 'ZADD',
        run: (redis, key, index, size) => redis.zadd(key, size + index, member((index * 31) % size)),
      },
      { name: 'ZSCORE', run: (redis, key, index, size) => redis.zscore(key, member((index * 7) % size)) },
      { name: 'ZRANK', run: (redis, key, index, size) => redis.zrank(key, member((index * 11) % size)) },
      {
        name: 'ZINCRBY',
        run: (redis, key, index, size) => redis.zincrby(key, 1, member((index * 13) % size)),
      },
      {
        name: 'ZRANGE',
        run: (redis, key, index, size) => redis.zrange(key, String(index % size), String((index % size) + 9)),
      },
      // Removes a member and puts it back, so the size stays the same.
      {
        name: 'ZREM',
        run: async (redis, key, index, size) => {
          await redis.zrem(key, member((index * 17) % size));
          return redis.zadd(key, index, member((index * 17) % size));
        },
      },
    ],
  },
];

export async function run(options: BenchOptions): Promise<BenchResult> {
  const { root, stops, cleanup } = await scratchRun(options.dataDir, 'borealis-bench-collections-');
  try {
    const fleet = await startStorageFleet({ dataRoot: join(root, 'storage') });
    stops.push(() => fleet.stop());
    const node = await startDataNode({
      id: 'd1',
      storage: fleet.nodes,
      coordinatorId: 7,
      cu: CU_PER_WRITER_MAX,
      cluster: 'bench-collections',
    });
    stops.push(() => node.stop());
    const connect = () =>
      new Redis({ port: node.respPort, host: '127.0.0.1', maxRetriesPerRequest: 0, commandTimeout: 120_000 });
    const client = connect();
    const background = connect();
    stops.push(async () => {
      client.disconnect();
      background.disconnect();
    });

    const rows: Row[] = [];
    const notes: string[] = [];
    for (const collection of CASES) {
      const large = `large:${collection.type}`;
      const small = `small:${collection.type}`;
      const buildStartedMs = Date.now();
      await build(client, collection, large, LARGE_ELEMENTS, (fraction) =>
        options.progress(`build a ${collection.type} of ${LARGE_ELEMENTS.toLocaleString('en-US')}`, fraction),
      );
      const buildSeconds = (Date.now() - buildStartedMs) / 1000;
      await build(client, collection, small, SMALL_ELEMENTS, () => undefined);
      notes.push(
        `${collection.type}: built ${LARGE_ELEMENTS.toLocaleString('en-US')} elements in ${buildSeconds.toFixed(0)} s (${Math.round(LARGE_ELEMENTS / buildSeconds).toLocaleString('en-US')} elements/s, commands of ${BUILD_BATCH.toLocaleString('en-US')}).`,
      );
      for (const command of collection.commands) {
        options.progress(`${collection.type}: ${command.name}`, 0);
        const onLarge = new LatencyRecorder();
        const onSmall = new LatencyRecorder();
        // Interleaved, so that both sizes meet the same load on the machine.
        for (let index = 0; index < TIMED_OPERATIONS; index++) {
          onSmall.record(await timed(() => command.run(client, small, index, SMALL_ELEMENTS)));
          onLarge.record(await timed(() => command.run(client, large, index, LARGE_ELEMENTS)));
        }
        options.progress(`${collection.type}: ${command.name}`, 1);
        const p50Ratio = onLarge.percentile(50) / onSmall.percentile(50);
        rows.push({
          type: collection.type,
          command: command.name,
          [`p50 ms (${SMALL_ELEMENTS})`]: round(onSmall.percentile(50)),
          [`p50 ms (${LARGE_ELEMENTS.toLocaleString('en-US')})`]: round(onLarge.percentile(50)),
          'p50 ratio': round(p50Ratio),
          [`p99 ms (${SMALL_ELEMENTS})`]: round(onSmall.percentile(99)),
          [`p99 ms (${LARGE_ELEMENTS.toLocaleString('en-US')})`]: round(onLarge.percentile(99)),
        });
      }
      notes.push(await deleteWhileServing(client, background, large, collection.type));
    }
    const health = await node.health();
    const engine = health.engine as Record<string, number> | null;
    notes.push(
      `One data node at ${CU_PER_WRITER_MAX} CU, instance read consistency, six storage-node processes, all on this machine; ${TIMED_OPERATIONS} timed commands per row and size, one at a time, the two sizes interleaved. HDEL is timed with the HSET that puts the field back. Reads (HGET, SISMEMBER) are served from the writer's cache once a bucket is in it: the 10-element collection's one bucket always is, while each timed read of the 1,000,000-element one meets a bucket not read before (15,625 of them) and reads it from 3 replicas, so their ratio is a cold read against a cached one. Engine after the run: ${engine === null ? 'n/a' : `${engine.transactions} transactions, ${engine.conflicts} conflicts`}. Run with \`npm run bench -- collections\`.`,
    );
    return { name: 'collections', rows, notes };
  } finally {
    await cleanup();
  }
}

async function build(
  redis: Redis,
  collection: CollectionCase,
  key: string,
  elements: number,
  progress: (fraction: number) => void,
): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < elements) {
      const from = next;
      const count = Math.min(BUILD_BATCH, elements - from);
      next += count;
      await collection.add(redis, key, from, count);
      done += count;
      progress(done / elements);
    }
  };
  await Promise.all(Array.from({ length: BUILD_IN_FLIGHT }, worker));
  progress(1);
}

/** DEL of the huge collection while another client sends INCRs: their p99 during DEL and reclaim. */
async function deleteWhileServing(
  client: Redis,
  background: Redis,
  key: string,
  type: string,
): Promise<string> {
  const during = new LatencyRecorder();
  let deleting = true;
  const traffic = (async () => {
    for (let index = 0; deleting && index < BACKGROUND_OPERATIONS_MAX; index++) {
      during.record(await timed(() => background.incr(`counter:${index % 16}`)));
    }
  })();
  const deleteMs = await timed(() => client.del(key));
  // A measuring window: the traffic goes on for 5 s while the reclaim works through the
  // element keys in the background (bounded by the traffic's own cap).
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  deleting = false;
  await traffic;
  return `DEL of the ${type}: answered in ${round(deleteMs)} ms; another client's INCRs meanwhile (${during.count} in the 5 s after it, while the element keys were reclaimed): p50 ${round(during.percentile(50))} ms, p99 ${round(during.percentile(99))} ms.`;
}

async function timed(operation: () => Promise<unknown>): Promise<number> {
  const startedNs = process.hrtime.bigint();
  await operation();
  return Number(process.hrtime.bigint() - startedNs) / 1e6;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
