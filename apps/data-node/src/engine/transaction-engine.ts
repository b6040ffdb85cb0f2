// Runs Redis commands as transactions over the quorum store (DESIGN §4, Redis semantics).
//
// A group of work (see group-scheduler.ts) is one transaction: read every key it touches,
// run its commands in order over an overlay, commit the overlay's writes with the versions
// read. A conflict (another writer got there first) retries the whole group with fresh reads,
// bounded and jittered; the client never sees it. WATCHed keys must still have their
// WATCH-time version, or that work's EXEC answers null, as in Redis.
//
// Reads during a command: a group starts with the keys its commands declare (their key specs);
// a handler may read any other key (a collection's element keys, a second key it finds in a
// value). A key not fetched yet ends the run with `KeysNotFetched`; the engine fetches every key
// that run asked for in one round and runs the group again from the start over a fresh overlay.
// Every key fetched joins the transaction's read set, which the commit validates, so the group
// sees one snapshot however many rounds it took. `random()` and `newCollectionId()` repeat
// themselves on every re-run of one attempt, so a re-run is the same computation with more keys.
//
// Reads: the cache serves keys of work in `instance` mode; `cluster` mode work reads its keys
// from 3 replicas, and a read-only group over several keys is validated by a commit without
// writes, so that it is one atomic snapshot. Writes may start from cached versions in either
// mode: the commit validates them and a stale one only costs a retry.
import { randomBytes, randomFillSync } from 'node:crypto';
import { present } from '../../../../libs/invariant/src/index.js';
import { KEY_BYTES_MAX, WRITE_BYTES_MAX } from '../../../../libs/limits/src/index.js';
import type { ReadEntry, ReadValue, WriteEntry } from '../../../../libs/quorum/src/index.js';
import { ownBytes, ownCopy } from '../../../../libs/quorum/src/stored-value.js';
import { error, type Reply, simple } from '../../../../libs/resp/src/reply.js';
import {
  ClientOverloadedError,
  type CommitResult,
  OutcomeUnknownError,
  QuorumUnavailableError,
  ReadFailedError,
} from '../../../../libs/storage-client/src/index.js';
import type { VersionedCache } from '../cache/versioned-cache.js';
import {
  collectionIdOf,
  decodeGeneration,
  GENERATION_KEY,
  isCollectionHeader,
  storageKey,
} from '../commands/collections/layout.js';
import { encodeReclaimRecord, reclaimRecordKey } from '../commands/collections/reclaim.js';
import type { CommandSpec } from '../commands/command-table.js';
import { type DataCommandContext, executeDataCommand } from '../commands/data-commands.js';
import { lookupCommand } from '../commands/served-commands.js';
import {
  decodeStoredValue,
  encodeStoredValue,
  holdsCollectionHeader,
  INLINE_VALUE_GUARD,
  type StoredValue,
} from '../commands/stored-value.js';
import { BLIND_WRITE_COMMAND_NAMES, blindWriteKeys } from '../commands/string-commands.js';
import { CachedReadContext } from './cached-read-context.js';
import { type Clock, SYSTEM_CLOCK } from './clock.js';
import { GroupScheduler } from './group-scheduler.js';
import { Reclaimer } from './reclaimer.js';

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
  /** The engine's own work (reclaim): runs instead of the command's handler. */
  task?: (context: DataCommandContext) => Reply;
}

export interface Work {
  commands: QueuedCommand[];
  /** WATCHed Redis keys → their watch version (`readFresh`) at WATCH time (null when nothing is watched). */
  watched: ReadonlyMap<string, WatchVersion> | null;
  consistency: ReadConsistency;
  /** For the scheduler: the Redis keys as generation-0 volume keys, and the tasks' internal keys. */
  keys: string[];
  /** The Redis keys the commands name: volume keys of the generation each attempt reads. */
  userKeys: string[];
  /** Of `userKeys`, those every command of the work replaces without reading (`blindWriteKeys`). */
  blindKeys: ReadonlySet<string>;
  /** Volume keys read as they are (the engine's own tasks). */
  internalKeys: string[];
  /** FLUSHDB/FLUSHALL: runs after all work submitted before it, and before all work after it. */
  barrier: boolean;
  /** When it was submitted, by the engine's clock: its wait for a transaction is timed from here. */
  submittedAtMs: number;
  /** One reply per command, or null when a watched key changed. */
  settle(result: Reply[] | null): void;
}

/**
 * Where a command's time goes inside the engine, for a data node's metrics: how long each work
 * waited for its transaction to start (behind busy keys, or for one of the transactions in
 * flight), and how long each commit took at the storage replicas. Milliseconds by the engine's
 * clock.
 */
export interface TransactionTimings {
  queued(ms: number): void;
  committed(ms: number): void;
}

export interface EngineCounters {
  transactions: number;
  commits: number;
  conflicts: number;
  retries: number;
  watchAborts: number;
  unknownOutcomes: number;
  unavailable: number;
  /** Refused by the storage client before sending: too many calls in flight (TRYAGAIN). */
  overloaded: number;
  validations: number;
  /** Commits with keys written blind (ADR 0016); those that lost retry with reads. */
  blindCommits: number;
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
  /** The system's time unless a test or a simulator passes its own. */
  clock?: Clock;
  /** Called after a commit that wrote the volume's generation (FLUSHDB, FLUSHALL) on this writer. */
  onFlushCommitted?: () => void;
  /** Runs one command over a context: `executeDataCommand` unless a test injects its own. */
  execute?: (spec: CommandSpec, args: Buffer[], context: DataCommandContext) => Reply;
  /** Told each work's wait and each commit's time (a data node's metrics); nothing by default. */
  timings?: TransactionTimings;
}

