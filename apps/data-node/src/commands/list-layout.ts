// How a list is stored (contract 4 of the collection layout): the list's Redis key holds a header
// (type 'list', the collection's id, the element count, the expiry, and `meta` = the index of the
// first element), and every element is a key of its own, `elementKey(id, 'i' + index)`, where the
// index is a signed 64-bit position written as 8 big-endian bytes with the sign bit flipped, so
// that element keys sort in list order.
//
// Why one key per element rather than chunks of elements: LPUSH, RPUSH, LPOP, RPOP, LINDEX and
// LSET then read and write exactly the keys of the elements they touch (plus the header), whatever
// the list's length, and two commands at the two ends of a list touch disjoint element keys (they
// still meet at the header, which every change rewrites). Chunks would make each push rewrite a
// chunk and need splitting and merging; a range read per element key is batched instead.
//
// Pushing at the head lowers the first index, pushing at the tail raises the last one; popping
// deletes the element key, so a list emptied by pops leaves nothing behind. Commands that remove
// from the middle (LREM, LINSERT) shift the elements on the cheaper side, as Redis does, O(N).
import { type CollectionFamily, type CollectionHeader, elementKey } from './collections/layout.js';
import type { DataCommandContext } from './context-access.js';

export type ListHeader = CollectionHeader & { type: 'list' };

const META_VERSION = 1;
const META_BYTES = 9;
const SIGN_BIT = 1n << 63n;

/**
 * Indices stay within ±2^53 so that they are exact JS numbers: a list would need 2^53 pushes at
 * one end to leave that range, and a push that would is refused rather than corrupting the list.
 */
export const LIST_INDEX_LIMIT = Number.MAX_SAFE_INTEGER;

export function encodeListMeta(head: number): Buffer {
  const meta = Buffer.alloc(META_BYTES);
  meta[0] = META_VERSION;
  meta.writeBigInt64BE(BigInt(head), 1);
  return meta;
}

export function decodeListMeta(meta: Buffer): { head: number } {
  if (meta.length !== META_BYTES || meta[0] !== META_VERSION) {
    throw new Error('corrupt list header: unknown meta format');
  }
  const head = meta.readBigInt64BE(1);
  if (head > BigInt(LIST_INDEX_LIMIT) || head < -BigInt(LIST_INDEX_LIMIT)) {
    throw new Error('corrupt list header: head index out of range');
  }
  return { head: Number(head) };
}

/** The element key of the element at `index` (a position in the index space, not in the list). */
export function listElementKey(id: string, index: number): string {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt.asUintN(64, BigInt(index)) ^ SIGN_BIT);
  return elementKey(id, `i${bytes.toString('latin1')}`);
}

/**
 * The live element keys of a list at positions `[from, from + count)` (all of them by default),
 * head to tail (for COPY, reclaim and MEMORY USAGE).
 */
export function listElementKeys(header: ListHeader, from = 0, count = header.size): string[] {
  const { head } = decodeListMeta(header.meta);
  const keys: string[] = [];
  for (let position = from; position < Math.min(header.size, from + count); position++)
    keys.push(listElementKey(header.id, head + position));
  return keys;
}

/** The list family's part in the collection layout: its element keys follow from the header. */
export const LIST_FAMILY: CollectionFamily = {
  type: 'list',
  elementKeys(_context: DataCommandContext, header: CollectionHeader): string[] {
    return listElementKeys(header as ListHeader);
  },
  reclaimBatch(
    _context: DataCommandContext,
    header: CollectionHeader,
    from: number,
    count: number,
  ): string[] {
    return listElementKeys(header as ListHeader, from, count);
  },
};

/**
 * Read windows at the ends. A push must fetch the (absent) keys it writes and a pop the elements
 * it takes before the engine lets it write them, and each fetch is a round of reads in which the
 * engine runs the whole group again; pushes and pops on one list batched together (a MULTI, or
 * pipelined and concurrent work on a hot list) would need a round each, and the engine allows 32
 * per transaction. So a push fetches the whole aligned window of SLOT_WINDOW slots around the
 * ones it writes (absent keys: tiny replies), and a pop the aligned window of POP_WINDOW elements
 * around the ones it takes: the next pushes and pops of the group find their keys fetched.
 */
