// Crash recovery of a real storage-node process: a log of 1,000,000 real replica records (500,000
// committed transactions, each a 'vote' carrying its proposal then a 'decide', over 100,000 keys)
// is written into a node's data directory, then a storage node is started on it and timed until it
// serves; again with a snapshot covering the older half (as the node takes one every 500,000
// records) and with one covering everything.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { encodeRecord, encodeSnapshot } from '../apps/storage-node/src/record-codec.js';
import { DurableLog } from '../apps/storage-node/src/storage/durable-log.js';
import { type ReplicaRecord, StorageReplica } from '../libs/quorum/src/index.js';
import { repoRoot } from '../test/support/environment.js';
import { freePort, type RunningProcess, startProcess } from '../test/support/processes.js';
import { registerCleanup } from './lib/cleanup.js';
import { type BenchOptions, type BenchResult, type Row, round } from './lib/report.js';

const NAME = 'storage-recovery';
const TRANSACTIONS = 500_000;
const RECORDS = TRANSACTIONS * 2;
const KEYS = 100_000;
const VALUE_BYTES = 100;
const VOLUME = 'bench';
const WRITERS = 3;
/** The rate the history is stamped at: it decides how many decided transactions a snapshot still holds. */
const COMMITS_PER_SECOND = 2_000;
/** A replica scans (and prunes) every 200 ms, at the tick its node runs then. */
const TICK_EVERY_MS = 200;
const RECORDS_PER_APPEND = 1_000;
const APPENDS_IN_FLIGHT_MAX = 16;
/** Starts per scenario; the table shows the median (by time to serving). */
const STARTS = 3;
const START_TIMEOUT_MS = 300_000;
const MEMBER_IDS = ['s1', 's2', 's3', 's4', 's5', 's6'];

interface Start {
  replayedRecords: number;
  /** The node's own figure: opening the log, loading any snapshot and replaying every record. */
  replayMs: number;
  fromSnapshot: boolean;
  /** From spawning the process to its `serving the quorum protocol` line. */
  toServingMs: number;
  rssMiB: number;
}