interface KeyRead {
  seq: number;
  txid: string;
  bytes: Uint8Array | null;
  fresh: boolean;
  /**
   * Not read at all: a blind write's key (ADR 0016), taken as absent, with a `seq` the engine
   * chose. The commit carries it as a blind entry, which replicas check instead of a read.
   */
  blind?: true;
}

/**
 * Seqs a blind write chooses per millisecond of the clock: read-modify-writes count up from a
 * blind write's seq one by one, so a key would need this many within a millisecond before a
 * later blind write from the same clock could fall below its version (and retry with a read).
 */
const BLIND_SEQS_PER_MS = 1024;

const NO_KEYS: ReadonlySet<string> = new Set();
const NO_RECORDS: ReadonlyMap<string, Uint8Array> = new Map();

/** Enough transactions in flight to keep the replicas busy; beyond it, batches grow instead. */
export const GROUPS_RUNNING_MAX_DEFAULT = 8;

/** Bytes one transaction may write: defined in libs/limits, where the command core reads it too. */
export { WRITE_BYTES_MAX };

/** Proposal bytes in flight to the storage nodes at most (one transaction may always go). */
export const IN_FLIGHT_WRITE_BYTES_MAX = 16 * 1024 * 1024;

/**
 * Keys per point-read request: bounds a reply frame (16 MiB). Collection element keys hold a
 * bucket or chunk of about 64 elements (ADR 0008), so 256 of them stay far below a frame
 * unless the elements themselves are many KiB each.
 */
export const KEYS_PER_READ_MAX = 256;

/**
 * Keys per point read of values cut to a prefix (a listing's headers), and their names' bytes:
 * each result is about its key and a few dozen bytes, so a request of a listing's page may be
 * larger than one of whole values. A walk of a large keyspace sends a tenth of the messages it
 * would with `KEYS_PER_READ_MAX`, and both ends pay per message.
 */
export const KEYS_PER_PREFIX_READ_MAX = 2_048;
export const KEY_BYTES_PER_PREFIX_READ_MAX = 1024 * 1024;

/** `keys` in chunks of `size`. */
function chunksOfCount(keys: readonly string[], size: number): string[][] {
  const chunks: string[][] = [];
  for (let start = 0; start < keys.length; start += size) chunks.push(keys.slice(start, start + size));
  return chunks;
}

/**
 * `keys` in chunks of at most KEYS_PER_PREFIX_READ_MAX keys and KEY_BYTES_PER_PREFIX_READ_MAX
 * bytes of names (a chunk holds one key at least), so that a reply stays far below a frame
 * however long the names are.
 */
