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
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { SummaryJson } from '../apps/loadgen/src/summary.js';
import { runLoadgenCli } from '../test/support/loadgen.js';
import { scratchRun, stopGroup } from './lib/cleanup.js';
import { type DiskProbeResult, STALL_MS, startDiskProbe } from './lib/disk-probe.js';
import { startFloor } from './lib/floor.js';
import { machineCpuTicks, processesCpuMs } from './lib/process-cpu.js';
import { type Case, CLIENTS, KEY_SPACE, redisBenchmark, VALUE_BYTES } from './lib/redis-benchmark.js';
import type { BenchOptions, BenchResult, Row } from './lib/report.js';
import { startBenchDataNode, startFsyncingRedis } from './lib/servers.js';

/** Closed-loop SETs that measure the maximum (and, once before, warm Borealis's processes up). */
const CLOSED_LOOP_REQUESTS = 40_000;
/** Each fixed rate runs this long. */
const FIXED_RATE_SECONDS = 30;
/** The fixed rates, as fractions of Borealis's closed-loop maximum. */
const FRACTIONS = [0.5, 0.25] as const;
const TARGET_P99_MS = 10;
/** The closed-loop case: redis-benchmark SET, unpipelined. */
const SET: Case = { command: 'set', pipeline: 1 };

