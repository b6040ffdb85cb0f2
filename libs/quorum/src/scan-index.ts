// A replica's keys in hash order, for scans (SCAN, KEYS, DBSIZE, RANDOMKEY). A scan page used to
// hash every key of the volume and sort all those past the cursor: a full walk of a million keys
// cost more per page than the 10 s read deadline allowed. This index keeps the keys sorted by hash
// so that a page costs a binary search and a walk of about the page's own keys.
//
// Keys are never removed from a volume (deleted ones stay as versions without a value), so the
// index follows the volume's insertion-ordered key list: the first `indexed` keys of that list are
// in the index, later ones join at the next scan. They join a small sorted run first; the run is
// merged into the large one once it holds an eighth of it, so that a stream of new keys costs each
// scan a sort of the new keys and a merge of the small run, and the large one is rebuilt O(log n)
// times as the volume grows (an LSM of two levels). Within one hash, keys keep their insertion
// order, which is the order a stable sort of the old walk gave them. Pure: no I/O, no clock.
//
// No library fits: the ordered maps on npm (B-trees, skip lists) hold an object per key, several
// times the 12 bytes per key of two parallel arrays, and keys here are only ever added.

/** Below this many keys the small run is not merged into the large one, whatever its share. */
const RECENT_RUN_KEYS_MIN = 4_096;

/** Keys sorted by hash (ties in insertion order), with their hashes alongside. */
interface SortedRun {
  keys: string[];
  hashes: Uint32Array;
}

const EMPTY_RUN: SortedRun = { keys: [], hashes: new Uint32Array(0) };

export interface ScanIndexPage {
  /** Listed keys with hash ≥ fromHash, in hash order: `limit` of them, plus the rest of the last hash's. */
  keys: string[];
  /** The hash after the page's last, when a listed key lies beyond it; else 0. */
  nextHash: number;
}

export class ScanIndex {
  private large: SortedRun = EMPTY_RUN;
  private recent: SortedRun = EMPTY_RUN;
  /** How many keys of the volume's key order are in the index. */
  private indexed = 0;

  /** @param hash the scan order's hash (keyHash); a test may pass a coarser one to make ties. */
  constructor(private readonly hash: (key: string) => number) {}

  /** Keys held by the index (after the last scan's catch-up). */
  get size(): number {
    return this.indexed;
  }

  /**
   * Up to `limit` keys (at least 1) with hash ≥ `fromHash` for which `listed` holds, in hash order,
   * never splitting one hash's keys across pages. `keyOrder` is the volume's insertion-ordered key
   * list, of which this index has seen a prefix.
   */
  page(
    keyOrder: readonly string[],
    fromHash: number,
    limit: number,
    listed: (key: string) => boolean,
  ): ScanIndexPage {
    this.catchUp(keyOrder);
    const walk = new MergedWalk(this.large, this.recent, fromHash);
    const keys: string[] = [];
    let lastHash = -1;
    for (;;) {
      const next = walk.next();
      if (next === null) return { keys, nextHash: 0 };
      if (!listed(next.key)) continue;
      if (keys.length >= limit && next.hash !== lastHash) return { keys, nextHash: lastHash + 1 };
      keys.push(next.key);
      lastHash = next.hash;
    }
  }

  private catchUp(keyOrder: readonly string[]): void {
    if (this.indexed >= keyOrder.length) return;
    const count = keyOrder.length - this.indexed;
    const hashes = new Uint32Array(count);
    for (let index = 0; index < count; index++)
      hashes[index] = this.hash(keyOrder[this.indexed + index] as string);
    const order = stableOrderByHash(hashes);
    const addedRun: SortedRun = { keys: new Array<string>(count), hashes: new Uint32Array(count) };
    for (let position = 0; position < count; position++) {
      const index = order[position] as number;
      addedRun.keys[position] = keyOrder[this.indexed + index] as string;
      addedRun.hashes[position] = hashes[index] as number;
    }
    this.indexed = keyOrder.length;
    this.recent = mergeRuns(this.recent, addedRun);
    if (this.recent.keys.length >= Math.max(RECENT_RUN_KEYS_MIN, this.large.keys.length / 8)) {
      this.large = mergeRuns(this.large, this.recent);
      this.recent = EMPTY_RUN;
    }
  }
}

