// The storage node's own event loop (StorageNodeCore) inside the deterministic simulator, over a
// simulated disk that fails as real ones do: an fsync takes time (sometimes much longer), a full
// disk fails an append (the node stops), a crash keeps only part of what was written and not yet
// fsynced, and a synced entry or a snapshot can rot, which the next start finds (by the log's own
// rule, the node then keeps what is before the damage and repairs from its peers, ADR 0009).
// An fsync can also fail the way Linux fails one ("fsyncgate"): it reports EIO once, the kernel
// marks the pages it could not write clean and drops them, and the next fsync reports success
// without them. The data is gone at the next crash; only a node that stops at the first EIO
// (and so acknowledges nothing that rode on it) loses nothing it promised.
// Records go to the simulated disk encoded, exactly as the node logs them, and come back through
// the same decoder on every restart.
//
//   npm run sim -- --shell storage-node [--profile damage] …
import { Buffer } from 'node:buffer';
import type { ReplicaRecord } from '../../../libs/quorum/src/index.js';
import type {
  ReplicaShell,
  ReplicaShellFactory,
  ShellDisk,
  ShellHost,
  ShellStart,
} from '../../../libs/quorum/src/simulator/index.js';
import { type NodeLog, StorageNodeCore } from './node-core.js';
import { decodeRecords, readSnapshot } from './record-codec.js';
import { damageVerdict } from './storage/durable-log.js';

/** How a simulated disk behaves: fsync latency in ms, and the odds of its faults. */
export interface SimulatedDiskFaults {
  fsyncMs: readonly [number, number];
  /** Share of fsyncs that take `slowFsyncMs` instead (a device stalling, a busy queue). */
  slowFsyncRate: number;
  slowFsyncMs: readonly [number, number];
  /** Share of appends refused with ENOSPC: the node stops, as it does on any failed write. */
  noSpaceRate: number;
  /** Share of fsyncs that fail with EIO and lose the writes they covered, though later ones succeed. */
  fsyncErrorRate: number;
}

/** The faults every simulated disk has unless told otherwise. */
export const DEFAULT_DISK_FAULTS: SimulatedDiskFaults = {
  fsyncMs: [0.2, 2],
  slowFsyncRate: 0.01,
  slowFsyncMs: [20, 120],
  noSpaceRate: 0.0005,
  fsyncErrorRate: 0.0002,
};

interface Entry {
  segment: number;
  /** The append that wrote it: appends complete in order. */
  append: number;
  payload: Uint8Array;
  synced: boolean;
  /** A failed fsync dropped its pages: readable until the next crash, never on the disk. */
  lost?: boolean;
}

/** What survives a crash: segments of encoded record batches, a snapshot, the repair marker. */
export class SimulatedNodeDisk implements ShellDisk {
  entries: Entry[] = [];
  snapshot: { body: Uint8Array; segment: number } | null = null;
  segment = 1;
  needsRepair = false;
  /** Appends are numbered across restarts, so that a number always names one append. */
  lastAppend = 0;

  describe(): string {
    const unsynced = this.entries.filter((entry) => !entry.synced).length;
    return (
      `${this.snapshot === null ? 'no snapshot' : `a snapshot through segment ${this.snapshot.segment}`} + ` +
      `${this.entries.length} log entries${unsynced > 0 ? ` (${unsynced} not fsynced)` : ''}`
    );
  }

  crash(random: () => number): { description: string; survivors: ReplicaRecord[] } {
    const dropped = this.dropLostEntries();
    const unsynced = this.entries.filter((entry) => !entry.synced);
    if (unsynced.length === 0) return { description: dropped, survivors: [] };
    // Writes after the last fsync reach the platter in order, up to some point: a torn tail.
    const kept = Math.floor(random() * (unsynced.length + 1));
    const survivors: ReplicaRecord[] = [];
    let seen = 0;
    this.entries = this.entries.filter((entry) => {
      if (entry.synced) return true;
      if (seen++ >= kept) return false;
      survivors.push(...decodeRecords(entry.payload));
      return true;
    });
    for (const entry of this.entries) entry.synced = true;
    return {
      description: `${dropped}kept ${kept} of ${unsynced.length} log entries written after the last fsync`,
      survivors,
    };
  }

  /**
   * Entries a failed fsync dropped never reached the disk. Where a later fsync put entries after
   * them, the gap reads back as garbage: damage in the middle of the log, found at the next start.
   */
  private dropLostEntries(): string {
    const first = this.entries.findIndex((entry) => entry.lost === true);
    if (first < 0) return '';
    const lost = this.entries.filter((entry) => entry.lost === true).length;
    const kept = this.entries.filter((entry) => entry.lost !== true);
    const hole = kept.slice(first).some((entry) => entry.synced);
    if (hole) {
      // The gap: an unreadable entry where the lost ones were, before synced ones.
      kept.splice(first, 0, { ...(this.entries[first] as Entry), lost: false, synced: true });
      this.rotten = first;
      this.needsRepair = true;
    }
    this.entries = kept;
    return `${lost} log entries a failed fsync dropped are gone${hole ? ', leaving a gap before later entries' : ''}; `;
  }