interface Scenario {
  scenario: string;
  logMiB: number;
  snapshotMiB: number;
  start: Start;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const root = await mkdtemp(join(options.dataDir, 'borealis-bench-storage-recovery-'));
  let node: RunningProcess | null = null;
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      unregister();
      await stopNode(node);
      await rm(root, { recursive: true, force: true });
    })();
    return cleaning;
  };
  const unregister = registerCleanup(cleanup);
  const startNode = async (dataDir: string, label: string): Promise<Start> => {
    const ports = await Promise.all(MEMBER_IDS.map(() => freePort()));
    const members = MEMBER_IDS.map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(',');
    const startedAt = performance.now();
    node = startProcess(
      process.execPath,
      [
        join(repoRoot, 'dist/apps/storage-node/src/main.js'),
        '--id',
        's1',
        '--az',
        'az-a',
        '--port',
        String(ports[0]),
        '--data-dir',
        dataDir,
        '--members',
        members,
      ],
      {
        env: {
          ...process.env,
          HEALTH_PORT: '0',
          HOST: '127.0.0.1',
          BOREALIS_EXIT_WITH_PARENT: '1',
          // Required by every node; this bench calls no admin route.
          BOREALIS_NODE_TOKEN: randomBytes(24).toString('hex'),
        },
      },
    );
    try {
      const replayed = await node.waitFor(
        /replayed (\d+) log records( after a snapshot)? in (\d+) ms/,
        START_TIMEOUT_MS,
      );
      await node.waitFor(/serving the quorum protocol/, START_TIMEOUT_MS);
      const toServingMs = performance.now() - startedAt;
      const pid = node.child.pid as number;
      return {
        replayedRecords: Number(replayed[1]),
        fromSnapshot: replayed[2] !== undefined,
        replayMs: Number(replayed[3]),
        toServingMs,
        rssMiB: residentMiB(pid),
      };
    } catch (error) {
      throw new Error(`${label}: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      // The crash being recovered from: kill -9, by PID.
      await stopNode(node);
      node = null;
    }
  };

  try {
    const nodeDir = join(root, 's1');
    const written = await writeLog(nodeDir, options);
    const scenarios: Scenario[] = [];

    const emptyDir = join(root, 'empty');
    scenarios.push(await measureStarts('empty log (process start alone)', emptyDir, startNode, options));
    scenarios.push(await measureStarts('1,000,000 records, no snapshot', nodeDir, startNode, options));

    // The snapshot a node takes after 500,000 records: segment 1 ends there.
    await installSnapshot(nodeDir, written.halfSnapshot, false);
    scenarios.push(await measureStarts('snapshot at 500,000 + 500,000 records', nodeDir, startNode, options));

    // One taken after every record: nothing left to replay.
    await installSnapshot(nodeDir, written.fullSnapshot, true);
    scenarios.push(await measureStarts('snapshot at 1,000,000 + 0 records', nodeDir, startNode, options));

    const rows: Row[] = scenarios.map(({ scenario, logMiB, snapshotMiB, start }) => {
      const row: Row = {
        scenario,
        'records replayed': start.replayedRecords,
        'log MiB': round(logMiB, 1),
        'snapshot MiB': round(snapshotMiB, 1),
        'replay ms': start.replayMs,
      };
      if (start.replayedRecords > 0 && start.replayMs > 0)
        row['records/s'] = Math.round((start.replayedRecords * 1000) / start.replayMs);
      row['process start to serving ms'] = Math.round(start.toServingMs);
      row['RSS MiB after start'] = Math.round(start.rssMiB);
      return row;
    });
    return {
      name: NAME,
      rows,
      notes: [
        `${RECORDS.toLocaleString('en-US')} real replica records (msgpack, as the node logs them): ` +
          `${TRANSACTIONS.toLocaleString('en-US')} committed transactions of one ${VALUE_BYTES}-byte write each ` +
          `over ${KEYS.toLocaleString('en-US')} keys, each a 'vote' record carrying its proposal then a 'decide' ` +
          `record, ${Math.round(written.averageRecordBytes)} bytes per record on average (8-byte header ` +
          `included), written with DurableLog in ${(written.writeMs / 1000).toFixed(1)} s ` +
          `(${written.fsyncs} fdatasyncs). A live node also logs an 'accept' record per commit.`,
        `"replay ms" is the node's own figure (its \`replayed N log records … in M ms\` line): opening the log, ` +
          'loading and restoring the snapshot if any, decoding and applying every record ("records/s" divides ' +
          'by it, so a snapshot\'s load counts against the records after it). "process start to ' +
          'serving ms" runs from spawning `node dist/apps/storage-node/src/main.js` to its `serving the quorum ' +
          `protocol\` line, Node.js start-up included (the empty-log row). Median of ${STARTS} starts by time ` +
          'to serving; each start ends in kill -9, the crash the next one recovers from.',
        `The snapshots are the replica's real state (StorageReplica fed the same records, ticking as a node ` +
          `does, with the history stamped at ${COMMITS_PER_SECOND.toLocaleString('en-US')} commits/s): a ` +
          `replica keeps a decided transaction, proposal included, until all five peers confirmed the ` +
          `decision; no peer runs here (the worst case: a node whose peers are down), so the ` +
          `snapshot at 500,000 records holds ${written.halfSnapshotTransactions.toLocaleString('en-US')} ` +
          `transactions besides the ${KEYS.toLocaleString('en-US')} keys, and the one at 1,000,000 holds ` +
          `${written.fullSnapshotTransactions.toLocaleString('en-US')}. With peers up, decided records ` +
          'are confirmed and forgotten within seconds, and a node logs that with a forget record that ' +
          'replay honours, so a live node replays and snapshots far fewer transactions than this.',
        'The other five members are not running (their links retry in the background); the files were just ' +
          'written, so they are read from the page cache: a cold start also pays for reading them from disk.',
      ],
    };
  } finally {
    await cleanup();
  }
}

async function measureStarts(
  scenario: string,
  dataDir: string,
  startNode: (dataDir: string, label: string) => Promise<Start>,
  options: BenchOptions,
): Promise<Scenario> {
  const starts: Start[] = [];
  for (let attempt = 0; attempt < STARTS; attempt++) {
    options.progress(`starting a storage node: ${scenario}`, attempt / STARTS);
    starts.push(await startNode(dataDir, scenario));
  }
  options.progress(`starting a storage node: ${scenario}`, 1);
  const replayed = new Set(starts.map((start) => start.replayedRecords));
  if (replayed.size !== 1)
    throw new Error(
      `${scenario}: the starts replayed different numbers of records: ${[...replayed].join(', ')}`,
    );
  starts.sort((a, b) => a.toServingMs - b.toServingMs);
  const files = await sizes(dataDir);
  return {
    scenario,
    logMiB: files.log / 2 ** 20,
    snapshotMiB: files.snapshot / 2 ** 20,
    start: starts[Math.floor(starts.length / 2)] as Start,
  };
}

interface WrittenLog {
  writeMs: number;
  fsyncs: number;
  averageRecordBytes: number;
  halfSnapshot: Uint8Array;
  halfSnapshotTransactions: number;
  fullSnapshot: Uint8Array;
  fullSnapshotTransactions: number;
}