/** Below this many keys a comparison sort; above, a radix sort (linear, no object per key). */
const RADIX_SORT_KEYS_MIN = 4_096;

/**
 * Positions of `hashes` in ascending hash order, equal hashes in position order. The first scan
 * after a start indexes the whole volume on the event loop: a comparison sort of a million
 * objects held a storage node for about 1.5 s, two stable passes of 16 bits take a fraction.
 */
function stableOrderByHash(hashes: Uint32Array): Uint32Array {
  const count = hashes.length;
  let order = new Uint32Array(count);
  for (let index = 0; index < count; index++) order[index] = index;
  if (count < RADIX_SORT_KEYS_MIN) {
    // Array.prototype.sort is stable, and typed arrays' sort with a comparator is too.
    return order.sort((a, b) => (hashes[a] as number) - (hashes[b] as number));
  }
  let next = new Uint32Array(count);
  const buckets = new Uint32Array(1 << 16);
  for (const shift of [0, 16]) {
    buckets.fill(0);
    for (let index = 0; index < count; index++) {
      const digit = ((hashes[order[index] as number] as number) >>> shift) & 0xffff;
      buckets[digit] = (buckets[digit] as number) + 1;
    }
    let start = 0;
    for (let digit = 0; digit < buckets.length; digit++) {
      const size = buckets[digit] as number;
      buckets[digit] = start;
      start += size;
    }
    for (let index = 0; index < count; index++) {
      const position = order[index] as number;
      const digit = ((hashes[position] as number) >>> shift) & 0xffff;
      next[buckets[digit] as number] = position;
      buckets[digit] = (buckets[digit] as number) + 1;
    }
    [order, next] = [next, order];
  }
  return order;
}

/** Two sorted runs as one; on equal hashes the older run's keys (inserted earlier) come first. */
function mergeRuns(older: SortedRun, newer: SortedRun): SortedRun {
  if (newer.keys.length === 0) return older;
  if (older.keys.length === 0) return newer;
  const total = older.keys.length + newer.keys.length;
  const keys = new Array<string>(total);
  const hashes = new Uint32Array(total);
  let i = 0;
  let j = 0;
  for (let out = 0; out < total; out++) {
    const takeOlder =
      j >= newer.keys.length ||
      (i < older.keys.length && (older.hashes[i] as number) <= (newer.hashes[j] as number));
    if (takeOlder) {
      keys[out] = older.keys[i] as string;
      hashes[out] = older.hashes[i] as number;
      i++;
    } else {
      keys[out] = newer.keys[j] as string;
      hashes[out] = newer.hashes[j] as number;
      j++;
    }
  }
  return { keys, hashes };
}

/** The first position in `run` whose hash is ≥ `hash`. */
function lowerBound(run: SortedRun, hash: number): number {
  let low = 0;
  let high = run.hashes.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((run.hashes[middle] as number) < hash) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Walks both runs from a hash on, in hash order, the older run first on ties. */
class MergedWalk {
  private i: number;
  private j: number;

  constructor(
    private readonly older: SortedRun,
    private readonly newer: SortedRun,
    fromHash: number,
  ) {
    this.i = lowerBound(older, fromHash);
    this.j = lowerBound(newer, fromHash);
  }

  next(): { key: string; hash: number } | null {
    const { older, newer } = this;
    const olderLeft = this.i < older.keys.length;
    const newerLeft = this.j < newer.keys.length;
    if (!olderLeft && !newerLeft) return null;
    if (olderLeft && (!newerLeft || (older.hashes[this.i] as number) <= (newer.hashes[this.j] as number))) {
      const at = this.i++;
      return { key: older.keys[at] as string, hash: older.hashes[at] as number };
    }
    const at = this.j++;
    return { key: newer.keys[at] as string, hash: newer.hashes[at] as number };
  }
}
