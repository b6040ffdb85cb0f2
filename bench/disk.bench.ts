// The machine's own limit for durable writes: how many fdatasyncs per second its disk completes
// for one process and for six at once (as many as a volume's storage nodes), each appending small
// records to its own file and syncing after every one. Peer: the same appends without a sync, so
// the ratio is what durability costs here. The quorum bench's "fsyncs/s per server" is read
// against these figures: six storage nodes near the six-process total are bound by the disk.
// The same synced appends once more into files written ahead with zeros, as a storage node's log
// segment is (PREALLOCATE_BYTES_DEFAULT): most of them then overwrite blocks the file has, and
// their fdatasync writes no inode for a new size.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PREALLOCATE_BYTES_DEFAULT } from '../apps/storage-node/src/storage/durable-log.js';
import { commandOutput } from './lib/command.js';
import type { BenchOptions, BenchResult, Row } from './lib/report.js';

const NAME = 'disk';
const RECORD_BYTES = 200;
const DURATION_MS = 4_000;
/** Processes start together at an agreed moment, this long after they are spawned. */
const START_DELAY_MS = 1_500;
/** A writer that has not ended this long after it started is taken as hung (and stopped). */
const WRITER_DEADLINE_MS = DURATION_MS + START_DELAY_MS + 10_000;
const PARALLEL = 6;

interface WriterReport {
  operations: number;
  p50Micros: number;
  p99Micros: number;
  /** User + system CPU of the writer over its window: a sync's cost to the cores, not only its wait. */
  cpuMicros: number;
}

/** How a writer appends: synced at the end of its file, synced into zeros written ahead, or unsynced. */
type WriteMode = 'sync' | 'ahead' | 'nosync';

// One writer process: appends a record (and fdatasyncs it, unless told not to) until its window
// ends, then prints a JSON report. A child process, not a worker thread, because a storage node
// is a process of its own and the kernel's per-process costs are part of what is measured.
const WRITER_SOURCE = `
import { openSync, writeSync, writevSync, fdatasyncSync, closeSync } from 'node:fs';
import { createHistogram, performance } from 'node:perf_hooks';
const [file, startAtText, durationText, mode] = process.argv.slice(1);
const startAt = Number(startAtText);
const sync = mode !== 'nosync';
const fd = openSync(file, 'w');
const record = Buffer.alloc(${RECORD_BYTES}, 0x61);
const zeros = Buffer.alloc(${PREALLOCATE_BYTES_DEFAULT});
let offset = 0;
let fileBytes = 0;
const histogram = createHistogram();
while (Date.now() < startAt) await new Promise((resolve) => setTimeout(resolve, 5));
const endAt = performance.now() + Number(durationText);
const cpuBefore = process.cpuUsage();
let operations = 0;
while (performance.now() < endAt) {
  const begun = performance.now();
  if (mode === 'ahead' && offset + record.length > fileBytes) {
    writevSync(fd, [record, zeros], offset);
    fileBytes = offset + record.length + zeros.length;
  } else writeSync(fd, record, 0, record.length, offset);
  offset += record.length;
  if (sync) fdatasyncSync(fd);
  histogram.record(Math.max(1, Math.round((performance.now() - begun) * 1000)));
  operations++;
}
const cpu = process.cpuUsage(cpuBefore);
closeSync(fd);
process.stdout.write(JSON.stringify({ operations, p50Micros: histogram.percentile(50), p99Micros: histogram.percentile(99), cpuMicros: cpu.user + cpu.system }) + '\\n');
`;

async function runWriter(file: string, startAt: number, mode: WriteMode): Promise<WriterReport> {
  const output = await commandOutput(
    process.execPath,
    ['--input-type=module', '-e', WRITER_SOURCE, file, String(startAt), String(DURATION_MS), mode],
    WRITER_DEADLINE_MS,
  );
  const report = output.split('\n').find((line) => line.startsWith('{'));
  if (report === undefined) throw new Error(`a disk writer printed no report: ${output.slice(0, 200)}`);
  return JSON.parse(report) as WriterReport;
}

