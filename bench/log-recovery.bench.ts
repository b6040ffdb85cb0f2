// How long a storage node takes to replay its durable log on restart: 1,000,000 records of
// 100 bytes, replayed in full and again after a snapshot has replaced the older half.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DurableLog, RECORD_HEADER_BYTES } from '../apps/storage-node/src/storage/durable-log.js';
import type { BenchOptions, BenchResult, Row } from './lib/report.js';

const NAME = 'log-recovery';
const RECORDS_TOTAL = 1_000_000;
const RECORD_BYTES = 100;
const RECORDS_PER_APPEND = 1_000;
// Several appends in flight let group commit share fsyncs, as concurrent clients would.
const APPENDS_IN_FLIGHT_MAX = 16;
// Each scenario is opened this many times; the table shows the median.
const REPLAY_RUNS = 3;

interface ReplayRun {
  replayMs: number;
  /** From the start of open until the snapshot was handed over: reading and verifying it. */
  snapshotLoadMs: number;
  records: number;
  snapshotBytes: number;
}

export async function run(options: Partial<BenchOptions> = {}): Promise<BenchResult> {
  const progress = options.progress ?? (() => undefined);
  const dir = await mkdtemp(join(options.dataDir ?? tmpdir(), 'borealis-log-recovery-'));
  try {
    const appendsTotal = RECORDS_TOTAL / RECORDS_PER_APPEND;
    const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
    const batch = Array.from({ length: RECORDS_PER_APPEND }, () => Buffer.alloc(RECORD_BYTES));
    const inFlight: Promise<void>[] = [];
    const writeStartedMs = performance.now();
    for (let append = 0; append < appendsTotal; append++) {
      // Distinct contents per record, so checksums are computed over real data.
      for (let i = 0; i < RECORDS_PER_APPEND; i++)
        batch[i].fill((append + i) & 0xff).writeUInt32BE(append, 0);
      inFlight.push(log.append(batch));
      if (inFlight.length >= APPENDS_IN_FLIGHT_MAX) await inFlight.shift();
      // Ending segment 1 halfway lets a snapshot cover exactly the older half later.
      if (append === appendsTotal / 2 - 1) log.rotate();
      if (append % 50 === 0) progress('writing 1,000,000 records', append / appendsTotal);
    }
    await Promise.all(inFlight);
    const writeMs = performance.now() - writeStartedMs;
    const writeStats = log.stats();
    await log.close();
    progress('writing 1,000,000 records', 1);

    const full = await measureReplays(dir, 'replaying without a snapshot', progress);

    // A snapshot as large as the records it replaces: state that compacts nothing, the worst case.
    const { log: reopened } = await DurableLog.open(dir, { onRecord: () => undefined });
    const snapshotBody = Buffer.alloc((RECORDS_TOTAL / 2) * RECORD_BYTES, 0x5a);
    await reopened.writeSnapshot(snapshotBody, 1);
    await reopened.close();

    const withSnapshot = await measureReplays(dir, 'replaying after a snapshot', progress);

    const rows: Row[] = [row('no snapshot', full), row('snapshot covering half', withSnapshot)];
    return {
      name: NAME,
      rows,
      notes: [
        `${RECORDS_TOTAL.toLocaleString('en-US')} records of ${RECORD_BYTES} bytes ` +
          `(${RECORD_HEADER_BYTES}-byte header each), appended ${RECORDS_PER_APPEND} per call with up to ` +
          `${APPENDS_IN_FLIGHT_MAX} calls in flight: ${Math.round(writeMs)} ms, ${writeStats.fsyncs} fdatasyncs ` +
          `(${Math.round(writeStats.averageRecordsPerFsync)} records per fdatasync on average).`,
        `"open ms" is DurableLog.open to resolution, checksums verified and each record handed to a ` +
          `callback that only counts it; median of ${REPLAY_RUNS} opens. "records/s" leaves out the ` +
          'snapshot load (reading and checksumming the snapshot file).',
        'The snapshot body is as large as the 500,000 records it replaces (nothing compacted), the worst case.',
        'The files were just written, so they are read from the page cache; a cold start also pays for ' +
          'reading them from disk.',
      ],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measureReplays(
  dir: string,
  label: string,
  progress: (label: string, fraction: number) => void,
): Promise<ReplayRun> {
  const runs: ReplayRun[] = [];
  for (let attempt = 0; attempt < REPLAY_RUNS; attempt++) {
    progress(label, attempt / REPLAY_RUNS);
    let records = 0;
    let checksum = 0;
    let snapshotLoadMs = 0;
    const startedMs = performance.now();
    const { log, snapshot } = await DurableLog.open(dir, {
      onSnapshot: () => {
        snapshotLoadMs = performance.now() - startedMs;
      },
      onRecord: (payload) => {
        records++;
        checksum ^= payload[4];
      },
    });
    const replayMs = performance.now() - startedMs;
    await log.close();
    // Read, so the callback's work cannot be optimized away.
    if (checksum < 0) throw new Error('unreachable');
    runs.push({ replayMs, snapshotLoadMs, records, snapshotBytes: snapshot?.length ?? 0 });
  }
  progress(label, 1);
  runs.sort((a, b) => a.replayMs - b.replayMs);
  return runs[Math.floor(runs.length / 2)];
}

function row(scenario: string, replay: ReplayRun): Row {
  return {
    scenario,
    'records replayed': replay.records,
    'snapshot MB': Math.round(replay.snapshotBytes / 1e5) / 10,
    'snapshot load ms': Math.round(replay.snapshotLoadMs),
    'open ms': Math.round(replay.replayMs),
    'records/s': Math.round(replay.records / ((replay.replayMs - replay.snapshotLoadMs) / 1000)),
  };
}
