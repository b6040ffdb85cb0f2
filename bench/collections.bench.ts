// Single-element commands on a huge collection cost what they cost on a tiny one (ADR 0008):
// one data node over its six storage nodes builds a hash, a set, a list and a sorted set of
// 1,000,000 elements each (large batched commands, the four at once) and of 10, then times each
// single-element command on both sizes, interleaved, and prints the ratio of their latencies
// (the target is ≤ 2×). Then DEL of each huge collection while another client keeps sending
// commands: the DEL's latency, and that client's latency while the element keys are reclaimed.
//
// The writer's cache would make a plain comparison unfair: the 10-element collection's few keys
// are always cached, a random element of the huge one almost never. So every command is timed
// twice, with the cache's part made equal:
// - cluster consistency (BOREALIS CONSISTENCY CLUSTER): every read goes to 3 replicas on both
//   sizes, and the huge collection's element is a different one each time;
// - instance consistency, both sizes cycling over the same 10 elements, so both are equally warm.
// `COLLECTIONS_BENCH_ELEMENTS=<n>` changes the size.
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { CU_PER_WRITER_MAX } from '../libs/limits/src/index.js';
import { startDataNode } from '../test/support/data-nodes.js';
import { startStorageFleet } from '../test/support/storage-fleet.js';
import { scratchRun } from './lib/cleanup.js';
import { LatencyRecorder } from './lib/latency.js';
import { type BenchOptions, type BenchResult, type Row, round } from './lib/report.js';

const LARGE_ELEMENTS = Number(process.env.COLLECTIONS_BENCH_ELEMENTS ?? 1_000_000);
const SMALL_ELEMENTS = 10;
/**
 * Elements per building command. Each rewrites the buckets it touches (about 64 elements each),
 * so a command of 500 writes about 1 MiB: short enough to stay far from the commit deadline on a
 * busy machine, and the total rewritten is about the same whatever the batch.
 */
const BUILD_BATCH = 500;
/** Building commands in flight at once per collection (on one key they run one at a time). */
const BUILD_IN_FLIGHT = 2;
/** Timed operations per command, mode and collection size. */
const TIMED_OPERATIONS = 300;
/** Commands the other client sends while a DEL and its reclaim run. */
const BACKGROUND_OPERATIONS_MAX = 20_000;
/** A multiplier prime to the sizes, spreading the huge collection's timed elements over it. */
const SPREAD = 104_729;

/** One collection type: how to build it, and the single-element commands to time on it. */
export interface CollectionCase {
  type: string;
  /** Adds elements `from` … `from + count − 1` to `key`. */
  add(redis: Redis, key: string, from: number, count: number): Promise<unknown>;
  /**
   * `element` is the element the command works on (an existing one: below both sizes in the
   * warm mode), `index` the timed operation's number, `size` the collection's size.
   */
  commands: {
    name: string;
    run(redis: Redis, key: string, element: number, index: number, size: number): Promise<unknown>;
  }[];
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
      { name: 'HSET', run: (redis, key, element, index) => redis.hset(key, member(element), `new:${index}`) },
      { name: 'HGET', run: (redis, key, element) => redis.hget(key, member(element)) },
      // Deletes a field and puts it back, so the size stays the same.
      {
        name: 'HDEL',
        run: async (redis, key, element) => {
          await redis.hdel(key, member(element));
          return redis.hset(key, member(element), 'back');
        },
      },
    ],
  },
  {
    type: 'set',
    add: (redis, key, from, count) =>
      redis.sadd(key, ...Array.from({ length: count }, (_, offset) => member(from + offset))),
    commands: [
      // Adds a member that is not there and removes it again, so the size stays the same.
      {
        name: 'SADD',
        run: async (redis, key, _element, index) => {
          await redis.sadd(key, `extra:${index}`);
          return redis.srem(key, `extra:${index}`);
        },
      },
      { name: 'SISMEMBER', run: (redis, key, element) => redis.sismember(key, member(element)) },
      // Removes a member and puts it back.
      {
        name: 'SREM',
        run: async (redis, key, element) => {
          await redis.srem(key, member(element));
          return redis.sadd(key, member(element));
        },
      },
    ],
  },
  {
    type: 'list',
    add: (redis, key, from, count) =>
      redis.rpush(key, ...Array.from({ length: count }, (_, offset) => member(from + offset))),
    commands: [
      // Pushes at the head and pops at the tail: over the two commands the length is unchanged.
      { name: 'LPUSH', run: (redis, key, _element, index) => redis.lpush(key, `new:${index}`) },
      { name: 'RPOP', run: (redis, key) => redis.rpop(key) },
      { name: 'LINDEX', run: (redis, key, element) => redis.lindex(key, element) },
      { name: 'LSET', run: (redis, key, element, index) => redis.lset(key, element, `set:${index}`) },
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
      // Moves a member to a new score above every other: out of its leaf and into the last one.
      {
        name: 'ZADD',
        run: (redis, key, element, index, size) => redis.zadd(key, size + index, member(element)),
      },
      { name: 'ZSCORE', run: (redis, key, element) => redis.zscore(key, member(element)) },
      { name: 'ZRANK', run: (redis, key, element) => redis.zrank(key, member(element)) },
      { name: 'ZINCRBY', run: (redis, key, element) => redis.zincrby(key, 1, member(element)) },
      {
        name: 'ZRANGE (10 by rank)',
        run: (redis, key, element) => redis.zrange(key, String(element), String(element + 9)),
      },
      // Removes a member and puts it back, so the size stays the same.
      {
        name: 'ZREM',
        run: async (redis, key, element) => {
          await redis.zrem(key, member(element));
          return redis.zadd(key, element, member(element));
        },
      },
    ],
  },
];

