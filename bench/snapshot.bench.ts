// A storage node's snapshot of a large state, the way before (the whole state built and packed in
// one turn of the event loop, written, one fsync at the end) against the way now (read and encoded
// a chunk at a time as the log writes them, fsynced every 8 MiB), in the same run on the same
// state. Measured: the longest the node's event loop was held, the CPU the snapshot cost, and how
// long a neighbour's small fsyncs took meanwhile (a process of its own appending to its own
// file in a loop, as the other storage nodes on the disk do): the two ways a snapshot made the
// other nodes miss the writer's 10 s before (docs/performance.md, "Snapshots of a large state").
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { encodeSnapshot, encodeSnapshotChunks } from '../apps/storage-node/src/record-codec.js';
import { DurableLog } from '../apps/storage-node/src/storage/durable-log.js';
import { type ReplicaSnapshot, StorageReplica } from '../libs/quorum/src/index.js';
import { registerCleanup } from './lib/cleanup.js';
import type { BenchOptions, BenchResult, Row } from './lib/report.js';

const SIZES = [250_000, 850_000];
/** Forgotten txids per key: about what the 20-round run of docs/performance.md held. */
const FORGOTTEN_PER_KEY = 0.7;
const VALUE = new Uint8Array(100).fill(120);
const MEMBERS = ['s1', 's2', 's3', 's4', 's5', 's6'];

/** A replica holding `keys` keys of 100 bytes and forgotten txids, as a node's state after a long load. */
function largeReplica(keys: number): StorageReplica {
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
  const child = spawn(process.execPath, ['-e', NEIGHBOUR, path], { stdio: ['pipe', 'pipe', 'inherit'] });
  const unregister = registerCleanup(async () => {
    child.kill();
  });
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
      unregister();
      return JSON.parse(output) as number[];
    },
  };
}

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] as number;
}

interface Measured {
  stallMs: number;
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
  const neighbour = startNeighbour(join(dir, 'neighbour.wal'));
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  await write(log);
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  loop.disable();
  const latencies = (await neighbour.stop()).sort((a, b) => a - b);
  const megabytes = log.stats().diskBytes / 1e6;
  await log.close();
  return {
    stallMs: loop.max / 1e6,
    cpuS: (cpu.user + cpu.system) / 1e6,
    wallS,
    megabytes,
    fsyncs: latencies.length,
    fsyncP99Ms: percentile(latencies, 0.99),
    fsyncMaxMs: latencies.at(-1) ?? Number.NaN,
  };
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

export async function run(options: BenchOptions): Promise<BenchResult> {
  const rows: Row[] = [];
  const dir = join(options.dataDir, `snapshot-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    for (const [index, keys] of SIZES.entries()) {
      options.progress('snapshots', index / SIZES.length);
      const replica = largeReplica(keys);
      const ways: [string, (log: DurableLog) => Promise<void>][] = [
        [
          'one turn, one fsync (before)',
          (log) => log.writeSnapshot(encodeSnapshot(replica.snapshot()), log.rotate()),
        ],
        [
          'in chunks, fsync every 8 MiB (now)',
          (log) => {
            const segment = log.rotate();
            return log.writeSnapshot(encodeSnapshotChunks(replica.beginSnapshot()), segment);
          },
        ],
      ];
      const measured: Measured[] = [];
      for (const [way, write] of ways) {
        const result = await measure(dir, write);
        measured.push(result);
        rows.push({
          keys,
          way,
          'longest event-loop stall, ms': Math.round(result.stallMs),
          'CPU, s': round(result.cpuS, 2),
          'wall, s': round(result.wallS, 2),
          'snapshot, MB': Math.round(result.megabytes),
          "neighbour's fsyncs": result.fsyncs,
          "neighbour's fsync p99, ms": round(result.fsyncP99Ms, 1),
          "neighbour's fsync max, ms": round(result.fsyncMaxMs, 1),
        });
      }
      const [before, now] = measured as [Measured, Measured];
      rows.push({
        keys,
        way: 'before / now',
        'longest event-loop stall, ms': round(before.stallMs / now.stallMs, 1),
        'CPU, s': round(before.cpuS / now.cpuS, 1),
        'wall, s': round(before.wallS / now.wallS, 1),
        'snapshot, MB': '',
        "neighbour's fsyncs": '',
        "neighbour's fsync p99, ms": round(before.fsyncP99Ms / now.fsyncP99Ms, 1),
        "neighbour's fsync max, ms": round(before.fsyncMaxMs / now.fsyncMaxMs, 1),
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  options.progress('snapshots', 1);
  return {
    name: 'snapshot: a storage node snapshotting a large state, in one turn against in chunks',
    rows,
    notes: [
      `Each state: 100-byte values under 16-byte keys and ${FORGOTTEN_PER_KEY} forgotten txids per key (four writers), restored into one replica; both ways snapshot the same state into a DurableLog in the bench's data directory.`,
      'Before: `encodeSnapshot(replica.snapshot())` (the whole state as objects, then packed in one call) and the body written with one fsync at the end, as a storage node did up to this change. Now: `encodeSnapshotChunks(replica.beginSnapshot())`, 2,048 entries a chunk, each taken by the log once the one before is written, the file fsynced every 8 MiB.',
      "The longest stall is perf_hooks' monitorEventLoopDelay maximum over the snapshot; CPU is this process's over it. The neighbour is a process of its own appending 128 bytes and fdatasyncing in a loop to a file beside the log, for as long as the snapshot takes: the other storage nodes on the same disk. Run with `npm run bench -- snapshot`.",
    ],
  };
}
