// A sorted set on the collection layout (contract 4): the Redis key holds the header (type
// 'zset', the collection's id, its size, its expiry and `meta`: where the order tree's root is),
// and the elements live under internal element keys of the collection's id:
//
// - `m` + member → the member's score (float64 LE): ZSCORE, ZMSCORE and the existence checks of
//   ZADD/ZREM are one point read each, batched. A member longer than `MEMBER_KEY_BYTES_MAX`
//   is keyed by its SHA-256 instead, so that element keys stay far below the key size limit.
// - `n` + node id (uint32 BE) → a node of the order tree (order-tree.ts), for ranks and ranges.
//
// Single-member commands touch the member's key and one path of the tree: O(log N) small keys,
// read one level per round trip.
import { createHash } from 'node:crypto';
import { type CollectionFamily, elementKey, isCollectionHeader } from '../collections/layout.js';
import type { DataCommandContext } from '../context-access.js';
import { type CollectionHeader, isExpired, type StoredValue } from '../stored-value.js';
import {
  DEFAULT_SHAPE,
  type Entry,
  type NodeStorage,
  OrderTree,
  type TreeRoot,
  type TreeShape,
} from './order-tree.js';

export type ZsetHeader = CollectionHeader & { type: 'zset' };

export const MEMBER_KEY_BYTES_MAX = 1024;

export function memberKey(id: string, member: string): string {
  if (member.length <= MEMBER_KEY_BYTES_MAX) return elementKey(id, `m${member}`);
  return elementKey(id, `h${createHash('sha256').update(member, 'latin1').digest().toString('latin1')}`);
}

export function nodeKey(id: string, nodeId: number): string {
  const bytes = Buffer.allocUnsafe(4);
  bytes.writeUInt32BE(nodeId);
  return elementKey(id, `n${bytes.toString('latin1')}`);
}

// meta: a version byte, the root node id (uint32 LE), the next node id (uint32 LE), the height.
const META_VERSION = 1;
const META_BYTES = 10;

export function encodeMeta(position: TreeRoot): Buffer {
  const meta = Buffer.alloc(META_BYTES);
  meta[0] = META_VERSION;
  meta.writeUInt32LE(position.root, 1);
  meta.writeUInt32LE(position.nextId, 5);
  meta[9] = position.height;
  return meta;
}

export function decodeMeta(meta: Buffer): TreeRoot {
  if (meta.length !== META_BYTES || meta[0] !== META_VERSION) throw new Error('corrupt sorted set header');
  return { root: meta.readUInt32LE(1), nextId: meta.readUInt32LE(5), height: meta[9] as number };
}

function encodeScore(score: number): Uint8Array {
  const bytes = Buffer.allocUnsafe(8);
  bytes.writeDoubleLE(score);
  return bytes;
}

function decodeScore(bytes: Uint8Array): number {
  if (bytes.length !== 8) throw new Error('corrupt sorted set member');
  return Buffer.from(bytes.buffer, bytes.byteOffset, 8).readDoubleLE(0);
}

function nodeStorage(context: DataCommandContext, id: string): NodeStorage {
  return {
    read: (ids) => context.readElements(ids.map((nodeId) => nodeKey(id, nodeId))),
    write: (nodeId, bytes) => context.writeElement(nodeKey(id, nodeId), bytes),
  };
}

/** The key's live value: null when absent or expired. */
export function readLiveValue(context: DataCommandContext, key: string): StoredValue | null {
  const value = context.read(key);
  return value === null || isExpired(value, context.nowMs) ? null : value;
}

export const WRONG_TYPE_VALUE = Symbol('wrong type');

/** The sorted-set keys each run opened, by context: see `rewriteOpenedHeaders`. */
const openedKeys = new WeakMap<DataCommandContext, Set<string>>();

/**
 * Writes back, unchanged, the current value of every sorted-set key this run opened. A run that
 * found a sorted set inconsistent (its rounds of reads straddled another writer's commit) and
 * wrote nothing would not be committed, so nothing would check its reads; with a write, its
 * commit validates every key it read, fails, and the engine runs the command again on fresh
 * reads. (The current value, not the one first read: an earlier command of the same group may
 * have changed it.)
 */
export function rewriteOpenedHeaders(context: DataCommandContext): void {
  for (const key of openedKeys.get(context) ?? []) context.write(key, context.read(key));
}

