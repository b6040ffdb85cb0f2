// SET latency at a fixed rate, the way a service sees load: the load generator (`npm run
// loadgen`) issues SETs on schedule whatever the replies do (open loop), so a slow reply does
// not slow the offered load as it does redis-benchmark's closed loop. The rates are fractions of
// the closed-loop maximum measured first in the same run (redis-benchmark, 50 clients); the
// target is a p99 under 10 ms at half of it. The peer is Redis with `appendfsync always` under
// the same rates from the same client, in the same run. Each row also gives the servers' CPU per
// SET and how busy the whole machine was: near saturation the tail is queueing at the CPU.
// A third server is the data-node bench's floor (bench/lib/floor-node.ts: the same seven
// processes, messages and fsyncs with none of the protocol's work), under the same rates and at
// half of its own maximum: what latency this shape of processes allows on this machine.
// The three run side by side, measured in turn in rounds (bench/lib/rounds.ts), and a disk probe
// times fdatasyncs during each run: on a disk that stalls now and then, a run's tail follows its
// stalls, and one run per server compared servers under different disks.
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { SummaryJson } from '../apps/loadgen/src/summary.js';
import { runLoadgenCli } from '../test/support/loadgen.js';
import { scratchRun } from './lib/cleanup.js';
import { median } from './lib/committed.js';
import { type DiskProbeResult, STALL_MS, startDiskProbe } from './lib/disk-probe.js';
import { startFloor } from './lib/floor.js';
import { machineCpuTicks, processesCpuMs } from './lib/process-cpu.js';
import { type HistogramScrape, parseHistograms, percentileBetween } from './lib/prometheus-histograms.js';
import { type Case, CLIENTS, KEY_SPACE, redisBenchmark, VALUE_BYTES } from './lib/redis-benchmark.js';
import { type BenchOptions, type BenchResult, type Row, round } from './lib/report.js';
import { inTurn, ROUNDS, ratiosByRound } from './lib/rounds.js';
import { startBenchDataNode, startFsyncingRedis } from './lib/servers.js';

/** Closed-loop SETs that measure the maximum (and, once before, warm Borealis's processes up). */
const CLOSED_LOOP_REQUESTS = 40_000;
/** Each fixed rate runs this long. */
const FIXED_RATE_SECONDS = 20;
/** The fixed rates, as fractions of Borealis's closed-loop maximum. */
const FRACTIONS = [0.5, 0.25] as const;
const TARGET_P99_MS = 10;
/** The closed-loop case: redis-benchmark SET, unpipelined. */
const SET: Case = { command: 'set', pipeline: 1 };

/** The data node's own p99s over a run (ms, bucket upper bounds): where a SET waited. */
interface DataNodeStages {
  command: number | null;
  queued: number | null;
  commit: number | null;
}

/** The data node's histograms whose p99s `DataNodeStages` holds. */
const STAGE_HISTOGRAMS = {
  command: 'borealis_data_node_command_duration_seconds',
  queued: 'borealis_data_node_transaction_queue_seconds',
  commit: 'borealis_data_node_quorum_commit_seconds',
} as const;

interface FixedRun {
  rate: number;
  stages: DataNodeStages | null;
  summary: SummaryJson;
  disk: DiskProbeResult;
  serverCpuUsPerSet: number;
  machineBusy: number | null;
  setsPerCommit: number | null;
}

