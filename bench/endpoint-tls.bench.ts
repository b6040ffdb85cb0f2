// What TLS costs at a cluster endpoint (docs/adr/0012): redis-benchmark SET and GET at 50 clients,
// one at a time and pipelined 16 deep, through a real proxy to a data node over six storage nodes,
// plain and with `--tls` on the same `optional` endpoint. The peer in the same run is Redis 7 doing
// the same over its own plain and TLS ports (one process, no persistence): the two TLS/plain
// ratios side by side say whether our TLS costs more than a C server's. The proxy's CPU per
// request is reported for both, the figure that moves least with the machine's noise.
import { join } from 'node:path';
import { LOCAL_NAMES } from '../apps/control-plane/src/tls/certificate-plan.js';
import {
  ensurePlatformCertificates,
  platformCertificateFiles,
} from '../apps/control-plane/src/tls/platform-certificates.js';
import { CU_PER_WRITER_MAX } from '../libs/limits/src/index.js';
import { freePort, startProcess } from '../test/support/processes.js';
import { ProxyStack } from '../test/support/proxy.js';
import { scratchRun } from './lib/cleanup.js';
import { processesCpuMs } from './lib/process-cpu.js';
import {
  CASES,
  type Case,
  CLIENTS,
  type Connection,
  caseName,
  KEY_SPACE,
  PIPELINE,
  redisBenchmark,
  type TestResult,
  VALUE_BYTES,
} from './lib/redis-benchmark.js';
import { type BenchOptions, type BenchResult, type Row, round } from './lib/report.js';

/** Requests per run; each test runs four times (plain, TLS, TLS, plain). */
const REDIS_REQUESTS = 200_000;
const BOREALIS_REQUESTS = 20_000;
const PASSWORD = 'endpoint tls bench';
/** As in the data-node bench: the largest writer, with a budget that never throttles. */
const BENCH_CU_COMMANDS_PER_SECOND = 1_000_000;

interface Measured {
  result: TestResult;
  /** CPU µs per request of the process that terminates TLS: the proxy, or redis-server. */
  frontCpuUs: number;
}

async function measure(connection: Connection, requests: number, testCase: Case, frontPid: number) {
  const before = processesCpuMs([frontPid]);
  const result = await redisBenchmark(connection, requests, testCase);
  return { result, frontCpuUs: ((processesCpuMs([frontPid]) - before) * 1000) / requests };
}

/** Two runs of equal size as one: requests over the summed time, the mean of the rest. */
function combine(first: Measured, second: Measured): Measured {
  return {
    result: {
      test: first.result.test,
      requestsPerSecond: 2 / (1 / first.result.requestsPerSecond + 1 / second.result.requestsPerSecond),
      p50Ms: (first.result.p50Ms + second.result.p50Ms) / 2,
      p99Ms: (first.result.p99Ms + second.result.p99Ms) / 2,
    },
    frontCpuUs: (first.frontCpuUs + second.frontCpuUs) / 2,
  };
}

/**
 * Plain, TLS, TLS, plain (an ABBA order): the first run of a test warms what the next finds (the
 * SET test fills the keyspace the next one updates), and the machine drifts; run in this order
 * and summed, both sides see the same of each.
 */
