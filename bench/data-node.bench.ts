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
import { scratchRun } from './lib/cleanup.js';
import { commandOutput } from './lib/command.js';
import { median } from './lib/committed.js';
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
import { inTurn, ROUNDS, ratiosByRound } from './lib/rounds.js';
import {
  BENCH_CU,
  BENCH_CU_COMMANDS_PER_SECOND,
  startBenchDataNode,
  startFsyncingRedis,
} from './lib/servers.js';

/**
 * Requests per test and server, sized so that each measurement runs for several seconds here
 * (a pipelined GET test of 40,000 requests was over in a quarter of a second).
 */
const REQUESTS: Readonly<Record<string, { redis: number; borealis: number }>> = {
  SET: { redis: 300_000, borealis: 40_000 },
  GET: { redis: 300_000, borealis: 200_000 },
  [`SET -P ${PIPELINE}`]: { redis: 1_000_000, borealis: 100_000 },
  [`GET -P ${PIPELINE}`]: { redis: 2_000_000, borealis: 600_000 },
};
const requestsOf = (testCase: Case, server: Server): number => {
  const requests = REQUESTS[caseName(testCase)];
  if (requests === undefined) throw new Error(`no request count for ${caseName(testCase)}`);
  return server === 'redis' ? requests.redis : requests.borealis;
};