async function fixedRate(
  port: number,
  rate: number,
  jsonPath: string,
  serverPids: readonly number[],
  commits?: () => Promise<number>,
  metrics?: () => Promise<string>,
): Promise<FixedRun> {
  const scrape = async (): Promise<HistogramScrape | null> =>
    metrics === undefined ? null : parseHistograms(await metrics());
  const histogramsBefore = await scrape();
  const cpuBefore = processesCpuMs(serverPids);
  const machineBefore = machineCpuTicks();
  const commitsBefore = (await commits?.()) ?? 0;
  const probe = await startDiskProbe(dirname(jsonPath), basename(jsonPath, '.json'));
  const run = await runLoadgenCli(
    [
      '--endpoint',
      `127.0.0.1:${port}`,
      '--pattern',
      'custom',
      '--steps',
      `${FIXED_RATE_SECONDS}:${rate}`,
      '--workload',
      'kv',
      '--read-ratio',
      '0',
      '--connections',
      String(CLIENTS),
      '--keys',
      String(KEY_SPACE),
      '--value-size',
      String(VALUE_BYTES),
      '--quiet',
      '--json',
      jsonPath,
    ],
    (FIXED_RATE_SECONDS + 60) * 1_000,
  );
  const disk = await probe.stop();
  if (run.code !== 0) throw new Error(`loadgen exited ${run.code}\n${run.stdout}\n${run.stderr}`);
  const machineAfter = machineCpuTicks();
  const cpuMs = processesCpuMs(serverPids) - cpuBefore;
  const summary = JSON.parse(readFileSync(jsonPath, 'utf8')) as SummaryJson;
  const commitsMade = commits === undefined ? null : (await commits()) - commitsBefore;
  const histogramsAfter = await scrape();
  const p99Ms = (name: string) => {
    if (histogramsBefore === null || histogramsAfter === null) return null;
    const seconds = percentileBetween(histogramsBefore, histogramsAfter, name, 0.99);
    return seconds === null ? null : seconds * 1000;
  };
  return {
    rate,
    stages:
      histogramsAfter === null
        ? null
        : {
            command: p99Ms(STAGE_HISTOGRAMS.command),
            queued: p99Ms(STAGE_HISTOGRAMS.queued),
            commit: p99Ms(STAGE_HISTOGRAMS.commit),
          },
    summary,
    disk,
    serverCpuUsPerSet: (cpuMs * 1000) / Math.max(1, summary.ops),
    machineBusy:
      machineBefore === null || machineAfter === null
        ? null
        : (machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total),
    setsPerCommit: commitsMade === null ? null : summary.ops / Math.max(1, commitsMade),
  };
}

/** One server as the rounds drive it, with its runs by rate index (one per round). */
interface Server {
  name: 'Borealis' | 'floor' | 'Redis';
  port: number;
  pids: readonly number[];
  commits?: () => Promise<number>;
  /** The server's Prometheus text, when it has its own histograms (the data node). */
  metrics?: () => Promise<string>;
  runs: FixedRun[][];
}

/** `ms` as a bucket bound: "≤ 20", or "above every bucket" (the histogram's own bounds decide). */
function bucketMs(ms: number | null): string {
  if (ms === null) return '-';
  return Number.isFinite(ms) ? `≤ ${round(ms, 1)}` : 'above every bucket';
}

/** The median of each figure over the rounds of one rate on one server; the rounds' p99s and stalls as they were. */
function row(server: string, fraction: string, runs: readonly FixedRun[]): Row {
  const of = (pick: (run: FixedRun) => number) => median(runs.map(pick));
  const commits = runs.map((run) => run.setsPerCommit).filter((value) => value !== null);
  const busy = runs.map((run) => run.machineBusy).filter((value) => value !== null);
  const first = runs[0] as FixedRun;
  return {
    server,
    'SET/s offered': first.rate,
    'of Borealis max': fraction,
    'done (failed, shortfall), all rounds': `${sum(runs, (run) => run.summary.ops)} (${sum(runs, (run) => run.summary.failed)}, ${sum(runs, (run) => run.summary.shortfall)})`,
    'p50 ms': of((run) => run.summary.latencyMs.p50),
    'p90 ms': of((run) => run.summary.latencyMs.p90),
    'p99 ms': of((run) => run.summary.latencyMs.p99),
    'p99.9 ms': of((run) => run.summary.latencyMs.p999),
    'server CPU µs per SET': Math.round(of((run) => run.serverCpuUsPerSet)),
    'SETs per commit': commits.length === 0 ? '' : round(median(commits), 1),
    'machine busy': busy.length === 0 ? 'n/a' : `${Math.round(median(busy) * 100)}%`,
    'each round, data node p99 ms: command; waiting for a transaction; commit at the replicas': runs
      .map((run) =>
        run.stages === null
          ? ''
          : `${bucketMs(run.stages.command)}; ${bucketMs(run.stages.queued)}; ${bucketMs(run.stages.commit)}`,
      )
      .filter((text) => text !== '')
      .join(' / '),
    [`each round: p99 ms (disk stalls ≥ ${STALL_MS} ms, longest ms)`]: runs
      .map(
        (run) => `${round(run.summary.latencyMs.p99, 1)} (${run.disk.stalls}, ${round(run.disk.maxMs, 0)})`,
      )
      .join('; '),
  };
}