/** One sorted set during one command. Changes reach the context through `save`. */
export class Zset {
  private readonly scores = new Map<string, number | null>();

  private constructor(
    private readonly context: DataCommandContext,
    readonly key: string,
    private readonly header: ZsetHeader,
    readonly tree: OrderTree,
    /** Created by this command: none of its element keys exist yet, so none are read. */
    private readonly fresh = false,
  ) {}

  /** The sorted set at `key`, null when there is none, or WRONG_TYPE_VALUE. */
  static open(
    context: DataCommandContext,
    key: string,
    shape: TreeShape = DEFAULT_SHAPE,
  ): Zset | null | typeof WRONG_TYPE_VALUE {
    const value = readLiveValue(context, key);
    if (value === null) return null;
    if (value.type !== 'zset' || !isCollectionHeader(value)) return WRONG_TYPE_VALUE;
    const header: ZsetHeader = { ...value, type: 'zset' };
    const opened = openedKeys.get(context) ?? new Set<string>();
    openedKeys.set(context, opened);
    opened.add(key);
    const tree = new OrderTree(nodeStorage(context, header.id), decodeMeta(header.meta), shape);
    return new Zset(context, key, header, tree);
  }

  /** A new, empty sorted set at `key` (whatever was there is replaced at `save`). */
  static create(context: DataCommandContext, key: string, shape: TreeShape = DEFAULT_SHAPE): Zset {
    const id = context.newCollectionId();
    const tree = OrderTree.create(nodeStorage(context, id), shape);
    const header: ZsetHeader = { type: 'zset', id, size: 0, expireAtMs: null, meta: Buffer.alloc(0) };
    return new Zset(context, key, header, tree, true);
  }

  /**
   * Replaces whatever is at `key` with a sorted set of `entries` (sorted, distinct members), or
   * deletes the key when there are none: the store commands' result.
   */
  static store(
    context: DataCommandContext,
    key: string,
    entries: readonly Entry[],
    shape: TreeShape = DEFAULT_SHAPE,
  ): void {
    if (entries.length === 0) {
      context.write(key, null);
      return;
    }
    const id = context.newCollectionId();
    const tree = OrderTree.build(nodeStorage(context, id), entries, shape);
    for (const entry of entries) context.writeElement(memberKey(id, entry.member), encodeScore(entry.score));
    tree.flush();
    context.write(key, {
      type: 'zset',
      id,
      size: entries.length,
      expireAtMs: null,
      meta: encodeMeta(tree.position),
    });
  }

  /**
   * Reads every node of several sorted sets, one level of all of them per round, so that a
   * command over many sets (ZUNION, ZINTER, ZDIFF) costs the height of the tallest, not the sum.
   */
  static loadAll(context: DataCommandContext, zsets: readonly Zset[]): void {
    for (;;) {
      const wanted = zsets.map((zset) => zset.tree.nodesToScan());
      const keys = zsets.flatMap((zset, index) =>
        (wanted[index] as number[]).map((nodeId) => nodeKey(zset.header.id, nodeId)),
      );
      if (keys.length === 0) return;
      const stored = context.readElements(keys);
      let offset = 0;
      zsets.forEach((zset, index) => {
        const ids = wanted[index] as number[];
        zset.tree.ingest(ids, stored.slice(offset, offset + ids.length));
        offset += ids.length;
      });
    }
  }

  /** The scores of `members` in each of several sorted sets, fetched in one round. */
  static scoresAcross(context: DataCommandContext, zsets: readonly Zset[], members: readonly string[]): void {
    const plan = zsets.map((zset) =>
      zset.fresh ? [] : [...new Set(members.filter((member) => !zset.scores.has(member)))],
    );
    const keys = zsets.flatMap((zset, index) =>
      (plan[index] as string[]).map((member) => memberKey(zset.header.id, member)),
    );
    const stored = keys.length === 0 ? [] : context.readElements(keys);
    let offset = 0;
    zsets.forEach((zset, index) => {
      for (const member of plan[index] as string[]) {
        const bytes = stored[offset++];
        zset.scores.set(member, bytes === null || bytes === undefined ? null : decodeScore(bytes));
      }
    });
  }

  get size(): number {
    return this.header.size;
  }

