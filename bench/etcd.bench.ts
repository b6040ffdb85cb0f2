// Durable commits on a real three-member etcd cluster, driven from Node through etcd's v3 JSON
// gateway: the peer that Borealis's quorum store is compared against.
import { randomBytes } from 'node:crypto';
import { runCommand } from './lib/command.js';
import { driveClosedLoop } from './lib/drive.js';
import { type EtcdCluster, EtcdUnavailableError, etcdEnv, startEtcdCluster } from './lib/etcd.js';
import {
  b64,
  checkEtcdRoundTrip,
  EtcdGateway,
  etcdPut,
  etcdTxnPuts,
  etcdWalFsyncs,
} from './lib/etcd-gateway.js';
import { type BenchOptions, type BenchResult, type Row, round } from './lib/report.js';

const NAME = 'etcd';
const CONCURRENCY = 64;
const WARMUP_MS = 2_000;
const DURATION_MS = 10_000;
const KEYS = 10_000;
const VALUE_BYTES = 100;
const BATCH = 64;
/** `etcdctl check perf` runs for a fixed 60 s whatever the load; this bounds it. */
const CHECK_PERF_LOAD = 'm';
const CHECK_PERF_TIMEOUT_MS = 90_000;

function randomKey(): number {
  return Math.floor(Math.random() * KEYS);
}

async function measure(
  gateway: EtcdGateway,
  batch: number,
  keys: string[],
  value: string,
  options: BenchOptions,
): Promise<Row> {
  const label = batch === 1 ? 'etcd: put, 1 write per commit' : `etcd: txn, ${batch} writes per commit`;
  const operation =
    batch === 1
      ? (worker: number) => etcdPut(gateway, worker, keys[randomKey()] as string, value)
      : (worker: number) => {
          // Consecutive keys: a txn may not put the same key twice.
          const first = randomKey();
          const batchKeys = Array.from({ length: batch }, (_, j) => keys[(first + j) % KEYS] as string);
          return etcdTxnPuts(gateway, worker, batchKeys, value);
        };
  const fsyncsBefore = await etcdWalFsyncs(gateway.endpoints);
  const started = performance.now();
  const stats = await driveClosedLoop({
    concurrency: CONCURRENCY,
    warmupMs: WARMUP_MS,
    durationMs: DURATION_MS,
    operation,
    onProgress: (elapsed, total) => options.progress(label, elapsed / total),
  });
  options.progress(label, 1);
  // Over the whole run (warm-up included): the load is steady, so the rates hold for the window too.
  const elapsedS = (performance.now() - started) / 1000;
  const fsyncsAfter = await etcdWalFsyncs(gateway.endpoints);
  const fsyncs = fsyncsAfter.count - fsyncsBefore.count;
  const fsyncsPerSecPerMember = fsyncs / gateway.endpoints.length / elapsedS;
  return {
    shape: batch === 1 ? 'put (1 write per commit)' : `txn (${batch} puts per commit)`,
    'writes/commit': batch,
    'commits/s': Math.round(stats.opsPerSec),
    'writes/s': Math.round(stats.opsPerSec * batch),
    'p50 commit ms': round(stats.p50Ms, 2),
    'p99 commit ms': round(stats.p99Ms, 2),
    'commits measured': stats.count,
    'WAL fsyncs/s per member': Math.round(fsyncsPerSecPerMember),
    'mean fsync ms': round(
      fsyncs > 0 ? ((fsyncsAfter.seconds - fsyncsBefore.seconds) * 1000) / fsyncs : 0,
      2,
    ),
    'CPU busy %': Math.round(stats.cpuBusyPercent),
    errors: stats.errors,
  };
}

/** `etcdctl check perf`'s verdict lines, as one note. */
async function checkPerf(cluster: EtcdCluster, options: BenchOptions): Promise<string> {
  const command = `etcdctl check perf --load=${CHECK_PERF_LOAD}`;
  if (!cluster.etcdctl) return `${command}: not run (etcdctl is not installed).`;
  if (process.env.BENCH_ETCD_CHECK_PERF === '0') return `${command}: not run (BENCH_ETCD_CHECK_PERF=0).`;
  const label = `etcd: ${command} (60 s)`;
  const started = Date.now();
  const ticker = setInterval(
    () => options.progress(label, Math.min((Date.now() - started) / 60_000, 0.99)),
    250,
  );
  try {
    const endpoints = cluster.endpoints.map((endpoint) => new URL(endpoint).host).join(',');
    const { code, output } = await runCommand(
      cluster.etcdctl,
      [`--endpoints=${endpoints}`, 'check', 'perf', `--load=${CHECK_PERF_LOAD}`],
      { timeoutMs: CHECK_PERF_TIMEOUT_MS, env: { ...etcdEnv(), ETCDCTL_API: '3' } },
    );
    const verdict = output
      .split(/[\r\n]+/)
      .map((line) => line.trim())
      .filter((line) => /^(PASS|FAIL)\b/.test(line));
    if (code === null)
      return `${command}: stopped after ${CHECK_PERF_TIMEOUT_MS / 1000} s without a verdict.`;
    if (verdict.length === 0)
      return `${command}: exit ${code}, no verdict: ${output.trim().split('\n').slice(-3).join(' / ')}`;
    return `${command} (same cluster, after the runs above): ${verdict.join('; ')}.`;
  } finally {
    clearInterval(ticker);
    options.progress(label, 1);
  }
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  let cluster: EtcdCluster;
  try {
    cluster = await startEtcdCluster({ parentDir: options.dataDir, log: options.log });
  } catch (error) {
    if (error instanceof EtcdUnavailableError) {
      return { name: NAME, rows: [], notes: [], skipped: error.message };
    }
    throw error;
  }
  const gateway = new EtcdGateway(cluster.endpoints);
  try {
    const keys = Array.from({ length: KEYS }, (_, i) => b64(`bench/${String(i).padStart(5, '0')}`));
    const value = randomBytes(VALUE_BYTES).toString('base64');
    await checkEtcdRoundTrip(gateway, keys[0] as string, value);
    const rows = [
      await measure(gateway, 1, keys, value, options),
      await measure(gateway, BATCH, keys, value, options),
    ];
    gateway.close();
    const perf = await checkPerf(cluster, options);
    return {
      name: NAME,
      rows,
      notes: [
        `etcd ${cluster.version} (Debian etcd-server), 3 members on 127.0.0.1, default durability: ` +
          'each member fsyncs its WAL for every batch of entries before the leader acknowledges.',
        `Client: Node.js through the v3 JSON gateway (\`POST /v3/kv/put\`, \`/v3/kv/txn\`) over HTTP/1.1 keep-alive, ` +
          `${CONCURRENCY} requests in flight spread evenly over the 3 members (followers forward to the leader); ` +
          `${WARMUP_MS / 1000} s warm-up, then ${DURATION_MS / 1000} s measured per shape.`,
        `${VALUE_BYTES}-byte values over ${KEYS.toLocaleString('en-US')} distinct keys; a txn puts ${BATCH} consecutive keys. ` +
          'Commit latency is the HTTP round trip of one request (one durable commit).',
        'The client and the three members share this machine: its cores and its one disk. ' +
          '"CPU busy %" is all cores, all processes, over the measured window; WAL fsync figures are ' +
          'averaged over the members, from their own metrics (etcd_disk_wal_fsync_duration_seconds).',
        'Not measured here: the gateway translates JSON to gRPC inside each member, which costs CPU that a ' +
          'native gRPC client would not spend.',
        perf,
      ],
    };
  } finally {
    gateway.close();
    await cluster.stop();
  }
}
