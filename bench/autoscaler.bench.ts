// One autoscaler tick over 1,000 clusters (DESIGN §5; target < 50 ms): `decide` for every
// cluster, with varied settings and loads that rise, fall, stop and hold MULTI sessions, over
// 2,000 ticks of a fake clock 250 ms apart, memory carried between ticks as the loop carries it.
// The database queries that feed a tick are not in it (two queries whatever the cluster count).
// The peer in the same run is the bare desired-CU formula over the same inputs: the ratio is
// what the window, the writer layout, the pause rules and the explanation cost on top.
import type {
  AutoscalerMemory,
  ClusterView,
  LoadSample,
} from '../apps/control-plane/src/autoscaling/autoscaler-model.js';
import { decide, desiredCu, emptyMemory } from '../apps/control-plane/src/autoscaling/decide.js';
import { mulberry32 } from '../test/support/prng.js';
import { LatencyRecorder } from './lib/latency.js';
import type { BenchOptions, BenchResult, Row } from './lib/report.js';

const CLUSTERS = 1_000;
const TICKS = 2_000;
const TICK_MS = 250;
const T0 = 1_800_000_000_000;

interface Simulated {
  view: ClusterView;
  memory: AutoscalerMemory;
  /** Load shape: base rate, period of its wave, and when it stops. */
  base: number;
  periodTicks: number;
  stopsAtTick: number;
  lastCommandAtMs: number;
}

function clusters(): Simulated[] {
  const random = mulberry32(20_261_203);
  return Array.from({ length: CLUSTERS }, (_, index) => {
    const minCu = random() < 0.5 ? 0 : Math.floor(random() * 4) * 0.5;
    const maxCu = minCu + 0.5 + Math.floor(random() * 32) * 0.5;
    return {
      view: {
        clusterId: `c${index}`,
        mode: random() < 0.1 ? 'provisioned' : 'serverless',
        state: random() < 0.05 ? 'paused' : 'available',
        settings: {
          minCu,
          maxCu,
          cuPerWriterMax: random() < 0.2 ? 1 : 8,
          autoPauseSeconds: minCu === 0 ? 60 + Math.floor(random() * 600) : null,
          scaleDownWindowMs: 30_000,
          targetUtilization: 0.7,
        },
        current: { cu: Math.max(0.5, minCu), writers: 1 },
        busy: false,
        availableSinceMs: T0,
        cuCommandsPerSecond: 2_000,
      },
      memory: emptyMemory(),
      base: random() * 40_000,
      periodTicks: 40 + Math.floor(random() * 400),
      stopsAtTick: Math.floor(random() * TICKS * 2),
      lastCommandAtMs: T0,
    };
  });
}

function loadOf(cluster: Simulated, tick: number, nowMs: number): LoadSample {
  const rate =
    tick >= cluster.stopsAtTick
      ? 0
      : cluster.base * (1 + Math.sin((tick / cluster.periodTicks) * 2 * Math.PI)) * 0.5;
  if (rate > 0) cluster.lastCommandAtMs = nowMs;
  return {
    atMs: nowMs - 100,
    commandsPerSecond: rate,
    throttledPerSecond: rate > cluster.view.current.cu * 2_000 ? rate - cluster.view.current.cu * 2_000 : 0,
    proxyCommandsPerSecond: rate,
    lastCommandAtMs: cluster.lastCommandAtMs,
    sessionsInTransaction: tick % 97 === 0 ? 1 : 0,
  };
}

function row(label: string, recorder: LatencyRecorder, decisions: number): Row {
  return {
    case: label,
    ticks: recorder.count,
    'tick p50 ms': Math.round(recorder.percentile(50) * 1_000) / 1_000,
    'tick p99 ms': Math.round(recorder.percentile(99) * 1_000) / 1_000,
    'tick max ms': Math.round(recorder.percentile(100) * 1_000) / 1_000,
    'actions taken': decisions,
  };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const simulated = clusters();
  const full = new LatencyRecorder();
  let actions = 0;
  for (let tick = 0; tick < TICKS; tick++) {
    const nowMs = T0 + tick * TICK_MS;
    const loads = simulated.map((cluster) => loadOf(cluster, tick, nowMs));
    const started = performance.now();
    for (const [index, cluster] of simulated.entries()) {
      const decision = decide(cluster.view, cluster.memory, loads[index] as LoadSample, nowMs);
      cluster.memory = decision.memory;
      for (const action of decision.actions) {
        if (action.kind === 'scale') {
          cluster.view = { ...cluster.view, current: { cu: action.toCu, writers: action.toWriters } };
          actions++;
        } else if (action.kind === 'pause') {
          cluster.view = { ...cluster.view, state: 'paused', current: { cu: 0, writers: 0 } };
          actions++;
        }
      }
    }
    full.record(performance.now() - started);
    if (tick % 100 === 0) options.progress('decide, 1,000 clusters a tick', tick / TICKS);
  }
  options.progress('decide, 1,000 clusters a tick', 1);

  const peerClusters = clusters();
  const peer = new LatencyRecorder();
  let sink = 0;
  for (let tick = 0; tick < TICKS; tick++) {
    const nowMs = T0 + tick * TICK_MS;
    const loads = peerClusters.map((cluster) => loadOf(cluster, tick, nowMs));
    const started = performance.now();
    for (const [index, cluster] of peerClusters.entries()) {
      const load = loads[index] as LoadSample;
      sink += desiredCu(load.commandsPerSecond + load.throttledPerSecond, cluster.view.settings, 2_000);
    }
    peer.record(performance.now() - started);
    if (tick % 100 === 0) options.progress('bare formula (peer)', tick / TICKS);
  }
  options.progress('bare formula (peer)', 1);
  if (sink < 0) options.log('unreachable');
  const ratio = full.percentile(50) / Math.max(1e-6, peer.percentile(50));
  return {
    name: 'autoscaler: one tick over 1,000 clusters',
    rows: [row('decide for 1,000 clusters', full, actions), row('bare desired-CU formula (peer)', peer, 0)],
    notes: [
      `${TICKS} ticks of a fake clock ${TICK_MS} ms apart over ${CLUSTERS} clusters (10% provisioned, 5% paused, 20% with cuPerWriterMax 1), loads in waves that stop at random; the time of the decisions only (the loop's two database queries are not included).`,
      `decide's p50 tick is ${Math.round(ratio * 10) / 10}× the bare formula's (same run, same inputs). Target: < 50 ms per tick.`,
    ],
  };
}