const SLOT_WINDOW = 32;
const POP_WINDOW = 8;

/** The indices of [from, to] widened to whole aligned windows, then clipped to [low, high]. */
function windowed(from: number, to: number, window: number, low: number, high: number): number[] {
  const start = Math.max(low, Math.floor(from / window) * window);
  const end = Math.min(high, Math.floor(to / window) * window + window - 1);
  return range(start, end - start + 1);
}

/** Elements fetched per round while scanning grow by this factor from the first batch, so that a
 * scan of N elements takes O(log N) rounds and fetches at most about 4× what it needed. */
const SCAN_BATCH_FIRST = 32;
const SCAN_BATCH_GROWTH = 4;

/**
 * Whether the command running now saw its list torn: an element missing inside the range its
 * header says is live. The layout never leaves a gap, so the header and the element came from
 * different moments (a cached or concurrently changed key) and the commit will find a version it
 * read outdated. So the command writes nothing but its header, unchanged, which makes the engine
 * commit (and so validate) every key it read: the commit aborts and the engine runs it again on
 * fresh reads, and the reply computed from the torn view is never sent. Handlers run one at a
 * time and synchronously, so one flag serves; `beginListCommand` resets it.
 */
let tornRead = false;

export function beginListCommand(): void {
  tornRead = false;
}

/** Whether the command that just ran saw a torn list (its reply must not be trusted). */
export function listCommandSawTornRead(): boolean {
  return tornRead;
}

/**
 * One list during a command: its header's fields, changed in memory, and its elements read and
 * written through the context by position (0 = the head). `save()` writes the header back, or
 * deletes it when the list became empty.
 */
export class StoredList {
  head: number;
  size: number;

  private constructor(
    private readonly context: DataCommandContext,
    readonly key: string,
    readonly id: string,
    head: number,
    size: number,
    private readonly expireAtMs: number | null,
    /** The header as read (null for a new list): rewritten unchanged after a torn read. */
    private readonly original: ListHeader | null,
  ) {
    this.head = head;
    this.size = size;
  }

  static open(context: DataCommandContext, key: string, header: ListHeader): StoredList {
    return new StoredList(
      context,
      key,
      header.id,
      decodeListMeta(header.meta).head,
      header.size,
      header.expireAtMs,
      header,
    );
  }

  /** A new, empty list under a fresh id; nothing is written until elements are added and saved. */
  static create(context: DataCommandContext, key: string): StoredList {
    return new StoredList(context, key, context.newCollectionId(), 0, 0, null, null);
  }

  /**
   * An empty list under a fresh id at the same key, keeping the expiry: saving it replaces this
   * one, whose element keys the engine then reclaims in the background (ADR 0008: an id that
   * disappears from a header gets a reclaim record).
   */
  successor(): StoredList {
    return new StoredList(
      this.context,
      this.key,
      this.context.newCollectionId(),
      0,
      0,
      this.expireAtMs,
      null,
    );
  }

  keyAt(position: number): string {
    return listElementKey(this.id, this.head + position);
  }

  /** The elements at `positions`, fetched in one round. */
  read(positions: readonly number[]): Buffer[] {
    return this.elementsAt(positions.map((position) => this.keyAt(position)));
  }

  /** Live elements by key, in one round; a missing one marks the command torn (see `tornRead`). */
  elementsAt(keys: readonly string[]): Buffer[] {
    return this.context.readElements(keys).map((value) => {
      if (value !== null) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      if (!tornRead && this.original !== null) this.context.write(this.key, this.original);
      tornRead = true;
      return Buffer.alloc(0);
    });
  }

  /** The elements from `start` for `count` positions, in one round. */
  readRange(start: number, count: number): Buffer[] {
    return this.read(range(start, count));
  }

