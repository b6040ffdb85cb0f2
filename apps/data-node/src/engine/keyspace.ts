// SCAN, KEYS, DBSIZE and RANDOMKEY: key names come from 3 replicas in hash order (a cursor is the
// next hash, so it is valid on every writer of the cluster), then a point read of those names
// tells which exist now, are not expired, and have the wanted type. The volume's internal keys
// (collection elements, reclaim records; ADR 0008) are skipped, and escaped Redis keys are given
// back unescaped, so only Redis keys (values and collection headers) are listed and counted.
// DBSIZE and INFO share their walks, and answer a count again while it holds (`size`,
// `recentCounts`): a walk of a large volume takes seconds.
import { keyHash } from '../../../../libs/quorum/src/index.js';
import type { ScanPage } from '../../../../libs/storage-client/src/index.js';
import { generationOf, storageKey, userKeyOf } from '../commands/collections/layout.js';
import { isReclaimable } from '../commands/collections/reclaim.js';
import { globMatch } from '../commands/glob.js';
import { decodeStoredHeader, isExpired, STORED_HEADER_BYTES_MAX } from '../commands/stored-value.js';
import type { ReadConsistency, TransactionEngine } from './transaction-engine.js';

export interface KeyspaceStore {
  scan(volume: string, fromHash: number, limit: number): Promise<ScanPage>;
}

export interface ScanFilter {
  /** Glob (latin1), or null for every key. */
  pattern: string | null;
  /** 'string' | 'hash' | any other name (which matches nothing), or null. */
  type: string | null;
}

/** KEYS and DBSIZE stop with an error beyond this many keys: their reply must stay bounded. */
export const KEYS_REPLY_MAX = 1_000_000;
const FULL_SCAN_PAGE_KEYS = 5_000;
/** RANDOMKEY reads this many names per page from its random starting point. */
const RANDOM_KEY_PAGE_KEYS = 100;
const HASH_SPACE = 2 ** 32;

export interface KeyCounts {
  keys: number;
  expires: number;
}

/** A walk's count, and what tells whether it still holds (`Keyspace.holdingCounts`). */
interface Count {
  counts: KeyCounts;
  /** The engine's `changesSeen()` when the walk started. */
  changesAtStart: number;
  startedAtMs: number;
  /** The earliest expiry among the keys counted; null when none has one. */
  firstExpiryMs: number | null;
  /** How long the walk took. */
  walkMs: number;
}

/** How long INFO waits for a walk's fresh count before it answers the latest one. */
export const INFO_COUNT_WAIT_MS = 250;

export class Keyspace {
  /** The counting walk under way, and the one that will start after it (see `counts`). */
  private runningWalk: Promise<KeyCounts> | null = null;
  private nextWalk: Promise<KeyCounts> | null = null;
  /** Whether a caller of `nextWalk` asked in `cluster` consistency: it must walk, not reuse. */
  private nextWalkMustRun = false;
  /** The latest walk's count. */
  private latest: Count | null = null;

  /** `random` draws RANDOMKEY's starting point and pick ([0, 1)); tests pass a seeded one. */
  constructor(
    private readonly volume: string,
    private readonly store: KeyspaceStore,
    private readonly engine: TransactionEngine,
    private readonly random: () => number = Math.random,
  ) {}

  /** One SCAN page: the existing keys among about `count` names from `cursor` on. */
  async scanPage(
    cursor: number,
    count: number,
    filter: ScanFilter,
  ): Promise<{ cursor: number; keys: string[] }> {
    const page = await this.store.scan(this.volume, cursor, count);
    return { cursor: page.nextHash, keys: await this.existing(page.keys, filter) };
  }

  async keys(filter: ScanFilter): Promise<string[]> {
    const found: string[] = [];
    let cursor = 0;
    do {
      const page = await this.scanPage(cursor, FULL_SCAN_PAGE_KEYS, filter);
      for (const key of page.keys) found.push(key);
      if (found.length > KEYS_REPLY_MAX) {
        throw new Error(`more than ${KEYS_REPLY_MAX} keys match; use SCAN with a cursor instead`);
      }
      cursor = page.cursor;
    } while (cursor !== 0);
    return found;
  }

