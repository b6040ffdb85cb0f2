// The writer's cache of committed versions (DESIGN §4, writers' caches): key → (seq, txid,
// value bytes). An entry is only ever replaced by a newer seq, so a slow read can never
// overwrite what a later commit put there. Bounded by bytes, evicting by CLOCK (second chance),
// which approximates LRU: Map order is insertion order, a hit only marks its entry, and eviction
// moves a marked entry to the back instead of removing it. Moving every hit to the back (strict
// LRU) cost a Map delete and insert per read, a few percent of a data node's CPU under GETs.
// Pure: time comes in as `nowMs`.

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
 * Cache entries are served for at most this long: a bound on staleness if a notice is lost. A
 * session moved from another writer reads around the cache for as long (BOREALIS SESSION MOVED).
 */
export const CACHE_ENTRY_AGE_MAX_MS = 10_000;

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

export class VersionedCache {
  private readonly entries = new Map<string, Entry>();
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
  ) {}

  get size(): { entries: number; bytes: number; bytesMax: number } {
    return { entries: this.entries.size, bytes: this.bytes, bytesMax: this.bytesMax };
  }

  get(key: string, nowMs: number): CachedVersion | null {
    const entry = this.entries.get(key);
    if (entry === undefined || nowMs - entry.storedAtMs > this.entryAgeMsMax) {
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
    if (entry === undefined || nowMs - entry.storedAtMs > this.entryAgeMsMax) return null;
    entry.referenced = true;
    return entry;
  }

  countHits(count: number): void {
    this.stats.hits += count;
  }

  /** Stores a version unless a newer one is cached. */
  offer(key: string, version: CachedVersion, nowMs: number): void {
    const current = this.entries.get(key);
    if (current !== undefined) {
      if (current.seq > version.seq) return;
      this.remove(key, current);
    }
    const bytes = cacheEntryBytes(key, version.value);
    if (bytes > this.bytesMax) return;
    const entry: Entry = {
      seq: version.seq,
      txid: version.txid,
      value: version.value,
      storedAtMs: nowMs,
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
   * it supersedes goes. Instance consistency's freshness across writers rests on this.
   */
  applyNotice(changes: readonly { key: string; seq: number }[]): void {
    this.noticesApplied++;
    for (const change of changes) this.invalidate(change.key, change.seq);
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
    this.bytes = 0;
  }

  hitRatio(): number {
    const total = this.stats.hits + this.stats.misses;
    return total === 0 ? 0 : this.stats.hits / total;
  }

  /**
   * Oldest first; a referenced entry is moved to the back unmarked (the iteration meets it again
   * there, so each entry is passed over at most once per call and the loop ends).
   */
  private evict(): void {
    for (const [key, entry] of this.entries) {
      if (this.bytes <= this.bytesMax) return;
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
