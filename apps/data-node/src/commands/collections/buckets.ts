// Members (and their values) of a hash or set, and a sorted set's member → score index, in
// buckets under linear hashing (ADR 0008, decision 4). A bucket is one element key
// `elementKey(id, 4-byte big-endian bucket number)`; an absent key is an empty bucket. With n
// buckets (2^L ≤ n < 2^(L+1)), a member whose keyed hash is h lives in bucket h mod 2^(L+1), or
// h mod 2^L when that is ≥ n. The table splits one bucket when the size passes
// `BUCKET_LOAD_MAX` × n and merges the last one away when it falls below `BUCKET_LOAD_MIN` × n,
// so a single-member command reads the header and about one bucket of ~64 members whatever
// the size. Batches place all their members with one round of reads.
import { hash as digest } from 'node:crypto';
import type { DataCommandContext } from '../context-access.js';
import {
  type CollectionFamily,
  type CollectionHeader,
  type CollectionType,
  elementKey,
  newHeader,
} from './layout.js';

/** Average members per bucket above which the table splits a bucket. */
export const BUCKET_LOAD_MAX = 64;
/** Average members per bucket below which the table merges its last bucket away. */
export const BUCKET_LOAD_MIN = 16;
/** Buckets a scan call reads at most per round. */
const SCAN_BUCKETS_PER_ROUND_MAX = 256;
/** Rounds one scan call takes at most, however sparse the collection. */
const SCAN_ROUNDS_MAX = 4;

/** Member (latin1) → value (empty for sets), in the bucket's order. */
export type Bucket = Map<string, Buffer>;

/** The member's 32-bit hash, keyed by the collection id so that clients cannot aim at a bucket. */
export function memberHash(id: string, member: string): number {
  // The id is a fixed 8 characters, so id + member is unambiguous; the string's UTF-8 form is
  // as good an input as its latin1 bytes, and the one-shot hex digest is the cheapest call.
  return Number.parseInt(digest('md5', id + member, 'hex').slice(0, 8), 16);
}

/** The level L of n buckets: 2^L ≤ n < 2^(L+1). */
function levelOf(bucketCount: number): number {
  return 31 - Math.clz32(bucketCount);
}

/** The bucket that holds hash `hash` among `bucketCount` buckets. */
export function bucketOf(hash: number, bucketCount: number): number {
  const level = levelOf(bucketCount);
  const wide = hash % 2 ** (level + 1);
  return wide < bucketCount ? wide : hash % 2 ** level;
}

/** The bucket that bucket `index` was split from, and merges back into. */
function buddyOf(index: number): number {
  return index - 2 ** levelOf(index);
}

/** The bucket count a table of `size` members grows to (it never shrinks while growing). */
function bucketCountFor(size: number, bucketCount: number): number {
  return Math.max(bucketCount, Math.ceil(size / BUCKET_LOAD_MAX));
}

export function bucketSuffix(index: number): string {
  const bytes = Buffer.allocUnsafe(4);
  bytes.writeUInt32BE(index, 0);
  return bytes.toString('latin1');
}

/** varint count, then per entry: varint length, member bytes, varint length, value bytes. */
export function encodeBucket(bucket: Bucket): Buffer {
  const parts: Buffer[] = [varint(bucket.size)];
  for (const [member, value] of bucket) {
    const memberBytes = Buffer.from(member, 'latin1');
    parts.push(varint(memberBytes.length), memberBytes, varint(value.length), value);
  }
  return Buffer.concat(parts);
}

export function decodeBucket(bytes: Uint8Array): Bucket {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const cursor = { offset: 0 };
  const count = readVarint(buffer, cursor);
  const bucket: Bucket = new Map();
  for (let index = 0; index < count; index++) {
    const member = readBytes(buffer, cursor).toString('latin1');
    bucket.set(member, Buffer.from(readBytes(buffer, cursor)));
  }
  if (cursor.offset !== buffer.length) throw new Error('corrupt bucket: trailing bytes');
  return bucket;
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function readVarint(buffer: Buffer, cursor: { offset: number }): number {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    const byte = buffer[cursor.offset++];
    if (byte === undefined) throw new Error('corrupt bucket: truncated varint');
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return value;
  }
  throw new Error('corrupt bucket: varint too long');
}

