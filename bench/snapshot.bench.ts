// A storage node's snapshot of a large state, the way before (the whole state built and packed in
// one turn of the event loop, written, one fsync at the end) against the way now (read and encoded
// a chunk at a time as the log writes them, fsynced every 8 MiB), on the same state. Measured: the
// longest the node's event loop was held, the CPU and collections the snapshot cost, and how long
// a neighbour's small fsyncs took meanwhile (a process of its own appending to its own file in a
// loop, as the other storage nodes on the disk do): the two ways a snapshot made the other nodes
// miss the writer's 10 s before (docs/performance.md, "Snapshots of a large state"). Each way runs
// in a process of its own (bench/lib/snapshot-way.ts).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measuredInOwnProcess } from './lib/command.js';
import { type BenchOptions, type BenchResult, type Row, round } from './lib/report.js';
import { FORGOTTEN_PER_KEY, type Measured, type SnapshotWay } from './lib/snapshot-way.js';

const SIZES = [250_000, 850_000];
const WAY_SCRIPT = fileURLToPath(new URL('./lib/snapshot-way.js', import.meta.url));
const WAY_NAMES: Record<SnapshotWay, string> = {
  before: 'one turn, one fsync (before)',
  now: 'in chunks, fsync every 8 MiB (now)',
};
/** A way at 850,000 keys takes about 15 s with the state's building; far more is a hang. */
const WAY_TIMEOUT_MS = 300_000;

function measureWay(keys: number, way: SnapshotWay, dir: string): Promise<Measured> {
  return measuredInOwnProcess(['--expose-gc', WAY_SCRIPT, String(keys), way, join(dir, way)], WAY_TIMEOUT_MS);
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const rows: Row[] = [];
  const dir = join(options.dataDir, `snapshot-${process.pid}`);
  try {
    for (const [index, keys] of SIZES.entries()) {
      options.progress('snapshots', index / SIZES.length);
      const measured: Measured[] = [];
      for (const way of ['before', 'now'] as const) {
        const result = await measureWay(keys, way, dir);
        measured.push(result);
        rows.push({
          keys,
          way: WAY_NAMES[way],
          'longest event-loop stall, ms': Math.round(result.stallMs),
          'GC pauses, ms (longest)': `${Math.round(result.gcPauseMs)} (${Math.round(result.gcPauseMaxMs)})`,
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
        'GC pauses, ms (longest)': round(before.gcPauseMs / now.gcPauseMs, 1),
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
      `Each state: 100-byte values under 16-byte keys and ${FORGOTTEN_PER_KEY} forgotten txids per key (four writers), restored into one replica in a process of its own for each way (bench/lib/snapshot-way.ts), after a full collection; each way snapshots it into a DurableLog in the bench's data directory.`,
      'Before: `encodeSnapshot(replica.snapshot())` (the whole state as objects, then packed in one call) and the body written with one fsync at the end, as a storage node did up to this change. Now: `encodeSnapshotChunks(replica.beginSnapshot())`, 2,048 entries a chunk, each taken by the log once the one before is written, the file fsynced every 8 MiB.',
      "The longest stall is perf_hooks' monitorEventLoopDelay maximum over the snapshot; CPU is that process's over it. The neighbour is a process of its own appending 128 bytes and fdatasyncing in a loop to a file beside the log, for as long as the snapshot takes: the other storage nodes on the same disk. Run with `npm run bench -- snapshot`.",
    ],
  };
}