type Server = 'redis' | 'borealis' | 'floor';

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
 * One unmeasured SET test against a server of ours: a data node and its storage nodes serve for
 * days, and the first thousands of commands compile their hot paths (a fifth of a fresh storage
 * node's CPU went to the optimizing compiler in its first 40,000 SETs).
 */
async function warmUp(port: number): Promise<void> {
  await redisBenchmark({ port }, requestsOf(CASES[0] as Case, 'borealis'), CASES[0] as Case);
}

/** The median of each figure over the rounds of one case on one server. */
function medianOf(rounds: readonly Measured[]): Measured {
  const of = (pick: (measured: Measured) => number | undefined): number | undefined => {
    const values = rounds.map(pick).filter((value): value is number => value !== undefined);
    return values.length === 0 ? undefined : median(values);
  };
  const first = rounds[0] as Measured;
  const result: Measured = {
    result: {
      test: first.result.test,
      requestsPerSecond: of((m) => m.result.requestsPerSecond) as number,
      p50Ms: of((m) => m.result.p50Ms) as number,
      p99Ms: of((m) => m.result.p99Ms) as number,
    },
    serverCpuMsPerRequest: of((m) => m.serverCpuMsPerRequest) as number,
  };
  const dataNode = of((m) => m.dataNodeCpuMsPerRequest);
  if (dataNode !== undefined) result.dataNodeCpuMsPerRequest = dataNode;
  const storage = of((m) => m.storageCpuMsPerRequest);
  if (storage !== undefined) result.storageCpuMsPerRequest = storage;
  const perCommit = of((m) => m.requestsPerCommit);
  if (perCommit !== undefined) result.requestsPerCommit = perCommit;
  const hits = of((m) => m.hitRatio);
  if (hits !== undefined) result.hitRatio = hits;
  return result;
}

/** GETs of the key space read before each GET test, per pipeline round trip. */
const PRIMING_BATCH = 1_000;

/**
 * Reads every key of redis-benchmark's key space (`key:` and 12 digits, `-r` of them) once, so
 * that a GET test starts from a cache holding all of them, present or absent. Without it a GET
 * test's hit ratio is chance: redis-benchmark seeds its random keys from the clock and its PID,
 * two runs a second apart often draw the same keys and as often not.
 *
 * `fresh` (Borealis and the floor): the reads go to the replicas (BOREALIS CONSISTENCY CLUSTER),
 * and each stores what it read in the cache as new. A cached read does not make an entry younger,
 * and an entry is served for 60 s at most (ADR 0020): primed by cached reads, entries primed a
 * round earlier ran out in the middle of the next round's test, and its GETs read the replicas
 * again (10-14% of them, in runs by hand), more or fewer by how the rounds fell.
 */
async function readEveryKey(port: number, fresh = false): Promise<void> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await client.connect();
  try {
    if (fresh) await client.call('BOREALIS', 'CONSISTENCY', 'CLUSTER');
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
    options.progress('starting Redis, Borealis and the floor', 0);
    const redis = await startFsyncingRedis(root, stops);
    const node = await startBenchDataNode(root, stops);
    const floor = await startFloor(root, stops);
    const engineCounters = async (): Promise<Counters> => {
      const health = await node.health();
      const cache = (health.cache ?? {}) as { hits?: number; misses?: number };
      const engine = (health.engine ?? {}) as { commits?: number };
      return { commits: engine.commits ?? 0, hits: cache.hits ?? 0, misses: cache.misses ?? 0 };
    };
    const servers: Record<Server, { port: number; measure: (testCase: Case) => Promise<Measured> }> = {
      redis: {
        port: redis.port,
        measure: (testCase) =>
          measureCase(redis.port, requestsOf(testCase, 'redis'), testCase, { servers: [redis.pid] }),
      },
      borealis: {
        port: node.port,
        measure: (testCase) =>
          measureCase(
            node.port,
            requestsOf(testCase, 'borealis'),
            testCase,
            { dataNode: node.dataNodePid, servers: [node.dataNodePid, ...node.storagePids] },
            engineCounters,
          ),
      },
      floor: {
        port: floor.port,
        measure: (testCase) =>
          measureCase(
            floor.port,
            requestsOf(testCase, 'borealis'),
            testCase,
            { dataNode: floor.frontPid, servers: [floor.frontPid, ...floor.replicaPids] },
            () => floor.stats(),
          ),
      },
    };
    options.progress('warming up Borealis and the floor', 0);
    await warmUp(node.port);
    await warmUp(floor.port);

    const order: Server[] = ['redis', 'borealis', 'floor'];
    const measured: Record<Server, Measured[][]> = {
      redis: CASES.map(() => []),
      borealis: CASES.map(() => []),
      floor: CASES.map(() => []),
    };
    for (let roundIndex = 0; roundIndex < ROUNDS; roundIndex++) {
      for (const [index, testCase] of CASES.entries()) {
        options.progress(
          `round ${roundIndex + 1} of ${ROUNDS}: ${caseName(testCase)}`,
          (roundIndex * CASES.length + index) / (ROUNDS * CASES.length),
        );
        for (const server of inTurn(order, roundIndex)) {
          if (testCase.command === 'get') await readEveryKey(servers[server].port, server !== 'redis');
          (measured[server][index] as Measured[]).push(await servers[server].measure(testCase));
        }
      }
    }
    options.progress('done', 1);
    const health = await node.health();
    const throttled = await throttledCommands(node.port);
    const floorCache = await floor.stats();

    const rows: Row[] = [];
    const spreads: string[] = [];
    for (const [index, testCase] of CASES.entries()) {
      const borealisRounds = measured.borealis[index] as Measured[];
      const redisRounds = measured.redis[index] as Measured[];
      const floorRounds = measured.floor[index] as Measured[];
      const borealis = medianOf(borealisRounds);
      const peer = medianOf(redisRounds);
      const bare = medianOf(floorRounds);
      const rates = (rounds: Measured[]) => rounds.map((m) => m.result.requestsPerSecond);
      const toRedis = ratiosByRound(rates(borealisRounds), rates(redisRounds));
      const toFloor = ratiosByRound(rates(borealisRounds), rates(floorRounds));
      const floorToRedis = ratiosByRound(rates(floorRounds), rates(redisRounds));
      spreads.push(
        `${caseName(testCase)}: Borealis / Redis ${toRedis.text}; Borealis / floor ${toFloor.text}`,
      );
      rows.push({
        test: caseName(testCase),
        'Borealis req/s': Math.round(borealis.result.requestsPerSecond),
        'Redis req/s': Math.round(peer.result.requestsPerSecond),
        'Borealis / Redis': round(toRedis.median, 3),
        'Borealis p50 ms': borealis.result.p50Ms,
        'Redis p50 ms': peer.result.p50Ms,
        'Borealis p99 ms': borealis.result.p99Ms,
        'Redis p99 ms': peer.result.p99Ms,
        'Borealis CPU µs per request (data node + storage)': cpuSplit(borealis),
        'Redis CPU µs per request': round(peer.serverCpuMsPerRequest * 1000, 1),
        'SETs per commit (GET: cache hit ratio)': perCommitOrHits(borealis),
        'floor req/s': Math.round(bare.result.requestsPerSecond),
        'Borealis / floor': round(toFloor.median, 2),
        'floor / Redis': round(floorToRedis.median, 3),
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
        `\`redis-benchmark -t <test> -c ${CLIENTS} -r ${KEY_SPACE} -d ${VALUE_BYTES} [-P ${PIPELINE}] --csv\`, one test at a time, against Redis 7 (\`appendonly yes\`, \`appendfsync always\`), Borealis and the floor, all three running throughout. ${ROUNDS} rounds: in each, every test on each server in turn (the order turning each round), so that a ratio compares measurements a minute apart at most, not a whole run apart. Requests per test: ${CASES.map((testCase) => `${caseName(testCase)} ${requestsOf(testCase, 'redis').toLocaleString('en-US')} against Redis and ${requestsOf(testCase, 'borealis').toLocaleString('en-US')} against Borealis and the floor`).join('; ')}. Borealis and the floor first served one unmeasured SET test of ${requestsOf(CASES[0] as Case, 'borealis').toLocaleString('en-US')} (their processes compile their hot paths in the first thousands of commands; a long-running node has).`,
        `Each figure is the median of its ${ROUNDS} rounds, each ratio the median of the rounds' ratios. The rounds' ratios: ${spreads.join('. ')}.`,
        `Borealis: one data node at ${BENCH_CU} CU, the largest writer, with DATA_NODE_CU_COMMANDS_PER_SECOND=${BENCH_CU_COMMANDS_PER_SECOND.toLocaleString('en-US')} so that its budget never throttles (${throttled} commands throttled over the run; the platform's default CU buys ${PER_CAPACITY_UNIT.commandsPerSecond.toLocaleString('en-US')} commands/s), instance read consistency, six storage-node processes (4-of-6 fsynced writes) — all on the same machine as redis-benchmark.`,
        'CPU µs per request: user + system CPU time of the server processes during the test (from /proc), over its requests; for Borealis the data node and the six storage nodes, for Redis its one process. redis-benchmark shares the cores and is not counted. "SETs per commit": requests over the quorum commits the engine made during the SET test (its group commit of commands per key and under load); in a GET row, the share of its GETs the cache answered. Before each GET test every key of the key space is read once (1,000 GETs per pipeline, unmeasured, the same for each server), so that each GET test starts from a cache holding every key, present or absent; without it the hit ratio was chance (redis-benchmark seeds its random keys from the clock and its PID, so two tests a second apart often draw the same keys and as often not). Borealis and the floor read them from the replicas (BOREALIS CONSISTENCY CLUSTER), which stores each in the cache as new: a cached read does not make an entry younger, and an entry is served for 10 s, or while the storage nodes\' notices reach the data node whole, for 60 s at most (ADR 0020). So the GET rows measure a cache that holds every key, young; under a steady load over more keys than are written, each key is read from the replicas again once a minute.',
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
