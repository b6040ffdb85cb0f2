// Durable commits on Borealis's quorum store (six real storage-node processes, three writers
// through the client library) and on a real three-member etcd cluster, side by side in one run:
// the same closed-loop driver, in-flight count, warm-up, window and value size. The two systems
// run one after the other, never at the same time, on the same machine. A third system is the
// floor (bench/lib/floor-node.ts): six bare replicas that log and fdatasync each batch and
// answer, driven by three bare writers in this process that wait for 4 of 6, the same messages
// and fsyncs with none of the protocol's work: how far Borealis is from what this shape allows.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { ReadValue } from '../libs/quorum/src/index.js';
import { QuorumClient } from '../libs/storage-client/src/index.js';
import { repoRoot } from '../test/support/environment.js';
import { type StorageFleet, startStorageFleet } from '../test/support/storage-fleet.js';
import { registerCleanup, scratchRun } from './lib/cleanup.js';
import { committedSection, compareWithCommitted, median } from './lib/committed.js';
import { type ClosedLoopResult, driveClosedLoop } from './lib/drive.js';
import { type EtcdCluster, EtcdUnavailableError, startEtcdCluster } from './lib/etcd.js';
import {
  b64,
  checkEtcdRoundTrip,
  EtcdGateway,
  etcdPut,
  etcdReadModifyWrite,
  etcdTxnPuts,
  etcdWalFsyncs,
  fetchText,
} from './lib/etcd-gateway.js';
import { startFloorReplicas } from './lib/floor.js';
import { FloorWriter } from './lib/floor-link.js';
import { ownCpuMs, processesCpuMs } from './lib/process-cpu.js';
import { type BenchOptions, type BenchResult, fastCommitShare, type Row, round } from './lib/report.js';
import { inTurn, ROUNDS, ratiosByRound } from './lib/rounds.js';

const NAME = 'quorum';
const CONCURRENCY = 64;
/** Extra batch-1 insert rows (both systems): more commits in flight give group commit more to share an fsync. */
const CONCURRENCY_HIGH = 256;
const WARMUP_MS = 2_000;
const DURATION_MS = 8_000;
const VALUE_BYTES = 100;
const BATCH = 64;
/** Keys of the read-modify-write rows, written once before they run (so every commit is an update). */
const RMW_KEYS = 10_000;
const PRELOAD_IN_FLIGHT = 16;
const RMW_KEY_NAMES = Array.from({ length: RMW_KEYS }, (_, i) => `rmw/${String(i).padStart(5, '0')}`);
const WRITERS = 3;
const FIRST_COORDINATOR_ID = 7;
/** Server CPU per commit may grow this much over the committed figure before the run says so. */
const CPU_PER_COMMIT_ALLOWED_RATIO = 1.25;
const VOLUME = 'bench';

type Operation = (worker: number) => Promise<void>;

/** Counters of the servers under test, summed over them. */
interface ServerCounters {
  fsyncs: number;
  /** Log records made durable (Borealis only: etcd does not count WAL entries). */
  records?: number;
}

interface SystemUnderTest {
  system: string;
  servers: number;
  pids: number[];
  counters(): Promise<ServerCounters>;
}

interface Shape {
  /** Short name, for the ratio notes. */
  id: 'insert' | 'batch' | 'rmw';
  shape: string;
  writesPerCommit: number;
  concurrency: number;
  operation: Operation;
}

interface Measured {
  system: string;
  id: Shape['id'];
  concurrency: number;
  row: Row;
  stats: ClosedLoopResult;
}

/** One row over the rounds: each figure the median of its rounds, which are kept for the ratios. */
interface Combined extends Measured {
  /** By round: undefined where the row failed in that round. */
  rounds: (Measured | undefined)[];
}

type System = 'etcd' | 'borealis' | 'floor';

