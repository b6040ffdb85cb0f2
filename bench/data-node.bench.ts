// redis-benchmark SET and GET at 50 clients, one at a time and pipelined 16 deep, against one
// data node (with its six storage nodes, all on this machine) and, in the same run, against a
// real redis-server with `appendonly yes, appendfsync always`: both durable on every write, so
// the ratio shows what the six-way quorum costs next to one fsyncing process. Each test also
// reports the servers' CPU per request, the figure that moves least with the machine's noise.
// A third peer is the floor (bench/lib/floor-node.ts): the same seven processes, messages,
// fsyncs and cache policy with none of the protocol's work, driven the same way; how far each
// row is from it says how much of the gap to Redis the design's shape leaves, and how much the
// code adds.
import { Redis } from 'ioredis';
import { PER_CAPACITY_UNIT } from '../libs/limits/src/index.js';
import { scratchRun, stopGroup } from './lib/cleanup.js';
import { commandOutput } from './lib/command.js';
import { startFloor } from './lib/floor.js';
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
import { type BenchOptions, type BenchResult, fastCommitShare, type Row, round } from './lib/report.js';
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
  /** Borealis and the floor: the data node's (or front's) share, and the storage nodes'. */
  dataNodeCpuMsPerRequest?: number;
  storageCpuMsPerRequest?: number;
  /** SET cases of Borealis and the floor: requests over the quorum commits made during the case. */
  requestsPerCommit?: number;
  /** GET cases of Borealis and the floor: the share of the case's GETs its cache answered. */
  hitRatio?: number;
}

/** Quorum commits and cache lookups since the server started. */
interface Counters {
  commits: number;
  hits: number;
  misses: number;
}

async function measureCase(
  port: number,
  requests: number,
  testCase: Case,
  pids: { dataNode?: number; servers: readonly number[] },
  counters?: () => Promise<Counters>,
): Promise<Measured> {
  const cpuBefore = processesCpuMs(pids.servers);
  const dataNodeBefore = pids.dataNode === undefined ? 0 : processesCpuMs([pids.dataNode]);
  const before = await counters?.();
  const result = await redisBenchmark({ port }, requests, testCase);
  const serverCpuMs = processesCpuMs(pids.servers) - cpuBefore;
  const measured: Measured = { result, serverCpuMsPerRequest: serverCpuMs / requests };
  if (pids.dataNode !== undefined) {
    const dataNodeCpuMs = processesCpuMs([pids.dataNode]) - dataNodeBefore;
    measured.dataNodeCpuMsPerRequest = dataNodeCpuMs / requests;
    measured.storageCpuMsPerRequest = (serverCpuMs - dataNodeCpuMs) / requests;
  }
  if (counters !== undefined && before !== undefined) {
    const after = await counters();
    if (testCase.command === 'set') {
      measured.requestsPerCommit = requests / Math.max(1, after.commits - before.commits);
    } else {
      const hits = after.hits - before.hits;
      measured.hitRatio = hits / Math.max(1, hits + after.misses - before.misses);
    }
  }
  return measured;
}

/**
 * Every case against one server, after one unmeasured pass of the first: a data node and its
 * storage nodes serve for days, and the first thousands of commands compile their hot paths (a
 * fifth of a fresh storage node's CPU went to the optimizing compiler in its first 40,000 SETs).
 */
async function measureServer(
  options: BenchOptions,
  label: string,
  port: number,
  pids: { dataNode: number; servers: readonly number[] },
  counters: () => Promise<Counters>,
): Promise<Measured[]> {
  options.progress(label, 0);
  await redisBenchmark({ port }, BOREALIS_REQUESTS, CASES[0] as Case);
  const results: Measured[] = [];
  for (const [index, testCase] of CASES.entries()) {
    options.progress(label, (index + 1) / (CASES.length + 1));
    if (testCase.command === 'get') await readEveryKey(port);
    results.push(await measureCase(port, BOREALIS_REQUESTS, testCase, pids, counters));
  }
  options.progress(label, 1);
  return results;
}

/** GETs of the key space read before each GET test, per pipeline round trip. */
const PRIMING_BATCH = 1_000;

/**
 * Reads every key of redis-benchmark's key space (`key:` and 12 digits, `-r` of them) once, so
 * that a GET test starts from a cache holding all of them, present or absent. Without it a GET
 * test's hit ratio is chance: redis-benchmark seeds its random keys from the clock and its PID,
 * two runs a second apart often draw the same keys (then every GET hits what the SET test wrote)
 * and as often not, and entries older than the cache's age bound are not served.
 */