  /** An entry whose bytes rotted since it was fsynced: found unreadable at the next start. */
  rotten: number | null = null;

  damage(pick: (n: number) => number): string {
    this.needsRepair = true;
    if (this.entries.length < 2 || pick(5) === 0) {
      // A damaged snapshot whose segments are gone: nothing whole to replay (the log's
      // "records are missing" case), so the node starts empty and repairs.
      const lost = `${this.snapshot === null ? 'no snapshot' : 'its snapshot'} and ${this.entries.length} log entries`;
      this.snapshot = null;
      this.entries = [];
      return `lost ${lost}`;
    }
    // A bit flip in a synced entry that valid entries follow. (One in the very last entry looks
    // exactly like a torn write, which no log can tell apart; it is not simulated.)
    this.rotten = pick(this.entries.length - 1);
    return `entry ${this.rotten} of ${this.entries.length} rotted`;
  }

  /**
   * At a start: what the log does with a rotten entry, by the log's own rule (`damageVerdict`):
   * corruption keeps the entries before it and marks the disk for repair; a torn tail would be cut.
   */
  recover(): string | null {
    const rotten = this.rotten;
    if (rotten === null) return null;
    this.rotten = null;
    const entry = this.entries[rotten] as Entry;
    const verdict = damageVerdict({
      newestSegment: entry.segment === this.segment,
      validRecordFollows: rotten < this.entries.length - 1,
    });
    const dropped = this.entries.length - rotten;
    this.entries.length = rotten;
    if (verdict === 'torn-tail') {
      this.needsRepair = false;
      return `cut ${dropped} log entries from the unreadable one on, as a torn tail`;
    }
    return `kept the ${rotten} log entries before the unreadable one (${dropped} set aside): corruption`;
  }
}

/** The log a running shell writes through: group commit over the simulated disk. */
class SimulatedNodeLog implements NodeLog {
  /** Every append up to this one is durable (synced, or covered by a snapshot). */
  private durableThrough: number;
  private readonly waiting: { append: number; done: (error: Error | null) => void }[] = [];
  private syncing = false;

  constructor(
    private readonly disk: SimulatedNodeDisk,
    private readonly host: ShellHost,
    private readonly faults: SimulatedDiskFaults,
  ) {
    // What a crash left on the disk is all there is: durable.
    this.durableThrough = disk.lastAppend;
  }

  private get lastAppend(): number {
    return this.disk.lastAppend;
  }

  append(payloads: Uint8Array[], done: (error: Error | null) => void): void {
    if (this.host.random() < this.faults.noSpaceRate) {
      this.host.schedule(0, () => done(new Error('ENOSPC: no space left on device, write')));
      return;
    }
    const append = ++this.disk.lastAppend;
    for (const payload of payloads) {
      this.disk.entries.push({ segment: this.disk.segment, append, payload, synced: false });
    }
    this.waiting.push({ append, done });
    this.startSync();
  }

  rotate(): number {
    return this.disk.segment++;
  }

  writeSnapshot(
    chunks: Iterable<Uint8Array>,
    coversThroughSegment: number,
    done: (error: Error | null) => void,
  ): void {
    // A chunk per millisecond, as the durable log takes one per write: the replica changes between
    // them, and what the snapshot holds must still be the state of the rotation.
    const pending = chunks[Symbol.iterator]();
    const parts: Uint8Array[] = [];
    const takeChunk = () => {
      let next: IteratorResult<Uint8Array>;
      try {
        next = pending.next();
      } catch (error) {
        done(error as Error);
        return;
      }
      if (next.done === true) this.host.schedule(this.fsyncMs(), () => store(Buffer.concat(parts)));
      else {
        parts.push(Uint8Array.from(next.value));
        this.host.schedule(1, takeChunk);
      }
    };
    const store = (body: Uint8Array) => {
      // As the durable log does: the snapshot covers whole segments, whose appends are then
      // durable whatever their own fsync's progress, and those segments go.
      let covered = 0;
      for (const entry of this.disk.entries) {
        if (entry.segment <= coversThroughSegment) covered = Math.max(covered, entry.append);
      }
      this.disk.snapshot = { body, segment: coversThroughSegment };
      this.disk.entries = this.disk.entries.filter((entry) => entry.segment > coversThroughSegment);
      this.durable(covered);
      done(null);
    };
    this.host.schedule(1, takeChunk);
  }

