// The storage node's durable append-only log and its snapshots, in a directory the log owns.
//
// Files:
//   log-<16-digit segment>.wal        records: [u32 payload bytes][u32 CRC32C of payload][payload],
//                                     integers big-endian, one record after another
//   snapshot-<16-digit segment>.snap  a serialized state covering every record of segments up to
//                                     and including <segment>: a 32-byte header, then the body
//   snapshot-<segment>.snap.tmp       a snapshot being written; never read, removed on open
//   repair-needed.json                written when damage was set aside (`damage: 'keepPrefix'`):
//                                     the state may lack acknowledged records until the owner
//                                     repairs it from elsewhere and calls `clearRepairMarker()`
//   damaged-<ms>/                     copies of the damaged files, kept for inspection
//
// Durability rules the code relies on:
// - An append resolves only after the fdatasync covering its records; concurrent appends share
//   one write and one fdatasync (group commit).
// - A new segment file is created only after every record of the previous one is fdatasynced, so
//   only the newest segment can end in a torn record. Recovery cuts a torn tail there: damage
//   with no valid record after it. It refuses to start on damage anywhere else, and on damage in
//   the newest segment that a valid record follows, which would mean acknowledged records are lost
//   (or, with `damage: 'keepPrefix'`, keeps the verified prefix and marks the log as needing repair).
// - A snapshot is renamed into place and the directory fsynced before any segment it covers is
//   deleted, so a crash at any step leaves either the old snapshot with its segments or the new one.
// - Payloads are never empty: a zero length marks a zero-filled tail, not a record.
// - The newest segment is written ahead with zeros (`preallocateBytes`, made durable with the
//   records they follow), so that most appends overwrite blocks the file already has. An
//   fdatasync then has only the data to write: an append that grows the file must also write the
//   inode for its new size, a second I/O in every fsync (docs/performance.md, "Log segments
//   written ahead with zeros"). Recovery takes an all-zero tail of the newest segment as its end,
//   not as damage; a segment is cut to its records before the next one is created, so no other
//   segment has such a tail.
//
// Taking a snapshot, from the owner of the in-memory state:
//   (1) const segment = log.rotate();    and, in the same tick, serialize the state, or fix
//       what its chunks will hold: it then reflects exactly the records appended before the
//       rotate, all of which are in segments up to `segment`;
//   (2) await log.writeSnapshot(state, segment);   `state` is the body, or its chunks, which are
//       taken one at a time as the file is written (each in a turn of its own).
// Appends may continue throughout; they go to the new segment.

