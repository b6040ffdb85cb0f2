// The writer's cache of committed versions (DESIGN §4, writers' caches): key → (seq, txid,
// value bytes). An entry is only ever replaced by a newer seq, so a slow read can never
// overwrite what a later commit put there. Bounded by bytes, evicting by CLOCK (second chance),
// which approximates LRU: Map order is insertion order, a hit only marks its entry, and eviction
// moves a marked entry to the back instead of removing it. Moving every hit to the back (strict
// LRU) cost a Map delete and insert per read, a few percent of a data node's CPU under GETs.
//
// How long an entry is served (ADR 0020): up to CACHE_ENTRY_AGE_MAX_MS in any case; beyond it,
// up to CACHE_ENTRY_COVERED_AGE_MAX_MS while the storage nodes' notices have reached this writer
// whole since before the entry was stored (`coveredSinceMs`, from the storage client's notice
// streams), so that any later commit of its key would have removed it. Notices of keys it does not
// hold are remembered for a while (NOTICE_MEMORY_MS), so that a read that was under way when one
// arrived cannot store the version it supersedes.
// Pure: time comes in as `nowMs`.
import { MapHand } from '../../../../libs/collections/src/index.js';

export interface CachedVersion {
  seq: number;
  txid: string;
  /** Stored bytes; null when the key is absent at this version. */
  value: Uint8Array | null;
}

interface Entry extends CachedVersion {
  storedAtMs: number;
  bytes: number;
  /** Read since eviction last passed it: it is passed over once more. */
  referenced: boolean;
}

/**
 * Cache entries are served for this long whatever the notices: a bound on staleness if a notice
 * is lost. A session moved from another writer reads around the cache for as long (BOREALIS
 * SESSION MOVED), and a move ends every older entry's longer life (`endCoveredLives`).
 */
export const CACHE_ENTRY_AGE_MAX_MS = 10_000;
/**
 * Entries whose notices have reached the writer whole since they were stored are served for at
 * most this long: a bound on staleness should a commit reach no notice stream at all (ADR 0020).
 */
export const CACHE_ENTRY_COVERED_AGE_MAX_MS = 60_000;
/**
 * How long a notice is remembered for keys the cache does not hold: a read issued before it may
 * still bring the version it supersedes. A read answered later than this after it was issued is
 * not cached.
 */
export const NOTICE_MEMORY_MS = 2_000;
/**
 * Notices remembered at most. Forgetting one early ends the longer life of every entry stored
 * before it (they are then served for CACHE_ENTRY_AGE_MAX_MS, as if a notice had been lost).
 */
export const NOTICE_MEMORY_KEYS_MAX = 65_536;

/**
 * What an entry costs beyond its key's and value's bytes, charged so that the cache's bytes are
 * the memory it holds: the entry object, its slot in the map, the key's and txid's strings
 * (test/unit/versioned-cache-memory.test.ts measures them). Charging 96 bytes, the cache held about
 * twice the memory it counted.
 */
export const CACHE_ENTRY_OVERHEAD_BYTES = 192;
/** What a present value's `Uint8Array` and its `ArrayBuffer` cost beyond the bytes. */
export const CACHE_VALUE_OVERHEAD_BYTES = 192;

/** The bytes an entry is charged: about the memory it holds. */
export function cacheEntryBytes(key: string, value: Uint8Array | null): number {
  return (
    CACHE_ENTRY_OVERHEAD_BYTES +
    key.length +
    (value === null ? 0 : CACHE_VALUE_OVERHEAD_BYTES + value.byteLength)
  );
}

/** Where an entry's longer life comes from (ADR 0020); without it, entries live CACHE_ENTRY_AGE_MAX_MS. */
export interface CacheCoverage {
  /** Since when the notices of a read quorum have reached the writer whole; +Infinity: not now. */
  coveredSinceMs(): number;
  /** Covered entries are served up to this age (CACHE_ENTRY_COVERED_AGE_MAX_MS). */
  coveredAgeMsMax: number;
}

export class VersionedCache {
  private readonly entries = new Map<string, Entry>();
  /** CLOCK's hand over `entries`. */
  private readonly hand = new MapHand(this.entries);
  /** key → the highest seq a notice reported and when, oldest first (NOTICE_MEMORY_MS). */
  private readonly noticed = new Map<string, { seq: number; atMs: number }>();
  private readonly oldestNoticed = new MapHand(this.noticed);
  /** Entries stored at or before this time are served for `entryAgeMsMax` only. */
  private coveredFloorMs = Number.NEGATIVE_INFINITY;
  private bytes = 0;
  readonly stats = { hits: 0, misses: 0, evictions: 0, invalidations: 0 };
  /** `applied` notices taken since the start (never reset): each is another writer's commit. */
  noticesApplied = 0;

  /**
   * @param bytesMax the cache size of the writer's capacity
   * @param entryAgeMsMax entries older than this are not served: a bound on staleness should an
   *   invalidation be lost (they are advisory messages)
   */
  constructor(
    private bytesMax: number,
    private readonly entryAgeMsMax: number,
    private readonly coverage: CacheCoverage | null = null,
  ) {}

  get size(): { entries: number; bytes: number; bytesMax: number } {
    return { entries: this.entries.size, bytes: this.bytes, bytesMax: this.bytesMax };
  }

  get(key: string, nowMs: number): CachedVersion | null {
    const entry = this.entries.get(key);
    if (entry === undefined || !this.servable(entry, nowMs)) {
      if (entry !== undefined) this.remove(key, entry);
      this.stats.misses++;
      return null;
    }
    entry.referenced = true;
    this.stats.hits++;
    return entry;
  }

