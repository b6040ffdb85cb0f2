// redis-benchmark SET and GET at 50 clients, one at a time and pipelined 16 deep, against one
// data node (with its six storage nodes, all on this machine) and, in the same run, against a
// real redis-server with `appendonly yes, appendfsync always`: both durable on every write, so
// the ratio shows what the six-way quorum costs next to one fsyncing process. Each test also
// reports the servers' CPU per request, the figure that moves least with the machine's noise.
import { PER_CAPACITY_UNIT } from '../libs/limits/src/index.js';
import { scratchRun } from './lib/cleanup.js';
import { commandOutput } from './lib/command.js';
import { processesCpuMs } from './lib/process-cpu.js';
import {
  CASES,
  type Case,
  CLIENTS,
  caseName,
  KEY_SPACE,
  PIPELINE,
  redisBenchmark,
  type TestResult,
  VALUE_BYTES,
} from './lib/redis-benchmark.js';
import { type BenchOptions, type BenchResult, fastCommitShare, type Row } from './lib/report.js';
import {
  BENCH_CU,
  BENCH_CU_COMMANDS_PER_SECOND,
  startBenchDataNode,
  startFsyncingRedis,
} from './lib/servers.js';

/** Requests per test, sized so that each side runs for several seconds here. */
const REDIS_REQUESTS = 1_000_000;
const BOREALIS_REQUESTS = 40_000;

/** What one case cost the servers: the result, and CPU ms per request of each side's processes. */
interface Measured {
  result: TestResult;
  serverCpuMsPerRequest: number;
  /** Borealis only: the data node's share, and the storage nodes'. */
  dataNodeCpuMsPerRequest?: number;
  storageCpuMsPerRequest?: number;
  /** Borealis SET cases only: requests over the quorum commits the engine made during the case. */
  requestsPerCommit?: number;
}