/** Each row of the first round, with every numeric cell the median of the rounds that have the row. */
function combineRounds(rounds: readonly Measured[][]): Combined[] {
  const [first = []] = rounds;
  return first.map((head) => {
    const byRound = rounds.map((round) =>
      round.find(
        (m) => m.id === head.id && m.concurrency === head.concurrency && m.row.shape === head.row.shape,
      ),
    );
    const same = byRound.filter((m): m is Measured => m !== undefined);
    const row: Row = {};
    for (const [column, cell] of Object.entries(head.row)) {
      const cells = same.map((m) => m.row[column]);
      row[column] = cells.every((value) => typeof value === 'number') ? median(cells as number[]) : cell;
    }
    const stats = { ...head.stats, opsPerSec: median(same.map((m) => m.stats.opsPerSec)) };
    return { ...head, row, stats, rounds: byRound };
  });
}

/** `ours` over `theirs` in commits/s, round by round (the rounds both have), and the median. */
function roundRatios(ours: Combined, theirs: Combined): { median: number; text: string } {
  const rate = (round: Measured | undefined) => round?.stats.opsPerSec;
  return ratiosByRound(ours.rounds.map(rate), theirs.rounds.map(rate));
}

/** Runs one shape against one system and reads the servers' fsyncs and CPU over the measured window. */
async function measure(sut: SystemUnderTest, shape: Shape, options: BenchOptions): Promise<Measured> {
  const label = `${sut.system}: ${shape.shape}, ${shape.concurrency} in flight`;
  const sample = async () => {
    const counters = await sut.counters();
    return {
      at: performance.now(),
      counters,
      serverCpuMs: processesCpuMs(sut.pids),
      clientCpuMs: ownCpuMs(),
    };
  };
  // The window's counters: sampled when the warm-up ends and again when the run ends.
  let windowStart: Promise<Awaited<ReturnType<typeof sample>>> | undefined;
  const timer = setTimeout(() => {
    windowStart = sample();
    windowStart.catch(() => undefined);
  }, WARMUP_MS);
  let stats: ClosedLoopResult;
  try {
    stats = await driveClosedLoop({
      concurrency: shape.concurrency,
      warmupMs: WARMUP_MS,
      durationMs: DURATION_MS,
      operation: shape.operation,
      onProgress: (elapsed, total) => options.progress(label, elapsed / total),
    });
  } finally {
    clearTimeout(timer);
    options.progress(label, 1);
  }
  const end = await sample();
  const start = await (windowStart ?? sample());
  const elapsedS = (end.at - start.at) / 1000;
  const fsyncs = end.counters.fsyncs - start.counters.fsyncs;
  const fsyncsPerSecPerServer = fsyncs / sut.servers / elapsedS;
  const row: Row = {
    system: sut.system,
    shape: shape.shape,
    'in flight': shape.concurrency,
    'commits/s': Math.round(stats.opsPerSec),
    'writes/s': Math.round(stats.opsPerSec * shape.writesPerCommit),
    'p50 ms': round(stats.p50Ms, 2),
    'p99 ms': round(stats.p99Ms, 2),
    errors: stats.errors,
    'fsyncs/s per server': Math.round(fsyncsPerSecPerServer),
    'commits per fsync': round(fsyncsPerSecPerServer > 0 ? stats.opsPerSec / fsyncsPerSecPerServer : 0, 1),
  };
  const serverCpuMs = end.serverCpuMs - start.serverCpuMs;
  row['server CPU %'] = Math.round((100 * serverCpuMs) / (elapsedS * 1000));
  row['server CPU ms per commit'] = round(
    stats.opsPerSec > 0 ? serverCpuMs / (stats.opsPerSec * elapsedS) : 0,
    2,
  );
  row['client CPU %'] = Math.round((100 * (end.clientCpuMs - start.clientCpuMs)) / (elapsedS * 1000));
  row['machine CPU busy %'] = Math.round(stats.cpuBusyPercent);
  return { system: sut.system, id: shape.id, concurrency: shape.concurrency, row, stats };
}

