// Cold resumes through a cluster's endpoint: the whole platform (control plane, six storage
// nodes, proxy, warm pool), one serverless cluster paused 100 times; each time a new client
// connects, authenticates and sends GET, and the time from connect to its first reply is the
// resume latency the client sees. The peer in the same run is the same client work against the
// awake cluster. Where the time goes comes from the client (connect, AUTH) and the control
// plane's records (the resume as a whole, and the attach within it).
import { Redis } from 'ioredis';
import { startPlatform, waitForClusterState } from '../test/support/platform.js';
import { registerCleanup } from './lib/cleanup.js';
import { LatencyRecorder } from './lib/latency.js';
import { type BenchOptions, type BenchResult, type Row, round } from './lib/report.js';

const RESUMES = 100;
const AWAKE_SAMPLES = 100;

interface Timing {
  /** TCP connection and authentication (ioredis's HELLO with AUTH), answered by the proxy alone. */
  authMs: number;
  firstReplyMs: number;
}

/** A new client: connect and authenticate, then GET; milliseconds from the start to each step's end. */
async function timedClient(port: number, password: string): Promise<Timing> {
  const started = performance.now();
  const client = new Redis({
    host: '127.0.0.1',
    port,
    password,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    // No INFO before the first command: the GET is what waits for the resume.
    enableReadyCheck: false,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const authed = performance.now();
    const value = await client.get('resume:key');
    if (value !== 'present') throw new Error(`GET after resume answered ${JSON.stringify(value)}`);
    return { authMs: authed - started, firstReplyMs: performance.now() - started };
  } finally {
    client.disconnect();
  }
}

function summarize(label: string, samples: Timing[]): Row {
  const pick = (field: keyof Timing) => {
    const recorder = new LatencyRecorder();
    for (const sample of samples) recorder.record(sample[field]);
    return recorder;
  };
  const firstReply = pick('firstReplyMs');
  return {
    case: label,
    samples: samples.length,
    'connect→reply p50 ms': round(firstReply.percentile(50), 1),
    'connect→reply p99 ms': round(firstReply.percentile(99), 1),
    'of which connect+AUTH, p50 ms': round(pick('authMs').percentile(50), 1),
  };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  options.progress('starting the platform', 0);
  const platform = await startPlatform({ warmPoolSize: 2 });
  const unregister = registerCleanup(() => platform.stop());
  try {
    options.progress('starting the platform', 1);
    const created = await platform.api.post('/v1/clusters', {
      name: 'resume-bench',
      mode: 'serverless',
      maxCu: 2,
    });
    if (created.status !== 201)
      throw new Error(`create answered ${created.status}: ${JSON.stringify(created.body)}`);
    const { id, dataPassword: password } = created.body as { id: string; dataPassword: string };
    const port = (created.body as { endpoint: { port: number } }).endpoint.port;
    await waitForClusterState(platform.api, id, 'available', 30_000);
    const setup = new Redis({
      host: '127.0.0.1',
      port,
      password,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    setup.on('error', (error: Error) => options.log(`setup client: ${error.message}`));
    await setup.connect();
    await setup.set('resume:key', 'present');
    setup.disconnect();

    const awake: Timing[] = [];
    for (let index = 0; index < AWAKE_SAMPLES; index++) {
      awake.push(await timedClient(port, password));
      options.progress('awake cluster (peer)', (index + 1) / AWAKE_SAMPLES);
    }

    const cold: Timing[] = [];
    for (let index = 0; index < RESUMES; index++) {
      const paused = await platform.api.post(`/v1/clusters/${id}/pause`);
      if (paused.status !== 200 || paused.body.state !== 'paused') {
        throw new Error(`pause answered ${paused.status}: ${JSON.stringify(paused.body)}`);
      }
      cold.push(await timedClient(port, password));
      await waitForClusterState(platform.api, id, 'available', 10_000);
      options.progress('cold resumes', (index + 1) / RESUMES);
    }

    const actions = (await platform.api.get(`/v1/fleet/actions?clusterId=${id}&limit=200`)).body.items as {
      action: string;
      reason: string;
      durationMs: number;
    }[];
    const attach = new LatencyRecorder();
    for (const action of actions) {
      if (action.action === 'attach' && /while it was paused/.test(action.reason))
        attach.record(action.durationMs);
    }
    // The control plane's side of each resume, from the wake to the route that opens the cluster.
    const { rows } = await platform.sql.query(
      `SELECT "durationMs" FROM "ScalingEvent" WHERE "clusterId" = $1 AND reason LIKE '%while it was paused%'`,
      [id],
    );
    const controlPlane = new LatencyRecorder();
    for (const row of rows as { durationMs: number }[]) controlPlane.record(row.durationMs);
    const coldRow = summarize('cold resume (paused cluster, warm pool)', cold);
    const awakeRow = summarize('awake cluster (peer)', awake);
    const ratio =
      Number(coldRow['connect→reply p50 ms']) / Math.max(0.1, Number(awakeRow['connect→reply p50 ms']));
    const p50 = (recorder: LatencyRecorder) => round(recorder.percentile(50), 1);
    const breakdown = [
      `connect and AUTH ${coldRow['of which connect+AUTH, p50 ms']} ms (answered by the proxy alone: no writer involved)`,
      `the control plane's resume ${p50(controlPlane)} ms (p99 ${round(controlPlane.percentile(99), 1)} ms, ${controlPlane.count} resumes: state changes in PostgreSQL, the route published), of which the attach of a warm-pool data node ${p50(attach)} ms (p99 ${round(attach.percentile(99), 1)} ms: it connects to six storage nodes and opens its RESP port)`,
      "the rest: the wake and the route through Redis, the proxy's connection to the new writer (AUTH, session state) and the first read from three storage replicas",
    ];
    return {
      name: 'resume: connect to first reply on a paused cluster',
      rows: [coldRow, awakeRow],
      notes: [
        `${RESUMES} pause/resume cycles of one serverless cluster through its endpoint; each sample is a new ioredis client: connect, AUTH, GET of a key written before the first pause.`,
        `cold p50 is ${round(ratio, 1)}× the awake cluster's (same client work, same run). Targets with the warm pool: p50 < 50 ms, p99 < 250 ms.`,
        `where the time goes, p50: ${breakdown.join('; ')}.`,
      ],
    };
  } finally {
    unregister();
    await platform.stop();
  }
}
