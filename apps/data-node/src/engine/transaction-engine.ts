// Runs Redis commands as transactions over the quorum store (DESIGN §4, Redis semantics).
//
// A group of work (see group-scheduler.ts) is one transaction: read every key it touches,
// run its commands in order over an overlay, commit the overlay's writes with the versions
// read. A conflict (another writer got there first) retries the whole group with fresh reads,
// bounded and jittered; the client never sees it. WATCHed keys must still have their
// WATCH-time version, or that work's EXEC answers null, as in Redis.
//
// Reads: the cache serves keys of work in `instance` mode; `cluster` mode work reads its keys
// from 3 replicas, and a read-only group over several keys is validated by a commit without
// writes, so that it is one atomic snapshot. Writes may start from cached versions in either
// mode: the commit validates them and a stale one only costs a retry.
import type { ReadEntry, ReadValue, WriteEntry } from '../../../../libs/quorum/src/index.js';
import { error, type Reply } from '../../../../libs/resp/src/reply.js';
import {
  type CommitResult,
  OutcomeUnknownError,
  QuorumUnavailableError,
  ReadFailedError,
} from '../../../../libs/storage-client/src/index.js';
import type { VersionedCache } from '../cache/versioned-cache.js';
import type { CommandSpec } from '../commands/command-table.js';
import { executeDataCommand } from '../commands/data-commands.js';
import { decodeStoredValue, encodeStoredValue, type StoredValue } from '../commands/stored-value.js';
import { GroupScheduler } from './group-scheduler.js';

export type ReadConsistency = 'instance' | 'cluster';

/** What the engine needs of the store: `QuorumClient` in production. */
export interface TransactionStore {
  read(volume: string, keys: string[], prefixBytes?: number): Promise<ReadValue[]>;
  commit(volume: string, reads: ReadEntry[], writes: WriteEntry[]): Promise<CommitResult>;
}

export interface QueuedCommand {
  spec: CommandSpec;
  args: Buffer[];
  keys: string[];
}

export interface Work {
  commands: QueuedCommand[];
  /** WATCHed keys → seq at WATCH time (null when nothing is watched). */
  watched: ReadonlyMap<string, number> | null;
  consistency: ReadConsistency;
  keys: string[];
  /** One reply per command, or null when a watched key changed. */
  settle(result: Reply[] | null): void;
}

export interface EngineCounters {
  transactions: number;
  commits: number;
  conflicts: number;
  retries: number;
  watchAborts: number;
  unknownOutcomes: number;
  unavailable: number;
  validations: number;
}

export interface TransactionEngineOptions {
  volume: string;
  store: TransactionStore;
  cache: VersionedCache;
  attemptsMax?: number;
  worksPerGroupMax?: number;
  /** Transactions in flight before new work gathers into batches (see group-scheduler.ts). */
  groupsRunningMax?: number;
  random?: () => number;
}

interface KeyRead {
  seq: number;
  txid: string;
  bytes: Uint8Array | null;
  fresh: boolean;
}

/** Enough transactions in flight to keep the replicas busy; beyond it, batches grow instead. */
export const GROUPS_RUNNING_MAX_DEFAULT = 8;

/** The storage protocol's key limit (bytes; keys are latin1 strings). */
export const KEY_BYTES_MAX = 64 * 1024;
/**
 * Bytes one transaction may write: its proposal must fit a 16 MiB frame to the storage nodes,
 * with room for the versions read and the other messages of its batch.
 */
export const WRITE_BYTES_MAX = 8 * 1024 * 1024;

/** Proposal bytes in flight to the storage nodes at most (one transaction may always go). */
export const IN_FLIGHT_WRITE_BYTES_MAX = 16 * 1024 * 1024;

/** Reads per point-read request: bounds a reply frame. */
const KEYS_PER_READ_MAX = 1_000;

export class TransactionEngine {
  readonly counters: EngineCounters = {
    transactions: 0,
    commits: 0,
    conflicts: 0,
    retries: 0,
    watchAborts: 0,
    unknownOutcomes: 0,
    unavailable: 0,
    validations: 0,
  };
  private readonly scheduler: GroupScheduler<Work>;
  private readonly attemptsMax: number;
  private readonly random: () => number;
  private inFlightWorks = 0;
  private inFlightWriteBytes = 0;
  private readonly writeBytesWaiters: (() => void)[] = [];

  constructor(private readonly options: TransactionEngineOptions) {
    this.attemptsMax = options.attemptsMax ?? 40;
    this.random = options.random ?? Math.random;
    this.scheduler = new GroupScheduler((works) => this.runGroup(works), {
      worksPerGroupMax: options.worksPerGroupMax ?? 256,
      groupsRunningMax: options.groupsRunningMax ?? GROUPS_RUNNING_MAX_DEFAULT,
    });
  }

  /** Work submitted and not yet answered. */
  get inFlight(): number {
    return this.inFlightWorks;
  }

  get schedulerStats(): { groupsRunning: number; groupsWaiting: number } {
    return this.scheduler.stats;
  }