/**
 * The rows Borealis and the floor run: batch-1 inserts at 64 and 256 in flight, read-modify-writes
 * of the preloaded keys, and 64-key inserts. `insert` commits new keys (named under `prefix`);
 * `rmw` reads a key and writes it back.
 */
function workloadShapes(
  prefix: string,
  insert: (worker: number, keys: string[]) => Promise<void>,
  rmw: (worker: number, key: string) => Promise<void>,
): Shape[] {
  const counters = new Array<number>(CONCURRENCY_HIGH).fill(0);
  const newKeys = (worker: number, count: number) =>
    Array.from({ length: count }, () => `${prefix}/${worker}/${counters[worker]++}`);
  const inserts = (concurrency: number): Shape => ({
    id: 'insert',
    shape: 'batch 1: insert of a new key (seq 0)',
    writesPerCommit: 1,
    concurrency,
    operation: (worker) => insert(worker, newKeys(worker, 1)),
  });
  return [
    inserts(CONCURRENCY),
    inserts(CONCURRENCY_HIGH),
    {
      id: 'rmw',
      shape: `batch 1: read-modify-write (transact: read + commit), ${RMW_KEYS} keys`,
      writesPerCommit: 1,
      concurrency: CONCURRENCY,
      operation: (worker) => rmw(worker, RMW_KEY_NAMES[Math.floor(Math.random() * RMW_KEYS)] as string),
    },
    // Not at 256 in flight: 256 × 64 keys pile up past the writers' 2 s recovery threshold and
    // 10 s deadline (commits of unknown outcome) instead of adding throughput.
    {
      id: 'batch',
      shape: `batch ${BATCH}: one commit inserting ${BATCH} new keys`,
      writesPerCommit: BATCH,
      concurrency: CONCURRENCY,
      operation: (worker) => insert(worker, newKeys(worker, BATCH)),
    },
  ];
}

/** Runs `count` operations with at most `inFlight` at a time. */
async function preload(count: number, inFlight: number, operation: (index: number) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < count) await operation(next++);
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

