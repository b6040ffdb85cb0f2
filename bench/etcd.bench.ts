// Durable commits on a real three-member etcd cluster, driven from Node through etcd's v3 JSON
// gateway: the peer that Borealis's quorum store is compared against.
import { randomBytes } from 'node:crypto';
import { Agent, get, request } from 'node:http';
import { driveClosedLoop } from './lib/drive.js';
import { type EtcdCluster, EtcdUnavailableError, etcdEnv, runCommand, startEtcdCluster } from './lib/etcd.js';
import type { BenchOptions, BenchResult, Row } from './lib/report.js';

const NAME = 'etcd';
const CONCURRENCY = 64;
const WARMUP_MS = 2_000;
const DURATION_MS = 10_000;
const KEYS = 10_000;
const VALUE_BYTES = 100;
const BATCH = 64;
const REQUEST_TIMEOUT_MS = 10_000;
/** `etcdctl check perf` runs for a fixed 60 s whatever the load; this bounds it. */
const CHECK_PERF_LOAD = 'm';
const CHECK_PERF_TIMEOUT_MS = 90_000;

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A keep-alive HTTP/1.1 client of the gateway, one agent per member. */
class Gateway {
  private readonly members: { host: string; port: number; agent: Agent }[];

  constructor(readonly endpoints: string[]) {
    this.members = endpoints.map((endpoint) => {
      const url = new URL(endpoint);
      return { host: url.hostname, port: Number(url.port), agent: new Agent({ keepAlive: true }) };
    });
  }

  /** POSTs `body` to member `member % members` and resolves to the parsed 200 response. */
  post(member: number, path: string, body: Buffer): Promise<Record<string, unknown>> {
    const target = this.members[member % this.members.length];
    if (!target) throw new Error('no etcd endpoint');
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: target.host,
          port: target.port,
          agent: target.agent,
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json', 'content-length': body.length },
          timeout: REQUEST_TIMEOUT_MS,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (response.statusCode !== 200) {
              reject(
                new Error(
                  `${path} on ${target.host}:${target.port}: HTTP ${response.statusCode} ${text.slice(0, 200)}`,
                ),
              );
              return;
            }
            try {
              resolve(JSON.parse(text) as Record<string, unknown>);
            } catch {
              reject(new Error(`${path}: not JSON: ${text.slice(0, 200)}`));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${path}: no answer within ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    for (const { agent } of this.members) agent.destroy();
  }
}

/** The JSON of one put of key `i` (base64 key and value, as the gateway wants bytes). */
function putJson(keys: string[], value: string, i: number): string {
  return `{"key":"${keys[i % KEYS]}","value":"${value}"}`;
}

/** WAL fsyncs so far, summed over the members (from their Prometheus metrics on the client port). */
async function walFsyncs(endpoints: string[]): Promise<{ count: number; seconds: number }> {
  const texts = await Promise.all(endpoints.map(fetchText));
  let count = 0;
  let seconds = 0;
  for (const text of texts) {
    count += Number(/^etcd_disk_wal_fsync_duration_seconds_count (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
    seconds += Number(/^etcd_disk_wal_fsync_duration_seconds_sum (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
  }
  return { count, seconds };
}

function fetchText(endpoint: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(`${endpoint}/metrics`, { timeout: REQUEST_TIMEOUT_MS }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('error', reject);
      response.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`${endpoint}/metrics: no answer`)));
    req.on('error', reject);
  });
}

function randomKey(): number {
  return Math.floor(Math.random() * KEYS);
}

async function checkRoundTrip(gateway: Gateway, keys: string[], value: string): Promise<void> {
  await gateway.post(0, '/v3/kv/put', Buffer.from(putJson(keys, value, 0)));
  const read = await gateway.post(2, '/v3/kv/range', Buffer.from(`{"key":"${keys[0]}"}`));
  const kvs = read.kvs as { value?: string }[] | undefined;
  if (kvs?.[0]?.value !== value)
    throw new Error(`a put through the gateway did not read back: ${JSON.stringify(read)}`);
}

async function measure(
  gateway: Gateway,
  batch: number,
  keys: string[],
  value: string,
  options: BenchOptions,
): Promise<Row> {
  const label = batch === 1 ? 'etcd: put, 1 write per commit' : `etcd: txn, ${batch} writes per commit`;
  const operation =
    batch === 1
      ? async (worker: number) => {
          await gateway.post(worker, '/v3/kv/put', Buffer.from(putJson(keys, value, randomKey())));
        }
      : async (worker: number) => {
          // Consecutive keys: a txn may not put the same key twice.
          const first = randomKey();
          const puts = Array.from(
            { length: batch },
            (_, j) => `{"requestPut":${putJson(keys, value, first + j)}}`,
          );
          const reply = await gateway.post(
            worker,
            '/v3/kv/txn',
            Buffer.from(`{"success":[${puts.join(',')}]}`),
          );
          if (reply.succeeded !== true)
            throw new Error(`txn did not succeed: ${JSON.stringify(reply).slice(0, 200)}`);
        };
  const fsyncsBefore = await walFsyncs(gateway.endpoints);
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
  const fsyncsAfter = await walFsyncs(gateway.endpoints);
  const fsyncs = fsyncsAfter.count - fsyncsBefore.count;
  const fsyncsPerSecPerMember = fsyncs / gateway.endpoints.length / elapsedS;
  return {
    shape: batch === 1 ? 'put (1 write per commit)' : `txn (${batch} puts per commit)`,
    'writes/commit': batch,
    'commits/s': Math.round(stats.opsPerSec),
    'writes/s': Math.round(stats.opsPerSec * batch),
    'p50 commit ms': round2(stats.p50Ms),
    'p99 commit ms': round2(stats.p99Ms),
    'commits measured': stats.count,
    'WAL fsyncs/s per member': Math.round(fsyncsPerSecPerMember),
    'mean fsync ms': round2(fsyncs > 0 ? ((fsyncsAfter.seconds - fsyncsBefore.seconds) * 1000) / fsyncs : 0),
    'CPU busy %': Math.round(stats.cpuBusyPercent),
    errors: stats.errors,
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
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
  const gateway = new Gateway(cluster.endpoints);
  try {
    const keys = Array.from({ length: KEYS }, (_, i) => b64(`bench/${String(i).padStart(5, '0')}`));
    const value = randomBytes(VALUE_BYTES).toString('base64');
    await checkRoundTrip(gateway, keys, value);
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