  run(
    commands: QueuedCommand[],
    consistency: ReadConsistency,
    watched: ReadonlyMap<string, number> | null = null,
  ): Promise<Reply[] | null> {
    const keys = new Set<string>();
    for (const command of commands) for (const key of command.keys) keys.add(key);
    if (watched !== null) for (const key of watched.keys()) keys.add(key);
    for (const key of keys) {
      if (key.length > KEY_BYTES_MAX) {
        const refusal = error(
          `ERR a key of ${key.length} bytes is too long: keys are at most ${KEY_BYTES_MAX} bytes`,
        );
        return Promise.resolve(commands.map(() => refusal));
      }
    }
    this.inFlightWorks++;
    return new Promise((resolve) => {
      this.scheduler.submit({
        commands,
        watched,
        consistency,
        keys: [...keys],
        settle: (result) => {
          this.inFlightWorks--;
          resolve(result);
        },
      });
    });
  }

  /**
   * Fresh versions of `keys` from 3 replicas (for WATCH and scans); refreshes the cache. With
   * `prefixBytes`, the values are cut to that many leading bytes (and not cached).
   */
  async readFresh(keys: string[], prefixBytes?: number): Promise<Map<string, KeyRead>> {
    const result = new Map<string, KeyRead>();
    for (let start = 0; start < keys.length; start += KEYS_PER_READ_MAX) {
      const chunk = keys.slice(start, start + KEYS_PER_READ_MAX);
      const values = await this.options.store.read(this.options.volume, chunk, prefixBytes);
      const nowMs = Date.now();
      for (const value of values) {
        result.set(value.key, {
          seq: value.version.seq,
          txid: value.version.txid,
          bytes: value.value,
          fresh: true,
        });
        if (prefixBytes !== undefined) continue;
        this.options.cache.offer(
          value.key,
          { seq: value.version.seq, txid: value.version.txid, value: value.value },
          nowMs,
        );
      }
    }
    return result;
  }

  private async runGroup(works: Work[]): Promise<void> {
    this.counters.transactions++;
    let pending = works;
    try {
      for (let attempt = 0; attempt < this.attemptsMax; attempt++) {
        if (attempt > 0) {
          this.counters.retries++;
          await sleep(Math.min(64, 2 ** attempt) * (0.5 + this.random()));
        }
        const outcome = await this.attempt(pending, attempt > 0);
        if (outcome === 'split') {
          // Together too large for one transaction: each work on its own, in order.
          for (const work of pending) await this.runGroup([work]);
          return;
        }
        if (outcome === 'conflict') {
          this.counters.conflicts++;
          continue;
        }
        return;
      }
      const message = `ERR the transaction conflicted with other writers ${this.attemptsMax} times in a row; retry it`;
      for (const work of pending) work.settle(work.commands.map(() => error(message)));
      pending = [];
    } catch (cause) {
      const reply = storageErrorReply(cause);
      if (cause instanceof OutcomeUnknownError) this.counters.unknownOutcomes++;
      if (cause instanceof QuorumUnavailableError || cause instanceof ReadFailedError)
        this.counters.unavailable++;
      for (const key of new Set(pending.flatMap((work) => work.keys))) this.options.cache.drop(key);
      for (const work of pending) work.settle(work.commands.map(() => reply));
    }
  }

  /**
   * One try at the group: settles every work and returns 'done'; or 'conflict' to retry; or
   * 'split' when the works together write more than one transaction may.
   */
  private async attempt(works: Work[], freshOnly: boolean): Promise<'done' | 'conflict' | 'split'> {
    const cluster = works.some((work) => work.consistency === 'cluster');
    const readOnlyCommands = works.every((work) =>
      work.commands.every((command) => command.spec.flags.includes('readonly')),
    );
    const watchedKeys = new Set<string>();
    for (const work of works)
      if (work.watched !== null) for (const key of work.watched.keys()) watchedKeys.add(key);
    const keys = [...new Set(works.flatMap((work) => work.keys))];
    const reads = await this.readKeys(
      keys,
      (key) => freshOnly || watchedKeys.has(key) || (cluster && readOnlyCommands),
    );

    const overlay = new Map<string, StoredValue | null>();
    const decoded = new Map<string, StoredValue | null>();
    const nowMs = Date.now();
    const context = {
      nowMs,
      read: (key: string): StoredValue | null => {
        if (overlay.has(key)) return overlay.get(key) ?? null;
        let value = decoded.get(key);
        if (value === undefined) {
          const read = reads.get(key);
          if (read === undefined) throw new Error(`command read key not declared by its key spec`);
          value = read.bytes === null ? null : decodeStoredValue(read.bytes);
          decoded.set(key, value);
        }
        return value;
      },
      write: (key: string, value: StoredValue | null): void => {
        if (!reads.has(key)) throw new Error(`command wrote key not declared by its key spec`);
        overlay.set(key, value);
      },
    };

    const results: (Reply[] | null)[] = [];
    for (const work of works) {
      if (work.watched !== null && watchedKeyChanged(work.watched, reads, overlay)) {
        this.counters.watchAborts++;
        results.push(null);
        continue;
      }
      results.push(work.commands.map((command) => executeDataCommand(command.spec, command.args, context)));
    }

    const writes: WriteEntry[] = [];
    for (const [key, value] of overlay) {
      const before = reads.get(key) as KeyRead;
      if (value === null && before.bytes === null) continue;
      writes.push({ key, value: value === null ? null : encodeStoredValue(value) });
    }
    // A read-only group needs a commit only where one read must be atomic over several keys
    // (a work's own keys: works batched together are independent) or was served from the cache.
    let writeBytes = 0;
    for (const write of writes) writeBytes += write.key.length + (write.value?.byteLength ?? 0);
    if (writeBytes > WRITE_BYTES_MAX) {
      if (works.length > 1) return 'split';
      const refusal = error(
        `ERR the command would write ${writeBytes} bytes; a transaction writes at most ${WRITE_BYTES_MAX} bytes (keys and values together)`,
      );
      (works[0] as Work).settle((works[0] as Work).commands.map(() => refusal));
      return 'done';
    }
    await this.reserveWriteBytes(writeBytes);
    try {
      return await this.commitAndSettle(works, results, reads, keys, writes, cluster);
    } finally {
      this.releaseWriteBytes(writeBytes);
    }
  }