function readBytes(buffer: Buffer, cursor: { offset: number }): Buffer {
  const length = readVarint(buffer, cursor);
  if (cursor.offset + length > buffer.length) throw new Error('corrupt bucket: truncated entry');
  const bytes = buffer.subarray(cursor.offset, cursor.offset + length);
  cursor.offset += length;
  return bytes;
}

/**
 * The buckets of one collection that a command touched: loaded from the context in batches,
 * changed in memory, written back by `flush`. `bucketCount` and `size` go to the header's meta.
 */
export class BucketTable {
  private readonly loaded = new Map<number, Bucket>();
  private readonly changed = new Set<number>();
  private readonly hashes = new Map<string, number>();

  constructor(
    private readonly context: DataCommandContext,
    readonly id: string,
    public bucketCount: number,
    public size: number,
  ) {}

  /** Loads the buckets that hold `members` (one round), first growing for `extra` new ones. */
  prepare(members: Iterable<string>, extra = 0): void {
    const target = bucketCountFor(this.size + extra, this.bucketCount);
    const needed = new Set<number>();
    for (let index = this.bucketCount; index < target; index++) {
      needed.add(index);
      needed.add(buddyOf(index));
    }
    const memberList = [...members];
    for (const member of memberList) needed.add(bucketOf(this.hash(member), target));
    this.load([...needed]);
    while (this.bucketCount < target) this.split();
    // Members may have moved only among loaded buckets, but their buckets under the old count
    // were not asked for: load any not loaded yet (none, when the growth happened above).
    this.load(memberList.map((member) => this.bucketIndex(member)));
  }

  /** Loads every bucket (one round): for commands that read the whole collection. */
  loadAll(): void {
    loadTogether(this.context, [{ table: this }]);
  }

  /** The keys of the buckets a plan needs that are not loaded yet (see `loadTogether`). */
  unloaded(members?: Iterable<string>): { index: number; key: string }[] {
    const indices =
      members === undefined
        ? Array.from({ length: this.bucketCount }, (_, index) => index)
        : [...new Set(Array.from(members, (member) => this.bucketIndex(member)))];
    return indices
      .filter((index) => !this.loaded.has(index))
      .map((index) => ({ index, key: this.keyOf(index) }));
  }

  /** Takes a bucket's bytes read by `loadTogether`. */
  accept(index: number, bytes: Uint8Array | null): void {
    if (!this.loaded.has(index)) this.loaded.set(index, bytes === null ? new Map() : decodeBucket(bytes));
  }

  get(member: string): Buffer | undefined {
    return this.bucket(this.bucketIndex(member)).get(member);
  }

  has(member: string): boolean {
    return this.bucket(this.bucketIndex(member)).has(member);
  }

  /** Sets a member's value; true when the member is new. Its bucket must be loaded. */
  set(member: string, value: Buffer): boolean {
    const index = this.bucketIndex(member);
    const bucket = this.bucket(index);
    const created = !bucket.has(member);
    bucket.set(member, value);
    this.changed.add(index);
    if (created) this.size++;
    return created;
  }

  /** Removes a member; true when it was there. Its bucket must be loaded. */
  delete(member: string): boolean {
    const index = this.bucketIndex(member);
    if (!this.bucket(index).delete(member)) return false;
    this.changed.add(index);
    this.size--;
    return true;
  }

  /** Every member and value, bucket by bucket. All buckets must be loaded. */
  *entries(): IterableIterator<[string, Buffer]> {
    for (let index = 0; index < this.bucketCount; index++) yield* this.bucket(index);
  }

  /** Merges buckets away while the table is sparse (one round), then writes what changed. */
  flush(): void {
    const target = Math.max(1, Math.min(this.bucketCount, Math.floor(this.size / BUCKET_LOAD_MIN)));
    if (this.size > 0 && target < this.bucketCount) {
      const needed: number[] = [];
      for (let index = this.bucketCount - 1; index >= target; index--) needed.push(index, buddyOf(index));
      this.load(needed);
      while (this.bucketCount > target) this.mergeLast();
    }
    for (const index of this.changed) {
      const bucket = index < this.bucketCount && this.size > 0 ? this.loaded.get(index) : undefined;
      const bytes = bucket === undefined || bucket.size === 0 ? null : encodeBucket(bucket);
      this.context.writeElement(this.keyOf(index), bytes);
    }
    this.changed.clear();
  }