async function readEveryKey(port: number): Promise<void> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await client.connect();
  try {
    for (let start = 0; start < KEY_SPACE; start += PRIMING_BATCH) {
      const pipeline = client.pipeline();
      for (let index = start; index < Math.min(KEY_SPACE, start + PRIMING_BATCH); index++) {
        pipeline.get(`key:${String(index).padStart(12, '0')}`);
      }
      for (const [error] of (await pipeline.exec()) ?? []) if (error !== null) throw error;
    }
  } finally {
    client.disconnect();
  }
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const { root, stops, cleanup } = await scratchRun(options.dataDir, 'borealis-bench-data-node-');
  try {
    options.progress('redis-server (appendfsync always)', 0);
    const redis = await startFsyncingRedis(root, stops);
    const redisResults: Measured[] = [];
    for (const [index, testCase] of CASES.entries()) {
      options.progress('redis-server (appendfsync always)', index / CASES.length);
      if (testCase.command === 'get') await readEveryKey(redis.port);
      redisResults.push(await measureCase(redis.port, REDIS_REQUESTS, testCase, { servers: [redis.pid] }));
    }
    options.progress('redis-server (appendfsync always)', 1);
    redis.kill();

    const borealis = stopGroup(stops);
    const node = await startBenchDataNode(root, borealis.stops);
    const { dataNodePid, storagePids } = node;
    const engineCounters = async (): Promise<Counters> => {
      const health = await node.health();
      const cache = (health.cache ?? {}) as { hits?: number; misses?: number };
      const engine = (health.engine ?? {}) as { commits?: number };
      return { commits: engine.commits ?? 0, hits: cache.hits ?? 0, misses: cache.misses ?? 0 };
    };
    const borealisResults = await measureServer(
      options,
      'data node + 6 storage nodes',
      node.port,
      { dataNode: dataNodePid, servers: [dataNodePid, ...storagePids] },
      engineCounters,
    );
    const health = await node.health();
    const throttled = await throttledCommands(node.port);
    await borealis.stopNow();

    const floor = await startFloor(root, stops);

    const floorResults = await measureServer(
      options,
      'floor: the same processes and messages, no protocol',
      floor.port,
      { dataNode: floor.frontPid, servers: [floor.frontPid, ...floor.replicaPids] },
      () => floor.stats(),
    );
    const floorCache = await floor.stats();

    const rows: Row[] = [];
    for (const [index, borealis] of borealisResults.entries()) {
      const peer = redisResults[index] as Measured;
      const bare = floorResults[index] as Measured;
      rows.push({
        test: caseName(CASES[index] as Case),
        'Borealis req/s': Math.round(borealis.result.requestsPerSecond),
        'Redis req/s': Math.round(peer.result.requestsPerSecond),
        'Borealis / Redis': round(borealis.result.requestsPerSecond / peer.result.requestsPerSecond, 3),
        'Borealis p50 ms': borealis.result.p50Ms,
        'Redis p50 ms': peer.result.p50Ms,
        'Borealis p99 ms': borealis.result.p99Ms,
        'Redis p99 ms': peer.result.p99Ms,
        'Borealis CPU µs per request (data node + storage)': cpuSplit(borealis),
        'Redis CPU µs per request': round(peer.serverCpuMsPerRequest * 1000, 1),
        'SETs per commit (GET: cache hit ratio)': perCommitOrHits(borealis),
        'floor req/s': Math.round(bare.result.requestsPerSecond),
        'Borealis / floor': round(borealis.result.requestsPerSecond / bare.result.requestsPerSecond, 2),
        'floor / Redis': round(bare.result.requestsPerSecond / peer.result.requestsPerSecond, 3),
        'floor CPU µs per request (front + storage)': `${cpuSplit(bare)}`,
        'floor SETs per commit (GET: cache hit ratio)': perCommitOrHits(bare),
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
        'CPU µs per request: user + system CPU time of the server processes during the test (from /proc), over its requests; for Borealis the data node and the six storage nodes, for Redis its one process. redis-benchmark shares the cores and is not counted. "SETs per commit": requests over the quorum commits the engine made during the SET test (its group commit of commands per key and under load); in a GET row, the share of its GETs the cache answered. Before each GET test every key of the key space is read once (1,000 GETs per pipeline, unmeasured, the same for each server), so that each GET test starts from a cache holding every key, present or absent. A read does not make a cached entry younger: keys the SET test wrote age from their write; past 10 s they are served only while the storage nodes\' notices have reached the data node whole since they were stored, and never past 60 s (ADR 0020; before it, every GET of a key written more than 10 s earlier read the replicas: docs/performance.md, "The warm GET row\'s storage CPU is the cache\'s age bound"). Without it the hit ratio was chance (redis-benchmark seeds its random keys from the clock and its PID, so two tests a second apart often draw the same keys and as often not).',
        `Data node counters after the run: ${engine === null ? 'n/a' : `${engine.transactions} transactions, ${engine.commits} commits, ${engine.conflicts} conflicts`}; cache ${cacheSummary(health.cache as Record<string, number> | null)}.`,
        `Floor: bench/lib/floor-node.ts, the same seven processes over loopback TCP with none of the protocol's work. A SET starts its own commit while fewer than 8 are in flight, else joins one open group (as the data node's scheduler does); one frame per commit to each of six replicas, which log and fdatasync once per event-loop turn and answer; acknowledged on 4 of 6 answers. A GET is served from a cache with the longest life the data node gives an entry (60 s), a miss read from 3 replicas. Left out: versions, votes and decisions, msgpack, CRCs, authentication, the command table, metrics. Its cache over the run: ${cacheSummary(floorCache)}. "Borealis / floor" is how far each row is from what these processes, messages and fsyncs allow on this machine; "floor / Redis" is the most this shape could reach.`,
        `A Borealis write is one fsynced quorum round when all six storage processes vote YES in time (ADR 0015; ${quorumCounters === null ? 'n/a' : fastCommitShare(quorumCounters)} of this run's commits), else two (votes, then acceptances from 4 of 6), on processes sharing these 2 cores; Redis fsyncs once per event-loop turn in one process. Run with \`npm run bench -- data-node\`.`,
      ],
    };
  } finally {
    await cleanup();
  }
}

function perCommitOrHits(measured: Measured): string {
  if (measured.requestsPerCommit !== undefined) return String(round(measured.requestsPerCommit, 1));
  return measured.hitRatio === undefined ? '' : measured.hitRatio.toFixed(2);
}

/** "total (data node + storage)" CPU µs per request. */
function cpuSplit(measured: Measured): string {
  const us = (ms: number | undefined) => Math.round((ms ?? 0) * 1000);
  return `${us(measured.serverCpuMsPerRequest)} (${us(measured.dataNodeCpuMsPerRequest)} + ${us(measured.storageCpuMsPerRequest)})`;
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