/** Measures each shape in turn; a shape that fails is reported in the notes and the others still run. */
async function measureAll(
  sut: SystemUnderTest,
  shapes: Shape[],
  options: BenchOptions,
  notes: string[],
): Promise<Measured[]> {
  const measured: Measured[] = [];
  for (const shape of shapes) {
    try {
      measured.push(await measure(sut, shape, options));
    } catch (error) {
      notes.push(
        `${sut.system} ${shape.shape} (${shape.concurrency} in flight) failed: ` +
          `${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return measured;
}

// ---- etcd ----------------------------------------------------------------------------------------

async function runEtcd(
  options: BenchOptions,
  value: Uint8Array,
  notes: string[],
): Promise<{ measured: Measured[]; version: string } | null> {
  let cluster: EtcdCluster;
  try {
    cluster = await startEtcdCluster({ parentDir: options.dataDir, log: options.log });
  } catch (error) {
    if (error instanceof EtcdUnavailableError) {
      notes.push(`etcd not measured: ${error.message}`);
      return null;
    }
    throw error;
  }
  const gateway = new EtcdGateway(cluster.endpoints);
  try {
    const valueB64 = b64(value);
    const tag = `${process.pid}-${Date.now()}`;
    const rmwKeys = Array.from({ length: RMW_KEYS }, (_, i) => b64(`rmw/${String(i).padStart(5, '0')}`));
    await checkEtcdRoundTrip(gateway, b64(`check/${tag}`), valueB64);
    options.progress(`etcd: writing the ${RMW_KEYS} read-modify-write keys`, 0);
    await preload(Math.ceil(RMW_KEYS / BATCH), PRELOAD_IN_FLIGHT, (i) =>
      etcdTxnPuts(gateway, i, rmwKeys.slice(i * BATCH, (i + 1) * BATCH), valueB64),
    );
    options.progress(`etcd: writing the ${RMW_KEYS} read-modify-write keys`, 1);

    // New keys, as Borealis inserts them: one counter per worker.
    const counters = new Array<number>(CONCURRENCY_HIGH).fill(0);
    const newKey = (worker: number) => b64(`ins/${tag}/${worker}/${counters[worker]++}`);
    const sut: SystemUnderTest = {
      system: 'etcd',
      servers: cluster.endpoints.length,
      pids: cluster.pids,
      counters: async () => ({ fsyncs: (await etcdWalFsyncs(cluster.endpoints)).count }),
    };
    const shapes: Shape[] = [
      {
        id: 'insert',
        shape: 'batch 1: put of a new key',
        writesPerCommit: 1,
        concurrency: CONCURRENCY,
        operation: (worker) => etcdPut(gateway, worker, newKey(worker), valueB64),
      },
      {
        id: 'insert',
        shape: 'batch 1: put of a new key',
        writesPerCommit: 1,
        concurrency: CONCURRENCY_HIGH,
        operation: (worker) => etcdPut(gateway, worker, newKey(worker), valueB64),
      },
      {
        id: 'rmw',
        shape: `batch 1: read-modify-write (range + txn if unchanged), ${RMW_KEYS} keys`,
        writesPerCommit: 1,
        concurrency: CONCURRENCY,
        operation: async (worker) => {
          await etcdReadModifyWrite(
            gateway,
            worker,
            rmwKeys[Math.floor(Math.random() * RMW_KEYS)] as string,
            valueB64,
          );
        },
      },
      {
        id: 'batch',
        shape: `batch ${BATCH}: txn of ${BATCH} puts of new keys`,
        writesPerCommit: BATCH,
        concurrency: CONCURRENCY,
        operation: (worker) =>
          etcdTxnPuts(
            gateway,
            worker,
            Array.from({ length: BATCH }, () => newKey(worker)),
            valueB64,
          ),
      },
    ];
    const measured = await measureAll(sut, shapes, options, notes);
    return { measured, version: cluster.version };
  } finally {
    gateway.close();
    await cluster.stop();
  }
}

// ---- Borealis ------------------------------------------------------------------------------------

interface NodeHealth {
  log: { fsyncs: number; recordsAppended: number } | null;
  counters: { droppedInbound: number; droppedOutbound: number; snapshots: number };
}

function healthUrls(fleet: StorageFleet): string[] {
  return fleet.nodes.map((node, index) => {
    const match = /health at (\S+)/.exec(fleet.process(index).output());
    if (match === null) throw new Error(`storage node ${node.id} printed no health URL`);
    return match[1] as string;
  });
}

async function nodeHealth(urls: string[]): Promise<NodeHealth[]> {
  return Promise.all(urls.map(async (url) => JSON.parse(await fetchText(url)) as NodeHealth));
}

/** Starts the fleet in a fresh directory under the data dir; `stop` stops every node by PID and removes it. */
async function startFleet(
  options: BenchOptions,
): Promise<{ fleet: StorageFleet; stop: () => Promise<void> }> {
  const dataRoot = await mkdtemp(join(options.dataDir, 'borealis-bench-quorum-'));
  let fleet: StorageFleet | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      unregister();
      await fleet?.stop();
      await rm(dataRoot, { recursive: true, force: true });
    })();
    return stopping;
  };
  const unregister = registerCleanup(stop);
  try {
    fleet = await startStorageFleet({ dataRoot });
  } catch (error) {
    await stop();
    throw error;
  }
  return { fleet, stop };
}

async function runBorealis(options: BenchOptions, value: Uint8Array, notes: string[]): Promise<Measured[]> {
  options.log('starting 6 storage nodes ...');
  const { fleet, stop } = await startFleet(options);
  const clients: QuorumClient[] = [];
  const closeClients = async () => {
    await Promise.all(clients.map((client) => client.close()));
  };
  const unregisterClients = registerCleanup(closeClients);
  try {
    const pids = fleet.nodes.map((_, index) => fleet.process(index).child.pid as number);
    options.log(`storage nodes serving: pids ${pids.join(', ')}`);
    const tag = `${process.pid}-${Date.now()}`;
    for (let index = 0; index < WRITERS; index++) {
      clients.push(
        new QuorumClient({
          writerId: `bench-w${index}-${tag}`,
          coordinatorId: FIRST_COORDINATOR_ID + index,
          nodes: fleet.nodes,
        }),
      );
    }
    await Promise.all(clients.map((client) => client.waitForNodes(6, 10_000)));
    const clientOf = (worker: number) => clients[worker % WRITERS] as QuorumClient;
    const commitNew = async (worker: number, keys: string[]) => {
      const outcome = await clientOf(worker).commit(
        VOLUME,
        keys.map((key) => ({ key, seq: 0 })),
        keys.map((key) => ({ key, value })),
      );
      if (outcome.outcome !== 'committed') throw new Error(`insert aborted: ${outcome.reason}`);
    };

    // A commit through one writer reads back through another.
    await commitNew(0, [`check/${tag}`]);
    const [read] = await clientOf(1).read(VOLUME, [`check/${tag}`]);
    if (
      read === undefined ||
      read.version.seq !== 1 ||
      !Buffer.from(value).equals(read.value ?? Buffer.alloc(0))
    )
      throw new Error(`a commit did not read back: ${JSON.stringify(read)}`);

    options.progress(`Borealis: writing the ${RMW_KEYS} read-modify-write keys`, 0);
    await preload(Math.ceil(RMW_KEYS / BATCH), PRELOAD_IN_FLIGHT, (i) =>
      commitNew(i, RMW_KEY_NAMES.slice(i * BATCH, (i + 1) * BATCH)),
    );
    options.progress(`Borealis: writing the ${RMW_KEYS} read-modify-write keys`, 1);

    const urls = healthUrls(fleet);
    const sut: SystemUnderTest = {
      system: 'Borealis',
      servers: fleet.nodes.length,
      pids,
      counters: async () => {
        const health = await nodeHealth(urls);
        let fsyncs = 0;
        let records = 0;
        for (const node of health) {
          fsyncs += node.log?.fsyncs ?? 0;
          records += node.log?.recordsAppended ?? 0;
        }
        return { fsyncs, records };
      },
    };
    const shapes = workloadShapes(`ins/${tag}`, commitNew, async (worker, key) => {
      await clientOf(worker).transact(VOLUME, [key], (_values: ReadValue[]) => ({
        writes: [{ key, value }],
        result: null,
      }));
    });
    const measured = await measureAll(sut, shapes, options, notes);

    const health = await nodeHealth(urls);
    const dropped = health.reduce(
      (sum, node) => sum + node.counters.droppedInbound + node.counters.droppedOutbound,
      0,
    );
    const snapshots = health.reduce((sum, node) => sum + node.counters.snapshots, 0);
    const clientCounters = clients.map((client) => client.counters);
    const aborts = clientCounters.reduce((sum, c) => sum + c.aborts, 0);
    const unknown = clientCounters.reduce((sum, c) => sum + c.unknownOutcomes, 0);
    const readFailures = clientCounters.reduce((sum, c) => sum + c.readFailures, 0);
    const share = fastCommitShare({
      commits: clientCounters.reduce((sum, c) => sum + c.commits, 0),
      fastCommits: clientCounters.reduce((sum, c) => sum + c.fastCommits, 0),
    });
    notes.push(
      `Borealis over the whole run: ${share} commits ` +
        `chosen by six YES votes without an ACCEPT round (ADR 0015), ${aborts} aborted commits (read-modify-write conflicts, retried by ` +
        `transact), ${unknown} commits of unknown outcome, ${readFailures} failed reads, ${dropped} messages ` +
        `dropped by storage nodes under overload, ${snapshots} snapshots taken by the nodes.`,
    );
    return measured;
  } finally {
    unregisterClients();
    await closeClients();
    await stop();
  }
}

// ---- the floor -----------------------------------------------------------------------------------

async function runFloor(options: BenchOptions, value: Uint8Array, notes: string[]): Promise<Measured[]> {
  const { root, stops, cleanup } = await scratchRun(options.dataDir, 'borealis-bench-quorum-floor-');
  const writers: FloorWriter[] = [];
  try {
    const replicas = await startFloorReplicas(root, stops);
    for (let index = 0; index < WRITERS; index++) writers.push(await FloorWriter.connect(replicas.ports));
    const writerOf = (worker: number) => writers[worker % WRITERS] as FloorWriter;
    const bytes = Buffer.from(value);
    const writeNew = (worker: number, keys: string[]) =>
      writerOf(worker).write(keys.map((key) => ({ key: Buffer.from(key), value: bytes })));
    await preload(Math.ceil(RMW_KEYS / BATCH), PRELOAD_IN_FLIGHT, (i) =>
      writeNew(i, RMW_KEY_NAMES.slice(i * BATCH, (i + 1) * BATCH)),
    );
    const sut: SystemUnderTest = {
      system: 'floor',
      servers: replicas.pids.length,
      pids: replicas.pids,
      counters: async () => ({ fsyncs: await (writers[0] as FloorWriter).fsyncs() }),
    };
    return await measureAll(
      sut,
      workloadShapes('ins', writeNew, async (worker, key) => {
        await writerOf(worker).read(key);
        await writeNew(worker, [key]);
      }),
      options,
      notes,
    );
  } finally {
    for (const writer of writers) writer.close();
    await cleanup();
  }
}

// ---- the comparison ------------------------------------------------------------------------------

function ratioNotes(borealis: Combined[], etcd: Combined[]): string[] {
  const notes: string[] = [];
  const names: Record<Shape['id'], string> = {
    insert: 'batch 1 insert (one new key per commit)',
    rmw: 'batch 1 read-modify-write (a read, then a commit conditional on the version read)',
    batch: `batch ${BATCH} (${BATCH} new keys per commit)`,
  };
  const verdicts: string[] = [];
  for (const id of ['insert', 'rmw', 'batch'] as const) {
    const pairs: string[] = [];
    for (const concurrency of [CONCURRENCY, CONCURRENCY_HIGH]) {
      const theirs = etcd.find((m) => m.id === id && m.concurrency === concurrency);
      const ours = borealis.find((m) => m.id === id && m.concurrency === concurrency);
      if (theirs === undefined || ours === undefined) continue;
      const { median: ratio, text } = roundRatios(ours, theirs);
      pairs.push(
        `${concurrency} in flight: Borealis/etcd commits/s = ${ratio.toFixed(2)} (${text}; medians ` +
          `${Math.round(ours.stats.opsPerSec)} and ${Math.round(theirs.stats.opsPerSec)})`,
      );
      verdicts.push(
        `${names[id].split(' (')[0]} at ${concurrency} in flight: ${ratio > 1 ? 'Borealis' : 'etcd'} faster`,
      );
    }
    if (pairs.length > 0) notes.push(`${names[id]}: ${pairs.join('; ')}.`);
  }
  if (verdicts.length > 0) notes.push(`Did Borealis beat etcd? ${verdicts.join('; ')}.`);
  return notes;
}

/** Each shape's floor: the floor against etcd (the most this shape could reach) and Borealis against it. */
function floorNotes(borealis: Combined[], floor: Combined[], etcd: Combined[]): string[] {
  const lines: string[] = [];
  for (const bare of floor) {
    const ours = borealis.find((m) => m.id === bare.id && m.concurrency === bare.concurrency);
    const theirs = etcd.find((m) => m.id === bare.id && m.concurrency === bare.concurrency);
    if (ours === undefined) continue;
    const toFloor = roundRatios(ours, bare);
    const floorToEtcd = theirs === undefined ? null : roundRatios(bare, theirs);
    lines.push(
      `${bare.id} at ${bare.concurrency} in flight: Borealis / floor ${toFloor.median.toFixed(2)} (${toFloor.text})` +
        (floorToEtcd === null ? '' : `, floor / etcd ${floorToEtcd.median.toFixed(2)} (${floorToEtcd.text})`),
    );
  }
  if (lines.length === 0) return [];
  return [
    `Floor (bench/lib/floor-node.ts: six bare replicas that log each batch with one fdatasync and answer, three bare writers in this process waiting for 4 of 6; a read-modify-write is a read from 3 then a write; no versions, votes, decisions, msgpack or CRCs): ${lines.join('; ')}.`,
  ];
}

/**
 * The guard against regressions: Borealis's server CPU per commit against the figure committed in
 * docs/benchmarks.md, which moves far less with the machine's load than commits/s do. The
 * machine's own speed drifts between runs too (the same etcd binary's CPU per commit shows it), so
 * each ratio is divided by etcd's median ratio when etcd ran.
 */
async function cpuPerCommitNotes(borealis: Combined[], etcd: Combined[]): Promise<string[]> {
  const doc = await readFile(join(repoRoot, 'docs', 'benchmarks.md'), 'utf8').catch(() => '');
  const committed = committedSection(doc, NAME);
  if (committed === null) return ['No committed quorum section to compare server CPU per commit with.'];
  const keys = ['system', 'shape', 'in flight'] as const;
  const column = 'server CPU ms per commit';
  const peer = compareWithCommitted(
    etcd.map((m) => m.row),
    committed,
    keys,
    column,
    Number.POSITIVE_INFINITY,
  );
  const machineFactor = median(peer.ratios);
  const compared = compareWithCommitted(
    borealis.map((m) => m.row),
    committed,
    keys,
    column,
    CPU_PER_COMMIT_ALLOWED_RATIO,
    machineFactor,
  );
  const when = committed.measured.replace(/^Measured /, '').split(' on ')[0];
  const drift =
    peer.ratios.length === 0
      ? "etcd did not run, so the machine's drift is unknown"
      : `etcd's own CPU per commit is ${machineFactor.toFixed(2)}× its committed figure (median of its rows): the machine's drift`;
  return [
    `Server CPU ms per commit against the committed figures (measured ${when}; ${drift}): ${compared.lines.join('; ')}. ` +
      (compared.regressions === 0
        ? `No row is more than ${CPU_PER_COMMIT_ALLOWED_RATIO}× its committed figure after the machine's drift.`
        : `${compared.regressions} row(s) above ${CPU_PER_COMMIT_ALLOWED_RATIO}× the committed figure after the machine's drift: a regression to explain before committing this table.`),
  ];
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const value = new Uint8Array(randomBytes(VALUE_BYTES));
  const loadAtStart = loadavg()[0] ?? 0;
  const notes: string[] = [];
  const runs: Record<System, Measured[][]> = { etcd: [], borealis: [], floor: [] };
  let etcdVersion: string | null = null;
  let etcdUnavailable = false;
  const runners: Record<System, (roundNotes: string[]) => Promise<void>> = {
    etcd: async (roundNotes) => {
      const result = await runEtcd(options, value, roundNotes);
      if (result === null) etcdUnavailable = true;
      else {
        etcdVersion = result.version;
        runs.etcd.push(result.measured);
      }
    },
    borealis: async (roundNotes) => {
      runs.borealis.push(await runBorealis(options, value, roundNotes));
    },
    floor: async (roundNotes) => {
      runs.floor.push(await runFloor(options, value, roundNotes));
    },
  };
  const order: System[] = ['etcd', 'borealis', 'floor'];
  for (let roundIndex = 0; roundIndex < ROUNDS; roundIndex++) {
    const roundNotes: string[] = [];
    for (const system of inTurn(order, roundIndex)) {
      if (system === 'etcd' && etcdUnavailable) continue;
      options.log(`round ${roundIndex + 1} of ${ROUNDS}: ${system}`);
      await runners[system](roundNotes);
    }
    notes.push(...roundNotes.map((note) => `Round ${roundIndex + 1}: ${note}`));
  }
  const etcd = combineRounds(runs.etcd);
  const borealis = combineRounds(runs.borealis);
  const floor = combineRounds(runs.floor);
  const loadAtEnd = loadavg()[0] ?? 0;
  const measured = [...etcd, ...borealis, ...floor];
  const rows = measured.map((m) => m.row);
  const setup = [
    `${ROUNDS} rounds: in each, every system ran all its rows alone (its servers stopped before the next one's started), the systems' order turning each round. Each figure is the median of its rounds, each ratio below the median of the rounds' ratios (listed in parentheses). Run one after another once each, a ratio compared systems measured minutes apart on a machine whose speed drifts by half and more.`,
    ...ratioNotes(borealis, etcd),
    ...floorNotes(borealis, floor, etcd),
    ...(await cpuPerCommitNotes(borealis, etcd)),
    `Borealis: 6 storage-node processes on 127.0.0.1 (one data dir each, group commit: every batch of ` +
      `records is fdatasynced before any reply), driven by ${WRITERS} QuorumClient writers in this process ` +
      `(coordinator ids ${FIRST_COORDINATOR_ID}-${FIRST_COORDINATOR_ID + WRITERS - 1}) sharing the load: ` +
      'a commit is PROPOSE to all 6 and durable YES votes from all 6 in time (ADR 0015), else 4 durable YES ' +
      'votes, ACCEPT to all 6 and 4 durable acceptances; the DECIDED that follows is logged too. Each node logs the records of one batch of messages as one ' +
      'checksummed log entry, and a proposal once (with the vote), not again with ACCEPT and DECIDED.',
    `etcd${etcdVersion === null ? '' : ` ${etcdVersion}`}: 3 members on 127.0.0.1, default durability (WAL fsynced per ` +
      'batch of entries), driven through the v3 JSON gateway over HTTP/1.1 keep-alive, requests spread ' +
      'over the members. Puts are blind writes; the read-modify-write is a range then a txn comparing ' +
      'mod_revision, retried on conflict.',
    `Both: ${VALUE_BYTES}-byte values, closed loop (${CONCURRENCY} commits in flight unless said), ` +
      `${WARMUP_MS / 1000} s warm-up then ${DURATION_MS / 1000} s measured per row. Inserts write keys never written before; the ` +
      `read-modify-write rows update ${RMW_KEYS.toLocaleString('en-US')} keys written beforehand, picked at ` +
      'random (its latency is the whole read + commit, retries included).',
    '"fsyncs/s per server" is over the measured window, from each storage node\'s ' +
      "health endpoint (its durable log's counters) or each etcd member's metrics " +
      '(etcd_disk_wal_fsync_duration_seconds_count); "commits per fsync" is commits/s over fsyncs/s per ' +
      'server. "server CPU %" is the servers\' processes together and "client CPU %" this process (the ' +
      'writers or the HTTP client), in % of one core: this machine has few cores, shared by all of them. ' +
      '"server CPU ms per commit" is the servers\' CPU time over the commits of the window: what one ' +
      'commit costs, whatever else runs on the machine.',
    `Load average (1 min): ${round(loadAtStart, 1)} when this bench started, ${round(loadAtEnd, 1)} when it ended; ` +
      'other work on the machine takes cores and disk from both systems alike only if it is steady.',
  ];
  return { name: NAME, rows, notes: [...setup, ...notes] };
}