  /**
   * Members from `cursor` on, in Redis's reverse-binary cursor order over the hash space at the
   * table's resolution: at least `count` members when there are that many left, and the cursor
   * to continue from (0 when the scan is complete). See ADR 0008, decision 4.
   */
  scan(cursor: number, count: number): { cursor: number; entries: [string, Buffer][] } {
    const resolution = this.bucketCount <= 1 ? 0 : 32 - Math.clz32(this.bucketCount - 1);
    const slotMask = resolution === 0 ? 0 : 2 ** resolution - 1;
    const perSlot = Math.max(1, this.size / 2 ** resolution);
    const entries: [string, Buffer][] = [];
    let next = cursor >>> 0;
    for (let round = 0; round < SCAN_ROUNDS_MAX; round++) {
      const wanted = Math.min(SCAN_BUCKETS_PER_ROUND_MAX, Math.ceil((count - entries.length) / perSlot) + 1);
      const slots: number[] = [];
      let slot = next;
      do {
        slots.push(slot);
        slot = reverseIncrement(slot, slotMask);
      } while (slot !== 0 && slots.length < wanted);
      this.load(slots.map((visit) => this.slotBucket(visit, slotMask)));
      for (const visit of slots) {
        for (const entry of this.bucket(this.slotBucket(visit, slotMask))) {
          if ((this.hash(entry[0]) & slotMask) === (visit & slotMask)) entries.push(entry);
        }
        next = reverseIncrement(visit, slotMask);
        if (next === 0 || entries.length >= count) return { cursor: next, entries };
      }
    }
    return { cursor: next, entries };
  }

  /** The members of up to `bucketsWanted` buckets picked at random (one round), in bucket order. */
  sample(bucketsWanted: number): [string, Buffer][] {
    const picks = new Set<number>();
    const wanted = Math.min(this.bucketCount, bucketsWanted);
    for (let tries = 0; picks.size < wanted && tries < wanted * 4; tries++) {
      picks.add(Math.floor(this.context.random() * this.bucketCount));
    }
    this.load([...picks]);
    const entries: [string, Buffer][] = [];
    for (const index of [...picks].sort((a, b) => a - b)) entries.push(...this.bucket(index));
    return entries;
  }

  private slotBucket(slot: number, slotMask: number): number {
    const index = slot & slotMask;
    return index < this.bucketCount ? index : index & (slotMask >>> 1);
  }

  private hash(member: string): number {
    let hash = this.hashes.get(member);
    if (hash === undefined) {
      hash = memberHash(this.id, member);
      this.hashes.set(member, hash);
    }
    return hash;
  }

  private bucketIndex(member: string): number {
    return bucketOf(this.hash(member), this.bucketCount);
  }

  private keyOf(index: number): string {
    return elementKey(this.id, bucketSuffix(index));
  }

  private bucket(index: number): Bucket {
    const bucket = this.loaded.get(index);
    if (bucket === undefined) throw new Error(`bucket ${index} used before it was loaded`);
    return bucket;
  }

  /** Reads the buckets not loaded yet, in one round. */
  private load(indices: readonly number[]): void {
    const missing = [...new Set(indices)].filter((index) => !this.loaded.has(index));
    if (missing.length === 0) return;
    const values = this.context.readElements(missing.map((index) => this.keyOf(index)));
    missing.forEach((index, position) => {
      const bytes = values[position] ?? null;
      this.loaded.set(index, bytes === null ? new Map() : decodeBucket(bytes));
    });
  }

  /** Linear hashing's split: bucket n − 2^L gives the members that now hash to n. */
  private split(): void {
    const created = this.bucketCount;
    const source = buddyOf(created);
    const from = this.bucket(source);
    const to: Bucket = this.loaded.get(created) ?? new Map();
    to.clear();
    this.bucketCount++;
    for (const [member, value] of from) {
      if (bucketOf(this.hash(member), this.bucketCount) === created) {
        to.set(member, value);
        from.delete(member);
      }
    }
    this.loaded.set(created, to);
    this.changed.add(source);
    this.changed.add(created);
  }