/** How a timed run makes the cache's part equal on both sizes (see the top of the file). */
const MODES = [
  {
    name: 'cluster, spread',
    consistency: 'CLUSTER',
    element: (index: number, size: number) => (index * SPREAD) % size,
  },
  {
    name: 'instance, same 10',
    consistency: 'INSTANCE',
    element: (index: number) => index % SMALL_ELEMENTS,
  },
] as const;

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
    const builders = CASES.map(() => connect());
    const timers = new Map(MODES.map((mode) => [mode.name, connect()]));
    const background = connect();
    stops.push(async () => {
      for (const client of [...builders, ...timers.values(), background]) client.disconnect();
    });
    for (const mode of MODES) {
      await (timers.get(mode.name) as Redis).call('BOREALIS', 'CONSISTENCY', mode.consistency);
    }

    const notes: string[] = [];
    // The four collections are built at once: their element keys do not overlap.
    const label = `build a hash, a set, a list and a sorted set of ${LARGE_ELEMENTS.toLocaleString('en-US')}`;
    const builtFractions = CASES.map(() => 0);
    const buildStartedMs = Date.now();
    await Promise.all(
      CASES.map(async (collection, caseIndex) => {
        const client = builders[caseIndex] as Redis;
        await build(client, collection, `large:${collection.type}`, LARGE_ELEMENTS, (fraction) => {
          builtFractions[caseIndex] = fraction;
          options.progress(label, builtFractions.reduce((sum, each) => sum + each, 0) / CASES.length);
        });
        notes.push(
          `${collection.type}: ${LARGE_ELEMENTS.toLocaleString('en-US')} elements built in ${((Date.now() - buildStartedMs) / 1000).toFixed(0)} s (commands of ${BUILD_BATCH.toLocaleString('en-US')} elements, the four collections built at once).`,
        );
        await build(client, collection, `small:${collection.type}`, SMALL_ELEMENTS, () => undefined);
      }),
    );

    const rows: Row[] = [];
    for (const collection of CASES) {
      for (const command of collection.commands) {
        for (const mode of MODES) {
          const client = timers.get(mode.name) as Redis;
          const step = `${collection.type}: ${command.name} (${mode.name})`;
          options.progress(step, 0);
          const onLarge = new LatencyRecorder();
          const onSmall = new LatencyRecorder();
          // Interleaved, each size first in turn, so that both meet the same load on the machine.
          for (let index = 0; index < TIMED_OPERATIONS; index++) {
            const sizes: [string, number, LatencyRecorder][] = [
              [`small:${collection.type}`, SMALL_ELEMENTS, onSmall],
              [`large:${collection.type}`, LARGE_ELEMENTS, onLarge],
            ];
            if (index % 2 === 1) sizes.reverse();
            for (const [key, size, recorder] of sizes) {
              const element = mode.element(index, size);
              recorder.record(await timed(() => command.run(client, key, element, index, size)));
            }
          }
          options.progress(step, 1);
          rows.push({
            type: collection.type,
            command: command.name,
            'reads from': mode.name,
            [`p50 ms (${SMALL_ELEMENTS})`]: round(onSmall.percentile(50), 2),
            [`p50 ms (${LARGE_ELEMENTS.toLocaleString('en-US')})`]: round(onLarge.percentile(50), 2),
            'p50 ratio': round(onLarge.percentile(50) / onSmall.percentile(50), 2),
            [`p99 ms (${SMALL_ELEMENTS})`]: round(onSmall.percentile(99), 2),
            [`p99 ms (${LARGE_ELEMENTS.toLocaleString('en-US')})`]: round(onLarge.percentile(99), 2),
            'p99 ratio': round(onLarge.percentile(99) / onSmall.percentile(99), 2),
          });
        }
      }
    }
    const sizes = await Promise.all(
      CASES.map((collection) => sizeOf(builders[0] as Redis, collection.type, `large:${collection.type}`)),
    );
    notes.push(
      `Sizes after the timed commands (each leaves the size as it found it): ${CASES.map((collection, index) => `${collection.type} ${sizes[index]?.toLocaleString('en-US')}`).join(', ')}.`,
    );
    for (const collection of CASES) {
      notes.push(
        await deleteWhileServing(
          builders[0] as Redis,
          background,
          `large:${collection.type}`,
          collection.type,
        ),
      );
    }
    const health = await node.health();
    const engine = health.engine as Record<string, number> | null;
    notes.push(
      `One data node at ${CU_PER_WRITER_MAX} CU, six storage-node processes, all on this machine; ${TIMED_OPERATIONS} timed commands per row and size, one at a time, the two sizes interleaved. "cluster, spread": the session reads in cluster consistency (every read from 3 replicas) and each timed command on the huge collection meets another element, spread over all of it. "instance, same 10": instance consistency, both sizes cycle over elements 0–9, so the writer's cache holds the same share of both. HDEL, SREM and ZREM are timed with the command that puts the element back, SADD with the SREM that takes the new member out again. Engine after the run: ${engine === null ? 'n/a' : `${engine.transactions} transactions, ${engine.conflicts} conflicts`}. Run with \`npm run bench -- collections\`.`,
    );
    return { name: 'collections', rows, notes };
  } finally {
    await cleanup();
  }
}