export function chunksOfPrefixReads(keys: readonly string[]): string[][] {
  const chunks: string[][] = [];
  let chunk: string[] = [];
  let bytes = 0;
  for (const key of keys) {
    if (
      chunk.length > 0 &&
      (chunk.length >= KEYS_PER_PREFIX_READ_MAX || bytes + key.length > KEY_BYTES_PER_PREFIX_READ_MAX)
    ) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(key);
    bytes += key.length;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Point-read requests of one round in flight at once. */
const READS_IN_FLIGHT_MAX = 8;

/**
 * Rounds of fetching per attempt: a command that walks a structure (a tree's levels, a chain of
 * chunks) reads one level per round; 32 covers any structure of the families with room to spare.
 */
export const ROUNDS_PER_ATTEMPT_MAX = 32;

/**
 * Keys one transaction may read: a 1,000,000-element collection is ~16,000–32,000 element keys
 * (ADR 0008), so SMEMBERS, HGETALL or LRANGE of all of it fits, and the commit's read set stays
 * within the storage protocol's 100,000 keys per message.
 */
export const KEYS_PER_TRANSACTION_MAX = 65_536;

/** Commands that change the volume's generation: they run as barriers (see Work). */
const FLUSH_COMMAND_NAMES: ReadonlySet<string> = new Set(['flushdb', 'flushall']);

/** The engine's own work runs as a write, like DEL. */
const INTERNAL_TASK_SPEC = present(lookupCommand('del'), 'the command table entry of DEL');

/** The engine fetched every key a run asked for before running it again. */
const READ_FETCHED = 'the read of a key the engine fetched for this run';

/** Thrown inside a context when a run reads keys not fetched yet; only the engine catches it. */
class KeysNotFetched {
  constructor(readonly keys: readonly string[]) {}
}

/** Randomness of one attempt: replayed identically by every re-run of that attempt. */
interface AttemptRandomness {
  /**
   * Drawn from crypto when a run first asks for a random number, then kept for the attempt's
   * later runs. Most attempts never ask (only commands like SPOP or SRANDMEMBER do), and drawing
   * for every attempt took 3% of a data node's CPU under redis-benchmark SETs and GETs.
   */
  seed: Uint32Array | null;
  /** Collection ids handed out, by call order; ids drawn from crypto, so they are unique. */
  ids: string[];
}

/** What a run of a group left: replies and the overlay, or the keys it still needs. */
type RunOutcome =
  | { kind: 'ran'; results: (Reply[] | null)[]; overlay: Map<string, OverlayEntry> }
  | { kind: 'missing'; keys: readonly string[] };

type OverlayEntry =
  | { kind: 'value'; value: StoredValue | null }
  | { kind: 'element'; bytes: Uint8Array | null };

export class TransactionEngine {
  readonly counters: EngineCounters = {
    transactions: 0,
    commits: 0,
    conflicts: 0,
    retries: 0,
    watchAborts: 0,
    unknownOutcomes: 0,
    unavailable: 0,
    overloaded: 0,
    validations: 0,
    blindCommits: 0,
  };
  private readonly scheduler: GroupScheduler<Work>;
  private readonly attemptsMax: number;
  private readonly random: () => number;
  private readonly execute: NonNullable<TransactionEngineOptions['execute']>;
  private inFlightWorks = 0;
  /** The volume's generation as last read: the guess each attempt maps its first keys with. */
  private generationGuess = 0;
  private inFlightWriteBytes = 0;
  private readonly writeBytesWaiters: (() => void)[] = [];
  /** The seq the last blind write chose: the next one is higher. */
  private lastBlindSeq = 0;
  /** Write commits of this engine that have ended, however (see `changesSeen`). */
  private writeCommitsEnded = 0;
  /** Deletes the element keys of collections that are gone, in the background (ADR 0008). */
  readonly reclaimer = new Reclaimer(this);
  readonly clock: Clock;
  /** The context of every read the cache answers whole (`readFromCache`). */
  private readonly cachedReadContext: CachedReadContext;
  /** The GENERATION_KEY bytes last decoded, and what they held (`generationOf`). */
  private lastGenerationBytes: Uint8Array | null = null;
  private lastGeneration = 0;

  constructor(private readonly options: TransactionEngineOptions) {
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.cachedReadContext = new CachedReadContext(options.cache);
    this.attemptsMax = options.attemptsMax ?? 40;
    this.random = options.random ?? Math.random;
    this.execute = options.execute ?? executeDataCommand;
    this.scheduler = new GroupScheduler((works) => this.runScheduled(works), {
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
    watched: ReadonlyMap<string, WatchVersion> | null = null,
  ): Promise<Reply[] | null> {
    const userKeys = distinctKeys(commands, watched);
    const blindKeys = blindKeysOf(commands, watched);
    for (const key of userKeys) {
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
        keys: userKeys.map((key) => storageKey(key)),
        userKeys,
        blindKeys,
        internalKeys: [],
        barrier: commands.some((command) => FLUSH_COMMAND_NAMES.has(command.spec.name)),
        submittedAtMs: this.clock.nowMs(),
        settle: (result) => {
          this.inFlightWorks--;
          resolve(result);
        },
      });
    });
  }

  /**
   * A session moved here from another writer (BOREALIS SESSION MOVED): what it wrote there may not
   * have reached this cache's notices yet, so entries stored until now are served only while young
   * (CACHE_ENTRY_AGE_MAX_MS, which the session reads around).
   */
  sessionMovedHere(): void {
    this.options.cache.endCoveredLives(this.clock.nowMs());
  }

  /**
   * The reply of a read-only command served from the cache at once, or null when it is to be
   * `run`. Serving it here is what `run` would do for it, less the scheduling: an instance read
   * whose keys (and the volume's generation) are all cached reads nothing from the replicas and
   * commits nothing. It is served only when no earlier work on its keys is unfinished (so a
   * pipelined write before it on the same key is seen, as `run` orders it) and no flush is
   * pending. A command that would write, draw randomness, or read a key that is not cached gives
   * up before anything happened, and goes the scheduled way. A cache hit needs no promise, no
   * transaction group and no overlay: the bulk of a data node's work per hit otherwise.
   */
  readFromCache(command: QueuedCommand, consistency: ReadConsistency): Reply | null {
    if (
      consistency !== 'instance' ||
      command.task !== undefined ||
      !command.spec.flags.includes('readonly') ||
      command.keys.length === 0
    )
      return null;
    const scheduled: string[] = [];
    for (const key of command.keys) {
      if (key.length > KEY_BYTES_MAX) return null;
      scheduled.push(storageKey(key));
    }
    if (!this.scheduler.isFree(scheduled)) return null;
    const cache = this.options.cache;
    const nowMs = this.clock.nowMs();
    const generationEntry = cache.peek(GENERATION_KEY, nowMs);
    if (generationEntry === null) return null;
    const generation = this.generationOf(generationEntry.value);
    // The command's own keys are looked up first: a miss then gives up here, without running the
    // command to a throw and unwinding it (a few percent of a data node's CPU under GETs). Their
    // entries are kept for the handler's reads of them, which then need no second lookup.
    const ownKeys = command.keys;
    const context = this.cachedReadContext;
    context.begin(nowMs, generation, ownKeys);
    try {
      for (let index = 0; index < ownKeys.length; index++) {
        const key = scheduled[index] as string;
        const entry = cache.peek(
          generation === 0 ? key : storageKey(ownKeys[index] as string, generation),
          nowMs,
        );
        if (entry === null) return null;
        context.addOwnValue(entry.value);
      }
      let reply: Reply;
      try {
        reply = this.execute(command.spec, command.args, context);
      } catch {
        // NOT_SERVED_FROM_CACHE, or what else a handler throws: the scheduled way meets it again
        // and answers it as it answers any failed run.
        return null;
      }
      cache.countHits(context.hits);
      this.counters.transactions++;
      return reply;
    } finally {
      context.end();
    }
  }

  /**
   * The generation a GENERATION_KEY entry's bytes hold: decoded again only when the entry changed
   * (a flush), not for every read the cache answers.
   */
  private generationOf(bytes: Uint8Array | null): number {
    if (bytes !== this.lastGenerationBytes) {
      this.lastGenerationBytes = bytes;
      this.lastGeneration = decodeGeneration(bytes);
    }
    return this.lastGeneration;
  }

  /**
   * Runs `task` as one transaction over the volume keys `keys` (internal keys, not escaped),
   * scheduled like any work; answers the task's result, or 'failed' on a storage error.
   */
  runInternal(keys: string[], task: (context: DataCommandContext) => string): Promise<string> {
    this.inFlightWorks++;
    return new Promise((resolve) => {
      this.scheduler.submit({
        commands: [{ spec: INTERNAL_TASK_SPEC, args: [], keys, task: (context) => simple(task(context)) }],
        watched: null,
        consistency: 'instance',
        keys,
        userKeys: [],
        blindKeys: NO_KEYS,
        internalKeys: keys,
        barrier: false,
        submittedAtMs: this.clock.nowMs(),
        settle: (result) => {
          this.inFlightWorks--;
          const [reply] = result ?? [];
          resolve(
            reply?.kind === 'simple'
              ? reply.value
              : `failed: ${reply?.kind === 'error' ? reply.message : 'no reply'}`,
          );
        },
      });
    });
  }

  /**
   * The watch versions of the Redis keys `keys`, read fresh from 3 replicas (for WATCH), by Redis
   * key. A watch version also changes when the volume is flushed (`watchVersion`).
   */
  async readFresh(keys: string[]): Promise<Map<string, WatchVersion>> {
    const guess = this.generationGuess;
    let reads = await this.readStorageKeys([GENERATION_KEY, ...keys.map((key) => storageKey(key, guess))]);
    const generation = decodeGeneration(reads.get(GENERATION_KEY)?.bytes ?? null);
    if (generation !== guess) {
      this.generationGuess = generation;
      reads = await this.readStorageKeys(keys.map((key) => storageKey(key, generation)));
    }
    return new Map(
      keys.map((key) => {
        const read = present(reads.get(storageKey(key, generation)), READ_FETCHED);
        return [key, watchVersion(generation, read.seq)];
      }),
    );
  }

  /**
   * A number that grows whenever the volume may have changed as this writer can know it: one of
   * its write commits ended (committed, aborted, or with its outcome unknown), or another
   * writer's commit arrived as an `applied` notice. Equal numbers at two moments mean that no
   * write this writer knows of became visible between them (a count of keys made in between holds).
   */
  changesSeen(): number {
    return this.writeCommitsEnded + this.options.cache.noticesApplied;
  }

  /**
   * Whether an answer read from the replicas at `readAtMs` may still be given at `nowMs`, by the
   * rule the cache's entries live by (ADR 0020): how long a count of keys holds.
   */
  answerHolds(readAtMs: number, nowMs: number): boolean {
    return this.options.cache.holds(readAtMs, nowMs);
  }

  /** The volume's generation, from 3 replicas (for listings: only its keys are listed). */
  async currentGeneration(): Promise<number> {
    const reads = await this.readStorageKeys([GENERATION_KEY]);
    this.generationGuess = decodeGeneration(reads.get(GENERATION_KEY)?.bytes ?? null);
    return this.generationGuess;
  }

  /**
   * Fresh versions of volume keys from 3 replicas; refreshes the cache. With `prefixBytes`,
   * the values are cut to that many leading bytes (and not cached). Requests of
   * `KEYS_PER_READ_MAX` keys (with `prefixBytes`, larger ones: `chunksOfPrefixReads`),
   * `READS_IN_FLIGHT_MAX` at a time.
   */
  async readStorageKeys(keys: readonly string[], prefixBytes?: number): Promise<Map<string, KeyRead>> {
    const result = new Map<string, KeyRead>();
    const chunks =
      prefixBytes === undefined ? chunksOfCount(keys, KEYS_PER_READ_MAX) : chunksOfPrefixReads(keys);
    let next = 0;
    const readChunks = async (): Promise<void> => {
      while (next < chunks.length) {
        const chunk = chunks[next++] as string[];
        const readAtMs = this.clock.nowMs();
        const values = await this.options.store.read(this.options.volume, chunk, prefixBytes);
        this.remember(values, result, prefixBytes !== undefined, readAtMs);
      }
    };
    await Promise.all(Array.from({ length: Math.min(READS_IN_FLIGHT_MAX, chunks.length) }, readChunks));
    return result;
  }

  /** `readAtMs`: when the read was sent (a notice since then may supersede what it found). */
  private remember(
    values: ReadValue[],
    result: Map<string, KeyRead>,
    partial: boolean,
    readAtMs: number,
  ): void {
    const nowMs = this.clock.nowMs();
    for (const value of values) {
      result.set(value.key, {
        seq: value.version.seq,
        txid: value.version.txid,
        bytes: value.value,
        fresh: true,
      });
      if (partial) continue;
      // The cache keeps key, txid and value for as long as the entry lives: in memory of their
      // own, not cuts of the reply's strings or buffers, which would keep the whole reply alive
      // (ownCopy, ownBytes).
      this.options.cache.offer(
        ownCopy(value.key),
        {
          seq: value.version.seq,
          txid: ownCopy(value.version.txid),
          value: value.value === null ? null : ownBytes(value.value),
        },
        nowMs,
        readAtMs,
      );
    }
  }

  /** A group's turn has come (group-scheduler.ts): its works' waits end here. */
  private runScheduled(works: Work[]): Promise<void> {
    const timings = this.options.timings;
    if (timings !== undefined) {
      const nowMs = this.clock.nowMs();
      for (const work of works) timings.queued(nowMs - work.submittedAtMs);
    }
    return this.runGroup(works);
  }

  private async runGroup(works: Work[]): Promise<void> {
    this.counters.transactions++;
    let pending = works;
    try {
      for (let attempt = 0; attempt < this.attemptsMax; attempt++) {
        if (attempt > 0) {
          this.counters.retries++;
          await this.clock.sleep(Math.min(64, 2 ** attempt) * (0.5 + this.random()));
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
      if (cause instanceof ClientOverloadedError) this.counters.overloaded++;
      for (const key of new Set(pending.flatMap((work) => work.keys))) this.options.cache.drop(key);
      for (const work of pending) work.settle(work.commands.map(() => reply));
    }
  }

  /**
   * One try at the group: settles every work and returns 'done'; or 'conflict' to retry; or
   * 'split' when the works together go over a transaction's bounds (writes, keys or rounds).
   */
  private async attempt(works: Work[], freshOnly: boolean): Promise<'done' | 'conflict' | 'split'> {
    const cluster = works.some((work) => work.consistency === 'cluster');
    const readOnlyCommands = works.every((work) =>
      work.commands.every((command) => command.spec.flags.includes('readonly')),
    );
    const watchedUserKeys = watchedKeysOf(works);
    // The generation is read with the first keys, which are mapped by the last one seen; when
    // it moved (a FLUSHDB), the keys of the new generation take one more round.
    let generation = this.generationGuess;
    let watchedKeys = watchedStorageKeys(watchedUserKeys, generation, false);
    const mustBeFresh = (key: string): boolean =>
      freshOnly || watchedKeys.has(key) || (cluster && readOnlyCommands);
    // A work's Redis keys are distinct already (`distinctKeys`): a group of one (most, below the
    // running limit) takes them as they are.
    const only = works.length === 1 ? (works[0] as Work) : null;
    const userKeys = only?.userKeys ?? [...new Set(works.flatMap((work) => work.userKeys))];
    const internalKeys =
      only !== null && only.internalKeys.length === 0
        ? only.internalKeys
        : [...new Set(works.flatMap((work) => work.internalKeys))];
    // A retry reads every key: a blind write that lost (its seq below the key's version, or the
    // value one it may not replace) must not lose the same way again.
    const blindKeys = freshOnly ? NO_KEYS : groupBlindKeys(works, generation);
    const reads = await this.readKeys(
      [GENERATION_KEY, ...internalKeys, ...userKeys.map((key) => storageKey(key, generation))],
      mustBeFresh,
      blindKeys,
    );
    const generationRead = decodeGeneration(present(reads.get(GENERATION_KEY), READ_FETCHED).bytes);
    if (generationRead !== generation) {
      generation = generationRead;
      this.generationGuess = generation;
      watchedKeys = watchedStorageKeys(watchedUserKeys, generation, true);
      const moved = userKeys.map((key) => storageKey(key, generation));
      for (const key of blindKeys) reads.delete(key);
      for (const [key, read] of await this.readKeys(moved, mustBeFresh)) reads.set(key, read);
    }

    const nowMs = this.clock.nowMs();
    const randomness: AttemptRandomness = { seed: null, ids: [] };
    const decoded = new Map<string, StoredValue | null>();
    let outcome = this.runWorks(works, reads, decoded, nowMs, randomness, generation);
    // Keys fetched in later rounds were read at later moments than the first ones.
    const readInRounds = outcome.kind === 'missing';
    for (let round = 1; outcome.kind === 'missing'; round++) {
      const bound =
        round >= ROUNDS_PER_ATTEMPT_MAX
          ? `ERR the command needed more than ${ROUNDS_PER_ATTEMPT_MAX} rounds of reads; a transaction reads in at most ${ROUNDS_PER_ATTEMPT_MAX}`
          : reads.size + outcome.keys.length > KEYS_PER_TRANSACTION_MAX
            ? `ERR the command reads more than ${KEYS_PER_TRANSACTION_MAX} keys of the volume; a transaction reads at most ${KEYS_PER_TRANSACTION_MAX}`
            : null;
      if (bound !== null) {
        if (works.length > 1) return 'split';
        const refusal = error(bound);
        const only = present(works[0], 'the one work of a group that was not split');
        only.settle(only.commands.map(() => refusal));
        return 'done';
      }
      for (const [key, read] of await this.readKeys([...outcome.keys], mustBeFresh)) reads.set(key, read);
      outcome = this.runWorks(works, reads, decoded, nowMs, randomness, generation);
    }
    const { results, overlay } = outcome;
    const records = reclaimRecords(overlay, reads, decoded);
    for (const [key, bytes] of records) {
      // A record's id is unique and its header is gone for good: the key has never existed.
      if (!reads.has(key)) reads.set(key, { seq: 0, txid: '', bytes: null, fresh: true });
      overlay.set(key, { kind: 'element', bytes });
    }

    const writes: WriteEntry[] = [];
    for (const [key, entry] of overlay) {
      const before = present(reads.get(key), READ_FETCHED);
      const bytes =
        entry.kind === 'element' ? entry.bytes : entry.value === null ? null : encodeStoredValue(entry.value);
      if (bytes === null && before.bytes === null) continue;
      writes.push({ key, value: bytes });
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
      const only = present(works[0], 'the one work of a group that was not split');
      only.settle(only.commands.map(() => refusal));
      return 'done';
    }
    await this.reserveWriteBytes(writeBytes);
    try {
      return await this.commitAndSettle(
        works,
        results,
        reads,
        writes,
        cluster,
        [...records.keys()],
        readInRounds,
      );
    } finally {
      this.releaseWriteBytes(writeBytes);
    }
  }

  /**
   * Runs the group's commands in order over a fresh overlay. Ends early with the keys a
   * command asked for that are not in `reads`; those of collections created in this attempt
   * are known to be absent and need no fetching.
   */
  private runWorks(
    works: Work[],
    reads: Map<string, KeyRead>,
    decoded: Map<string, StoredValue | null>,
    nowMs: number,
    randomness: AttemptRandomness,
    generation: number,
  ): RunOutcome {
    const overlay = new Map<string, OverlayEntry>();
    // A FLUSHDB earlier in this run moves the Redis keys of later commands to the new generation.
    const generationNow = (): number => {
      const entry = overlay.get(GENERATION_KEY);
      return entry?.kind === 'element' ? decodeGeneration(entry.bytes) : generation;
    };
    const minted = new Set<string>();
    let generator: (() => number) | null = null;
    const random = (): number => {
      if (generator === null) {
        randomness.seed ??= randomFillSync(new Uint32Array(4));
        generator = xoshiro128(randomness.seed);
      }
      return generator();
    };
    let idsHanded = 0;
    const fetched = (key: string): KeyRead | undefined => {
      const read = reads.get(key);
      if (read !== undefined) return read;
      const id = collectionIdOf(key);
      if (id === null || !minted.has(id)) return undefined;
      const absent: KeyRead = { seq: 0, txid: '', bytes: null, fresh: true };
      reads.set(key, absent);
      return absent;
    };
    const need = (keys: readonly string[]): void => {
      const missing = keys.filter((key) => !overlay.has(key) && fetched(key) === undefined);
      if (missing.length > 0) throw new KeysNotFetched([...new Set(missing)]);
    };
    const readElementNow = (key: string): Uint8Array | null => {
      const entry = overlay.get(key);
      if (entry !== undefined) return entry.kind === 'element' ? entry.bytes : null;
      return present(reads.get(key), READ_FETCHED).bytes;
    };
    const context: DataCommandContext = {
      nowMs,
      read: (userKey) => {
        const key = storageKey(userKey, generationNow());
        need([key]);
        const entry = overlay.get(key);
        if (entry !== undefined) return entry.kind === 'value' ? entry.value : null;
        let value = decoded.get(key);
        if (value === undefined) {
          const bytes = present(reads.get(key), READ_FETCHED).bytes;
          value = bytes === null ? null : decodeStoredValue(bytes);
          decoded.set(key, value);
        }
        return value;
      },
      write: (userKey, value) => {
        const key = storageKey(userKey, generationNow());
        need([key]);
        overlay.set(key, { kind: 'value', value });
      },
      readElement: (key) => {
        need([key]);
        return readElementNow(key);
      },
      readElements: (keys) => {
        need(keys);
        return keys.map(readElementNow);
      },
      writeElement: (key, bytes) => {
        need([key]);
        overlay.set(key, { kind: 'element', bytes });
      },
      random,
      newCollectionId: () => {
        const ids = randomness.ids;
        if (idsHanded === ids.length) ids.push(randomBytes(8).toString('latin1'));
        const id = ids[idsHanded++] as string;
        minted.add(id);
        return id;
      },
    };

    const results: (Reply[] | null)[] = [];
    try {
      for (const work of works) {
        if (work.watched !== null && watchedKeyChanged(work.watched, reads, overlay, generationNow())) {
          results.push(null);
          continue;
        }
        results.push(
          work.commands.map((command) =>
            command.task !== undefined
              ? command.task(context)
              : this.execute(command.spec, command.args, context),
          ),
        );
      }
    } catch (cause) {
      if (cause instanceof KeysNotFetched) return { kind: 'missing', keys: cause.keys };
      throw cause;
    }
    return { kind: 'ran', results, overlay };
  }

  private async commitAndSettle(
    works: Work[],
    results: (Reply[] | null)[],
    reads: Map<string, KeyRead>,
    writes: WriteEntry[],
    cluster: boolean,
    reclaimRecordKeys: string[],
    readInRounds: boolean,
  ): Promise<'done' | 'conflict'> {
    const watchAborts = results.filter((result) => result === null).length;
    // In cluster mode a read over keys read at different moments (several keys of one work, or
    // a collection's header and then its elements) is validated as one snapshot.
    const needsValidation =
      writes.length === 0 &&
      (works.some((work, index) => work.watched !== null && results[index] !== null) ||
        works.some((work) => work.consistency === 'cluster' && work.keys.length > 1) ||
        (cluster && readInRounds) ||
        (cluster && [...reads.values()].some((read) => !read.fresh)));
    if (writes.length > 0 || needsValidation) {
      if (writes.length === 0) this.counters.validations++;
      // Every key the group read, element keys included, so the commit validates one snapshot.
      // The generation is read by every transaction: it is a shared read (checked, not held),
      // or every two transactions of the volume would exclude each other at the replicas.
      // FLUSHDB writes it, and then holds it (ADR 0008).
      const written = new Set(writes.map((write) => write.key));
      const readEntries: ReadEntry[] = [];
      for (const [key, read] of reads) {
        if (key === GENERATION_KEY) readEntries.push({ key, seq: read.seq, shared: true });
        else if (read.blind !== true) readEntries.push({ key, seq: read.seq });
        // A blind key the run did not write (a command that failed) was never read: nothing to check.
        else if (written.has(key)) readEntries.push({ key, seq: read.seq, blind: INLINE_VALUE_GUARD });
      }
      // A later commit of a key written here is decided after this one, so after this moment:
      // the versions written age from it, as a read's values age from when it was sent. Its
      // outcome may be learned long after (a partition, a recovery), when a later commit of the
      // key is already made and its notice lost before the streams began again (ADR 0020).
      const commitSentAtMs = this.clock.nowMs();
      let outcome: CommitResult;
      try {
        outcome = await this.options.store.commit(this.options.volume, readEntries, writes);
      } finally {
        if (writes.length > 0) this.writeCommitsEnded++;
      }
      this.options.timings?.committed(this.clock.nowMs() - commitSentAtMs);
      if (outcome.outcome === 'aborted') {
        // The generation stays cached: only a flush changes it, its `applied` notice drops it, and
        // a retry reads every key from the replicas anyway. Dropped, every other transaction of
        // this writer would read it from the replicas after each conflict on any hot key.
        for (const key of reads.keys()) if (key !== GENERATION_KEY) this.options.cache.drop(key);
        return 'conflict';
      }
      this.counters.commits++;
      if (readEntries.some((entry) => entry.blind !== undefined)) this.counters.blindCommits++;
      const committedAtMs = this.clock.nowMs();
      for (const write of writes) {
        const before = present(reads.get(write.key), READ_FETCHED);
        this.options.cache.offer(
          write.key,
          { seq: before.seq + 1, txid: outcome.txid, value: write.value },
          committedAtMs,
          commitSentAtMs,
        );
      }
    }
    this.counters.watchAborts += watchAborts;
    if (writes.some((write) => write.key === GENERATION_KEY)) this.options.onFlushCommitted?.();
    // Before the replies: whoever saw a DEL answered may count on its reclaim being under way.
    if (reclaimRecordKeys.length > 0) this.reclaimer.enqueue(reclaimRecordKeys);
    works.forEach((work, index) => {
      work.settle(results[index] ?? null);
    });
    return 'done';
  }

  /**
   * A seq for a blind write: from the clock (so that it is above the key's version unless the key
   * was written within the same millisecond or by a writer whose clock runs ahead), and above
   * every seq this engine chose before. One that is not above the version only costs a retry.
   */
  private chooseBlindSeq(nowMs: number): number {
    this.lastBlindSeq = Math.max(Math.floor(nowMs) * BLIND_SEQS_PER_MS, this.lastBlindSeq + 1);
    return this.lastBlindSeq;
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

  /**
   * Versions of `keys`: from the cache where allowed and present, else from 3 replicas; a key of
   * `blindKeys` that is neither fresh-only nor cached is not read (`KeyRead.blind`).
   */
  private async readKeys(
    keys: readonly string[],
    mustBeFresh: (key: string) => boolean,
    blindKeys: ReadonlySet<string> = NO_KEYS,
  ): Promise<Map<string, KeyRead>> {
    const reads = new Map<string, KeyRead>();
    const missing: string[] = [];
    const nowMs = this.clock.nowMs();
    let blindSeq = 0;
    for (const key of keys) {
      const fresh = mustBeFresh(key);
      const cached = fresh ? null : this.options.cache.get(key, nowMs);
      if (cached !== null) {
        reads.set(key, { seq: cached.seq, txid: cached.txid, bytes: cached.value, fresh: false });
      } else if (!fresh && blindKeys.has(key)) {
        // One chosen seq for every blind key of the transaction: the keys differ.
        if (blindSeq === 0) blindSeq = this.chooseBlindSeq(nowMs);
        reads.set(key, { seq: blindSeq - 1, txid: '', bytes: null, fresh: true, blind: true });
      } else {
        missing.push(key);
      }
    }
    if (missing.length > 0)
      for (const [key, read] of await this.readStorageKeys(missing)) reads.set(key, read);
    return reads;
  }
}

/**
 * The Redis keys of `commands` and of `watched`, each once, in the order first named. The
 * common work, one command naming one key, needs no set to find that out.
 */
function distinctKeys(
  commands: readonly QueuedCommand[],
  watched: ReadonlyMap<string, WatchVersion> | null,
): string[] {
  const only = commands.length === 1 ? commands[0] : undefined;
  if (only !== undefined && only.keys.length <= 1 && (watched === null || watched.size === 0))
    return [...only.keys];
  const keys = new Set<string>();
  for (const command of commands) for (const key of command.keys) keys.add(key);
  if (watched !== null) for (const key of watched.keys()) keys.add(key);
  return [...keys];
}

/**
 * The Redis keys a work may write blind: those every command that names them replaces without
 * reading (`blindWriteKeys`), and none it watches.
 */
function blindKeysOf(
  commands: readonly QueuedCommand[],
  watched: ReadonlyMap<string, WatchVersion> | null,
): ReadonlySet<string> {
  // Most work (every read) has no command that may write blind: no sets to build for it.
  if (!commands.some((command) => BLIND_WRITE_COMMAND_NAMES.has(command.spec.name))) return NO_KEYS;
  // The common write, one command naming one key and no watch (a SET): blind or not, with no
  // sets of read and replaced keys built to find out.
  const only = commands.length === 1 ? commands[0] : undefined;
  if (only !== undefined && only.keys.length === 1 && (watched === null || watched.size === 0)) {
    if (only.task !== undefined) return NO_KEYS;
    const key = only.keys[0] as string;
    return blindWriteKeys(only.spec.name, only.args).includes(key) ? new Set([key]) : NO_KEYS;
  }
  const blind = new Set<string>();
  const read = new Set<string>(watched === null ? [] : watched.keys());
  for (const command of commands) {
    if (command.task !== undefined) continue;
    const replaced = new Set(blindWriteKeys(command.spec.name, command.args));
    for (const key of command.keys) (replaced.has(key) ? blind : read).add(key);
  }
  for (const key of read) blind.delete(key);
  return blind;
}

/** The Redis keys the group's works watch; the shared empty set when none does (most groups). */
function watchedKeysOf(works: readonly Work[]): ReadonlySet<string> {
  let keys: Set<string> | null = null;
  for (const work of works) {
    if (work.watched === null) continue;
    for (const key of work.watched.keys()) {
      keys ??= new Set<string>();
      keys.add(key);
    }
  }
  return keys ?? NO_KEYS;
}

/**
 * The volume keys of the watched Redis keys in `generation`, and the generation's own key when
 * any is watched or `withGenerationKey` (a FLUSHDB moved it: every watch then ends).
 */
function watchedStorageKeys(
  watched: ReadonlySet<string>,
  generation: number,
  withGenerationKey: boolean,
): ReadonlySet<string> {
  if (watched.size === 0 && !withGenerationKey) return NO_KEYS;
  const keys = new Set<string>();
  for (const key of watched) keys.add(storageKey(key, generation));
  keys.add(GENERATION_KEY);
  return keys;
}

/** The volume keys a group may write blind: blind in every work of the group that names them. */
function groupBlindKeys(works: readonly Work[], generation: number): ReadonlySet<string> {
  // A group of one work: its blind keys are all among its keys, and no other work reads them.
  if (works.length === 1) {
    const only = (works[0] as Work).blindKeys;
    if (only.size === 0) return NO_KEYS;
    const keys = new Set<string>();
    for (const key of only) keys.add(storageKey(key, generation));
    return keys;
  }
  const blind = new Set<string>();
  const read = new Set<string>();
  for (const work of works)
    for (const key of work.userKeys) (work.blindKeys.has(key) ? blind : read).add(key);
  const keys = new Set<string>();
  for (const key of blind) if (!read.has(key)) keys.add(storageKey(key, generation));
  return keys;
}

/**
 * Reclaim records for the collections this run removed: ids held by headers it replaced or
 * deleted and by none of the headers it wrote (a RENAME keeps its id). Record key → bytes.
 */
function reclaimRecords(
  overlay: Map<string, OverlayEntry>,
  reads: Map<string, KeyRead>,
  decoded: Map<string, StoredValue | null>,
): ReadonlyMap<string, Uint8Array> {
  // Made on first use: a run of plain strings (most) removes no collection and builds none.
  let kept: Set<string> | null = null;
  let removed: Map<string, StoredValue> | null = null;
  for (const [key, entry] of overlay) {
    if (entry.kind !== 'value') continue;
    if (entry.value !== null && isCollectionHeader(entry.value)) {
      kept ??= new Set<string>();
      kept.add(entry.value.id);
    }
    let before = decoded.get(key);
    if (before === undefined) {
      // Only a header is decoded: the value a plain SET replaces is mostly a string.
      const bytes = reads.get(key)?.bytes ?? null;
      before = bytes === null || !holdsCollectionHeader(bytes) ? null : decodeStoredValue(bytes);
    }
    if (before !== null && isCollectionHeader(before)) {
      removed ??= new Map<string, StoredValue>();
      removed.set(before.id, before);
    }
  }
  if (removed === null) return NO_RECORDS;
  const records = new Map<string, Uint8Array>();
  for (const [id, header] of removed) {
    if (kept?.has(id) === true || !isCollectionHeader(header)) continue;
    records.set(reclaimRecordKey(id), encodeReclaimRecord(header, 0));
  }
  return records;
}

function watchedKeyChanged(
  watched: ReadonlyMap<string, WatchVersion>,
  reads: Map<string, KeyRead>,
  overlay: Map<string, OverlayEntry>,
  generation: number,
): boolean {
  // A flush earlier in this same group touches every key, as Redis counts it.
  if (overlay.has(GENERATION_KEY)) return true;
  for (const [userKey, version] of watched) {
    const key = storageKey(userKey, generation);
    // Written earlier in this same group: a modification after the WATCH, as Redis counts it.
    if (overlay.has(key)) return true;
    const read = reads.get(key);
    if (read === undefined || watchVersion(generation, read.seq) !== version) return true;
  }
  return false;
}

/**
 * What WATCH remembers of a key: its version and the volume's generation, so that a FLUSHDB
 * between WATCH and EXEC fails the EXEC as in Redis. A string: seqs chosen by blind writes
 * (ADR 0016) use all 53 bits of a number, so the two do not fit in one.
 */
export type WatchVersion = string;

function watchVersion(generation: number, seq: number): WatchVersion {
  return `${generation}:${seq}`;
}

/**
 * The reply for an error from the storage layer (or any other failure of a request). The prefix
 * says what happened (ARCHITECTURE.md, "Errors the storage layer can cause"): UNKNOWN when a commit
 * was sent and its decision is not known; UNAVAILABLE when too few storage nodes answer and nothing
 * was applied; TRYAGAIN when the writer refused the call before sending anything because it has
 * too many calls in flight (`ClientOverloadedError` is only ever raised before a send).
 */
export function storageErrorReply(cause: unknown): Reply {
  if (cause instanceof ClientOverloadedError) return error(`TRYAGAIN ${cause.message}`);
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

/** xoshiro128**: a small PRNG with 128 bits of state, so that seeds drawn from crypto rarely meet. */
function xoshiro128(seed: Uint32Array): () => number {
  let [a, b, c, d] = [seed[0] as number, seed[1] as number, seed[2] as number, seed[3] as number];
  if ((a | b | c | d) === 0) a = 1;
  return () => {
    const result = Math.imul(rotateLeft(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotateLeft(d, 11);
    return result / 4_294_967_296;
  };
}

function rotateLeft(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}