/**
 * Writes the records into `dir` (segment 1: the first half, segment 2: the rest) and, from a
 * replica fed the same records, the snapshots a node would take at the end of each half.
 */
async function writeLog(dir: string, options: BenchOptions): Promise<WrittenLog> {
  const label = `writing ${RECORDS.toLocaleString('en-US')} replica records`;
  const replica = new StorageReplica({ members: MEMBER_IDS, selfIndex: 0 });
  const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
  const startedMs = performance.now();
  const msPerCommit = 1000 / COMMITS_PER_SECOND;
  // The history ends a minute before now.
  const baseMs = Date.now() - 60_000 - TRANSACTIONS * msPerCommit;
  const inFlight: Promise<void>[] = [];
  let batch: Uint8Array[] = [];
  let halfSnapshot: Uint8Array | null = null;
  let halfSnapshotTransactions = 0;
  let lastTickMs = Number.NEGATIVE_INFINITY;
  try {
    for (let i = 0; i < TRANSACTIONS; i++) {
      const atMs = Math.floor(baseMs + i * msPerCommit);
      const key = `key:${String(i % KEYS).padStart(6, '0')}`;
      const txid = `writer-${i % WRITERS}.${Math.floor(i / WRITERS) + 1}`;
      const value = new Uint8Array(VALUE_BYTES);
      const view = new DataView(value.buffer);
      for (let b = 0; b + 4 <= VALUE_BYTES; b += 4) view.setUint32(b, (i * 2654435761 + b) >>> 0);
      const proposal = {
        txid,
        reads: [{ key, seq: Math.floor(i / KEYS) }],
        writes: [{ key, value }],
        proposedAtMs: atMs,
      };
      const records: ReplicaRecord[] = [
        { kind: 'vote', volume: VOLUME, txid, vote: 'yes', proposal, atMs },
        { kind: 'decide', volume: VOLUME, txid, decision: 'commit', proposal, atMs: atMs + 2 },
      ];
      for (const record of records) {
        replica.applyRecord(record);
        batch.push(encodeRecord(record));
      }
      if (atMs - lastTickMs >= TICK_EVERY_MS) {
        lastTickMs = atMs;
        replica.tick(atMs);
        replica.takeReady(); // sync requests to peers: nobody to send them to
      }
      if (batch.length >= RECORDS_PER_APPEND) {
        inFlight.push(log.append(batch));
        batch = [];
        if (inFlight.length >= APPENDS_IN_FLIGHT_MAX) await inFlight.shift();
      }
      if (i + 1 === TRANSACTIONS / 2) {
        // As the node does it: rotate and serialize in the same turn.
        if (batch.length > 0) inFlight.push(log.append(batch));
        batch = [];
        log.rotate();
        halfSnapshot = encodeSnapshot(replica.snapshot());
        halfSnapshotTransactions = replica.stats().transactions;
      }
      if (i % 5_000 === 0) options.progress(label, i / TRANSACTIONS);
    }
    if (batch.length > 0) inFlight.push(log.append(batch));
    await Promise.all(inFlight);
    const stats = log.stats();
    options.progress(label, 1);
    if (stats.recordsAppended !== RECORDS)
      throw new Error(`appended ${stats.recordsAppended} records, expected ${RECORDS}`);
    return {
      writeMs: performance.now() - startedMs,
      fsyncs: stats.fsyncs,
      averageRecordBytes: stats.bytesAppended / stats.recordsAppended,
      halfSnapshot: halfSnapshot as Uint8Array,
      halfSnapshotTransactions,
      fullSnapshot: encodeSnapshot(replica.snapshot()),
      fullSnapshotTransactions: replica.stats().transactions,
    };
  } finally {
    await Promise.allSettled(inFlight);
    await log.close();
  }
}

/**
 * Stores `body` as the snapshot covering the segments closed so far: with `rotateFirst`, the
 * current segment is ended first, so the snapshot covers every record.
 */
async function installSnapshot(dir: string, body: Uint8Array, rotateFirst: boolean): Promise<void> {
  const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
  try {
    const covers = rotateFirst ? log.rotate() : log.stats().segment - 1;
    await log.writeSnapshot(body, covers);
  } finally {
    await log.close();
  }
}

async function sizes(dir: string): Promise<{ log: number; snapshot: number }> {
  let logBytes = 0;
  let snapshotBytes = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const { size } = await stat(join(dir, name));
    if (name.endsWith('.wal')) logBytes += size;
    else if (name.endsWith('.snap')) snapshotBytes += size;
  }
  return { log: logBytes, snapshot: snapshotBytes };
}

function residentMiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function stopNode(node: RunningProcess | null): Promise<void> {
  if (node === null) return;
  node.kill();
  await node.waitForExit(10_000).catch(() => undefined);
}
