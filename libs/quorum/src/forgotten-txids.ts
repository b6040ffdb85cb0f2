// Transactions a replica forgot (decided, and confirmed by all six), remembered for
// `forgottenRetentionMs` (10 min, ADR 0004) so that a stale message about one is refused rather
// than taken as new. Under steady writes that is every commit of the last ten minutes: 3 million
// txids at 5,000 commits/s. A map of txid strings to times held about 85 bytes for each.
//
// A txid is `<writer id>.<counter>`, and a writer's transactions are forgotten nearly in counter
// order. So each writer id (prefix) gets a bitmap over a window of its counters, and a queue of
// the times at which runs of counters were forgotten; a counter costs a bit and, while runs hold,
// a share of a queue entry. Whatever does not fit goes to a map of whole txids, as before: txids of
// another shape, counters outside the window, and a txid forgotten again (kept from its latest
// time). A txid is held by its bit, its map entry, or both (forgotten again while its bit is set);
// each part lets go once its own time is older than the retention, so nothing leaves before its
// latest time is. Pure: times come in as arguments.
//
// No library fits: a general compressed bitmap (roaring) has no notion of when a bit was set.
import type { TxId } from './messages.js';
import { ownCopy } from './stored-value.js';

/** A bitmap spans at most this many counters of one writer; farther counters go to the map. */
const WINDOW_BITS_MAX = 1 << 24;
/** Longest counter read as a number (below 2^53, so that it prints back as the same text). */
const COUNTER_DIGITS_MAX = 15;

/** One writer's counters: a bitmap from `base`, and the runs it was forgotten in, oldest first. */
class WriterCounters {
  /** Counter of bit 0 of `words[0]`; a multiple of 32. */
  base: number;
  words = new Uint32Array(4);
  /** Runs: counters `runFrom[i]`..`runTo[i]` forgotten at `runAtMs[i]`, from index `runHead` on. */
  readonly runFrom: number[] = [];
  readonly runTo: number[] = [];
  readonly runAtMs: number[] = [];
  runHead = 0;

  constructor(
    readonly prefix: string,
    firstCounter: number,
  ) {
    this.base = firstCounter - (firstCounter % 32);
  }

  fits(counter: number): boolean {
    return counter >= this.base && counter - this.base < WINDOW_BITS_MAX;
  }

  has(counter: number): boolean {
    if (!this.fits(counter)) return false;
    const offset = counter - this.base;
    const word = offset >>> 5;
    return word < this.words.length && ((this.words[word] as number) & (1 << (offset & 31))) !== 0;
  }

  /** Sets a clear bit and records it in the runs; the caller checked `fits` and `has`. */
  set(counter: number, atMs: number): void {
    const offset = counter - this.base;
    const word = offset >>> 5;
    if (word >= this.words.length) {
      let length = this.words.length * 2;
      while (length <= word) length *= 2;
      const grown = new Uint32Array(length);
      grown.set(this.words);
      this.words = grown;
    }
    this.words[word] = (this.words[word] as number) | (1 << (offset & 31));
    const last = this.runFrom.length - 1;
    if (last >= this.runHead && this.runAtMs[last] === atMs && this.runTo[last] === counter - 1) {
      this.runTo[last] = counter;
    } else {
      this.runFrom.push(counter);
      this.runTo.push(counter);
      this.runAtMs.push(atMs);
    }
  }

  /** Clears a set bit. */
  clear(counter: number): void {
    const offset = counter - this.base;
    this.words[offset >>> 5] = (this.words[offset >>> 5] as number) & ~(1 << (offset & 31));
  }

  get runsHeld(): number {
    return this.runFrom.length - this.runHead;
  }

  /** Drops the run at the head; keeps the arrays within twice the runs held. */
  shiftRun(): void {
    this.runHead++;
    if (this.runHead > 1_024 && this.runHead * 2 > this.runFrom.length) {
      for (const runs of [this.runFrom, this.runTo, this.runAtMs]) runs.splice(0, this.runHead);
      this.runHead = 0;
    }
  }

  /** Moves the window's start past words with no bit set, once they are most of the bitmap. */
  compact(): void {
    let firstUsed = 0;
    while (firstUsed < this.words.length && this.words[firstUsed] === 0) firstUsed++;
    if (firstUsed * 2 < this.words.length) return;
    this.words = this.words.slice(firstUsed);
    if (this.words.length < 4) {
      const grown = new Uint32Array(4);
      grown.set(this.words);
      this.words = grown;
    }
    this.base += firstUsed * 32;
  }
}

export class ForgottenTxids {
  private readonly writers = new Map<string, WriterCounters>();
  /** Whole txids → when forgotten (last), oldest first: what does not fit a bitmap. */
  private readonly others = new Map<TxId, number>();
  /** Entries of `others` whose bit is set too (forgotten again): counted once in `size`. */
  private overlapping = 0;
  private bitsSet = 0;

  get size(): number {
    return this.bitsSet + this.others.size - this.overlapping;
  }

  has(txid: TxId): boolean {
    if (this.others.has(txid)) return true;
    const [prefix, counter] = split(txid);
    return counter >= 0 && (this.writers.get(prefix)?.has(counter) ?? false);
  }

