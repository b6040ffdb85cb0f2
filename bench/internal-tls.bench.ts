// What internal TLS costs (docs/adr/0014): durable batch-1 commits on six real storage-node
// processes with fleet authentication, over plain TCP and then over TLS 1.3, in the same run: a
// fresh fleet for each, one after the other, the same writers, driver, in-flight count and value
// size. Reports commits/s and the CPU one commit costs the storage nodes and the writers.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { QuorumClient } from '../libs/storage-client/src/index.js';
import { type StorageFleet, startStorageFleet } from '../test/support/storage-fleet.js';
import { registerCleanup } from './lib/cleanup.js';
import { driveClosedLoop } from './lib/drive.js';
import { ownCpuMs, processesCpuMs } from './lib/process-cpu.js';
import { type BenchOptions, type BenchResult, type Row, round } from './lib/report.js';

const NAME = 'internal-tls';
const CONCURRENCY = 64;
const WARMUP_MS = 2_000;
const DURATION_MS = 8_000;
const VALUE_BYTES = 100;
const WRITERS = 3;
const VOLUME = 'bench-tls';

interface Measured {
  transport: 'plain' | 'tls';
  row: Row;
  commitsPerSec: number;
  serverCpuMsPerCommit: number;
  clientCpuMsPerCommit: number;
}

async function measure(
  options: BenchOptions,
  transport: 'plain' | 'tls',
  value: Uint8Array,
): Promise<Measured> {
  const dataRoot = await mkdtemp(join(options.dataDir, 'borealis-bench-internal-tls-'));
  let fleet: StorageFleet | undefined;
  const clients: QuorumClient[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      unregister();
      await Promise.all(clients.map((client) => client.close()));
      await fleet?.stop();
      await rm(dataRoot, { recursive: true, force: true });
    })();
    return stopping;
  };
  const unregister = registerCleanup(stop);
  try {
    options.log(`starting 6 storage nodes (${transport}) ...`);
    fleet = await startStorageFleet({ dataRoot, secured: true, tls: transport === 'tls' });
    const started = fleet;
    const tag = `${process.pid}-${Date.now()}`;
    for (let index = 0; index < WRITERS; index++) {
      clients.push(
        new QuorumClient({
          writerId: `bench-${transport}-w${index}-${tag}`,
          coordinatorId: 7 + index,
          nodes: started.nodes,
          credential: started.credential(VOLUME, { coordinatorId: 7 + index }),
          ...(started.tls !== null ? { tls: started.tls.client } : {}),
        }),
      );
    }
    await Promise.all(clients.map((client) => client.waitForNodes(6, 15_000)));
    const pids = started.nodes.map((_, index) => started.process(index).child.pid as number);
    const counters = new Array<number>(CONCURRENCY).fill(0);
    const sample = () => ({ at: performance.now(), server: processesCpuMs(pids), client: ownCpuMs() });
    let windowStart: ReturnType<typeof sample> | undefined;
    const timer = setTimeout(() => {
      windowStart = sample();
    }, WARMUP_MS);
    const label = `storage links over ${transport === 'tls' ? 'TLS 1.3' : 'plain TCP'}: batch 1 inserts`;
    let stats: Awaited<ReturnType<typeof driveClosedLoop>>;
    try {
      stats = await driveClosedLoop({
        concurrency: CONCURRENCY,
        warmupMs: WARMUP_MS,
        durationMs: DURATION_MS,
        operation: async (worker) => {
          const key = `ins/${tag}/${worker}/${counters[worker]++}`;
          const outcome = await (clients[worker % WRITERS] as QuorumClient).commit(
            VOLUME,
            [{ key, seq: 0 }],
            [{ key, value }],
          );
          if (outcome.outcome !== 'committed') throw new Error(`insert aborted: ${outcome.reason}`);
        },
        onProgress: (elapsed, total) => options.progress(label, elapsed / total),
      });
    } finally {
      clearTimeout(timer);
      options.progress(label, 1);
    }
    const end = sample();
    const start = windowStart ?? end;
    const elapsedS = (end.at - start.at) / 1000;
    const commits = stats.opsPerSec * elapsedS;
    const serverCpuMsPerCommit = commits > 0 ? (end.server - start.server) / commits : 0;
    const clientCpuMsPerCommit = commits > 0 ? (end.client - start.client) / commits : 0;
    return {
      transport,
      commitsPerSec: stats.opsPerSec,
      serverCpuMsPerCommit,
      clientCpuMsPerCommit,
      row: {
        'storage links': transport === 'tls' ? 'TLS 1.3 + HMAC handshake' : 'plain TCP + HMAC handshake',
        shape: 'batch 1: insert of a new key',
        'in flight': CONCURRENCY,
        'commits/s': Math.round(stats.opsPerSec),
        'p50 ms': round(stats.p50Ms, 2),
        'p99 ms': round(stats.p99Ms, 2),
        errors: stats.errors,
        'server CPU ms per commit': round(serverCpuMsPerCommit, 2),
        'client CPU ms per commit': round(clientCpuMsPerCommit, 2),
        'machine CPU busy %': Math.round(stats.cpuBusyPercent),
      },
    };
  } finally {
    await stop();
  }
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const value = new Uint8Array(randomBytes(VALUE_BYTES));
  const loadAtStart = loadavg()[0] ?? 0;
  const plain = await measure(options, 'plain', value);
  const tls = await measure(options, 'tls', value);
  const loadAtEnd = loadavg()[0] ?? 0;
  const ratio = (ours: number, theirs: number) => (theirs > 0 ? (ours / theirs).toFixed(2) : 'n/a');
  return {
    name: `${NAME}: storage links over TLS 1.3 against plain TCP`,
    rows: [plain.row, tls.row],
    notes: [
      `TLS over plain: commits/s × ${ratio(tls.commitsPerSec, plain.commitsPerSec)}, server CPU per commit × ` +
        `${ratio(tls.serverCpuMsPerCommit, plain.serverCpuMsPerCommit)}, client CPU per commit × ` +
        `${ratio(tls.clientCpuMsPerCommit, plain.clientCpuMsPerCommit)}.`,
      `6 storage-node processes on 127.0.0.1 with fleet authentication (a fresh fleet per row, plain first, ` +
        `then with BOREALIS_INTERNAL_TLS_* files: TLS 1.3, ECDSA P-256 certificate), ${WRITERS} QuorumClient ` +
        `writers in this process holding credentials, ${VALUE_BYTES}-byte values, closed loop of ` +
        `${CONCURRENCY} commits in flight, ${WARMUP_MS / 1000} s warm-up then ${DURATION_MS / 1000} s measured. ` +
        'A commit is PROPOSE to all 6 and 6 durable votes (else 4, then ACCEPT to all 6 and 4 durable ' +
        'acceptances), then DECIDED: ' +
        'every message crosses a TLS link, and peers exchange decisions and repair pulls over TLS too.',
      '"server CPU ms per commit" is the six nodes\' CPU time over the window\'s commits, "client CPU ms per ' +
        'commit" this process\'s (the writers): what one commit costs whatever else runs on the machine.',
      `Load average (1 min): ${Math.round(loadAtStart * 10) / 10} when this bench started, ` +
        `${Math.round(loadAtEnd * 10) / 10} when it ended.`,
    ],
  };
}
