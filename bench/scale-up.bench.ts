// Scale-up reaction time (DESIGN §5, target p95 < 1 s): the whole platform with one CU lowered
// to 100 commands/s, one serverless cluster (0.5 to 8 CU, a 2 s scale-down window) stepped 20
// times from idle to a load that needs 4.5 CU to be served at all. Each sample is the time from
// the step (the load generator's schedule, its own clock) to the scaling event whose capacity
// serves the load taking effect. The peer in the same run is the resize mechanism alone: the
// same change asked for directly (PATCH minCu) and timed until the writer has it, so the ratio is
// what deciding costs on top of doing.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runLoadgen } from '../test/support/loadgen.js';
import { startPlatform, waitForClusterState } from '../test/support/platform.js';
import { waitUntil } from '../test/support/wait.js';
import { registerCleanup } from './lib/cleanup.js';
import { LatencyRecorder } from './lib/latency.js';
import { type BenchOptions, type BenchResult, type Row, round } from './lib/report.js';

const STEPS = 20;
const CU_RATE = 100;
/** Needs 4.5 CU to be served, 6.5 CU at the target utilization of 0.7. */
const STEP_RATE = 450;
const ENOUGH_CU = STEP_RATE / CU_RATE;
const IDLE_BEFORE_STEP_S = 1;
const LOAD_S = 3;

function row(label: string, recorder: LatencyRecorder): Row {
  return {
    case: label,
    samples: recorder.count,
    'p50 ms': round(recorder.percentile(50), 1),
    'p95 ms': round(recorder.percentile(95), 1),
    'max ms': round(recorder.percentile(100), 1),
  };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  options.progress('starting the platform', 0);
  const platform = await startPlatform({
    warmPoolSize: 1,
    env: { BOREALIS_CU_COMMANDS_PER_SECOND: String(CU_RATE) },
  });
  const scratch = mkdtempSync(join(options.dataDir, 'scale-up-'));
  const unregister = registerCleanup(() => platform.stop());
  try {
    options.progress('starting the platform', 1);
    const cluster = await platform.createCluster(
      { name: 'scale-up-bench', mode: 'serverless', minCu: 0.5, maxCu: 8, scaleDownWindowSeconds: 2 },
      { state: 'available', timeoutMs: 30_000 },
    );
    const atFloor = () =>
      waitUntil('the cluster back at 0.5 CU', 60_000, async () => {
        const writers = await platform.writersOf(cluster.id, ['attached']);
        return writers.length === 1 && writers[0]?.cu === 0.5;
      });

    const reaction = new LatencyRecorder();
    let failed = 0;
    let dropped = 0;
    for (let step = 0; step < STEPS; step++) {
      await atFloor();
      const summary = await runLoadgen(
        { port: cluster.endpoint.port, password: cluster.dataPassword },
        ['--pattern', 'custom', '--steps', `${IDLE_BEFORE_STEP_S}:0,${LOAD_S}:${STEP_RATE}`],
        join(scratch, `step-${step}.json`),
      );
      failed += summary.failed;
      dropped += summary.connections.dropped;
      const stepAtMs = summary.startedAtMs + IDLE_BEFORE_STEP_S * 1_000;
      const { rows } = await platform.sql.query(
        `SELECT "effectiveAt" FROM "ScalingEvent" WHERE "clusterId" = $1 AND "toCu" >= $2 AND "effectiveAt" >= $3 ORDER BY "effectiveAt" LIMIT 1`,
        [cluster.id, ENOUGH_CU, new Date(stepAtMs - 500)],
      );
      const effective = (rows[0] as { effectiveAt: Date } | undefined)?.effectiveAt;
      if (effective === undefined) throw new Error(`step ${step}: no scaling event reached ${ENOUGH_CU} CU`);
      reaction.record(Math.max(0, effective.getTime() - stepAtMs));
      options.progress('load steps', (step + 1) / STEPS);
    }

    // The peer: the same change asked for directly, timed until the writer has it.
    const direct = new LatencyRecorder();
    for (let step = 0; step < STEPS; step++) {
      await atFloor();
      const startedAt = performance.now();
      const raised = await platform.api.patch(`/v1/clusters/${cluster.id}`, { minCu: ENOUGH_CU });
      if (raised.status !== 200)
        throw new Error(`PATCH answered ${raised.status}: ${JSON.stringify(raised.body)}`);
      await waitUntil(
        `the writer at ${ENOUGH_CU} CU`,
        30_000,
        async () => (await platform.writersOf(cluster.id, ['attached']))[0]?.cu === ENOUGH_CU,
        5,
      );
      direct.record(performance.now() - startedAt);
      await waitForClusterState(platform.api, cluster.id, 'available', 10_000);
      const lowered = await platform.api.patch(`/v1/clusters/${cluster.id}`, { minCu: 0.5 });
      if (lowered.status !== 200) throw new Error(`PATCH answered ${lowered.status}`);
      options.progress('direct resizes (peer)', (step + 1) / STEPS);
    }
    const ratio = reaction.percentile(50) / Math.max(0.1, direct.percentile(50));
    return {
      name: 'autoscaling: scale-up reaction time',
      rows: [
        row(`step idle → ${STEP_RATE} commands/s, to ≥ ${ENOUGH_CU} CU serving`, reaction),
        row(`direct resize to ${ENOUGH_CU} CU by PATCH minCu (peer)`, direct),
      ],
      notes: [
        `${STEPS} steps of one serverless cluster (0.5–8 CU, window 2 s) through its endpoint by \`npm run loadgen\` (16 connections, GET/SET); one CU = ${CU_RATE} commands/s (BOREALIS_CU_COMMANDS_PER_SECOND), so the step needs ${ENOUGH_CU} CU. Each sample: the load generator's step time to the effect time of the first scaling event at ≥ ${ENOUGH_CU} CU.`,
        `The autoscaler's reaction p50 is ${round(ratio, 1)}× the direct resize's (same run). Target: p95 < 1,000 ms. Failed commands over all steps: ${failed}; dropped connections: ${dropped}.`,
      ],
    };
  } finally {
    unregister();
    rmSync(scratch, { recursive: true, force: true });
    await platform.stop();
  }
}