interface FixedRun {
  rate: number;
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
): Promise<FixedRun> {
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
  return {
    rate,
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

function row(server: string, fraction: string, run: FixedRun): Row {
  const { latencyMs } = run.summary;
  return {
    server,
    'SET/s offered': run.rate,
    'of Borealis max': fraction,
    'done (failed, shortfall)': `${run.summary.ops} (${run.summary.failed}, ${run.summary.shortfall})`,
    'p50 ms': latencyMs.p50,
    'p90 ms': latencyMs.p90,
    'p99 ms': latencyMs.p99,
    'p99.9 ms': latencyMs.p999,
    'server CPU µs per SET': Math.round(run.serverCpuUsPerSet),
    'SETs per commit': run.setsPerCommit === null ? '' : Math.round(run.setsPerCommit * 10) / 10,
    'machine busy': run.machineBusy === null ? 'n/a' : `${Math.round(run.machineBusy * 100)}%`,
    'disk probe: fdatasync p99 ms': run.disk.p99Ms,
    'longest ms': run.disk.maxMs,
    [`stalls ≥ ${STALL_MS} ms (ms in them)`]: `${run.disk.stalls} (${run.disk.stalledMs})`,
  };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const { root, stops, cleanup } = await scratchRun(options.dataDir, 'borealis-bench-fixed-rate-');
  try {
    options.progress('data node + 6 storage nodes', 0);
    const borealis = stopGroup(stops);
    const node = await startBenchDataNode(root, borealis.stops);
    const borealisPids = [node.dataNodePid, ...node.storagePids];
    // Unmeasured: the processes compile their hot paths in the first thousands of commands.
    await redisBenchmark({ port: node.port }, CLOSED_LOOP_REQUESTS, SET);
    const borealisMax = await redisBenchmark({ port: node.port }, CLOSED_LOOP_REQUESTS, SET);
    const rates = FRACTIONS.map((fraction) =>
      Math.max(1, Math.round(borealisMax.requestsPerSecond * fraction)),
    );
    const borealisRuns: FixedRun[] = [];
    for (const [index, rate] of rates.entries()) {
      options.progress('data node + 6 storage nodes', (index + 1) / (rates.length + 1));
      borealisRuns.push(
        await fixedRate(node.port, rate, join(root, `borealis-${rate}.json`), borealisPids, node.commits),
      );
    }
    // Each server runs alone: Borealis's seven processes end first.
    await borealis.stopNow();
    options.progress('data node + 6 storage nodes', 1);

    options.progress('floor: the same processes and messages, no protocol', 0);
    const floorGroup = stopGroup(stops);
    const floor = await startFloor(root, floorGroup.stops);
    const floorPids = [floor.frontPid, ...floor.replicaPids];
    const floorCommits = async () => (await floor.stats()).commits;
    await redisBenchmark({ port: floor.port }, CLOSED_LOOP_REQUESTS, SET);
    const floorMax = await redisBenchmark({ port: floor.port }, CLOSED_LOOP_REQUESTS, SET);
    const floorHalf = Math.max(1, Math.round(floorMax.requestsPerSecond * 0.5));
    const floorRuns: FixedRun[] = [];
    for (const [index, rate] of [...rates, floorHalf].entries()) {
      options.progress(
        'floor: the same processes and messages, no protocol',
        (index + 1) / (rates.length + 2),
      );
      floorRuns.push(
        await fixedRate(floor.port, rate, join(root, `floor-${index}.json`), floorPids, floorCommits),
      );
    }
    await floorGroup.stopNow();
    options.progress('floor: the same processes and messages, no protocol', 1);

    options.progress('redis-server (appendfsync always)', 0);
    const redis = await startFsyncingRedis(root, stops);
    const redisMax = await redisBenchmark({ port: redis.port }, CLOSED_LOOP_REQUESTS * 10, SET);
    const redisRuns: FixedRun[] = [];
    for (const [index, rate] of rates.entries()) {
      options.progress('redis-server (appendfsync always)', (index + 1) / (rates.length + 1));
      redisRuns.push(await fixedRate(redis.port, rate, join(root, `redis-${rate}.json`), [redis.pid]));
    }
    redis.kill();
    options.progress('redis-server (appendfsync always)', 1);

    const rows: Row[] = [];
    for (const [index, fraction] of FRACTIONS.entries()) {
      rows.push(row('Borealis', `${fraction}`, borealisRuns[index] as FixedRun));
      rows.push(row('floor', `${fraction}`, floorRuns[index] as FixedRun));
      rows.push(row('Redis', `${fraction}`, redisRuns[index] as FixedRun));
    }
    const floorAtItsHalf = floorRuns[rates.length] as FixedRun;
    rows.push(row('floor', "0.5 of the floor's own max", floorAtItsHalf));
    const half = borealisRuns[0] as FixedRun;
    const halfPeer = redisRuns[0] as FixedRun;
    return {
      name: 'fixed-rate',
      rows,
      notes: [
        `Closed-loop maximum (redis-benchmark \`-t set -c ${CLIENTS} -r ${KEY_SPACE} -d ${VALUE_BYTES}\`, after one unmeasured pass): Borealis ${Math.round(borealisMax.requestsPerSecond)} SET/s, Redis ${Math.round(redisMax.requestsPerSecond)} SET/s. Each fixed rate: \`npm run loadgen -- --pattern custom --steps ${FIXED_RATE_SECONDS}:<rate> --workload kv --read-ratio 0 --connections ${CLIENTS} --keys ${KEY_SPACE} --value-size ${VALUE_BYTES}\`, latency over the whole run.`,
        `Target: SET p99 < ${TARGET_P99_MS} ms at half of the maximum. Borealis measured ${half.summary.latencyMs.p99} ms (${Math.round((half.summary.latencyMs.p99 / TARGET_P99_MS) * 10) / 10}× the target); Redis at the same rate ${halfPeer.summary.latencyMs.p99} ms (Borealis / Redis p99: ${Math.round((half.summary.latencyMs.p99 / Math.max(0.001, halfPeer.summary.latencyMs.p99)) * 10) / 10}).`,
        `Floor (bench/lib/floor-node.ts, as in the data-node bench): closed-loop maximum ${Math.round(floorMax.requestsPerSecond)} SET/s; at Borealis's half rate its p99 is ${(floorRuns[0] as FixedRun).summary.latencyMs.p99} ms, at half of its own maximum ${floorAtItsHalf.summary.latencyMs.p99} ms: what these seven processes, their messages and fsyncs allow on this machine with no protocol work.`,
        `Disk probe (bench/lib/disk-probe.ts): during each row, a 200-byte append and an fdatasync every 20 ms in the data dir, timed; an fdatasync of ${STALL_MS} ms or more is a stall. A stall holds every log on the disk at once (the six replicas share it here, where a deployment gives each its own), and the SETs that arrive meanwhile queue behind it; the busier the cores, the longer the queue takes to drain. So a row's p99 follows its stalls and its machine busy share, and rows with different stalls do not compare. Borealis's half-rate row: ${half.disk.stalls} stalls, the longest ${half.disk.maxMs} ms; the floor's at the same rate: ${(floorRuns[0] as FixedRun).disk.stalls}, the longest ${(floorRuns[0] as FixedRun).disk.maxMs} ms.`,
        'Borealis: one data node at its largest size over six storage-node processes, as in the data-node bench; everything, the load generator included, on this machine\'s cores. "server CPU µs per SET": user + system CPU of the server processes (from /proc) over the SETs done; "machine busy": the share of all cores busy during the run (/proc/stat), the load generator included. Run with `npm run bench -- fixed-rate`.',
      ],
    };
  } finally {
    await cleanup();
  }
}