async function measure(dir: string, processes: number, mode: WriteMode): Promise<WriterReport[]> {
  const startAt = Date.now() + START_DELAY_MS;
  return Promise.all(
    Array.from({ length: processes }, (_, index) =>
      runWriter(join(dir, `${mode}-${processes}-${index}`), startAt, mode),
    ),
  );
}

function row(caseName: string, processes: number, reports: WriterReport[]): Row {
  const total = reports.reduce((sum, report) => sum + report.operations, 0);
  const perSecond = total / (DURATION_MS / 1000);
  const p50 = reports.map((report) => report.p50Micros).sort((a, b) => a - b);
  const cpuPerOperation = reports
    .map((report) => report.cpuMicros / Math.max(report.operations, 1))
    .sort((a, b) => a - b);
  return {
    case: caseName,
    processes,
    'operations/s, all processes': Math.round(perSecond),
    'operations/s per process': Math.round(perSecond / processes),
    'p50 µs (median process)': p50[Math.floor(p50.length / 2)] as number,
    'p99 µs (worst process)': Math.max(...reports.map((report) => report.p99Micros)),
    'CPU µs per operation (median process)': Math.round(
      cpuPerOperation[Math.floor(cpuPerOperation.length / 2)] as number,
    ),
  };
}

export async function run(options: Partial<BenchOptions> = {}): Promise<BenchResult> {
  const progress = options.progress ?? (() => undefined);
  const dir = await mkdtemp(join(options.dataDir ?? tmpdir(), 'borealis-disk-'));
  try {
    const ahead = `${PREALLOCATE_BYTES_DEFAULT / 1024} KiB of zeros written ahead`;
    const cases: { name: string; processes: number; mode: WriteMode }[] = [
      { name: `append ${RECORD_BYTES} B + fdatasync`, processes: 1, mode: 'sync' },
      { name: `append ${RECORD_BYTES} B + fdatasync`, processes: PARALLEL, mode: 'sync' },
      { name: `append ${RECORD_BYTES} B, no sync (peer)`, processes: 1, mode: 'nosync' },
      { name: `append ${RECORD_BYTES} B + fdatasync, ${ahead}`, processes: 1, mode: 'ahead' },
      { name: `append ${RECORD_BYTES} B + fdatasync, ${ahead}`, processes: PARALLEL, mode: 'ahead' },
    ];
    const rows: Row[] = [];
    const totals: number[] = [];
    for (const [index, testCase] of cases.entries()) {
      progress('measuring the disk', index / cases.length);
      const reports = await measure(dir, testCase.processes, testCase.mode);
      rows.push(row(testCase.name, testCase.processes, reports));
      totals.push(reports.reduce((sum, report) => sum + report.operations, 0));
    }
    progress('measuring the disk', 1);
    const [one = 0, six = 0, unsynced = 0, oneAhead = 0, sixAhead = 0] = totals;
    return {
      name: NAME,
      rows,
      notes: [
        `Each process appends ${RECORD_BYTES}-byte records to its own file in the data dir for ` +
          `${DURATION_MS / 1000} s, all starting at one moment; with fdatasync after every append, ` +
          'as a storage node does for every batch it logs.',
        `${PARALLEL} processes complete ${(six / Math.max(one, 1)).toFixed(2)}× the fdatasyncs/s of one ` +
          '(how far the disk serves syncs of different files at once).',
        `One process appends ${(unsynced / Math.max(one, 1)).toFixed(0)}× faster without a sync ` +
          '(same run): what a sync costs on this disk.',
        `Into files written ahead with zeros (as a storage node's log segment is), one process completes ` +
          `${(oneAhead / Math.max(one, 1)).toFixed(2)}× the synced appends of one appending at the end of its ` +
          `file, and ${PARALLEL} processes ${(sixAhead / Math.max(six, 1)).toFixed(2)}× those of ${PARALLEL} (same run): ` +
          'an fdatasync of an append that grows its file also writes the inode.',
        'Read the quorum bench\'s "fsyncs/s per server" (six storage nodes) against the six-process rows: ' +
          'near them, a row is bound by the disk; well below them, by CPU or round trips.',
      ],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