  /** Remembers `txid` as forgotten at `atMs` (again: from then on). */
  add(txid: TxId, atMs: number): void {
    const [prefix, counter] = split(txid);
    let writer = counter >= 0 ? this.writers.get(prefix) : undefined;
    const bitSet = writer?.has(counter) ?? false;
    if (counter >= 0 && !bitSet && !this.others.has(txid)) {
      if (writer === undefined) {
        // Kept for good: a copy, not a cut of the message the txid came in (see ownCopy).
        writer = new WriterCounters(ownCopy(prefix), counter);
        this.writers.set(writer.prefix, writer);
      }
      if (writer.fits(counter)) {
        writer.set(counter, atMs);
        this.bitsSet++;
        return;
      }
    }
    // Forgotten again, or not of a bitmap's shape: the map, at the back with its latest time.
    if (this.others.delete(txid)) {
      if (bitSet) this.overlapping--;
    }
    this.others.set(ownCopy(txid), atMs);
    if (bitSet) this.overlapping++;
  }

  /** Lets go of what was forgotten more than `retentionMs` before `nowMs`. */
  expire(nowMs: number, retentionMs: number): void {
    for (const [txid, atMs] of this.others) {
      if (nowMs - atMs <= retentionMs) break;
      this.others.delete(txid);
      if (this.bitOf(txid)) this.overlapping--;
    }
    for (const writer of this.writers.values()) {
      let changed = false;
      while (writer.runsHeld > 0 && nowMs - (writer.runAtMs[writer.runHead] as number) > retentionMs) {
        const from = writer.runFrom[writer.runHead] as number;
        const to = writer.runTo[writer.runHead] as number;
        for (let counter = from; counter <= to; counter++) {
          writer.clear(counter);
          this.bitsSet--;
          if (this.overlapping > 0 && this.others.has(`${writer.prefix}.${counter}`)) this.overlapping--;
        }
        writer.shiftRun();
        changed = true;
      }
      if (writer.runsHeld === 0) this.writers.delete(writer.prefix);
      else if (changed) writer.compact();
    }
  }

  /** Every txid held, with the time it was (last) forgotten: what a snapshot keeps. */
  entries(): [TxId, number][] {
    return this.frozen().all();
  }

  /**
   * What `entries()` lists now, copied as runs of counters rather than a txid each (a few arrays of
   * numbers: milliseconds where the txids of 600,000 entries take hundreds), to be listed a page at
   * a time later, while this set goes on changing.
   */
  frozen(): FrozenForgotten {
    const runs: FrozenRuns[] = [];
    for (const writer of this.writers.values()) {
      runs.push({
        prefix: writer.prefix,
        from: writer.runFrom.slice(writer.runHead),
        to: writer.runTo.slice(writer.runHead),
        atMs: writer.runAtMs.slice(writer.runHead),
      });
    }
    const others = [...this.others];
    // A txid held by its bit and by the map too is listed once, from the map (its latest time).
    const alsoInOthers = this.overlapping === 0 ? null : new Set(this.others.keys());
    return new FrozenForgotten(runs, others, alsoInOthers, this.size);
  }

  private bitOf(txid: TxId): boolean {
    const [prefix, counter] = split(txid);
    return counter >= 0 && (this.writers.get(prefix)?.has(counter) ?? false);
  }
}

interface FrozenRuns {
  prefix: string;
  from: number[];
  to: number[];
  atMs: number[];
}

/** The forgotten txids as they were when `ForgottenTxids.frozen()` was called. */
export class FrozenForgotten {
  constructor(
    private readonly runs: readonly FrozenRuns[],
    private readonly others: readonly [TxId, number][],
    private readonly alsoInOthers: ReadonlySet<TxId> | null,
    /** How many entries `pages` lists in all. */
    readonly size: number,
  ) {}

  /** Every entry at once. */
  all(): [TxId, number][] {
    return this.pages(Number.POSITIVE_INFINITY).next().value ?? [];
  }

  /** The entries in pages of at most `pageSize`: every writer's runs in order, then the map's. */
  *pages(pageSize: number): Generator<[TxId, number][]> {
    let page: [TxId, number][] = [];
    for (const { prefix, from, to, atMs } of this.runs) {
      for (let run = 0; run < from.length; run++) {
        const last = to[run] as number;
        for (let counter = from[run] as number; counter <= last; counter++) {
          const txid = `${prefix}.${counter}`;
          if (this.alsoInOthers?.has(txid) === true) continue;
          page.push([txid, atMs[run] as number]);
          if (page.length >= pageSize) {
            yield page;
            page = [];
          }
        }
      }
    }
    for (const entry of this.others) {
      page.push(entry);
      if (page.length >= pageSize) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
  }
}

/** `[prefix, counter]` of `<prefix>.<counter>` with a plain decimal counter, else `[txid, -1]`. */
function split(txid: TxId): [string, number] {
  const dot = txid.lastIndexOf('.');
  const digits = txid.length - dot - 1;
  if (dot < 0 || digits < 1 || digits > COUNTER_DIGITS_MAX) return [txid, -1];
  // No leading zero (but "0" itself): the counter must print back as the same text.
  if (digits > 1 && txid.charCodeAt(dot + 1) === 48) return [txid, -1];
  let counter = 0;
  for (let index = dot + 1; index < txid.length; index++) {
    const digit = txid.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) return [txid, -1];
    counter = counter * 10 + digit;
  }
  return [txid.slice(0, dot), counter];
}