async function sizeOf(redis: Redis, type: string, key: string): Promise<number> {
  if (type === 'hash') return redis.hlen(key);
  if (type === 'set') return redis.scard(key);
  if (type === 'list') return redis.llen(key);
  return redis.zcard(key);
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
      await addSurvivingUnknownOutcomes(redis, collection, key, from, count);
      done += count;
      progress(done / elements);
    }
  };
  // A list's pushes go one at a time, so that its length tells whether a push of unknown outcome
  // was applied (see below).
  const inFlight = collection.type === 'list' ? 1 : BUILD_IN_FLIGHT;
  await Promise.all(Array.from({ length: inFlight }, worker));
  progress(1);
}

/** Attempts per building command whose outcome the writer could not learn. */
const UNKNOWN_OUTCOME_ATTEMPTS = 5;

/**
 * A building command is a large transaction; on a busy machine its decision can miss the writer's
 * deadline, and the command then answers UNKNOWN (it may or may not have been applied), or its
 * reads can, and it answers UNAVAILABLE. Adding
 * the same hash fields, set members or scored members again is harmless; a list push is retried
 * only if the list's length shows it was not applied.
 */
async function addSurvivingUnknownOutcomes(
  redis: Redis,
  collection: CollectionCase,
  key: string,
  from: number,
  count: number,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await collection.add(redis, key, from, count);
      return;
    } catch (cause) {
      const message = (cause as Error).message;
      const retryable = message.startsWith('UNKNOWN') || message.startsWith('UNAVAILABLE');
      if (!retryable || attempt >= UNKNOWN_OUTCOME_ATTEMPTS) throw cause;
      if (collection.type === 'list') {
        const length = await redis.llen(key);
        if (length === from + count) return;
        if (length !== from)
          throw new Error(`list ${key} holds ${length} elements after a push of unknown outcome`);
      }
    }
  }
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
  return `DEL of the ${type}: answered in ${round(deleteMs, 2)} ms; another client's INCRs meanwhile (${during.count} in the 5 s after it, while the element keys were reclaimed): p50 ${round(during.percentile(50), 2)} ms, p99 ${round(during.percentile(99), 2)} ms.`;
}

async function timed(operation: () => Promise<unknown>): Promise<number> {
  const startedNs = process.hrtime.bigint();
  await operation();
  return Number(process.hrtime.bigint() - startedNs) / 1e6;
}