import { fdatasyncSync, writevSync } from 'node:fs';
import {
  copyFile,
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import { crc32c, crc32cUpdate } from './crc32c.js';

export const RECORD_HEADER_BYTES = 8;
/** Largest payload of one record. Recovery treats a larger announced length as damage. */
export const RECORD_BYTES_MAX = 64 * 1024 * 1024;
export const PENDING_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;
/** Appends, barriers and rotations waiting for the writer, whatever their size. */
export const PENDING_OPERATIONS_MAX = 100_000;
export const REPLAY_CHUNK_BYTES_DEFAULT = 4 * 1024 * 1024;
/**
 * Zeros written ahead of the records in the newest segment, once an append reaches the end of the
 * zeros written before: the file then grows (and an fsync writes its inode) once per this many
 * bytes of records, not at every append. On this project's machine a 3,000-byte append's write
 * and fdatasync took a median of 140-146 µs with it (64 KiB to 1 MiB alike) against 232-242
 * without, at about half the system CPU (docs/performance.md).
 */
export const PREALLOCATE_BYTES_DEFAULT = 256 * 1024;
/**
 * A snapshot being written is fsynced every this many bytes: one fsync of the whole file at the
 * end would hold the disk for its full size at once (hundreds of megabytes for a million keys), and
 * every log on the disk, this node's and its neighbours', would wait behind it for its own fsync.
 */
export const SNAPSHOT_SYNC_BYTES = 8 * 1024 * 1024;

const SEGMENT_NAME = /^log-(\d{16})\.wal$/;
const SNAPSHOT_NAME = /^snapshot-(\d{16})\.snap$/;
const SNAPSHOT_TEMP_NAME = /^snapshot-\d{16}\.snap\.tmp$/;
export const REPAIR_MARKER_NAME = 'repair-needed.json';
// 'BSNP'
const SNAPSHOT_MAGIC = 0x42534e50;
const SNAPSHOT_FORMAT_VERSION = 1;
// magic u32, version u32, covers-through segment u64, body bytes u64, body CRC u32, header CRC u32.
const SNAPSHOT_HEADER_BYTES = 32;

export type DurableLogErrorCode =
  /** The pending queue is full; retry after earlier appends resolve. */
  | 'QUEUE_FULL'
  /** `close()` was called. */
  | 'CLOSED'
  /** A write or fsync failed; the log takes no more writes and the process should restart. */
  | 'FAILED'
  /** The caller passed something the log cannot store. */
  | 'INVALID_ARGUMENT'
  /** Recovery found damage it must not repair by itself. */
  | 'CORRUPT';

export class DurableLogError extends Error {
  override readonly name = 'DurableLogError';

  constructor(
    readonly code: DurableLogErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface DurableLogOptions {
  /**
   * Called once, before any record, with the newest snapshot that verifies (if any). Without it
   * the snapshot reaches the caller only in open's result, after the records were replayed.
   */
  onSnapshot?: (body: Uint8Array, coversThroughSegment: number) => void;
  /**
   * Called for every record after the snapshot, in append order. `payload` is a view into a
   * reused read buffer and is valid only during the call: copy what must outlive it. Keeping
   * replay memory bounded this way is what lets a large log recover in constant space.
   */
  onRecord: (payload: Uint8Array, segment: number) => void;
  /** Bound on bytes appended but not yet durable; an append over it is rejected. */
  pendingBytesMax?: number;
  /** Size of the read buffer for replay (it grows only for a record larger than this). */
  replayChunkBytes?: number;
  /** Zeros written ahead of the records (PREALLOCATE_BYTES_DEFAULT); 0 writes none. */
  preallocateBytes?: number;
  /**
   * What to do with damage that is not a torn tail (records that may have been acknowledged are
   * unreadable or missing). 'refuse' (the default) throws CORRUPT. 'keepPrefix' is for an owner
   * that can repair its state from elsewhere: the records before the damage are replayed, the
   * damaged files are copied to `damaged-<ms>/`, the log continues after the verified prefix, and
   * a durable marker says that the state needs repair (reported as `recovery.damage` on every
   * open until `clearRepairMarker()`).
   */
  damage?: 'refuse' | 'keepPrefix';
}

export interface LogDamage {
  /** What was found, or what the marker left by an earlier open says was found. */
  reason: string;
  /** The directory holding copies of the damaged files; null when found by an earlier open. */
  setAsideIn: string | null;
  /** True when this open found no new damage, only the marker of an earlier one. */
  earlier: boolean;
  /** When the damage was found (ms since the epoch). */
  foundAtMs: number;
}

export interface TornTail {
  segment: number;
  /** Byte offset of the first record that did not verify; the segment now ends there. */
  offset: number;
  bytesDropped: number;
  reason: string;
}

export interface RecoveryReport {
  /** Segment the loaded snapshot covers through; 0 when there was none. */
  snapshotSegment: number;
  snapshotBytes: number;
  /** Snapshot files newer than the one loaded that failed verification. */
  skippedSnapshots: string[];
  segmentsReplayed: number;
  recordsReplayed: number;
  /** Record bytes replayed, headers included. */
  bytesReplayed: number;
  tornTail: TornTail | null;
  /** Damage kept out of the state (`damage: 'keepPrefix'`); null when the log is whole. */
  damage: LogDamage | null;
  recoveryMs: number;
}

export interface DurableLogOpened {
  log: DurableLog;
  /** The body also given to `onSnapshot`, or null. */
  snapshot: Uint8Array | null;
  recovery: RecoveryReport;
}

export interface DurableLogStats {
  /** Segment that new appends go to. */
  segment: number;
  /** Segment the newest durable snapshot covers through; 0 when there is none. */
  snapshotSegment: number;
  appendCalls: number;
  recordsAppended: number;
  /** Record bytes made durable, headers included. */
  bytesAppended: number;
  fsyncs: number;
  lastFsyncLatencyMs: number;
  /** The longest fdatasync since the log opened. */
  longestFsyncMs: number;
  /**
   * fdatasyncs that took at least 10, 50 and 200 ms, since the log opened. A disk that stalls
   * holds every append behind it, and every log sharing the disk at once: these say how often.
   */
  slowFsyncs: { atLeast10Ms: number; atLeast50Ms: number; atLeast200Ms: number };
  averageRecordsPerFsync: number;
  averageCallsPerFsync: number;
  pendingBytes: number;
  pendingOperations: number;
  snapshotsWritten: number;
  /** Bytes of the log's files on disk: live segments (the zeros written ahead included) and the current snapshot. */
  diskBytes: number;
}

interface PendingAppend {
  kind: 'append';
  /** Encoded records of one call, written contiguously; null for a barrier. */
  bytes: Buffer | null;
  records: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

interface PendingRotate {
  kind: 'rotate';
  segment: number;
}

type PendingOperation = PendingAppend | PendingRotate;

/** How long the log's fdatasyncs took: the last, the longest, and how many were slow (DurableLogStats). */
export class FsyncLatencies {
  lastMs = 0;
  longestMs = 0;
  readonly slow = { atLeast10Ms: 0, atLeast50Ms: 0, atLeast200Ms: 0 };

  record(tookMs: number): void {
    this.lastMs = tookMs;
    if (tookMs > this.longestMs) this.longestMs = tookMs;
    if (tookMs >= 10) this.slow.atLeast10Ms++;
    if (tookMs >= 50) this.slow.atLeast50Ms++;
    if (tookMs >= 200) this.slow.atLeast200Ms++;
  }
}

export function segmentFileName(segment: number): string {
  return `log-${formatSegment(segment)}.wal`;
}

export function snapshotFileName(segment: number): string {
  return `snapshot-${formatSegment(segment)}.snap`;
}

function formatSegment(segment: number): string {
  return String(segment).padStart(16, '0');
}

export class DurableLog {
  private readonly queue: PendingOperation[] = [];
  private pendingBytes = 0;
  private writerActive = false;
  private readonly idleWaiters: (() => void)[] = [];
  private failure: DurableLogError | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  private snapshotTail: Promise<void> = Promise.resolve();
  // The segment new appends go to; ahead of `writerSegment` while rotations wait in the queue.
  private currentSegment: number;
  /** Durable bytes of each segment file still on disk, kept as they change: no stat calls needed. */
  private readonly segmentBytes = new Map<number, number>();
  /**
   * Length of the writer's segment file: its records (`writerOffset`) and the zeros written ahead
   * of them. An append that ends past it grows the file and writes zeros ahead again.
   */
  private writerFileBytes: number;
  /** The zeros written ahead, allocated at the first append that needs them. */
  private zeros: Buffer | null = null;

  private readonly counters = {
    appendCalls: 0,
    recordsAppended: 0,
    bytesAppended: 0,
    callsCommitted: 0,
    fsyncs: 0,
    snapshotsWritten: 0,
  };
  private readonly fsyncLatencies = new FsyncLatencies();

  private constructor(
    readonly dir: string,
    private readonly pendingBytesMax: number,
    // The segment file the writer appends to, and its length.
    private handle: FileHandle,
    private writerSegment: number,
    private writerOffset: number,
    private snapshotSegment: number,
    /** Size of the current snapshot file (header included); 0 when there is none. */
    private snapshotFileBytes: number,
    segmentBytes: ReadonlyMap<number, number>,
    writerFileBytes: number,
    private readonly preallocateBytes: number,
  ) {
    this.writerFileBytes = writerFileBytes;
    this.currentSegment = writerSegment;
    for (const [segment, bytes] of segmentBytes) this.segmentBytes.set(segment, bytes);
  }

  /**
   * Opens (creating if needed) the log in `dir` and replays it: `onSnapshot` with the newest
   * snapshot that verifies, then `onRecord` for every later record. Throws a `DurableLogError`
   * with code 'CORRUPT' if records that may have been acknowledged are damaged or missing.
   */
  static async open(dir: string, options: DurableLogOptions): Promise<DurableLogOpened> {
    const startedMs = performance.now();
    const pendingBytesMax = options.pendingBytesMax ?? PENDING_BYTES_MAX_DEFAULT;
    const replayChunkBytes = options.replayChunkBytes ?? REPLAY_CHUNK_BYTES_DEFAULT;
    const preallocateBytes = options.preallocateBytes ?? PREALLOCATE_BYTES_DEFAULT;
    requirePositiveInteger('pendingBytesMax', pendingBytesMax);
    requirePositiveInteger('replayChunkBytes', replayChunkBytes);
    if (!Number.isSafeInteger(preallocateBytes) || preallocateBytes < 0) {
      throw new DurableLogError(
        'INVALID_ARGUMENT',
        `preallocateBytes must be a non-negative integer, got ${preallocateBytes}`,
      );
    }

    const createdDir = await mkdir(dir, { recursive: true });
    if (createdDir !== undefined) {
      // A new directory's own name must be durable before anything in it can be.
      const topCreated = resolvePath(createdDir);
      for (let created = resolvePath(dir); dirname(created) !== created; created = dirname(created)) {
        await syncDirectory(dirname(created));
        if (created === topCreated) break;
      }
    }
    const names = await readdir(dir);
    const segments = numbered(names, SEGMENT_NAME);
    const snapshots = numbered(names, SNAPSHOT_NAME);
    const obsolete = names.filter((name) => SNAPSHOT_TEMP_NAME.test(name));

    let snapshot: Uint8Array | null = null;
    let snapshotSegment = 0;
    const skippedSnapshots: string[] = [];
    for (const candidate of [...snapshots].reverse()) {
      const name = snapshotFileName(candidate);
      const body = await readSnapshot(join(dir, name), candidate);
      if (body === null) {
        skippedSnapshots.push(name);
        continue;
      }
      snapshot = body;
      snapshotSegment = candidate;
      break;
    }
    for (const segment of segments) if (segment <= snapshotSegment) obsolete.push(segmentFileName(segment));
    for (const older of snapshots) if (older < snapshotSegment) obsolete.push(snapshotFileName(older));

    const keepPrefix = options.damage === 'keepPrefix';
    const earlierDamage = keepPrefix ? await readRepairMarker(dir) : null;
    let live = segments.filter((segment) => segment > snapshotSegment);
    const report: RecoveryReport = {
      snapshotSegment,
      snapshotBytes: snapshot?.length ?? 0,
      skippedSnapshots,
      segmentsReplayed: 0,
      recordsReplayed: 0,
      bytesReplayed: 0,
      tornTail: null,
      damage: earlierDamage,
      recoveryMs: 0,
    };
    try {
      checkContiguous(dir, live, snapshotSegment, skippedSnapshots);
    } catch (error) {
      if (!keepPrefix) throw error;
      // No snapshot and segments that make a whole: nothing can be replayed as a prefix. Every
      // file is set aside and the state starts empty, to be repaired whole.
      const everything = names.filter((name) => SEGMENT_NAME.test(name) || SNAPSHOT_NAME.test(name));
      report.damage = await setAsideDamage(dir, (error as Error).message, everything, everything);
      snapshot = null;
      snapshotSegment = 0;
      report.snapshotSegment = 0;
      report.snapshotBytes = 0;
      live = [];
      obsolete.length = 0;
    }

    if (snapshot !== null) options.onSnapshot?.(snapshot, snapshotSegment);
    const replay: Replay = {
      buffer: new Uint8Array(replayChunkBytes),
      onRecord: options.onRecord,
      report,
    };
    let handle: FileHandle;
    let writerSegment: number;
    let writerOffset: number;
    let writerFileBytes = 0;
    const segmentBytes = new Map<number, number>();
    let damagedAt: { segment: number; offset: number; reason: string } | null = null;
    // The newest segment's length with the zeros written ahead of its records, which stay.
    let lastFileBytes = 0;
    for (const [index, segment] of live.entries()) {
      const isLast = index === live.length - 1;
      const replayed = await replaySegment(dir, segment, replay, isLast);
      if (replayed.damage !== null) {
        if (!keepPrefix) throw new DurableLogError('CORRUPT', replayed.damage);
        damagedAt = { segment, offset: replayed.goodBytes, reason: replayed.damage };
        break;
      }
      segmentBytes.set(segment, replayed.goodBytes);
      if (isLast) lastFileBytes = replayed.fileBytes;
    }
    if (damagedAt !== null) {
      const later = live.filter((segment) => segment > (damagedAt as { segment: number }).segment);
      report.damage = await setAsideDamage(
        dir,
        damagedAt.reason,
        [damagedAt.segment, ...later].map(segmentFileName),
        later.map(segmentFileName),
      );
      writerSegment = damagedAt.segment;
      writerOffset = damagedAt.offset;
      writerFileBytes = writerOffset;
      // The damaged segment continues from its verified prefix; its copy keeps the rest.
      handle = await openCutTo(join(dir, segmentFileName(writerSegment)), writerOffset);
    } else if (live.length === 0) {
      writerSegment = snapshotSegment + 1;
      writerOffset = 0;
      handle = await open(join(dir, segmentFileName(writerSegment)), 'wx');
    } else {
      writerSegment = live[live.length - 1] as number;
      writerOffset = segmentBytes.get(writerSegment) as number;
      const path = join(dir, segmentFileName(writerSegment));
      handle = report.tornTail !== null ? await openCutTo(path, writerOffset) : await open(path, 'r+');
      writerFileBytes = report.tornTail !== null ? writerOffset : lastFileBytes;
    }
    try {
      await removeFiles(dir, obsolete);
      await syncDirectory(dir);
    } catch (error) {
      await handle.close();
      throw error;
    }
    report.recoveryMs = performance.now() - startedMs;
    // The newest segment is cut to its verified prefix above, so its length is the offset, and
    // the zeros written ahead of it.
    segmentBytes.set(writerSegment, writerOffset);
    const snapshotFileBytes = snapshot === null ? 0 : SNAPSHOT_HEADER_BYTES + snapshot.length;
    const log = new DurableLog(
      dir,
      pendingBytesMax,
      handle,
      writerSegment,
      writerOffset,
      snapshotSegment,
      snapshotFileBytes,
      segmentBytes,
      writerFileBytes,
      preallocateBytes,
    );
    return { log, snapshot, recovery: report };
  }

  /**
   * Appends `payloads` as consecutive records, all in one write; resolves once they are on disk.
   * Appends made while an fsync is in flight are written together and share the next fsync.
   * An empty array resolves once every earlier append is durable.
   */
  append(payloads: readonly Uint8Array[]): Promise<void> {
    const refusal = this.refusal();
    if (refusal !== null) return Promise.reject(refusal);
    let totalBytes = 0;
    for (const payload of payloads) {
      if (!(payload instanceof Uint8Array) || payload.length === 0 || payload.length > RECORD_BYTES_MAX) {
        const described = payload instanceof Uint8Array ? `${payload.length} bytes` : typeof payload;
        return Promise.reject(
          new DurableLogError(
            'INVALID_ARGUMENT',
            `a record payload must be a Uint8Array of 1 to ${RECORD_BYTES_MAX} bytes, got ${described}`,
          ),
        );
      }
      totalBytes += RECORD_HEADER_BYTES + payload.length;
    }
    const full = this.queueFullError(totalBytes);
    if (full !== null) return Promise.reject(full);

    let bytes: Buffer | null = null;
    if (payloads.length > 0) {
      // Copied now, so the caller may reuse its buffers as soon as append returns.
      bytes = Buffer.allocUnsafe(totalBytes);
      let offset = 0;
      for (const payload of payloads) {
        bytes.writeUInt32BE(payload.length, offset);
        bytes.writeUInt32BE(crc32c(payload), offset + 4);
        bytes.set(payload, offset + RECORD_HEADER_BYTES);
        offset += RECORD_HEADER_BYTES + payload.length;
      }
    }
    this.counters.appendCalls++;
    return this.enqueueAppend(bytes, payloads.length);
  }

  /**
   * Ends the current segment: appends made from now on go to a new one. Returns the number of the
   * segment just ended, which a snapshot taken in the same tick may cover (see the file comment).
   */
  rotate(): number {
    const refusal = this.refusal() ?? this.queueFullError(0);
    if (refusal !== null) throw refusal;
    const endedSegment = this.currentSegment;
    this.currentSegment += 1;
    this.queue.push({ kind: 'rotate', segment: this.currentSegment });
    this.scheduleWriter();
    return endedSegment;
  }

  /**
   * Stores `body` as the state covering every record in segments up to `coversThroughSegment`
   * (a segment ended by `rotate`), then deletes those segments and older snapshots. `body` is the
   * bytes, or their chunks in order, each taken once the one before is written. Snapshots are
   * written one at a time, in call order. A failed snapshot (a chunk that throws included) leaves
   * the log as it was.
   */
  writeSnapshot(body: Uint8Array | Iterable<Uint8Array>, coversThroughSegment: number): Promise<void> {
    const refusal = this.refusal();
    if (refusal !== null) return Promise.reject(refusal);
    if (
      !(body instanceof Uint8Array) &&
      typeof (body as Partial<Iterable<Uint8Array>>)?.[Symbol.iterator] !== 'function'
    ) {
      return Promise.reject(
        new DurableLogError(
          'INVALID_ARGUMENT',
          'a snapshot body must be a Uint8Array or an iterable of them',
        ),
      );
    }
    if (
      !Number.isSafeInteger(coversThroughSegment) ||
      coversThroughSegment < 1 ||
      coversThroughSegment >= this.currentSegment
    ) {
      return Promise.reject(
        new DurableLogError(
          'INVALID_ARGUMENT',
          `a snapshot must cover through a segment ended by rotate() (below ${this.currentSegment}), ` +
            `got ${coversThroughSegment}`,
        ),
      );
    }
    const written = this.snapshotTail.then(() => this.storeSnapshot(body, coversThroughSegment));
    this.snapshotTail = written.catch(() => undefined);
    return written;
  }

  private countFsync(tookMs: number): void {
    this.counters.fsyncs++;
    this.fsyncLatencies.record(tookMs);
  }

  stats(): DurableLogStats {
    const { fsyncs } = this.counters;
    return {
      segment: this.currentSegment,
      snapshotSegment: this.snapshotSegment,
      appendCalls: this.counters.appendCalls,
      recordsAppended: this.counters.recordsAppended,
      bytesAppended: this.counters.bytesAppended,
      fsyncs,
      lastFsyncLatencyMs: this.fsyncLatencies.lastMs,
      longestFsyncMs: this.fsyncLatencies.longestMs,
      slowFsyncs: { ...this.fsyncLatencies.slow },
      averageRecordsPerFsync: fsyncs === 0 ? 0 : this.counters.recordsAppended / fsyncs,
      averageCallsPerFsync: fsyncs === 0 ? 0 : this.counters.callsCommitted / fsyncs,
      pendingBytes: this.pendingBytes,
      pendingOperations: this.queue.length,
      snapshotsWritten: this.counters.snapshotsWritten,
      diskBytes: this.diskBytes(),
    };
  }

  /** Bytes of the log's files on disk: every segment not yet covered by a snapshot, and the snapshot. */
  diskBytes(): number {
    let bytes = this.snapshotFileBytes + (this.writerFileBytes - this.writerOffset);
    for (const segmentBytes of this.segmentBytes.values()) bytes += segmentBytes;
    return bytes;
  }

  /**
   * Says that the state replayed from this log has been repaired: every record appended so far is
   * made durable first, then the marker is removed, so that the next open reports no damage.
   */
  async clearRepairMarker(): Promise<void> {
    await this.append([]);
    await removeFiles(this.dir, [REPAIR_MARKER_NAME]);
    await syncDirectory(this.dir);
  }

  /**
   * Refuses new work, waits for queued appends and snapshots, then closes the segment file, cut
   * to its records: a closed log's files hold no zeros written ahead.
   */
  close(): Promise<void> {
    if (this.closing === null) {
      this.closed = true;
      this.closing = (async () => {
        await this.snapshotTail;
        await this.writerIdle();
        try {
          try {
            if (this.failure === null) await this.cutZerosAhead();
          } finally {
            await this.handle.close();
          }
        } catch (error) {
          // After a failure the handle may already be closed; that failure was reported already.
          if (this.failure === null) throw error;
        }
      })();
    }
    return this.closing;
  }

  private refusal(): DurableLogError | null {
    if (this.closed) return new DurableLogError('CLOSED', `durable log in ${this.dir} is closed`);
    return this.failure;
  }

  private queueFullError(bytes: number): DurableLogError | null {
    if (bytes > this.pendingBytesMax) {
      return new DurableLogError(
        'INVALID_ARGUMENT',
        `an append of ${bytes} bytes can never fit under pendingBytesMax (${this.pendingBytesMax})`,
      );
    }
    if (this.pendingBytes + bytes > this.pendingBytesMax || this.queue.length >= PENDING_OPERATIONS_MAX) {
      return new DurableLogError(
        'QUEUE_FULL',
        `durable log queue is full (${this.pendingBytes} of ${this.pendingBytesMax} bytes, ` +
          `${this.queue.length} of ${PENDING_OPERATIONS_MAX} operations pending); ` +
          `rejected an append of ${bytes} bytes`,
      );
    }
    return null;
  }

  private enqueueAppend(bytes: Buffer | null, records: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pendingBytes += bytes?.length ?? 0;
      this.queue.push({ kind: 'append', bytes, records, resolve, reject });
      this.scheduleWriter();
    });
  }

  // Resolves once everything queued before it is durable, including rotations.
  private barrier(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return this.enqueueAppend(null, 0);
  }

  private scheduleWriter(): void {
    if (this.writerActive) return;
    this.writerActive = true;
    // Waiting for the next check phase gathers every append made while handling this round of
    // I/O events (all sockets that were readable), so they share one write and one fsync.
    setImmediate(() => void this.runWriter());
  }

  private async runWriter(): Promise<void> {
    try {
      while (this.queue.length > 0 && this.failure === null) {
        const head = this.queue[0];
        if (head.kind === 'rotate') {
          this.queue.shift();
          await this.startSegment(head.segment);
          continue;
        }
        let count = 1;
        while (count < this.queue.length && this.queue[count].kind === 'append') count++;
        this.commit(this.queue.splice(0, count) as PendingAppend[]);
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.writerActive = false;
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private commit(batch: PendingAppend[]): void {
    const buffers: Buffer[] = [];
    let batchBytes = 0;
    let batchRecords = 0;
    for (const append of batch) {
      if (append.bytes === null) continue;
      buffers.push(append.bytes);
      batchBytes += append.bytes.length;
      batchRecords += append.records;
    }
    try {
      if (batchBytes > 0) {
        // On the event loop, not the thread pool: a thread-pool write and fdatasync cost two
        // hand-offs each (an eventfd write and read, two context switches), more than the write
        // itself on a small machine. While the node waits here, messages gather in its sockets
        // and the next batch takes them all, as Redis's `appendfsync always` does. The node has
        // nothing to answer before this batch is durable anyway; only its health endpoint waits.
        const end = this.writerOffset + batchBytes;
        if (end > this.writerFileBytes && this.preallocateBytes > 0) {
          // Past the zeros written ahead: more of them, in the same write and fdatasync.
          this.zeros ??= Buffer.alloc(this.preallocateBytes);
          buffers.push(this.zeros);
          this.writerFileBytes = end + this.preallocateBytes;
        } else if (end > this.writerFileBytes) this.writerFileBytes = end;
        writeFullySync(this.handle.fd, buffers, this.writerOffset);
        const syncStartedMs = performance.now();
        fdatasyncSync(this.handle.fd);
        this.countFsync(performance.now() - syncStartedMs);
        this.counters.callsCommitted += buffers.length;
        this.counters.recordsAppended += batchRecords;
        this.counters.bytesAppended += batchBytes;
        this.writerOffset += batchBytes;
        this.segmentBytes.set(this.writerSegment, this.writerOffset);
      }
    } catch (error) {
      const failure = this.fail(error);
      for (const append of batch) append.reject(failure);
      this.pendingBytes -= batchBytes;
      throw failure;
    }
    this.pendingBytes -= batchBytes;
    for (const append of batch) append.resolve();
  }

  /** Cuts the writer's segment to its records, durably: the zeros written ahead go. */
  private async cutZerosAhead(): Promise<void> {
    if (this.writerFileBytes === this.writerOffset) return;
    await this.handle.truncate(this.writerOffset);
    await this.handle.datasync();
    this.writerFileBytes = this.writerOffset;
  }

  private async startSegment(segment: number): Promise<void> {
    // Every record of the current segment is already fdatasynced: commit() syncs each batch. The
    // zeros written ahead go, durably, before the next segment exists: only the newest segment
    // may end in zeros that recovery reads as its end.
    await this.cutZerosAhead();
    const next = await open(join(this.dir, segmentFileName(segment)), 'wx');
    try {
      await syncDirectory(this.dir);
      await this.handle.close();
    } catch (error) {
      await next.close();
      throw error;
    }
    this.handle = next;
    this.writerSegment = segment;
    this.writerOffset = 0;
    this.writerFileBytes = 0;
    this.segmentBytes.set(segment, 0);
  }

  private async storeSnapshot(
    body: Uint8Array | Iterable<Uint8Array>,
    coversThroughSegment: number,
  ): Promise<void> {
    if (coversThroughSegment <= this.snapshotSegment) {
      throw new DurableLogError(
        'INVALID_ARGUMENT',
        `a snapshot covering through segment ${this.snapshotSegment} already exists; ` +
          `refusing an older one covering through ${coversThroughSegment}`,
      );
    }
    const name = snapshotFileName(coversThroughSegment);
    const path = join(this.dir, name);
    const tempPath = `${path}.tmp`;
    let bodyBytes = 0;
    try {
      const file = await open(tempPath, 'w');
      try {
        // The body first, after room for the header, which needs its length and checksum.
        let crc = 0;
        let unsynced = 0;
        for (const chunk of body instanceof Uint8Array ? [body] : body) {
          if (!(chunk instanceof Uint8Array)) throw new TypeError('a snapshot chunk must be a Uint8Array');
          if (chunk.length === 0) continue;
          await writeFully(file, [chunk], SNAPSHOT_HEADER_BYTES + bodyBytes);
          crc = crc32cUpdate(crc, chunk);
          bodyBytes += chunk.length;
          unsynced += chunk.length;
          if (unsynced >= SNAPSHOT_SYNC_BYTES) {
            await file.datasync();
            unsynced = 0;
          }
        }
        await writeFully(file, [snapshotHeader(bodyBytes, crc, coversThroughSegment)], 0);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tempPath, path);
      await syncDirectory(this.dir);
    } catch (error) {
      await unlink(tempPath).catch(() => undefined);
      throw new DurableLogError('FAILED', `cannot write snapshot ${path}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    this.snapshotSegment = coversThroughSegment;
    this.snapshotFileBytes = SNAPSHOT_HEADER_BYTES + bodyBytes;
    this.counters.snapshotsWritten++;

    // The writer may still be finishing records of covered segments; wait until it has moved on
    // before deleting them.
    await this.barrier();
    const names = await readdir(this.dir);
    const obsolete = [
      ...numbered(names, SEGMENT_NAME)
        .filter((segment) => segment <= coversThroughSegment)
        .map(segmentFileName),
      ...numbered(names, SNAPSHOT_NAME)
        .filter((segment) => segment < coversThroughSegment)
        .map(snapshotFileName),
    ];
    await removeFiles(this.dir, obsolete);
    for (const segment of this.segmentBytes.keys()) {
      if (segment <= coversThroughSegment) this.segmentBytes.delete(segment);
    }
    await syncDirectory(this.dir);
  }

  private writerIdle(): Promise<void> {
    if (!this.writerActive && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // After a failed write or fsync the file's contents are unknown (the kernel may have dropped
  // the dirty pages), so no later write may be acknowledged: the log stops and recovery decides.
  private fail(error: unknown): DurableLogError {
    if (this.failure === null) {
      this.failure =
        error instanceof DurableLogError && error.code === 'FAILED'
          ? error
          : new DurableLogError(
              'FAILED',
              `durable log in ${this.dir} failed writing segment ${this.writerSegment} ` +
                `and accepts no more writes; restart to recover: ${errorMessage(error)}`,
              { cause: error },
            );
    }
    for (const operation of this.queue.splice(0)) {
      if (operation.kind !== 'append') continue;
      this.pendingBytes -= operation.bytes?.length ?? 0;
      operation.reject(this.failure);
    }
    return this.failure;
  }
}

interface Replay {
  // A plain Uint8Array: creating a view per record is markedly cheaper than with a Buffer.
  buffer: Uint8Array;
  onRecord: (payload: Uint8Array, segment: number) => void;
  report: RecoveryReport;
}

/**
 * Replays one segment and returns the length of its verified prefix. Damage in the last segment
 * is a torn tail, recorded in the report for the caller to cut; anywhere else it is fatal.
 */
async function replaySegment(
  dir: string,
  segment: number,
  replay: Replay,
  isLast: boolean,
): Promise<{
  goodBytes: number;
  damage: string | null;
  /** The file's length once its damage is cut: its records, and the zeros written ahead of them. */
  fileBytes: number;
}> {
  const path = join(dir, segmentFileName(segment));
  const file = await open(path, 'r');
  try {
    const fileBytes = (await file.stat()).size;
    let buffer = replay.buffer;
    // buffer[0, filled) holds file bytes [bufferStart, bufferStart + filled).
    let bufferStart = 0;
    let filled = 0;
    let cursor = 0;
    let records = 0;
    let problem: string | null = null;
    let zeroTail = false;
    const report = replay.report;
    const onRecord = replay.onRecord;

    // Reads more of the file so that buffer[cursor, cursor + needed) is present.
    const fill = async (needed: number): Promise<boolean> => {
      const kept = filled - cursor;
      if (needed > buffer.length) {
        const grown = new Uint8Array(needed);
        grown.set(buffer.subarray(cursor, filled));
        buffer = grown;
      } else if (cursor > 0) {
        buffer.copyWithin(0, cursor, filled);
      }
      bufferStart += cursor;
      cursor = 0;
      filled = kept;
      while (filled < needed) {
        const wanted = Math.min(buffer.length - filled, fileBytes - (bufferStart + filled));
        if (wanted <= 0) return false;
        const { bytesRead } = await file.read(buffer, filled, wanted, bufferStart + filled);
        if (bytesRead === 0) return false;
        filled += bytesRead;
      }
      return true;
    };

    while (bufferStart + cursor < fileBytes) {
      if (filled - cursor < RECORD_HEADER_BYTES && !(await fill(RECORD_HEADER_BYTES))) {
        problem = 'incomplete record header';
        break;
      }
      const payloadBytes = readUint32(buffer, cursor);
      if (payloadBytes === 0 && isLast && (await zerosToEnd(file, bufferStart + cursor, fileBytes))) {
        // The zeros written ahead of the records (`preallocateBytes`): the segment's end, not damage.
        zeroTail = true;
        break;
      }
      if (payloadBytes === 0 || payloadBytes > RECORD_BYTES_MAX) {
        problem = `invalid record length ${payloadBytes}`;
        break;
      }
      const recordBytes = RECORD_HEADER_BYTES + payloadBytes;
      if (bufferStart + cursor + recordBytes > fileBytes) {
        problem = `record of ${payloadBytes} bytes runs past the end of the file`;
        break;
      }
      if (filled - cursor < recordBytes && !(await fill(recordBytes))) {
        problem = 'file ended while reading a record';
        break;
      }
      const payloadStart = cursor + RECORD_HEADER_BYTES;
      const payloadEnd = payloadStart + payloadBytes;
      if (crc32c(buffer, payloadStart, payloadEnd) !== readUint32(buffer, cursor + 4)) {
        problem = 'record checksum mismatch';
        break;
      }
      onRecord(buffer.subarray(payloadStart, payloadEnd), segment);
      records++;
      cursor = payloadEnd;
    }
    replay.buffer = buffer;
    const goodBytes = bufferStart + cursor;
    report.segmentsReplayed++;
    report.recordsReplayed += records;
    report.bytesReplayed += goodBytes;
    if (problem !== null) {
      // A crash can only tear what was written after the last fdatasync: the end of the newest
      // segment. Only there is the first unreadable record worth looking past.
      const validAt = isLast ? await validRecordAfter(file, goodBytes + 1, fileBytes) : 'not looked for';
      const verdict = damageVerdict({
        newestSegment: isLast,
        validRecordFollows: validAt === null ? false : validAt === 'unknown' ? 'unknown' : true,
      });
      if (verdict === 'corruption') {
        const detail = !isLast
          ? 'but is not the newest segment, so records after the damage may have been acknowledged; ' +
            'refusing to start. Restore this replica from its peers.'
          : `${
              validAt === 'unknown'
                ? 'and the bytes after it could not all be checked for valid records'
                : `but a valid record follows at byte ${validAt}`
            }: this is corruption, not a torn tail, and records after the damage may have been acknowledged; ` +
            'refusing to start rather than cut them. The other replicas keep serving (4 of 6 suffice); ' +
            'keep this directory for inspection and restore this replica from its peers.';
        return {
          goodBytes,
          damage: `${path} is damaged at byte ${goodBytes} of ${fileBytes} (${problem}) ${detail}`,
          fileBytes: goodBytes,
        };
      }
      report.tornTail = { segment, offset: goodBytes, bytesDropped: fileBytes - goodBytes, reason: problem };
    }
    return { goodBytes, damage: null, fileBytes: zeroTail ? fileBytes : goodBytes };
  } finally {
    await file.close();
  }
}

/**
 * What an unreadable record means. Only the end of the newest segment can be torn by a crash
 * (writes after the last fdatasync); damage anywhere else, or with a valid record after it, hit
 * records that may have been acknowledged (bit rot, a misdirected write): corruption, which must
 * never be cut silently. The storage node's simulator decides its damaged disks with this same
 * rule, so that a change to it is caught there too.
 */
export function damageVerdict(damage: {
  newestSegment: boolean;
  validRecordFollows: boolean | 'unknown';
}): 'torn-tail' | 'corruption' {
  return damage.newestSegment && damage.validRecordFollows === false ? 'torn-tail' : 'corruption';
}

/** Bytes read per step while looking for a valid record after damage. */
const SCAN_CHUNK_BYTES = 4 * 1024 * 1024;
/** Payload bytes checksummed at most while looking; past it the answer is 'unknown'. */
const SCAN_CHECKSUM_BYTES_MAX = 1024 * 1024 * 1024;

/**
 * The offset of the first valid record (plausible length, an end where a record could end, matching
 * checksum) starting anywhere in [from, fileBytes), null if there is none, or 'unknown' past the
 * checksum budget (never reached by a torn tail of an ordinary write; then recovery refuses to
 * cut, the safe side). A torn tail
 * (zeros, a partial record, the rest of an unsynced write) rarely holds one: a random 8-byte
 * header has a matching CRC32C with a probability of 2^-32. Every byte offset is tried because the
 * damage may have changed a length, after which the record boundaries are unknown.
 */
async function validRecordAfter(
  file: FileHandle,
  from: number,
  fileBytes: number,
): Promise<number | 'unknown' | null> {
  const chunk = new Uint8Array(SCAN_CHUNK_BYTES);
  let checksummed = 0;
  for (let chunkStart = from; chunkStart + RECORD_HEADER_BYTES < fileBytes; ) {
    const wanted = Math.min(chunk.length, fileBytes - chunkStart);
    const { bytesRead } = await file.read(chunk, 0, wanted, chunkStart);
    if (bytesRead < RECORD_HEADER_BYTES) return null;
    // Offsets whose whole header lies in this chunk; the next chunk starts at the first that did not.
    const lastOffset = bytesRead - RECORD_HEADER_BYTES;
    for (let offset = 0; offset <= lastOffset; offset++) {
      const payloadBytes = readUint32(chunk, offset);
      const recordStart = chunkStart + offset;
      if (payloadBytes === 0 || payloadBytes > RECORD_BYTES_MAX) continue;
      const recordEnd = recordStart + RECORD_HEADER_BYTES + payloadBytes;
      if (recordEnd > fileBytes) continue;
      // The 4 bytes after the candidate, from the chunk when they are in it.
      const endInChunk = recordEnd - chunkStart;
      const next =
        recordEnd + 4 <= fileBytes && endInChunk + 4 <= bytesRead
          ? chunk.subarray(endInChunk, endInChunk + 4)
          : await readUpTo4(file, recordEnd, fileBytes);
      if (!endsWhereARecordCould(next)) continue;
      checksummed += payloadBytes;
      if (checksummed > SCAN_CHECKSUM_BYTES_MAX) return 'unknown';
      const expected = readUint32(chunk, offset + 4);
      const payloadStart = offset + RECORD_HEADER_BYTES;
      let actual: number;
      if (payloadStart + payloadBytes <= bytesRead) {
        actual = crc32c(chunk, payloadStart, payloadStart + payloadBytes);
      } else {
        const payload = new Uint8Array(payloadBytes);
        await file.read(payload, 0, payloadBytes, recordStart + RECORD_HEADER_BYTES);
        actual = crc32c(payload, 0, payloadBytes);
      }
      if (actual === expected) return recordStart;
    }
    chunkStart += lastOffset + 1;
  }
  return null;
}

/**
 * Whether a record could end just before `next`, the (up to 4) bytes after it: the end of the
 * file (none), another record's plausible length, or zeros (a zero-filled torn tail). Records
 * lie end to end, so a real one passes; most false candidates in arbitrary bytes do not, which
 * spares checksumming them (their payloads may be megabytes each).
 */
function endsWhereARecordCould(next: Uint8Array): boolean {
  if (next.length === 0) return true;
  if (next.length < 4) return next.every((byte) => byte === 0);
  return readUint32(next, 0) <= RECORD_BYTES_MAX;
}

/** Whether the file's bytes from `from` to its end are all zero (read in bounded chunks). */
async function zerosToEnd(file: FileHandle, from: number, fileBytes: number): Promise<boolean> {
  const chunk = new Uint8Array(Math.min(SCAN_CHUNK_BYTES, Math.max(0, fileBytes - from)));
  for (let start = from; start < fileBytes; ) {
    const { bytesRead } = await file.read(chunk, 0, Math.min(chunk.length, fileBytes - start), start);
    if (bytesRead === 0) return false;
    for (let index = 0; index < bytesRead; index++) if (chunk[index] !== 0) return false;
    start += bytesRead;
  }
  return true;
}

/** The up to 4 bytes of the file from `offset` (none at its end). */
async function readUpTo4(file: FileHandle, offset: number, fileBytes: number): Promise<Uint8Array> {
  const next = new Uint8Array(Math.min(4, fileBytes - offset));
  if (next.length > 0) await file.read(next, 0, next.length, offset);
  return next;
}

function checkContiguous(dir: string, live: number[], snapshotSegment: number, skipped: string[]): void {
  let expected = snapshotSegment + 1;
  for (const segment of live) {
    if (segment !== expected) {
      const after =
        snapshotSegment === 0 ? 'with no usable snapshot' : `after ${snapshotFileName(snapshotSegment)}`;
      const skippedNote =
        skipped.length > 0 ? `; snapshots that failed verification: ${skipped.join(', ')}` : '';
      throw new DurableLogError(
        'CORRUPT',
        `${dir}: expected ${segmentFileName(expected)} ${after} but found ${segmentFileName(segment)}; ` +
          `records are missing, refusing to start${skippedNote}`,
      );
    }
    expected++;
  }
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0
  );
}

function snapshotHeader(bodyBytes: number, bodyCrc: number, coversThroughSegment: number): Buffer {
  const header = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
  header.writeUInt32BE(SNAPSHOT_MAGIC, 0);
  header.writeUInt32BE(SNAPSHOT_FORMAT_VERSION, 4);
  header.writeBigUInt64BE(BigInt(coversThroughSegment), 8);
  header.writeBigUInt64BE(BigInt(bodyBytes), 16);
  header.writeUInt32BE(bodyCrc, 24);
  header.writeUInt32BE(crc32c(header, 0, 28), 28);
  return header;
}

// The snapshot's body, or null when the file does not verify (torn, damaged or not ours).
async function readSnapshot(path: string, segmentInName: number): Promise<Uint8Array | null> {
  const file = await readFile(path);
  if (file.length < SNAPSHOT_HEADER_BYTES) return null;
  if (file.readUInt32BE(0) !== SNAPSHOT_MAGIC || file.readUInt32BE(4) !== SNAPSHOT_FORMAT_VERSION)
    return null;
  if (crc32c(file, 0, 28) !== file.readUInt32BE(28)) return null;
  if (file.readBigUInt64BE(8) !== BigInt(segmentInName)) return null;
  if (file.readBigUInt64BE(16) !== BigInt(file.length - SNAPSHOT_HEADER_BYTES)) return null;
  const body = file.subarray(SNAPSHOT_HEADER_BYTES);
  if (crc32c(body) !== file.readUInt32BE(24)) return null;
  return body;
}

function writeFullySync(fd: number, buffers: Uint8Array[], position: number): void {
  let pending = buffers;
  let offset = position;
  while (pending.length > 0) {
    const bytesWritten = writevSync(fd, pending, offset);
    offset += bytesWritten;
    pending = unwritten(pending, bytesWritten, offset);
  }
}

async function writeFully(file: FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
  let pending = buffers;
  let offset = position;
  while (pending.length > 0) {
    const { bytesWritten } = await file.writev(pending, offset);
    offset += bytesWritten;
    pending = unwritten(pending, bytesWritten, offset);
  }
}

/** What is left of `buffers` after a write of `bytesWritten` (a short write is rare on a local file). */
function unwritten(buffers: Uint8Array[], bytesWritten: number, offset: number): Uint8Array[] {
  if (bytesWritten <= 0) throw new Error(`write at byte ${offset} made no progress`);
  let skipped = bytesWritten;
  let index = 0;
  while (index < buffers.length && skipped >= (buffers[index] as Uint8Array).length) {
    skipped -= (buffers[index] as Uint8Array).length;
    index++;
  }
  const rest = buffers.slice(index);
  if (skipped > 0) rest[0] = (rest[0] as Uint8Array).subarray(skipped);
  return rest;
}

/** Opens `path` for appending, cut to its first `bytes` bytes (durably); closed again if that fails. */
async function openCutTo(path: string, bytes: number): Promise<FileHandle> {
  const handle = await open(path, 'r+');
  try {
    await handle.truncate(bytes);
    await handle.sync();
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}

/** The damage an earlier open set aside, if its repair has not been confirmed yet. */
async function readRepairMarker(dir: string): Promise<LogDamage | null> {
  let text: string;
  try {
    text = await readFile(join(dir, REPAIR_MARKER_NAME), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let saved: { reason?: unknown; foundAtMs?: unknown } = {};
  try {
    saved = JSON.parse(text) as typeof saved;
  } catch {
    // A marker that does not parse still marks the state as needing repair: that is its point.
  }
  return {
    reason: typeof saved.reason === 'string' ? saved.reason : `${REPAIR_MARKER_NAME} is present`,
    setAsideIn: null,
    earlier: true,
    foundAtMs: typeof saved.foundAtMs === 'number' ? saved.foundAtMs : 0,
  };
}

/**
 * Marks the log as needing repair (durably, first: a crash in the middle must not leave a log that
 * opens as whole), copies `copied` into a new `damaged-<ms>/` directory for inspection, then
 * deletes `removed` (files whose records the state will not hold).
 */
async function setAsideDamage(
  dir: string,
  reason: string,
  copied: string[],
  removed: string[],
): Promise<LogDamage> {
  const foundAtMs = Date.now();
  const markerPath = join(dir, REPAIR_MARKER_NAME);
  const marker = await open(markerPath, 'w');
  try {
    await marker.writeFile(JSON.stringify({ reason, foundAtMs }));
    await marker.sync();
  } finally {
    await marker.close();
  }
  await syncDirectory(dir);
  const setAsideIn = join(dir, `damaged-${foundAtMs}`);
  await mkdir(setAsideIn, { recursive: true });
  for (const name of copied) await copyFile(join(dir, name), join(setAsideIn, name));
  await writeFile(join(setAsideIn, 'reason.txt'), `${reason}\n`);
  await removeFiles(dir, removed);
  await syncDirectory(dir);
  return { reason, setAsideIn, earlier: false, foundAtMs };
}

async function syncDirectory(dir: string): Promise<void> {
  // A new, renamed or deleted name is durable only once its directory is fsynced.
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function removeFiles(dir: string, names: string[]): Promise<void> {
  for (const name of names) {
    try {
      await unlink(join(dir, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

function numbered(names: string[], pattern: RegExp): number[] {
  const numbers: number[] = [];
  for (const name of names) {
    const match = pattern.exec(name);
    if (match !== null) numbers.push(Number(match[1]));
  }
  return numbers.sort((a, b) => a - b);
}

function requirePositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new DurableLogError('INVALID_ARGUMENT', `${name} must be a positive integer, got ${value}`);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