  private async commitAndSettle(
    works: Work[],
    results: (Reply[] | null)[],
    reads: Map<string, KeyRead>,
    keys: string[],
    writes: WriteEntry[],
    cluster: boolean,
  ): Promise<'done' | 'conflict'> {
    const needsValidation =
      writes.length === 0 &&
      (works.some((work, index) => work.watched !== null && results[index] !== null) ||
        works.some((work) => work.consistency === 'cluster' && work.keys.length > 1) ||
        (cluster && [...reads.values()].some((read) => !read.fresh)));
    if (writes.length > 0 || needsValidation) {
      if (writes.length === 0) this.counters.validations++;
      const readEntries: ReadEntry[] = keys.map((key) => ({ key, seq: (reads.get(key) as KeyRead).seq }));
      const outcome = await this.options.store.commit(this.options.volume, readEntries, writes);
      if (outcome.outcome === 'aborted') {
        for (const key of keys) this.options.cache.drop(key);
        return 'conflict';
      }
      this.counters.commits++;
      const committedAtMs = Date.now();
      for (const write of writes) {
        const before = reads.get(write.key) as KeyRead;
        this.options.cache.offer(
          write.key,
          { seq: before.seq + 1, txid: outcome.txid, value: write.value },
          committedAtMs,
        );
      }
    }
    works.forEach((work, index) => {
      work.settle(results[index] ?? null);
    });
    return 'done';
  }

  /**
   * Waits until `bytes` more proposal bytes may be in flight. Large values would otherwise
   * pile up in the links to the storage nodes faster than they drain, and be dropped there.
   */
  private async reserveWriteBytes(bytes: number): Promise<void> {
    while (this.inFlightWriteBytes > 0 && this.inFlightWriteBytes + bytes > IN_FLIGHT_WRITE_BYTES_MAX) {
      await new Promise<void>((resolve) => this.writeBytesWaiters.push(resolve));
    }
    this.inFlightWriteBytes += bytes;
  }

  private releaseWriteBytes(bytes: number): void {
    this.inFlightWriteBytes -= bytes;
    for (const wake of this.writeBytesWaiters.splice(0)) wake();
  }

  /** Versions of `keys`: from the cache where allowed and present, else from 3 replicas. */
  private async readKeys(
    keys: string[],
    mustBeFresh: (key: string) => boolean,
  ): Promise<Map<string, KeyRead>> {
    const reads = new Map<string, KeyRead>();
    const missing: string[] = [];
    const nowMs = Date.now();
    for (const key of keys) {
      const cached = mustBeFresh(key) ? null : this.options.cache.get(key, nowMs);
      if (cached === null) missing.push(key);
      else reads.set(key, { seq: cached.seq, txid: cached.txid, bytes: cached.value, fresh: false });
    }
    if (missing.length > 0) for (const [key, read] of await this.readFresh(missing)) reads.set(key, read);
    return reads;
  }
}

function watchedKeyChanged(
  watched: ReadonlyMap<string, number>,
  reads: Map<string, KeyRead>,
  overlay: Map<string, StoredValue | null>,
): boolean {
  for (const [key, seq] of watched) {
    // Written earlier in this same group: a modification after the WATCH, as Redis counts it.
    if (overlay.has(key)) return true;
    if (reads.get(key)?.seq !== seq) return true;
  }
  return false;
}

/** The reply for an error from the storage layer (or any other failure of a request). */
export function storageErrorReply(cause: unknown): Reply {
  if (cause instanceof OutcomeUnknownError) {
    return error(
      `UNKNOWN the storage replicas did not confirm the outcome in time (${cause.message}); the command may or may not have been applied: read the keys to find out`,
    );
  }
  if (cause instanceof QuorumUnavailableError || cause instanceof ReadFailedError) {
    return error(`UNAVAILABLE ${cause.message}`);
  }
  return error(`ERR ${(cause as Error).message ?? String(cause)}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