  /**
   * RANDOMKEY: a key picked at random among the existing ones of a window of about
   * RANDOM_KEY_PAGE_KEYS Redis keys from a random point of the hash order (wrapping around once),
   * or null when there is none. Key hashes are not evenly spread, so a key after a wide gap of the
   * hash space is somewhat likelier than one in a dense stretch (Redis's pick is not uniform
   * either). An empty keyspace costs two pages at most; one full of expired keys costs a full
   * scan, like DBSIZE.
   */
  async randomKey(): Promise<string | null> {
    const start = Math.floor(this.random() * HASH_SPACE);
    let cursor = start;
    let wrapped = false;
    let candidates: string[] = [];
    let pageKeys = RANDOM_KEY_PAGE_KEYS;
    for (;;) {
      const page = await this.store.scan(this.volume, cursor, pageKeys);
      // Past a first page without Redis keys (a stretch of collection elements, say), read on in
      // the larger pages of a full scan.
      pageKeys = FULL_SCAN_PAGE_KEYS;
      for (const name of page.keys) {
        // Only Redis keys fill the window; after wrapping around, names at or past the start were
        // seen on the first lap.
        if (userKeyOf(name) !== null && (!wrapped || keyHash(name) < start)) candidates.push(name);
      }
      let lapDone = wrapped && (page.nextHash === 0 || page.nextHash >= start);
      if (!wrapped && page.nextHash === 0) {
        lapDone = start === 0;
        wrapped = true;
      }
      cursor = page.nextHash;
      if (candidates.length >= RANDOM_KEY_PAGE_KEYS || lapDone) {
        const keys = await this.existing(candidates, { pattern: null, type: null });
        if (keys.length > 0) return keys[Math.floor(this.random() * keys.length)] ?? null;
        if (lapDone) return null;
        candidates = [];
      }
    }
  }

  /**
   * DBSIZE: counted page by page, so no list of names is held (and no key limit applies). In
   * `instance` consistency a count made since the volume last changed (`holdingCounts`) is answered
   * again; `cluster` consistency always counts anew.
   */
  async size(consistency: ReadConsistency): Promise<number> {
    const holding = consistency === 'instance' ? this.holdingCounts() : null;
    return (holding ?? (await this.counts(consistency))).keys;
  }