async function plainAndTls(
  plain: Connection,
  tls: Connection,
  requests: number,
  testCase: Case,
  frontPid: number,
): Promise<{ plain: Measured; tls: Measured }> {
  const plainFirst = await measure(plain, requests, testCase, frontPid);
  const tlsFirst = await measure(tls, requests, testCase, frontPid);
  const tlsSecond = await measure(tls, requests, testCase, frontPid);
  const plainSecond = await measure(plain, requests, testCase, frontPid);
  return { plain: combine(plainFirst, plainSecond), tls: combine(tlsFirst, tlsSecond) };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const { root, stops, cleanup } = await scratchRun(options.dataDir, 'borealis-bench-endpoint-tls-');
  try {
    const certificates = join(root, 'tls');
    await ensurePlatformCertificates(certificates, LOCAL_NAMES, new Date());
    const files = platformCertificateFiles(certificates);
    const plain = { redis: [] as Measured[], borealis: [] as Measured[] };
    const tls = { redis: [] as Measured[], borealis: [] as Measured[] };

    options.progress('redis-server, plain and TLS ports', 0);
    const redisPort = await freePort();
    const redisTlsPort = await freePort();
    const redis = startProcess(
      'redis-server',
      [
        '--port',
        String(redisPort),
        '--tls-port',
        String(redisTlsPort),
        '--tls-cert-file',
        files.certFile,
        '--tls-key-file',
        files.keyFile,
        '--tls-ca-cert-file',
        files.caFile,
        '--tls-auth-clients',
        'no',
        '--bind',
        '127.0.0.1',
        '--dir',
        root,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { env: process.env },
    );
    stops.push(async () => redis.kill());
    await redis.waitFor(/Ready to accept connections/, 20_000);
    const redisPid = redis.child.pid as number;
    for (const [index, testCase] of CASES.entries()) {
      options.progress('redis-server, plain and TLS ports', index / CASES.length);
      const measured = await plainAndTls(
        { port: redisPort },
        { port: redisTlsPort, tlsCaFile: files.caFile },
        REDIS_REQUESTS,
        testCase,
        redisPid,
      );
      plain.redis.push(measured.plain);
      tls.redis.push(measured.tls);
    }
    options.progress('redis-server, plain and TLS ports', 1);
    redis.kill();

    options.progress('proxy + data node + 6 storage nodes', 0);
    const stack = new ProxyStack({
      writers: [
        {
          id: 'tls-bench',
          cluster: 'endpoint-tls-bench',
          cu: CU_PER_WRITER_MAX,
          env: { DATA_NODE_CU_COMMANDS_PER_SECOND: String(BENCH_CU_COMMANDS_PER_SECOND) },
        },
      ],
      writerPassword: 'endpoint tls bench writer',
      proxyEnv: { BOREALIS_TLS_CERT_FILE: files.certFile, BOREALIS_TLS_KEY_FILE: files.keyFile },
    });
    stops.push(() => stack.stop());
    await stack.start();
    const route = {
      ...(await stack.newRoute({ password: PASSWORD, name: 'tls-bench' })),
      tls: 'optional' as const,
    };
    await stack.publish(route);
    const proxyPid = stack.proxy.pid;
    for (const [index, testCase] of CASES.entries()) {
      options.progress('proxy + data node + 6 storage nodes', index / CASES.length);
      const measured = await plainAndTls(
        { port: route.port, password: PASSWORD },
        { port: route.port, password: PASSWORD, tlsCaFile: files.caFile },
        BOREALIS_REQUESTS,
        testCase,
        proxyPid,
      );
      plain.borealis.push(measured.plain);
      tls.borealis.push(measured.tls);
    }
    options.progress('proxy + data node + 6 storage nodes', 1);
    const handshakeFailures = await stack.proxy.metric('borealis_proxy_tls_handshake_failures_total');

    const rows: Row[] = [];
    for (const [index, testCase] of CASES.entries()) {
      const borealisPlain = plain.borealis[index] as Measured;
      const borealisTls = tls.borealis[index] as Measured;
      const redisPlain = plain.redis[index] as Measured;
      const redisTls = tls.redis[index] as Measured;
      rows.push({
        test: caseName(testCase),
        'Borealis plain req/s': Math.round(borealisPlain.result.requestsPerSecond),
        'Borealis TLS req/s': Math.round(borealisTls.result.requestsPerSecond),
        'Borealis TLS / plain': round(
          borealisTls.result.requestsPerSecond / borealisPlain.result.requestsPerSecond,
          3,
        ),
        'Redis TLS / plain': round(
          redisTls.result.requestsPerSecond / redisPlain.result.requestsPerSecond,
          3,
        ),
        'Borealis p50 ms plain / TLS': `${borealisPlain.result.p50Ms} / ${borealisTls.result.p50Ms}`,
        'proxy CPU µs per request plain / TLS': `${Math.round(borealisPlain.frontCpuUs)} / ${Math.round(borealisTls.frontCpuUs)}`,
        'Redis CPU µs per request plain / TLS': `${round(redisPlain.frontCpuUs, 1)} / ${round(redisTls.frontCpuUs, 1)}`,
      });
    }
    return {
      name: 'endpoint-tls',
      rows,
      notes: [
        `\`redis-benchmark -t <test> -c ${CLIENTS} -r ${KEY_SPACE} -d ${VALUE_BYTES} [-P ${PIPELINE}] --csv [--tls --cacert ca.pem]\`, one test at a time, four runs each in the order plain, TLS, TLS, plain (both sides see the same warm-up and drift), summed per side: ${BOREALIS_REQUESTS.toLocaleString('en-US')} requests per run through the Borealis endpoint, ${REDIS_REQUESTS.toLocaleString('en-US')} against Redis.`,
        `Borealis: one proxy (TLS 1.3, a P-256 certificate from the platform's local CA, as \`npm start\` makes it) in front of one data node at ${CU_PER_WRITER_MAX} CU with a budget that never throttles, over six storage nodes. Redis 7: one process with a plain and a TLS port and the same certificate, no persistence, so that its ratio is TLS alone.`,
        `redis-benchmark opens its ${CLIENTS} connections once per test, so the handshake cost is amortised; the rows show the cost of encrypting the stream. CPU µs per request: user + system CPU time of the process that terminates TLS (the proxy; redis-server) during the test, over its requests.`,
        "Through the proxy, requests/s are bound by the data node and the six storage nodes behind it, which vary from one run to the next by more than TLS costs (a TLS/plain ratio above 1 is that noise); the proxy's CPU per request is the figure that shows what TLS costs.",
        `TLS handshake failures at the proxy over the run: ${handshakeFailures}. Run with \`npm run bench -- endpoint-tls\`.`,
      ],
    };
  } finally {
    await cleanup();
  }
}
