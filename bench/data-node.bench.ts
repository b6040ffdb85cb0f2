// redis-benchmark SET and GET at 50 clients against one data node (with its six storage nodes,
// all on this machine) and, in the same run, against a real redis-server with
// `appendonly yes, appendfsync always`: both durable on every write, so the ratio shows what the
// six-way quorum costs next to one fsyncing process.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { CU_PER_WRITER_MAX, PER_CAPACITY_UNIT } from '../libs/limits/src/index.js';
import { startDataNode } from '../test/support/data-nodes.js';
import { freePort, startProcess } from '../test/support/processes.js';
import { startStorageFleet } from '../test/support/storage-fleet.js';
import { scratchRun } from './lib/cleanup.js';
import type { BenchOptions, BenchResult, Row } from './lib/report.js';

const CLIENTS = 50;
const KEY_SPACE = 100_000;
const VALUE_BYTES = 100;
/** Requests per test, sized so that each side runs for several seconds here. */
const REDIS_REQUESTS = 1_000_000;
const BOREALIS_REQUESTS = 40_000;
/**
 * The largest writer (libs/limits): 16,000 commands/s, above what one data node with its six
 * storage nodes serves on these machines (docs/benchmarks.md), so the budget does not throttle it.
 */
const BENCH_CU = CU_PER_WRITER_MAX;

interface TestResult {
  test: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const { root, stops, cleanup } = await scratchRun(options.dataDir, 'borealis-bench-data-node-');
  try {
    options.progress('redis-server (appendfsync always)', 0);
    const redisPort = await freePort();
    const redis = startProcess(
      'redis-server',
      [
        '--port',
        String(redisPort),
        '--bind',
        '127.0.0.1',
        '--dir',
        root,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
      ],
      { env: process.env },
    );
    stops.push(async () => redis.kill());
    await redis.waitFor(/Ready to accept connections/, 20_000);
    const redisResults = await benchmark(redisPort, REDIS_REQUESTS);
    options.progress('redis-server (appendfsync always)', 1);
    redis.kill();

    options.progress('data node + 6 storage nodes', 0);
    const fleet = await startStorageFleet({ dataRoot: join(root, 'storage') });
    stops.push(() => fleet.stop());
    const node = await startDataNode({
      id: 'd1',
      storage: fleet.nodes,
      coordinatorId: 7,
      cu: BENCH_CU,
      cluster: 'bench',
    });
    stops.push(() => node.stop());
    const borealisResults = await benchmark(node.respPort, BOREALIS_REQUESTS);
    const health = await node.health();
    options.progress('data node + 6 storage nodes', 1);

    const rows: Row[] = [];
    for (const borealis of borealisResults) {
      const peer = redisResults.find((result) => result.test === borealis.test);
      if (peer === undefined) continue;
      rows.push({
        test: borealis.test,
        'Borealis req/s': Math.round(borealis.requestsPerSecond),
        'Redis req/s': Math.round(peer.requestsPerSecond),
        'Borealis / Redis': Math.round((borealis.requestsPerSecond / peer.requestsPerSecond) * 1000) / 1000,
        'Borealis p50 ms': borealis.p50Ms,
        'Redis p50 ms': peer.p50Ms,
        'Borealis p99 ms': borealis.p99Ms,
        'Redis p99 ms': peer.p99Ms,
      });
    }
    const engine = health.engine as Record<string, number> | null;
    return {
      name: 'data-node',
      rows,
      notes: [
        `\`redis-benchmark -t set,get -c ${CLIENTS} -r ${KEY_SPACE} -d ${VALUE_BYTES} --csv\`: ${REDIS_REQUESTS.toLocaleString('en-US')} requests per test against Redis 7 (\`appendonly yes\`, \`appendfsync always\`), ${BOREALIS_REQUESTS.toLocaleString('en-US')} against Borealis.`,
        `Borealis: one data node at ${BENCH_CU} CU, the largest writer (a budget of ${(BENCH_CU * PER_CAPACITY_UNIT.commandsPerSecond).toLocaleString('en-US')} commands/s), instance read consistency, six storage-node processes (4-of-6 fsynced writes) — all on the same machine as redis-benchmark.`,
        `Data node counters after the run: ${engine === null ? 'n/a' : `${engine.transactions} transactions (commands are batched per key and under load), ${engine.commits} commits, ${engine.conflicts} conflicts`}; cache ${cacheSummary(health.cache as Record<string, number> | null)}.`,
        'A Borealis write is two fsynced quorum rounds (votes, then acceptances) on 4 of 6 storage processes sharing these 2 cores; Redis fsyncs once per event-loop turn in one process. Run with `npm run bench -- data-node`.',
      ],
    };
  } finally {
    await cleanup();
  }
}

function cacheSummary(cache: Record<string, number> | null): string {
  if (cache === null) return 'n/a';
  const hits = cache.hits ?? 0;
  const misses = cache.misses ?? 0;
  return `${hits} hits, ${misses} misses (hit ratio ${(hits / Math.max(1, hits + misses)).toFixed(2)})`;
}

/** Runs SET then GET; parses redis-benchmark's CSV. */
async function benchmark(port: number, requests: number): Promise<TestResult[]> {
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      'redis-benchmark',
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-t',
        'set,get',
        '-c',
        String(CLIENTS),
        '-n',
        String(requests),
        '-r',
        String(KEY_SPACE),
        '-d',
        String(VALUE_BYTES),
        '--csv',
      ],
      { timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        error === null
          ? resolve(stdout)
          : reject(new Error(`redis-benchmark failed: ${error.message} ${stderr}`)),
    );
  });
  const results: TestResult[] = [];
  for (const line of output.split('\n')) {
    const fields = line.split(',').map((field) => field.replace(/^"|"$/g, ''));
    if (fields.length < 7 || fields[0] === 'test') continue;
    const [test, rps, , , p50, , p99] = fields;
    results.push({
      test: test as string,
      requestsPerSecond: Number(rps),
      p50Ms: Number(p50),
      p99Ms: Number(p99),
    });
  }
  if (results.length !== 2) throw new Error(`unexpected redis-benchmark output: ${output.slice(0, 500)}`);
  return results;
}