  /**
   * INFO keyspace's numbers: the current count when there is one or when a walk brings one within
   * `waitMs`, else the latest count made (null when none is), while the walk goes on to refresh it.
   * When the last walk took longer than `waitMs`, the latest count is answered without waiting.
   * INFO is a monitoring command, asked on every connection by some clients (ioredis's ready
   * check) and at every scrape by exporters: it must not wait for a walk of a large keyspace,
   * and it never queues a walk behind a running one.
   */
  async recentCounts(waitMs = INFO_COUNT_WAIT_MS): Promise<KeyCounts | null> {
    const holding = this.holdingCounts();
    if (holding !== null) return holding;
    const latest = this.latest;
    const walk = (this.nextWalk ?? this.runningWalk ?? this.startWalk()).then(
      (counts) => counts,
      () => null,
    );
    // A volume whose last walk took longer than the wait will not be walked within it either:
    // its INFO answers the latest count at once.
    if (latest !== null && latest.walkMs > waitMs) return latest.counts;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), waitMs);
    });
    const counts = await Promise.race([walk, timeout]);
    clearTimeout(timer);
    return counts ?? this.latest?.counts ?? null;
  }

  /** How long ago the latest count started, in ms; null before the first. */
  countedMsAgo(): number | null {
    return this.latest === null ? null : this.engine.clock.nowMs() - this.latest.startedAtMs;
  }

  /**
   * A fresh count by one walk: the keys that exist now, and how many of them have an expiry.
   * Only counts are kept, so the walk needs no bound but the keyspace's own end.
   *
   * Callers share walks: one that asks while a walk runs waits for it to end, then for the next
   * walk, which starts then and answers everyone who asked in the meantime. The running walk's
   * count is theirs only if it still holds when it ends and none of them asked in `cluster`
   * consistency: a walk already under way may have passed a key that a caller wrote just before
   * asking, and that write's end is a change it would not hold past. However many clients poll
   * DBSIZE, a volume has one walk running and one waiting, at most.
   */
  counts(consistency: ReadConsistency = 'cluster'): Promise<KeyCounts> {
    if (this.nextWalk !== null) {
      if (consistency === 'cluster') this.nextWalkMustRun = true;
      return this.nextWalk;
    }
    const running = this.runningWalk;
    if (running === null) return this.startWalk();
    this.nextWalkMustRun = consistency === 'cluster';
    const afterRunning = (): Promise<KeyCounts> => {
      const holding = this.nextWalkMustRun ? null : this.holdingCounts();
      if (holding === null) return this.startWalk();
      this.nextWalk = null;
      return Promise.resolve(holding);
    };
    const next = running.then(afterRunning, afterRunning);
    this.nextWalk = next;
    return next;
  }

  /**
   * The latest count if it still holds, else null. It holds while no write this writer knows of
   * has ended since its walk started (`changesSeen`), none of the keys it counted has expired,
   * and a cache entry stored when the walk started would still be served (`answerHolds`: its age
   * bound, or longer while the `applied` notices have arrived whole since; ADR 0020): the
   * freshness `instance` reads of cached values have.
   */
  private holdingCounts(): KeyCounts | null {
    const count = this.latest;
    if (count === null) return null;
    const nowMs = this.engine.clock.nowMs();
    const holds =
      count.changesAtStart === this.engine.changesSeen() &&
      this.engine.answerHolds(count.startedAtMs, nowMs) &&
      (count.firstExpiryMs === null || nowMs <= count.firstExpiryMs);
    return holds ? count.counts : null;
  }

  private startWalk(): Promise<KeyCounts> {
    this.nextWalk = null;
    const changesAtStart = this.engine.changesSeen();
    const startedAtMs = this.engine.clock.nowMs();
    const walk = this.countByWalk()
      .then(({ counts, firstExpiryMs }) => {
        const walkMs = this.engine.clock.nowMs() - startedAtMs;
        this.latest = { counts, changesAtStart, startedAtMs, firstExpiryMs, walkMs };
        return counts;
      })
      .finally(() => {
        if (this.runningWalk === walk) this.runningWalk = null;
      });
    this.runningWalk = walk;
    return walk;
  }

  private async countByWalk(): Promise<{ counts: KeyCounts; firstExpiryMs: number | null }> {
    let keys = 0;
    let expires = 0;
    let firstExpiryMs: number | null = null;
    let cursor = 0;
    do {
      const page = await this.store.scan(this.volume, cursor, FULL_SCAN_PAGE_KEYS);
      for (const header of await this.existingHeaders(page.keys, { pattern: null, type: null })) {
        keys++;
        if (header.expireAtMs === null) continue;
        expires++;
        if (firstExpiryMs === null || header.expireAtMs < firstExpiryMs) firstExpiryMs = header.expireAtMs;
      }
      cursor = page.nextHash;
    } while (cursor !== 0);
    return { counts: { keys, expires }, firstExpiryMs };
  }

  private async existing(names: string[], filter: ScanFilter): Promise<string[]> {
    return (await this.existingHeaders(names, filter)).map((header) => header.key);
  }

  private async existingHeaders(
    names: string[],
    filter: ScanFilter,
  ): Promise<{ key: string; expireAtMs: number | null }[]> {
    const { pattern } = filter;
    // Each candidate's Redis key, and beside it the name it is read under.
    const candidates: string[] = [];
    const candidateNames: string[] = [];
    const generation = await this.engine.currentGeneration();
    const reclaimable: string[] = [];
    for (const name of names) {
      if (isReclaimable(name, generation)) {
        reclaimable.push(name);
        continue;
      }
      const key = userKeyOf(name);
      if (
        key !== null &&
        generationOf(name) === generation &&
        (pattern === null || globMatch(pattern, key))
      ) {
        candidates.push(key);
        candidateNames.push(storageKey(key, generation));
      }
    }
    if (reclaimable.length > 0) this.engine.reclaimer.enqueue(reclaimable);
    if (candidates.length === 0) return [];
    // Type and expiry are all a listing needs: the replicas send each value's header only, so
    // a scan costs the same whatever the values' sizes.
    const reads = await this.engine.readStorageKeys(candidateNames, STORED_HEADER_BYTES_MAX);
    const nowMs = this.engine.clock.nowMs();
    const found: { key: string; expireAtMs: number | null }[] = [];
    for (const [index, key] of candidates.entries()) {
      const bytes = reads.get(candidateNames[index] as string)?.bytes ?? null;
      if (bytes === null) continue;
      const header = decodeStoredHeader(bytes);
      if (isExpired(header, nowMs)) continue;
      if (filter.type !== null && header.type !== filter.type) continue;
      found.push({ key, expireAtMs: header.expireAtMs });
    }
    return found;
  }
}