function runsOf(server: Server, rateIndex: number): FixedRun[] {
  const runs = server.runs[rateIndex];
  if (runs === undefined) throw new Error(`${server.name} has no runs at rate index ${rateIndex}`);
  return runs;
}

function sum(runs: readonly FixedRun[], pick: (run: FixedRun) => number): number {
  return runs.reduce((total, run) => total + pick(run), 0);
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const { root, stops, cleanup } = await scratchRun(options.dataDir, 'borealis-bench-fixed-rate-');
  try {
    options.progress('start Borealis, the floor and Redis', 0);
    for (const dir of ['borealis', 'floor', 'redis']) await mkdir(join(root, dir), { recursive: true });
    const node = await startBenchDataNode(join(root, 'borealis'), stops);
    const floor = await startFloor(join(root, 'floor'), stops);
    const redis = await startFsyncingRedis(join(root, 'redis'), stops);
    const borealis: Server = {
      name: 'Borealis',
      port: node.port,
      pids: [node.dataNodePid, ...node.storagePids],
      commits: node.commits,
      metrics: node.metrics,
      runs: [],
    };
    const bare: Server = {
      name: 'floor',
      port: floor.port,
      pids: [floor.frontPid, ...floor.replicaPids],
      commits: async () => (await floor.stats()).commits,
      runs: [],
    };
    const peer: Server = { name: 'Redis', port: redis.port, pids: [redis.pid], runs: [] };

    options.progress('closed-loop maximum of each', 0.5);
    // Unmeasured: the processes compile their hot paths in the first thousands of commands.
    await redisBenchmark({ port: node.port }, CLOSED_LOOP_REQUESTS, SET);
    await redisBenchmark({ port: floor.port }, CLOSED_LOOP_REQUESTS, SET);
    const borealisMax = await redisBenchmark({ port: node.port }, CLOSED_LOOP_REQUESTS, SET);
    const floorMax = await redisBenchmark({ port: floor.port }, CLOSED_LOOP_REQUESTS, SET);
    const redisMax = await redisBenchmark({ port: redis.port }, CLOSED_LOOP_REQUESTS * 10, SET);
    const rates = FRACTIONS.map((fraction) =>
      Math.max(1, Math.round(borealisMax.requestsPerSecond * fraction)),
    );
    const floorHalf = Math.max(1, Math.round(floorMax.requestsPerSecond * 0.5));

    // Rate indexes: those of `rates`, then (the floor alone) its own half rate.
    for (const server of [borealis, bare, peer]) server.runs = [...rates, floorHalf].map(() => []);
    const turns = ROUNDS * (rates.length * 3 + 1);
    let done = 0;
    for (let roundIndex = 0; roundIndex < ROUNDS; roundIndex++) {
      for (const [rateIndex, rate] of rates.entries()) {
        for (const server of inTurn([borealis, bare, peer], roundIndex)) {
          options.progress(`round ${roundIndex + 1} of ${ROUNDS}: ${rate} SET/s`, done++ / turns);
          const json = join(root, `${server.name}-${roundIndex}-${rateIndex}.json`);
          runsOf(server, rateIndex).push(
            await fixedRate(server.port, rate, json, server.pids, server.commits, server.metrics),
          );
        }
      }
      options.progress(`round ${roundIndex + 1} of ${ROUNDS}: floor at ${floorHalf} SET/s`, done++ / turns);
      const json = join(root, `floor-${roundIndex}-own-half.json`);
      runsOf(bare, rates.length).push(await fixedRate(floor.port, floorHalf, json, bare.pids, bare.commits));
    }
    options.progress('done', 1);

    const rows: Row[] = [];
    for (const [index, fraction] of FRACTIONS.entries()) {
      for (const server of [borealis, bare, peer])
        rows.push(row(server.name, `${fraction}`, runsOf(server, index)));
    }
    rows.push(row('floor', "0.5 of the floor's own max", runsOf(bare, rates.length)));
    const p99s = (server: Server) => runsOf(server, 0).map((run) => run.summary.latencyMs.p99);
    const half = median(p99s(borealis));
    const toRedis = ratiosByRound(p99s(borealis), p99s(peer));
    const toFloor = ratiosByRound(p99s(borealis), p99s(bare));
    const stallFree = runsOf(borealis, 0).filter((run) => run.disk.stalls === 0);
    return {
      name: 'fixed-rate',
      rows,
      notes: [
        `Closed-loop maximum (redis-benchmark \`-t set -c ${CLIENTS} -r ${KEY_SPACE} -d ${VALUE_BYTES}\`, after one unmeasured pass): Borealis ${Math.round(borealisMax.requestsPerSecond)} SET/s, the floor ${Math.round(floorMax.requestsPerSecond)}, Redis ${Math.round(redisMax.requestsPerSecond)}. Each fixed rate: \`npm run loadgen -- --pattern custom --steps ${FIXED_RATE_SECONDS}:<rate> --workload kv --read-ratio 0 --connections ${CLIENTS} --keys ${KEY_SPACE} --value-size ${VALUE_BYTES}\`, latency over the whole run.`,
        `Borealis, the floor and Redis run throughout; ${ROUNDS} rounds, in each every rate on each server in turn (the order turning each round), then the floor at half of its own maximum. Each figure is the median of its rounds; the last column gives each round's p99 with the disk stalls during it.`,
        `Target: SET p99 < ${TARGET_P99_MS} ms at half of the maximum. Borealis: ${round(half, 1)} ms (the median of ${p99s(
          borealis,
        )
          .map((p99) => round(p99, 1))
          .join(
            ', ',
          )}); ${stallFree.length === 0 ? 'no round was free of disk stalls' : `in the rounds without a disk stall: ${stallFree.map((run) => round(run.summary.latencyMs.p99, 1)).join(', ')} ms`}. Borealis / Redis p99 ${round(toRedis.median, 1)} (${toRedis.text}); Borealis / floor p99 ${round(toFloor.median, 1)} (${toFloor.text}).`,
        `Floor (bench/lib/floor-node.ts, as in the data-node bench): the same seven processes, their messages and fsyncs with no protocol work; its row at half of its own maximum (${floorHalf} SET/s) is what latency that shape allows on this machine near half load.`,
        `Disk probe (bench/lib/disk-probe.ts): during each run, a 200-byte append and an fdatasync every 20 ms in the data dir, timed; an fdatasync of ${STALL_MS} ms or more is a stall. A stall holds every log on the disk at once (the six replicas share one disk here, where a deployment gives each its own), and the SETs that arrive meanwhile queue behind it; the busier the cores, the longer the queue takes to drain. So a run's p99 follows its stalls and how busy the machine is.`,
        "The data node's own p99s (its Prometheus histograms, read before and after each run; a p99 is the upper bound of its bucket): a command from read to reply; its wait for a transaction to start (for one of the transactions in flight, or behind its key); its commit at the storage replicas. Where the client's p99 is above the command's, the wait was outside the data node (the client, the sockets); where the command's is above the commit's, inside it.",
        'Borealis: one data node at its largest size over six storage-node processes, as in the data-node bench; everything, the load generator included, on this machine\'s cores. "server CPU µs per SET": user + system CPU of the server processes (from /proc) over the SETs done; "machine busy": the share of all cores busy during the run (/proc/stat), the load generator included. Run with `npm run bench -- fixed-rate`.',
      ],
    };
  } finally {
    await cleanup();
  }
}
