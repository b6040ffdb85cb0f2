// One way of snapshotting a large state, measured in a process of its own (bench/snapshot.bench.ts
// starts one per state and way, so that neither way runs on a heap the other left behind):
//   node --expose-gc snapshot-way.js <keys> <before|now> <directory>
// prints the measurement as JSON on its last line.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { encodeSnapshot, encodeSnapshotChunks } from '../../apps/storage-node/src/record-codec.js';
import { DurableLog } from '../../apps/storage-node/src/storage/durable-log.js';
import { type ReplicaSnapshot, StorageReplica } from '../../libs/quorum/src/index.js';
import { LatencyRecorder } from './latency.js';

export type SnapshotWay = 'before' | 'now';

/** Forgotten txids per key: about what the 20-round run of docs/performance.md held. */
export const FORGOTTEN_PER_KEY = 0.7;
const VALUE = new Uint8Array(100).fill(120);
const MEMBERS = ['s1', 's2', 's3', 's4', 's5', 's6'];

/** V8's full collection: this script runs with --expose-gc. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A replica holding `keys` keys of 100 bytes and forgotten txids, as a node's state after a long load. */
export function largeReplica(keys: number): StorageReplica {
  const forgottenCount = Math.round(keys * FORGOTTEN_PER_KEY);
  const snapshot: ReplicaSnapshot = {
    volumes: [
      {
        name: 'bench',
        keys: Array.from({ length: keys }, (_, i) => [
          `key:${String(i).padStart(12, '0')}`,
          { seq: i + 1, txid: `dn1-bench.${i}`, value: VALUE, pendingTxid: null },
        ]),
        transactions: [],
        unconfirmed: [],
        // Four writers, each forgotten in counter order in runs of a millisecond.
        forgotten: Array.from({ length: forgottenCount }, (_, i) => [
          `dn${i % 4}-bench.${1_000_000 + Math.floor(i / 4)}`,
          1_000 + Math.floor(i / 400),
        ]),
      },
    ],
    droppedVolumes: [],
  };
  const replica = new StorageReplica({ members: MEMBERS, selfIndex: 0 });
  replica.restore(snapshot);
  return replica;
}

/**
 * A neighbour on the same disk, in a process of its own (as the other storage nodes are): 128-byte
 * appends, each fdatasynced, until its stdin closes; then it prints each one's milliseconds.
 */
const NEIGHBOUR = `
const { openSync, writeSync, fdatasyncSync, closeSync } = require('node:fs');
const fd = openSync(process.argv[1], 'w');
const bytes = Buffer.alloc(128, 1);
const latencies = [];
let position = 0;
let stopping = false;
process.stdin.on('end', () => { stopping = true; }).resume();
function batch() {
  // A few appends per turn, so that stdin's end is seen.
  for (let i = 0; i < 8 && !stopping; i++) {
    const started = process.hrtime.bigint();
    writeSync(fd, bytes, 0, bytes.length, position);
    fdatasyncSync(fd);
    latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
    position = (position + bytes.length) % (64 * 1024 * 1024);
  }
  if (stopping) {
    closeSync(fd);
    process.stdout.write(JSON.stringify(latencies));
  } else setImmediate(batch);
}
batch();
`;

interface Neighbour {
  stop(): Promise<number[]>;
}

function startNeighbour(path: string): Neighbour {
  // Ends with this process: its stdin closes then.
  const child = spawn(process.execPath, ['-e', NEIGHBOUR, path], { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    output += text;
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`the fsync neighbour exited with ${code}`)),
    );
  });
  return {
    stop: async () => {
      child.stdin.end();
      await exited;
      return JSON.parse(output) as number[];
    },
  };
}

export interface Measured {
  stallMs: number;
  gcPauseMs: number;
  gcPauseMaxMs: number;
  cpuS: number;
  wallS: number;
  megabytes: number;
  fsyncs: number;
  fsyncP99Ms: number;
  fsyncMaxMs: number;
}

/** Runs `write` (one snapshot) with the loop observed and the neighbour fsyncing beside it. */
async function measure(dir: string, write: (log: DurableLog) => Promise<void>): Promise<Measured> {
  const logDir = join(dir, 'log');
  rmSync(logDir, { recursive: true, force: true });
  const { log } = await DurableLog.open(logDir, { onRecord: () => undefined });
  await log.append([new Uint8Array(16)]);
  collectGarbage();
  const neighbour = startNeighbour(join(dir, 'neighbour.wal'));
  let gcPauseMs = 0;
  let gcPauseMaxMs = 0;
  const collections = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcPauseMs += entry.duration;
      gcPauseMaxMs = Math.max(gcPauseMaxMs, entry.duration);
    }
  });
  collections.observe({ entryTypes: ['gc'] });
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  // The histogram records a delay from its timer's second firing on: a turn held before that is
  // not seen. Wait for a few firings (not a synchronisation: the snapshot has not begun).
  await new Promise((resolve) => setTimeout(resolve, 30));
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  await write(log);
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  loop.disable();
  // Entries of collections that ended in the window are delivered in a later turn.
  await new Promise((resolve) => setImmediate(resolve));
  collections.disconnect();
  const latencies = new LatencyRecorder();
  for (const latencyMs of await neighbour.stop()) latencies.record(latencyMs);
  const megabytes = log.stats().diskBytes / 1e6;
  await log.close();
  return {
    stallMs: loop.max / 1e6,
    gcPauseMs,
    gcPauseMaxMs,
    cpuS: (cpu.user + cpu.system) / 1e6,
    wallS,
    megabytes,
    fsyncs: latencies.count,
    fsyncP99Ms: latencies.percentile(99),
    fsyncMaxMs: latencies.percentile(100),
  };
}

/** How each way writes a snapshot of `replica` into `log`. */
const WAYS: Record<SnapshotWay, (replica: StorageReplica, log: DurableLog) => Promise<void>> = {
  // As a storage node did up to the chunked snapshots: the whole state as objects, packed at once.
  before: (replica, log) => log.writeSnapshot(encodeSnapshot(replica.snapshot()), log.rotate()),
  now: (replica, log) => {
    const segment = log.rotate();
    return log.writeSnapshot(encodeSnapshotChunks(replica.beginSnapshot()), segment);
  },
};

async function main(): Promise<void> {
  const [keysArgument, way, dir] = process.argv.slice(2);
  const keys = Number(keysArgument);
  if (!Number.isSafeInteger(keys) || keys < 1 || (way !== 'before' && way !== 'now') || dir === undefined) {
    throw new Error('usage: node --expose-gc snapshot-way.js <keys> <before|now> <directory>');
  }
  mkdirSync(dir, { recursive: true });
  const replica = largeReplica(keys);
  const result = await measure(dir, (log) => WAYS[way](replica, log));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// Run as a script; imported (by the bench, for its types and constants), it does nothing.
if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) await main();