  /** Scores of many members, fetched in one round. */
  scoresOf(members: readonly string[]): (number | null)[] {
    const missing = [...new Set(members.filter((member) => !this.scores.has(member)))];
    if (missing.length > 0 && this.fresh) {
      for (const member of missing) this.scores.set(member, null);
    } else if (missing.length > 0) {
      const stored = this.context.readElements(missing.map((member) => memberKey(this.header.id, member)));
      missing.forEach((member, index) => {
        const bytes = stored[index];
        this.scores.set(member, bytes === null || bytes === undefined ? null : decodeScore(bytes));
      });
    }
    return members.map((member) => this.scores.get(member) ?? null);
  }

  scoreOf(member: string): number | null {
    return this.scoresOf([member])[0] ?? null;
  }

  /** Reads, in as few rounds as the tree is deep, what changing these members will touch. */
  prefetch(entries: readonly Entry[]): void {
    this.tree.prefetch(entries);
  }

  /** Sets a member's score: adds it, or moves it in the order when its score changes. */
  set(member: string, score: number): void {
    const current = this.scoreOf(member);
    if (current !== null) {
      if (current === score) return;
      this.tree.remove({ score: current, member });
    } else {
      this.header.size++;
    }
    this.tree.insert({ score, member });
    this.scores.set(member, score);
    this.context.writeElement(memberKey(this.header.id, member), encodeScore(score));
  }

  /** Removes a member; false when it is not there. */
  delete(member: string): boolean {
    const current = this.scoreOf(member);
    if (current === null) return false;
    this.tree.remove({ score: current, member });
    this.header.size--;
    this.scores.set(member, null);
    this.context.writeElement(memberKey(this.header.id, member), null);
    return true;
  }

  rankOf(member: string): number | null {
    const score = this.scoreOf(member);
    return score === null ? null : this.tree.rank({ score, member });
  }

  /** Entries of ranks [start, end) in order. */
  range(start: number, end: number): Entry[] {
    return this.tree.range(Math.max(0, start), Math.min(end, this.header.size));
  }

  all(): Entry[] {
    return this.range(0, this.header.size);
  }

  countBefore(before: (entry: Entry) => boolean): number {
    return this.tree.countBefore(before);
  }

  /** Writes the changes; a sorted set left empty is deleted, as in Redis. */
  save(): void {
    if (this.header.size === 0) {
      this.tree.drop();
      this.tree.flush();
      this.context.write(this.key, null);
      return;
    }
    this.tree.flush();
    this.context.write(this.key, { ...this.header, meta: encodeMeta(this.tree.position) });
  }

  /** Every element key of the collection (for COPY, reclaim and MEMORY USAGE). */
  elementKeys(): string[] {
    const keys = this.tree.nodeIds().map((nodeId) => nodeKey(this.header.id, nodeId));
    for (const entry of this.all()) keys.push(memberKey(this.header.id, entry.member));
    return keys;
  }
}

/**
 * The family's part in the collection layout: the element keys of a sorted set's header, so that
 * COPY, DEL's reclaim and MEMORY USAGE work for sorted sets.
 */
export const ZSET_FAMILY: CollectionFamily = {
  type: 'zset',
  elementKeys(context: DataCommandContext, header: CollectionHeader): string[] {
    const tree = new OrderTree(nodeStorage(context, header.id), decodeMeta(header.meta));
    const keys = tree.nodeIds().map((nodeId) => nodeKey(header.id, nodeId));
    for (const entry of tree.range(0, header.size)) keys.push(memberKey(header.id, entry.member));
    return keys;
  },
  // Members first, by rank, while the tree that lists them is whole; then node keys by id, every
  // id the tree ever allocated (ids are never reused; an absent one costs nothing to delete), so
  // deleting nodes needs no reading of the tree.
  reclaimBatch(context: DataCommandContext, header: CollectionHeader, from: number, count: number): string[] {
    const position = decodeMeta(header.meta);
    const keys: string[] = [];
    if (from < header.size) {
      const tree = new OrderTree(nodeStorage(context, header.id), position);
      const end = Math.min(header.size, from + count);
      for (const entry of tree.range(from, end)) keys.push(memberKey(header.id, entry.member));
    }
    const firstNode = Math.max(0, from - header.size) + 1;
    for (let nodeId = firstNode; nodeId < position.nextId && keys.length < count; nodeId++) {
      keys.push(nodeKey(header.id, nodeId));
    }
    return keys;
  },
};