  /** The reverse of a split: the last bucket's members go back to its buddy. */
  private mergeLast(): void {
    const last = this.bucketCount - 1;
    const into = this.bucket(buddyOf(last));
    for (const entry of this.bucket(last)) into.set(...entry);
    this.loaded.set(last, new Map());
    this.bucketCount--;
    this.changed.add(buddyOf(last));
    this.changed.add(last);
  }
}

/**
 * Loads, in one round for all of them, the buckets of several tables: every bucket of a plan
 * without `members`, else those that hold its members (without growing the table).
 */
export function loadTogether(
  context: DataCommandContext,
  plans: readonly { table: BucketTable; members?: Iterable<string> }[],
): void {
  const wanted = plans.flatMap(({ table, members }) =>
    table.unloaded(members).map((bucket) => ({ table, ...bucket })),
  );
  if (wanted.length === 0) return;
  const values = context.readElements(wanted.map((bucket) => bucket.key));
  wanted.forEach((bucket, position) => {
    bucket.table.accept(bucket.index, values[position] ?? null);
  });
}

/** Redis's dictScan step: increment the cursor's bits reversed, within the mask. */
function reverseIncrement(cursor: number, mask: number): number {
  let value = (cursor | ~mask) >>> 0;
  value = reverseBits(value);
  value = (value + 1) >>> 0;
  return reverseBits(value);
}

function reverseBits(value: number): number {
  let result = 0;
  let rest = value >>> 0;
  for (let bit = 0; bit < 32; bit++) {
    result = ((result << 1) | (rest & 1)) >>> 0;
    rest >>>= 1;
  }
  return result >>> 0;
}

/** The bucket count a hash's or set's meta starts with (4 bytes, big-endian). */
export function bucketCountOf(header: CollectionHeader): number {
  return header.meta.length >= 4 ? header.meta.readUInt32BE(0) : 1;
}

/** The table of an existing bucket collection. */
export function openTable(context: DataCommandContext, header: CollectionHeader): BucketTable {
  return new BucketTable(context, header.id, bucketCountOf(header), header.size);
}

/** A new, empty bucket collection of `type` (a fresh id, no expiry) and its table. */
export function createTable(
  context: DataCommandContext,
  type: CollectionType,
  flags = 0,
): { header: CollectionHeader; table: BucketTable } {
  const header = newHeader(context, type, tableMeta(1, flags));
  return { header, table: new BucketTable(context, header.id, 1, 0) };
}

function tableMeta(bucketCount: number, flags: number): Buffer {
  const meta = Buffer.alloc(5);
  meta.writeUInt32BE(bucketCount, 0);
  meta[4] = flags;
  return meta;
}

/** The family's flag byte after the bucket count (sets: whether it is still an "intset"). */
export function tableFlagsOf(header: CollectionHeader): number {
  return header.meta[4] ?? 0;
}

/**
 * Writes the table's changed buckets and the header that goes with them; an empty collection
 * is deleted, as in Redis. `flags` replaces the header's flag byte when given.
 */
export function saveTable(
  context: DataCommandContext,
  key: string,
  header: CollectionHeader,
  table: BucketTable,
  flags = tableFlagsOf(header),
): void {
  table.flush();
  if (table.size === 0) {
    context.write(key, null);
    return;
  }
  context.write(key, { ...header, size: table.size, meta: tableMeta(table.bucketCount, flags) });
}

/** The family hooks (layout.ts) for hashes and sets: bucket keys follow from the meta alone. */
export function bucketFamily(type: CollectionType): CollectionFamily {
  return {
    type,
    elementKeys: (_context, header) => bucketKeys(header, 0, bucketCountOf(header)),
    reclaimBatch: (_context, header, from, count) => bucketKeys(header, from, count),
  };
}

/** The keys of buckets `[from, from + count)` of a hash or set, within its bucket count. */
function bucketKeys(header: CollectionHeader, from: number, count: number): string[] {
  const length = Math.max(0, Math.min(count, bucketCountOf(header) - from));
  return Array.from({ length }, (_, offset) => elementKey(header.id, bucketSuffix(from + offset)));
}
