// Single-element list commands on a list of 1,000,000 elements against the same commands on a
// list of 10, in the same run, on one data node over its six storage nodes: the list layout
// (apps/data-node/src/commands/list-layout.ts) keeps them to the header and the element keys they
// touch, so the ratio should stay near 1 (the target is ≤ 2×). The large list is built with
// batched RPUSHes; the commands then alternate between the two lists so that both see the same
// machine load.

import { join } from 'node:path';
import { Redis } from 'ioredis';
import { CU_PER_WRITER_MAX } from '../libs/limits/src/index.js';
import { startDataNode } from '../test/support/data-nodes.js';
import { startStorageFleet } from '../test/support/storage-fleet.js';
import { scratchRun } from './lib/cleanup.js';
import { LatencyRecorder } from './lib/latency.js';
import { type BenchOptions, type BenchResult, type Row, round } from './lib/report.js';

const LARGE = 1_000_000;
const SMALL = 10;
/** Elements per RPUSH while building: one transaction each, well under its key and byte bounds. */
const BUILD_BATCH = 5_000;
const ROUNDS = 200;
const LARGE_KEY = 'bench:list:large';
const SMALL_KEY = 'bench:list:small';

type Case = { name: string; command: (key: string, size: number, round: number) => (string | number)[] };

/** Each leaves the list's length as it found it (LPUSH and RPOP alternate). */
const CASES: readonly Case[] = [
  { name: 'LPUSH', command: (key, _size, round) => ['LPUSH', key, `new-${round}`] },
  { name: 'RPOP', command: (key) => ['RPOP', key] },
  { name: 'LINDEX (middle)', command: (key, size) => ['LINDEX', key, Math.floor(size / 2)] },
  {
    name: 'LSET (middle)',
    command: (key, size, round) => ['LSET', key, Math.floor(size / 2), `set-${round}`],
  },
  { name: 'LINDEX (-1)', command: (key) => ['LINDEX', key, -1] },
  { name: 'LLEN', command: (key) => ['LLEN', key] },
  {
    name: 'LRANGE 10 (middle)',
    command: (key, size) => ['LRANGE', key, Math.floor(size / 2), Math.floor(size / 2) + 9],
  },
];

export async function run(options: BenchOptions): Promise<BenchResult> {
  const { root, stops, cleanup } = await scratchRun(options.dataDir, 'borealis-bench-lists-');
  try {
    options.progress('data node + 6 storage nodes', 0);
    const fleet = await startStorageFleet({ dataRoot: join(root, 'storage') });
    stops.push(() => fleet.stop());
    const node = await startDataNode({
      id: 'd1',
      storage: fleet.nodes,
      coordinatorId: 7,
      cu: CU_PER_WRITER_MAX,
      cluster: 'bench-lists',
    });
    stops.push(() => node.stop());
    const client = new Redis({ host: '127.0.0.1', port: node.respPort, maxRetriesPerRequest: 0 });
    stops.push(async () => client.disconnect());
    options.progress('data node + 6 storage nodes', 1);

    const buildStarted = performance.now();
    for (let built = 0; built < LARGE; built += BUILD_BATCH) {
      options.progress(`build a list of ${LARGE.toLocaleString('en-US')}`, built / LARGE);
      const elements = Array.from({ length: BUILD_BATCH }, (_, offset) => `element-${built + offset}`);
      await client.rpush(LARGE_KEY, ...elements);
    }
    options.progress(`build a list of ${LARGE.toLocaleString('en-US')}`, 1);
    const buildSeconds = (performance.now() - buildStarted) / 1000;
    await client.rpush(SMALL_KEY, ...Array.from({ length: SMALL }, (_, index) => `element-${index}`));
    const lengths = [await client.llen(LARGE_KEY), await client.llen(SMALL_KEY)];
    if (lengths[0] !== LARGE || lengths[1] !== SMALL)
      throw new Error(`lists of ${lengths.join(' and ')} elements`);

    const rows: Row[] = [];
    for (const [index, testCase] of CASES.entries()) {
      options.progress('single-element commands', index / CASES.length);
      const large = new LatencyRecorder();
      const small = new LatencyRecorder();
      const caseStarted = performance.now();
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate which list goes first, so that neither always follows the other.
        const order: [string, number, LatencyRecorder][] = [
          [LARGE_KEY, LARGE, large],
          [SMALL_KEY, SMALL, small],
        ];
        if (round % 2 === 1) order.reverse();
        for (const [key, size, recorder] of order) {
          const [name, ...args] = testCase.command(key, size, round);
          const started = performance.now();
          await client.call(String(name), ...args.map(String));
          recorder.record(performance.now() - started);
        }
      }
      const elapsedMs = performance.now() - caseStarted;
      const largeSummary = large.summary(elapsedMs);
      const smallSummary = small.summary(elapsedMs);
      rows.push({
        command: testCase.name,
        '10 elements p50 ms': round(smallSummary.p50Ms, 2),
        '1M elements p50 ms': round(largeSummary.p50Ms, 2),
        'p50 ratio': round(largeSummary.p50Ms / smallSummary.p50Ms, 2),
        '10 elements mean ms': round(smallSummary.meanMs, 2),
        '1M elements mean ms': round(largeSummary.meanMs, 2),
        'mean ratio': round(largeSummary.meanMs / smallSummary.meanMs, 2),
      });
    }
    options.progress('single-element commands', 1);
    return {
      name: 'lists',
      rows,
      notes: [
        `One data node at ${CU_PER_WRITER_MAX} CU (instance read consistency) over six storage-node processes on this machine; one ioredis client, one command at a time, ${ROUNDS} of each command on each list, alternating between the lists.`,
        `The list of ${LARGE.toLocaleString('en-US')} elements (about 16 bytes each) was built with RPUSHes of ${BUILD_BATCH.toLocaleString('en-US')} elements in ${buildSeconds.toFixed(1)} s. Each element is its own element key under the list's header, so these commands touch the header, the element keys they read or write and, for pushes and pops, the rest of a small read window (32 absent slots, 8 elements), whatever the length. In instance read consistency the reads (LINDEX, LLEN, LRANGE) are served from the writer's cache; the writes are each a quorum commit.`,
        'Run with `npm run bench -- lists`.',
      ],
    };
  } finally {
    await cleanup();
  }
}