  clearRepairMarker(done: (error: Error | null) => void): void {
    // Behind every append so far, as the durable log's is.
    const after = this.lastAppend;
    const clear = () => {
      if (this.durableThrough < after) {
        this.host.schedule(1, clear);
        return;
      }
      this.disk.needsRepair = false;
      this.host.repaired();
      done(null);
    };
    this.host.schedule(this.fsyncMs(), clear);
  }

  /** One fsync at a time; appends made meanwhile share the next one (group commit). */
  private startSync(): void {
    if (this.syncing || this.lastAppend <= this.durableThrough) return;
    this.syncing = true;
    const through = this.lastAppend;
    this.host.schedule(this.fsyncMs(), () => {
      this.syncing = false;
      if (this.host.random() < this.faults.fsyncErrorRate) {
        // EIO once; the pages are dropped, and the next fsync will not retry them.
        for (const entry of this.disk.entries) {
          if (entry.append <= through && !entry.synced) entry.lost = true;
        }
        this.host.trace(`fsync through append ${through} failed with EIO`);
        const failed = this.waiting.filter((waiter) => waiter.append <= through);
        this.waiting.splice(0, failed.length);
        this.durableThrough = through;
        for (const waiter of failed) waiter.done(new Error('EIO: i/o error, fsync'));
        this.startSync();
        return;
      }
      for (const entry of this.disk.entries) if (entry.append <= through) entry.synced = true;
      this.durable(through);
      this.startSync();
    });
  }

  private durable(through: number): void {
    if (through <= this.durableThrough) return;
    this.durableThrough = through;
    while (this.waiting.length > 0 && (this.waiting[0] as { append: number }).append <= through) {
      (this.waiting.shift() as { done: (error: Error | null) => void }).done(null);
    }
  }

  private fsyncMs(): number {
    const [low, high] =
      this.host.random() < this.faults.slowFsyncRate ? this.faults.slowFsyncMs : this.faults.fsyncMs;
    return low + this.host.random() * (high - low);
  }
}

class StorageNodeShell implements ReplicaShell {
  readonly core: StorageNodeCore;

  constructor(options: ShellStart, faults: SimulatedDiskFaults) {
    const { host } = options;
    const disk = options.disk as SimulatedNodeDisk;
    const nodeId = options.members[options.index] as string;
    this.core = new StorageNodeCore(
      // A small threshold, so that a few virtual seconds take snapshots and replay them.
      // Small chunks, so that a snapshot is read over many steps while the replica changes.
      {
        nodeId,
        members: options.members,
        timing: options.timing,
        snapshotEveryRecords: 400,
        snapshotChunkEntries: 4,
      },
      new SimulatedNodeLog(disk, host, faults),
      {
        nowMs: () => host.nowMs(),
        random: () => host.random(),
        defer: (run) => host.schedule(0, run),
        send: (to, messages) => host.send(messages.map((message) => ({ to, message }))),
        failStop: (reason) => host.failStop(reason),
        logLine: (line) => host.trace(line),
        onDurable: (records) => host.durable(records),
      },
    );
    // Replay, as the process does before it listens.
    const recovered = disk.recover();
    if (recovered !== null) host.trace(recovered);
    const replica = this.core.replica;
    if (disk.snapshot !== null) readSnapshot(disk.snapshot.body, replica.beginRestore());
    for (const entry of disk.entries)
      for (const record of decodeRecords(entry.payload)) replica.applyRecord(record);
    const leftover = replica.takeReady();
    if (leftover.records.length > 0 || leftover.messages.length > 0) {
      throw new Error(`${nodeId} produced work while replaying its disk`);
    }
    if (disk.needsRepair) this.core.startRepair('simulated disk damage');
  }

  get replica() {
    return this.core.replica;
  }

  receive(from: string, message: Parameters<StorageNodeCore['receive']>[1]): void {
    this.core.receive(from, message);
  }

  writerConnected(writerId: string, notifyVolumes: readonly string[]): void {
    this.core.writerConnected(writerId, notifyVolumes);
  }

  writerDisconnected(writerId: string): void {
    this.core.writerDisconnected(writerId);
  }

  tick(): void {
    this.core.tick();
  }

  stop(): void {
    this.core.stop();
  }
}

/** The storage node's shell over simulated disks with `faults`. */
export function storageNodeShell(faults: SimulatedDiskFaults = DEFAULT_DISK_FAULTS): ReplicaShellFactory {
  return {
    name: 'storage-node',
    newDisk: () => new SimulatedNodeDisk(),
    start: (options) => new StorageNodeShell(options, faults),
  };
}