  /**
   * As `get`, but counts nothing: for a reader that may still give up and read through `get`
   * (the engine's reads served at once, which count their hits with `countHits` once served).
   */
  peek(key: string, nowMs: number): CachedVersion | null {
    const entry = this.entries.get(key);
    if (entry === undefined || !this.servable(entry, nowMs)) return null;
    entry.referenced = true;
    return entry;
  }

  /** Young enough, or older but covered by whole notice streams since it was stored. */
  private servable(entry: Entry, nowMs: number): boolean {
    return this.holds(entry.storedAtMs, nowMs);
  }

  /**
   * Whether what was read from the replicas at `readAtMs` may still be answered at `nowMs`
   * without reading again, by the rule entries live by: young enough, or older but covered by
   * whole notice streams since then. A count of keys (DBSIZE) holds as long as an entry would.
   */
  holds(readAtMs: number, nowMs: number): boolean {
    const age = nowMs - readAtMs;
    if (age <= this.entryAgeMsMax) return true;
    const coverage = this.coverage;
    return (
      coverage !== null &&
      age <= coverage.coveredAgeMsMax &&
      readAtMs > this.coveredFloorMs &&
      readAtMs > coverage.coveredSinceMs()
    );
  }

  countHits(count: number): void {
    this.stats.hits += count;
  }

  /**
   * Stores a version unless a newer one is cached or was noticed. `readAtMs`: when the read that
   * found it was sent (its age counts from then, and a notice since then may supersede it); now
   * for a version this writer committed.
   */
  offer(key: string, version: CachedVersion, nowMs: number, readAtMs = nowMs): void {
    const current = this.entries.get(key);
    if (current !== undefined && current.seq > version.seq) return;
    if (nowMs - readAtMs > NOTICE_MEMORY_MS) {
      // Not stored: a notice that superseded it may have been forgotten. An older entry goes all
      // the same, or a session would read back a version older than one it has just written or
      // read.
      if (current !== undefined && current.seq < version.seq) this.remove(key, current);
      return;
    }
    const noticed = this.noticed.get(key);
    if (noticed !== undefined && noticed.seq > version.seq) return;
    if (current !== undefined) this.remove(key, current);
    const bytes = cacheEntryBytes(key, version.value);
    if (bytes > this.bytesMax) return;
    const entry: Entry = {
      seq: version.seq,
      txid: version.txid,
      value: version.value,
      storedAtMs: readAtMs,
      bytes,
      referenced: false,
    };
    this.entries.set(key, entry);
    this.bytes += bytes;
    this.evict();
  }

  /** Another writer committed `seq`: anything older is stale. */
  invalidate(key: string, seq: number): void {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.seq >= seq) return;
    this.remove(key, entry);
    this.stats.invalidations++;
  }

  /**
   * Another writer's commit, as a storage node's `applied` notice lists it: every cached version
   * it supersedes goes, and is refused for a while if a read brings it. Instance consistency's
   * freshness across writers rests on this.
   */
  applyNotice(changes: readonly { key: string; seq: number }[], nowMs: number): void {
    this.noticesApplied++;
    for (const change of changes) {
      this.invalidate(change.key, change.seq);
      this.remember(change.key, change.seq, nowMs);
    }
  }

  /**
   * Entries stored until now are served for `entryAgeMsMax` only: a session moved here from another
   * writer may have written a key whose notice has not arrived yet (BOREALIS SESSION MOVED).
   */
  endCoveredLives(nowMs: number): void {
    this.coveredFloorMs = Math.max(this.coveredFloorMs, nowMs);
  }

  private remember(key: string, seq: number, nowMs: number): void {
    const known = this.noticed.get(key);
    if (known !== undefined) {
      if (known.seq >= seq) return;
      this.noticed.delete(key);
    }
    this.noticed.set(key, { seq, atMs: nowMs });
    for (
      let oldest = this.oldestNoticed.oldest();
      oldest !== undefined;
      oldest = this.oldestNoticed.oldest()
    ) {
      const old = oldest[1];
      const expired = nowMs - old.atMs > NOTICE_MEMORY_MS;
      if (!expired && this.noticed.size <= NOTICE_MEMORY_KEYS_MAX) return;
      this.oldestNoticed.dropOldest();
      // Forgotten before its time: a read under way may still store what it superseded.
      if (!expired) this.endCoveredLives(old.atMs);
    }
  }

  /** Our own commit lost a race on this key: we do not know the winner's version. */
  drop(key: string): void {
    const entry = this.entries.get(key);
    if (entry !== undefined) this.remove(key, entry);
  }

  resize(bytesMax: number): void {
    this.bytesMax = bytesMax;
    this.evict();
  }

  clear(): void {
    this.entries.clear();
    this.noticed.clear();
    this.hand.reset();
    this.oldestNoticed.reset();
    this.bytes = 0;
  }

  hitRatio(): number {
    const total = this.stats.hits + this.stats.misses;
    return total === 0 ? 0 : this.stats.hits / total;
  }

  /**
   * Oldest first; a referenced entry is moved to the back unmarked (the hand meets it again
   * there, so each entry is passed over at most once more and the loop ends).
   */
  private evict(): void {
    while (this.bytes > this.bytesMax) {
      const oldest = this.hand.oldest();
      if (oldest === undefined) return;
      const [key, entry] = oldest;
      this.hand.pass();
      if (entry.referenced) {
        entry.referenced = false;
        this.entries.delete(key);
        this.entries.set(key, entry);
        continue;
      }
      this.remove(key, entry);
      this.stats.evictions++;
    }
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }
}