async function measureCase(
  port: number,
  requests: number,
  testCase: Case,
  pids: { dataNode?: number; servers: readonly number[] },
  engineCounters?: () => Promise<{ commits: number }>,
): Promise<Measured> {
  const cpuBefore = processesCpuMs(pids.servers);
  const dataNodeBefore = pids.dataNode === undefined ? 0 : processesCpuMs([pids.dataNode]);
  const commitsBefore = (await engineCounters?.())?.commits ?? 0;
  const result = await redisBenchmark({ port }, requests, testCase);
  const serverCpuMs = processesCpuMs(pids.servers) - cpuBefore;
  const measured: Measured = { result, serverCpuMsPerRequest: serverCpuMs / requests };
  if (pids.dataNode !== undefined) {
    const dataNodeCpuMs = processesCpuMs([pids.dataNode]) - dataNodeBefore;
    measured.dataNodeCpuMsPerRequest = dataNodeCpuMs / requests;
    measured.storageCpuMsPerRequest = (serverCpuMs - dataNodeCpuMs) / requests;
  }
  if (engineCounters !== undefined && testCase.command === 'set') {
    const commits = (await engineCounters()).commits - commitsBefore;
    measured.requestsPerCommit = requests / Math.max(1, commits);
  }
  return measured;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

export async function run(options: BenchOptions): Promise<BenchResult> {
  const { root, stops, cleanup } = await scratchRun(options.dataDir, 'borealis-bench-data-node-');
  try {
    options.progress('redis-server (appendfsync always)', 0);
    const redis = await startFsyncingRedis(root, stops);
    const redisResults: Measured[] = [];
    for (const [index, testCase] of CASES.entries()) {
      options.progress('redis-server (appendfsync always)', index / CASES.length);
      redisResults.push(await measureCase(redis.port, REDIS_REQUESTS, testCase, { servers: [redis.pid] }));
    }
    options.progress('redis-server (appendfsync always)', 1);
    redis.kill();

    options.progress('data node + 6 storage nodes', 0);
    const node = await startBenchDataNode(root, stops);
    const { dataNodePid, storagePids } = node;
    const engineCounters = async () => ({ commits: await node.commits() });
    // A data node and its storage nodes serve for days: the first thousands of commands compile
    // their hot paths (a fifth of a fresh storage node's CPU went to the optimizing compiler in
    // its first 40,000 SETs). One unmeasured pass of the first case runs that before measuring.
    await redisBenchmark({ port: node.port }, BOREALIS_REQUESTS, CASES[0] as Case);
    const borealisResults: Measured[] = [];
    for (const [index, testCase] of CASES.entries()) {
      options.progress('data node + 6 storage nodes', index / CASES.length);
      borealisResults.push(
        await measureCase(
          node.port,
          BOREALIS_REQUESTS,
          testCase,
          { dataNode: dataNodePid, servers: [dataNodePid, ...storagePids] },
          engineCounters,
        ),
      );
    }
    const health = await node.health();
    const throttled = await throttledCommands(node.port);
    options.progress('data node + 6 storage nodes', 1);

    const rows: Row[] = [];
    for (const [index, borealis] of borealisResults.entries()) {
      const peer = redisResults[index] as Measured;
      rows.push({
        test: caseName(CASES[index] as Case),
        'Borealis req/s': Math.round(borealis.result.requestsPerSecond),
        'Redis req/s': Math.round(peer.result.requestsPerSecond),
        'Borealis / Redis': round(borealis.result.requestsPerSecond / peer.result.requestsPerSecond, 3),
        'Borealis p50 ms': borealis.result.p50Ms,
        'Redis p50 ms': peer.result.p50Ms,
        'Borealis p99 ms': borealis.result.p99Ms,
        'Redis p99 ms': peer.result.p99Ms,
        'Borealis CPU µs per request (data node + storage)': `${Math.round(borealis.serverCpuMsPerRequest * 1000)} (${Math.round((borealis.dataNodeCpuMsPerRequest ?? 0) * 1000)} + ${Math.round((borealis.storageCpuMsPerRequest ?? 0) * 1000)})`,
        'Redis CPU µs per request': round(peer.serverCpuMsPerRequest * 1000, 1),
        'SETs per commit':
          borealis.requestsPerCommit === undefined ? '' : round(borealis.requestsPerCommit, 1),
      });
    }
    const engine = health.engine as Record<string, number> | null;
    const quorumCounters = (health.quorumClient ?? null) as { commits: number; fastCommits: number } | null;
    return {
      name: 'data-node',
      rows,
      notes: [
        `\`redis-benchmark -t <test> -c ${CLIENTS} -r ${KEY_SPACE} -d ${VALUE_BYTES} [-P ${PIPELINE}] --csv\`, one test at a time: ${REDIS_REQUESTS.toLocaleString('en-US')} requests per test against Redis 7 (\`appendonly yes\`, \`appendfsync always\`), ${BOREALIS_REQUESTS.toLocaleString('en-US')} against Borealis, after one unmeasured SET test of as many (its processes compile their hot paths in the first thousands of commands; a long-running node has).`,
        `Borealis: one data node at ${BENCH_CU} CU, the largest writer, with DATA_NODE_CU_COMMANDS_PER_SECOND=${BENCH_CU_COMMANDS_PER_SECOND.toLocaleString('en-US')} so that its budget never throttles (${throttled} commands throttled over the run; the platform's default CU buys ${PER_CAPACITY_UNIT.commandsPerSecond.toLocaleString('en-US')} commands/s), instance read consistency, six storage-node processes (4-of-6 fsynced writes) — all on the same machine as redis-benchmark.`,
        'CPU µs per request: user + system CPU time of the server processes during the test (from /proc), over its requests; for Borealis the data node and the six storage nodes, for Redis its one process. redis-benchmark shares the cores and is not counted. "SETs per commit": requests over the quorum commits the engine made during the SET test (its group commit of commands per key and under load).',
        `Data node counters after the run: ${engine === null ? 'n/a' : `${engine.transactions} transactions, ${engine.commits} commits, ${engine.conflicts} conflicts`}; cache ${cacheSummary(health.cache as Record<string, number> | null)}.`,
        `A Borealis write is one fsynced quorum round when all six storage processes vote YES in time (ADR 0015; ${quorumCounters === null ? 'n/a' : fastCommitShare(quorumCounters)} of this run's commits), else two (votes, then acceptances from 4 of 6), on processes sharing these 2 cores; Redis fsyncs once per event-loop turn in one process. Run with \`npm run bench -- data-node\`.`,
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

/** The data node's throttled_commands since it started, from INFO stats. */
async function throttledCommands(port: number): Promise<number> {
  const output = await commandOutput(
    'redis-cli',
    ['-h', '127.0.0.1', '-p', String(port), 'INFO', 'stats'],
    10_000,
  );
  const match = /throttled_commands:(\d+)/.exec(output);
  if (match === null) throw new Error('INFO stats has no throttled_commands');
  return Number(match[1]);
}
