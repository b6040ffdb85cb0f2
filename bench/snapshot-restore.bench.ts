// A storage node starting on a snapshot of a large state: the snapshot's document decoded whole and
// then restored (before) against restored a page of 2,048 entries at a time as it is decoded
// (now, `readSnapshot`), on the same snapshot file, through the log's own start-up path. Measured:
// the CPU and wall time, the collections' pauses, the peak RSS (the process does nothing else) and
// the heap held after. Each way runs in a process of its own (bench/lib/restore-way.ts).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandOutput, measuredInOwnProcess } from './lib/command.js';
import { type BenchOptions, type BenchResult, type Row, round } from './lib/report.js';
import { type Restored, type RestoreWay, STORAGE_NODE_V8_FLAGS } from './lib/restore-way.js';
import { FORGOTTEN_PER_KEY } from './lib/snapshot-way.js';

const SIZES = [250_000, 850_000];
const WAY_SCRIPT = fileURLToPath(new URL('./lib/restore-way.js', import.meta.url));
const WAY_NAMES: Record<RestoreWay, string> = {
  whole: 'decoded whole, then restored (before)',
  paged: 'restored a page at a time as decoded (now)',
};
/** Writing the state of 850,000 keys takes about 15 s, a restore about 10; far more is a hang. */
const STEP_TIMEOUT_MS = 300_000;

/** The storage node's heap growth, the script and `args`, in a process of its own. */
const wayArgs = (args: string[]) => ['--expose-gc', ...STORAGE_NODE_V8_FLAGS, WAY_SCRIPT, ...args];

export async function run(options: BenchOptions): Promise<BenchResult> {
  const rows: Row[] = [];
  const dir = join(options.dataDir, `snapshot-restore-${process.pid}`);
  try {
    for (const [index, keys] of SIZES.entries()) {
      options.progress('restores', index / SIZES.length);
      const logDir = join(dir, String(keys));
      await commandOutput(process.execPath, wayArgs(['write', String(keys), logDir]), STEP_TIMEOUT_MS);
      const measured: Restored[] = [];
      for (const way of ['whole', 'paged'] as const) {
        const result = await measuredInOwnProcess<Restored>(wayArgs([way, logDir]), STEP_TIMEOUT_MS);
        if (result.keys !== keys) throw new Error(`${way}: restored ${result.keys} keys of ${keys}`);
        measured.push(result);
        rows.push({
          keys,
          way: WAY_NAMES[way],
          'CPU, s': round(result.cpuS, 2),
          'wall, s': round(result.wallS, 2),
          'GC pauses, ms': Math.round(result.gcPauseMs),
          'peak RSS, MiB': Math.round(result.peakRssMiB),
          'heap after, MiB': Math.round(result.heapAfterMiB),
        });
      }
      const [whole, paged] = measured as [Restored, Restored];
      rows.push({
        keys,
        way: 'before / now',
        'CPU, s': round(whole.cpuS / paged.cpuS, 2),
        'wall, s': round(whole.wallS / paged.wallS, 2),
        'GC pauses, ms': round(whole.gcPauseMs / paged.gcPauseMs, 2),
        'peak RSS, MiB': round(whole.peakRssMiB / paged.peakRssMiB, 2),
        'heap after, MiB': round(whole.heapAfterMiB / paged.heapAfterMiB, 2),
      });
      rmSync(logDir, { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  options.progress('restores', 1);
  return {
    name: 'snapshot-restore: a storage node starting on a snapshot of a large state, decoded whole against a page at a time',
    rows,
    notes: [
      `Each state: 100-byte values under 16-byte keys and ${FORGOTTEN_PER_KEY} forgotten txids per key (four writers), snapshotted in chunks into a DurableLog as a node does (bench/lib/restore-way.ts), then opened by a fresh process per way with the storage node's heap growth (${STORAGE_NODE_V8_FLAGS.join(' ')}) after a full collection.`,
      'Before: `replica.restore(decodeSnapshot(body))`, the whole document decoded to objects, then restored from them, as a storage node did before. Now: `readSnapshot(body, replica.beginRestore())`, 2,048 entries decoded and restored at a time.',
      "CPU, wall and GC pauses span DurableLog.open, which reads and checks the file and hands its body over; peak RSS is the process's maximum resident set over its whole life; heap after is the used heap right after, before any collection of what the way left. Run with `npm run bench -- snapshot-restore`.",
    ],
  };
}