  /**
   * Visits elements from the head (or the tail) until `visit` returns false or `limit` elements
   * were seen, fetching them in growing batches: each batch is one round of reads.
   */
  scan(fromTail: boolean, limit: number, visit: (position: number, element: Buffer) => boolean): void {
    const end = Math.min(limit, this.size);
    let seen = 0;
    let batch = SCAN_BATCH_FIRST;
    while (seen < end) {
      const count = Math.min(batch, end - seen);
      const positions = range(seen, count).map((offset) => (fromTail ? this.size - 1 - offset : offset));
      const elements = this.read(positions);
      for (let index = 0; index < count; index++) {
        if (!visit(positions[index] as number, elements[index] as Buffer)) return;
      }
      seen += count;
      batch *= SCAN_BATCH_GROWTH;
    }
  }

  /** Fetches keys the command is about to write, in one round (an unread key cannot be written). */
  prepare(keys: readonly string[]): void {
    if (keys.length > 0) this.context.readElements(keys);
  }

  /** Writes `element` at `position` (which must be prepared or read). */
  set(position: number, element: Buffer): void {
    this.writeElement(this.keyAt(position), element);
  }

  remove(position: number): void {
    this.writeElement(this.keyAt(position), null);
  }

  /** Every element write goes through here: after a torn read, nothing but the header is written. */
  writeElement(key: string, element: Buffer | null): void {
    if (!tornRead) this.context.writeElement(key, element);
  }

  /** The keys `pushes` new elements would take at one end. */
  endKeys(atTail: boolean, pushes: number): string[] {
    return range(0, pushes).map((offset) =>
      listElementKey(this.id, atTail ? this.head + this.size + offset : this.head - 1 - offset),
    );
  }

  /** Adds elements at one end, in order (LPUSH a b leaves b first). Their keys must be prepared. */
  push(atTail: boolean, elements: readonly Buffer[]): void {
    for (const element of elements) {
      if (atTail) {
        this.writeElement(listElementKey(this.id, this.head + this.size), element);
      } else {
        this.head--;
        this.writeElement(listElementKey(this.id, this.head), element);
      }
      this.size++;
    }
  }

  /**
   * The keys to fetch before pushing `pushes` elements at one end: their own and the rest of
   * their slot windows beyond the end (see SLOT_WINDOW).
   */
  slotKeys(atTail: boolean, pushes: number): string[] {
    if (pushes === 0) return [];
    const tail = this.head + this.size;
    const indices = atTail
      ? windowed(tail, tail + pushes - 1, SLOT_WINDOW, tail, LIST_INDEX_LIMIT)
      : windowed(this.head - pushes, this.head - 1, SLOT_WINDOW, -LIST_INDEX_LIMIT, this.head - 1);
    return indices.map((index) => listElementKey(this.id, index));
  }

  /**
   * The keys to fetch before popping `count` elements at one end: theirs and the rest of their
   * element windows inside the list (see POP_WINDOW).
   */
  popKeys(atTail: boolean, count: number): string[] {
    if (count === 0) return [];
    const last = this.head + this.size - 1;
    const indices = atTail
      ? windowed(last - count + 1, last, POP_WINDOW, this.head, last)
      : windowed(this.head, this.head + count - 1, POP_WINDOW, this.head, last);
    return indices.map((index) => listElementKey(this.id, index));
  }

  /** Positions of `count` elements at one end, in the order a pop takes them. */
  endPositions(atTail: boolean, count: number): number[] {
    return range(0, count).map((offset) => (atTail ? this.size - 1 - offset : offset));
  }

  /** Forgets `count` elements at one end (their keys are deleted by the caller). */
  drop(atTail: boolean, count: number): void {
    if (!atTail) this.head += count;
    this.size -= count;
  }

  /** Whether `pushes` more elements at either end keep every index exact. */
  hasRoomFor(pushes: number): boolean {
    return this.head - pushes >= -LIST_INDEX_LIMIT && this.head + this.size + pushes <= LIST_INDEX_LIMIT;
  }

  save(): void {
    if (tornRead) return;
    if (this.size === 0) {
      this.context.write(this.key, null);
      return;
    }
    const header: ListHeader = {
      type: 'list',
      id: this.id,
      size: this.size,
      expireAtMs: this.expireAtMs,
      meta: encodeListMeta(this.head),
    };
    this.context.write(this.key, header);
  }
}

export function range(start: number, count: number): number[] {
  return Array.from({ length: Math.max(0, count) }, (_, offset) => start + offset);
}
