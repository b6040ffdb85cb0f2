// A sorted set's order index: a B+tree of (score, member) entries whose nodes are stored one per
// element key, with the size of every subtree in its parent, so that a rank, a score or lex bound
// and an entry at a rank are each one path from the root (order statistics).
//
// - A leaf holds entries in order. An inner node holds its children, each with its subtree's
//   entry count and a separator: a key no greater than any key of that child and greater than
//   every key of the children before it. Separators may lag behind deletions (a removed first
//   entry leaves its separator lower than the child's new first key), which keeps routing right.
// - A node holds at most `fanout` items and, past one item, at most `nodeBytesMax` bytes, so a
//   node is one small read. A node other than the root holds at least a quarter of either, or
//   it is merged with or refilled from a sibling. All leaves are at the same depth.
// - Ranges are read a level at a time: every node a range needs at one level is fetched in one
//   batch, so a range costs one round trip per level however wide it is.
//
// Nodes read during a command are kept decoded; changes are written back by `flush`.

export interface Entry {
  readonly score: number;
  /** The member's bytes as a latin1 string. */
  readonly member: string;
}

interface Child extends Entry {
  readonly id: number;
  count: number;
}

type Node = { leaf: true; items: Entry[] } | { leaf: false; items: Child[] };

export interface NodeStorage {
  /** The nodes' stored bytes, fetched in one round; null for a node that does not exist. */
  read(ids: readonly number[]): (Uint8Array | null)[];
  write(id: number, bytes: Uint8Array | null): void;
}

export interface TreeShape {
  fanout: number;
  nodeBytesMax: number;
}

export const DEFAULT_SHAPE: TreeShape = { fanout: 64, nodeBytesMax: 32 * 1024 };

/** Where the tree is: kept in the collection's header. */
export interface TreeRoot {
  root: number;
  /** 1 when the root is a leaf. */
  height: number;
  /** The next node id to hand out; ids are never reused within a collection. */
  nextId: number;
}

export function compareEntries(a: Entry, b: Entry): number {
  if (a.score < b.score) return -1;
  if (a.score > b.score) return 1;
  return a.member < b.member ? -1 : a.member > b.member ? 1 : 0;
}

export class OrderTree {
  private readonly nodes = new Map<number, Node>();
  private readonly dirty = new Set<number>();

  constructor(
    private readonly storage: NodeStorage,
    readonly position: TreeRoot,
    private readonly shape: TreeShape = DEFAULT_SHAPE,
  ) {}

  /** A new tree: one empty leaf as its root. */
  static create(storage: NodeStorage, shape: TreeShape = DEFAULT_SHAPE): OrderTree {
    const tree = new OrderTree(storage, { root: 1, height: 1, nextId: 2 }, shape);
    tree.nodes.set(1, { leaf: true, items: [] });
    tree.dirty.add(1);
    return tree;
  }

  /**
   * A tree over `entries` (sorted, distinct), built bottom-up with nodes three quarters full:
   * a store command's result costs one write per node and no reads.
   */
  static build(storage: NodeStorage, entries: readonly Entry[], shape: TreeShape = DEFAULT_SHAPE): OrderTree {
    const tree = OrderTree.create(storage, shape);
    if (entries.length === 0) return tree;
    tree.nodes.delete(1);
    tree.dirty.delete(1);
    tree.position.nextId = 1;
    let level: Child[] = tree.chunk(entries).map((items) => tree.place({ leaf: true, items }));
    let height = 1;
    while (level.length > 1) {
      level = tree.chunk(level).map((items) => tree.place({ leaf: false, items }));
      height++;
    }
    tree.position.root = (level[0] as Child).id;
    tree.position.height = height;
    return tree;
  }

  /** Reads the paths to all `keys` a level at a time, so that later descents find them cached. */
  prefetch(keys: readonly Entry[]): void {
    let current = keys.map(() => this.position.root);
    for (let depth = 0; depth < this.position.height; depth++) {
      this.load(current);
      if (depth === this.position.height - 1) break;
      current = current.map((id, index) => {
        const node = this.node(id) as Extract<Node, { leaf: false }>;
        return (node.items[childIndex(node.items, keys[index] as Entry)] as Child).id;
      });
    }
  }

  /** Adds an entry whose member is not in the tree. */
  insert(key: Entry): void {
    const entry: Entry = { score: key.score, member: key.member };
    const path = this.descend(entry, (child) => {
      child.count++;
      if (compareEntries(entry, child) < 0) return { ...child, score: entry.score, member: entry.member };
      return child;
    });
    const leaf = this.node(path.leafId) as Extract<Node, { leaf: true }>;
    const at = lowerBound(leaf.items, entry);
    if (at < leaf.items.length && compareEntries(leaf.items[at] as Entry, entry) === 0) {
      throw new Error('corrupt sorted set: entry inserted twice');
    }
    leaf.items.splice(at, 0, entry);
    this.dirty.add(path.leafId);
    this.splitUpwards(path.ancestors, path.leafId);
  }

  /** Removes an entry that is in the tree. */
  remove(entry: Entry): void {
    const path = this.descend(entry, (child) => {
      child.count--;
      return child;
    });
    const leaf = this.node(path.leafId) as Extract<Node, { leaf: true }>;
    const at = lowerBound(leaf.items, entry);
    if (at >= leaf.items.length || compareEntries(leaf.items[at] as Entry, entry) !== 0) {
      throw new Error('corrupt sorted set: a member is missing from the order index');
    }
    leaf.items.splice(at, 1);
    this.dirty.add(path.leafId);
    this.mergeUpwards(path.ancestors, path.leafId);
  }

  /** The entry's 0-based rank, or null when it is not in the tree. */
  rank(entry: Entry): number | null {
    let rank = 0;
    let id = this.position.root;
    for (;;) {
      const node = this.node(id);
      if (node.leaf) {
        const at = lowerBound(node.items, entry);
        const found = at < node.items.length && compareEntries(node.items[at] as Entry, entry) === 0;
        return found ? rank + at : null;
      }
      const index = childIndex(node.items, entry);
      for (let before = 0; before < index; before++) rank += (node.items[before] as Child).count;
      id = (node.items[index] as Child).id;
    }
  }

  /**
   * How many entries satisfy `before`, a predicate true for a prefix of the order (all entries
   * below a bound): one path from the root.
   */
  countBefore(before: (entry: Entry) => boolean): number {
    let count = 0;
    let id = this.position.root;
    for (;;) {
      const node = this.node(id);
      if (node.leaf) return count + partitionPoint(node.items, before);
      // The last child whose separator is before the bound holds the boundary; the ones before
      // it are wholly before it.
      const index = Math.max(0, partitionPoint(node.items, before) - 1);
      for (let earlier = 0; earlier < index; earlier++) count += (node.items[earlier] as Child).count;
      id = (node.items[index] as Child).id;
    }
  }

  /** The entries of ranks `start` to `end` (exclusive), in order, reading a level at a time. */
  range(start: number, end: number): Entry[] {
    if (start >= end) return [];
    let frontier: { id: number; first: number }[] = [{ id: this.position.root, first: 0 }];
    for (;;) {
      this.load(frontier.map(({ id }) => id));
      const next: { id: number; first: number }[] = [];
      const entries: Entry[] = [];
      for (const { id, first } of frontier) {
        const node = this.node(id);
        if (node.leaf) {
          const from = Math.max(0, start - first);
          const to = Math.min(node.items.length, end - first);
          for (let index = from; index < to; index++) entries.push(node.items[index] as Entry);
          continue;
        }
        let offset = first;
        for (const child of node.items) {
          if (offset >= end) break;
          if (offset + child.count > start) next.push({ id: child.id, first: offset });
          offset += child.count;
        }
      }
      if (next.length === 0) return entries;
      frontier = next;
    }
  }

  /**
   * The nodes a full scan still needs at the next level: the root, or the unread children of
   * read nodes. Several trees are read together this way, one level of all of them per round.
   */
  nodesToScan(): number[] {
    let level = [this.position.root];
    for (;;) {
      const missing = level.filter((id) => !this.nodes.has(id) && !this.dirty.has(id));
      if (missing.length > 0) return missing;
      const next: number[] = [];
      for (const id of level) {
        const node = this.node(id);
        if (!node.leaf) for (const child of node.items) next.push(child.id);
      }
      if (next.length === 0) return [];
      level = next;
    }
  }

  /** Takes nodes read on the tree's behalf (see `nodesToScan`). */
  ingest(ids: readonly number[], stored: readonly (Uint8Array | null)[]): void {
    ids.forEach((id, index) => {
      const bytes = stored[index];
      if (bytes === null || bytes === undefined) throw new Error(`corrupt sorted set: node ${id} is missing`);
      if (!this.nodes.has(id)) this.nodes.set(id, decodeNode(bytes));
    });
  }

  /** Writes the changed nodes back. */
  flush(): void {
    // The engine writes only keys it has read (their versions go into the commit): new nodes
    // and freed ones are read together first, so that the writes cost one round, not one each.
    if (this.dirty.size > 0) this.storage.read([...this.dirty]);
    for (const id of this.dirty) {
      const node = this.nodes.get(id);
      this.storage.write(id, node === undefined ? null : encodeNode(node));
    }
    this.dirty.clear();
  }

  /** Every node id of the tree, reading a level at a time (for COPY, reclaim and MEMORY USAGE). */
  nodeIds(): number[] {
    const ids: number[] = [];
    let level = [this.position.root];
    while (level.length > 0) {
      this.load(level);
      ids.push(...level);
      const next: number[] = [];
      for (const id of level) {
        const node = this.node(id);
        if (!node.leaf) for (const child of node.items) next.push(child.id);
      }
      level = next;
    }
    return ids;
  }

  /** Frees every node: the tree is empty and its collection is going away. */
  drop(): void {
    for (const id of this.nodeIds()) {
      this.nodes.delete(id);
      this.dirty.add(id);
    }
  }

  /**
   * Checks the invariants (order, counts, separators, node bounds, equal leaf depth) and returns
   * the entry count. For tests: it reads the whole tree.
   */
  check(): number {
    const { fanout, nodeBytesMax } = this.shape;
    // Every key of a subtree lies in [low, high): the separators around it.
    const visit = (id: number, depth: number, low: Entry | null, high: Entry | null): number => {
      const node = this.node(id);
      const isRoot = id === this.position.root;
      if (node.items.length > fanout) throw new Error(`node ${id} holds ${node.items.length} items`);
      const bytes = itemsBytes(node.items, node.leaf);
      if (bytes > nodeBytesMax && node.items.length > 1) throw new Error(`node ${id} holds ${bytes} bytes`);
      if (!isRoot && this.underfull(node)) throw new Error(`node ${id} is underfull`);
      if (node.leaf) {
        if (depth !== this.position.height) throw new Error(`leaf ${id} at depth ${depth}`);
        node.items.forEach((entry, index) => {
          if (index > 0 && compareEntries(node.items[index - 1] as Entry, entry) >= 0) {
            throw new Error(`leaf ${id} out of order`);
          }
          if (low !== null && compareEntries(entry, low) < 0)
            throw new Error(`leaf ${id} below its separator`);
          if (high !== null && compareEntries(entry, high) >= 0)
            throw new Error(`leaf ${id} above its bound`);
        });
        return node.items.length;
      }
      if (isRoot && node.items.length < 2) throw new Error('an inner root with one child');
      let total = 0;
      node.items.forEach((child, index) => {
        const next = node.items[index + 1] ?? null;
        const count = visit(child.id, depth + 1, index === 0 ? low : child, next ?? high);
        if (count !== child.count)
          throw new Error(`child ${child.id} counted ${child.count}, holds ${count}`);
        total += count;
      });
      return total;
    };
    return visit(this.position.root, 1, null, null);
  }

  // -------------------------------------------------------------------------------------------

  private node(id: number): Node {
    this.load([id]);
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`corrupt sorted set: node ${id} is missing`);
    return node;
  }

  private load(ids: readonly number[]): void {
    const missing = [...new Set(ids.filter((id) => !this.nodes.has(id) && !this.dirty.has(id)))];
    if (missing.length === 0) return;
    const stored = this.storage.read(missing);
    missing.forEach((id, index) => {
      const bytes = stored[index];
      if (bytes === null || bytes === undefined) throw new Error(`corrupt sorted set: node ${id} is missing`);
      this.nodes.set(id, decodeNode(bytes));
    });
  }

  /** The path to the leaf where `key` belongs; `touch` updates each child entry passed through. */
  private descend(
    key: Entry,
    touch: (child: Child) => Child,
  ): { leafId: number; ancestors: { id: number; index: number }[] } {
    const ancestors: { id: number; index: number }[] = [];
    let id = this.position.root;
    for (;;) {
      const node = this.node(id);
      if (node.leaf) return { leafId: id, ancestors };
      const index = childIndex(node.items, key);
      const child = touch(node.items[index] as Child);
      node.items[index] = child;
      this.dirty.add(id);
      ancestors.push({ id, index });
      id = child.id;
    }
  }

  private splitUpwards(ancestors: { id: number; index: number }[], leafId: number): void {
    let id = leafId;
    for (let level = ancestors.length - 1; level >= -1; level--) {
      const node = this.node(id);
      if (!this.overfull(node.items, node.leaf)) return;
      const at = this.splitPoint(node.items, node.leaf);
      const right = this.place({ leaf: node.leaf, items: node.items.splice(at) } as Node);
      this.dirty.add(id);
      if (level < 0) {
        // The root split: a new root above the two halves.
        const left: Child = { ...firstKey(node), id, count: countOf(node) };
        const root = this.place({ leaf: false, items: [left, right] });
        this.position.root = root.id;
        this.position.height++;
        return;
      }
      const parentStep = ancestors[level] as { id: number; index: number };
      const parent = this.node(parentStep.id) as Extract<Node, { leaf: false }>;
      const leftEntry = parent.items[parentStep.index] as Child;
      parent.items[parentStep.index] = { ...leftEntry, count: countOf(node) };
      parent.items.splice(parentStep.index + 1, 0, right);
      this.dirty.add(parentStep.id);
      id = parentStep.id;
    }
  }

  private mergeUpwards(ancestors: { id: number; index: number }[], leafId: number): void {
    let id = leafId;
    for (let level = ancestors.length - 1; level >= 0; level--) {
      const node = this.node(id);
      if (!this.underfull(node)) break;
      const { id: parentId, index } = ancestors[level] as { id: number; index: number };
      const parent = this.node(parentId) as Extract<Node, { leaf: false }>;
      // The right sibling if there is one, else the left one.
      const leftIndex = index + 1 < parent.items.length ? index : index - 1;
      if (leftIndex < 0) {
        // An only child (a parent kept small by large separators): an empty one goes, and its
        // parent is looked at next.
        if (node.items.length > 0) break;
        parent.items.splice(index, 1);
        this.free(id);
        id = parentId;
        continue;
      }
      const leftChild = parent.items[leftIndex] as Child;
      const rightChild = parent.items[leftIndex + 1] as Child;
      this.load([leftChild.id, rightChild.id]);
      const left = this.node(leftChild.id);
      const right = this.node(rightChild.id);
      const combined = [...left.items, ...right.items] as Entry[];
      this.dirty.add(leftChild.id);
      this.dirty.add(parentId);
      if (!this.overfull(combined, left.leaf)) {
        left.items = combined as Child[];
        parent.items[leftIndex] = { ...leftChild, count: leftChild.count + rightChild.count };
        parent.items.splice(leftIndex + 1, 1);
        this.free(rightChild.id);
      } else {
        const at = this.splitPoint(combined, left.leaf);
        left.items = combined.slice(0, at) as Child[];
        right.items = combined.slice(at) as Child[];
        this.dirty.add(rightChild.id);
        parent.items[leftIndex] = { ...leftChild, count: countOf(left) };
        parent.items[leftIndex + 1] = { ...firstKey(right), id: rightChild.id, count: countOf(right) };
      }
      id = parentId;
    }
    // An inner root left with one child hands the root to it.
    for (;;) {
      const root = this.node(this.position.root);
      if (!root.leaf && root.items.length === 0) {
        this.nodes.set(this.position.root, { leaf: true, items: [] });
        this.dirty.add(this.position.root);
        this.position.height = 1;
        return;
      }
      if (root.leaf || root.items.length !== 1) return;
      const only = (root.items[0] as Child).id;
      this.free(this.position.root);
      this.position.root = only;
      this.position.height--;
    }
  }

  private free(id: number): void {
    this.nodes.delete(id);
    this.dirty.add(id);
  }

  /** Stores a new node and returns its entry for the parent. */
  private place(node: Node): Child {
    const id = this.position.nextId++;
    this.nodes.set(id, node);
    this.dirty.add(id);
    return { ...firstKey(node), id, count: countOf(node) };
  }

  private overfull(items: readonly Entry[], leaf: boolean): boolean {
    if (items.length > this.shape.fanout) return true;
    return items.length > 1 && itemsBytes(items, leaf) > this.shape.nodeBytesMax;
  }

  /** Fewer items than a quarter of the fanout (at least 1 in a leaf, 2 in an inner node) and bytes. */
  private underfull(node: Node): boolean {
    return (
      node.items.length < Math.max(node.leaf ? 1 : 2, Math.floor(this.shape.fanout / 4)) &&
      itemsBytes(node.items, node.leaf) < this.shape.nodeBytesMax / 4
    );
  }

  /** Where to cut an overfull run of items: the middle by count, or by bytes when bytes overflow. */
  private splitPoint(items: readonly Entry[], leaf: boolean): number {
    const total = itemsBytes(items, leaf);
    if (total <= this.shape.nodeBytesMax) return Math.ceil(items.length / 2);
    let bytes = 0;
    for (let index = 0; index < items.length; index++) {
      bytes += itemBytes(items[index] as Entry, leaf);
      if (bytes * 2 >= total) return Math.min(Math.max(index, 1), items.length - 1);
    }
    return items.length - 1;
  }

  /** Cuts a sorted run into nodes three quarters full; no node but a lone one is underfull. */
  private chunk<T extends Entry>(items: readonly T[]): T[][] {
    const leaf = !('id' in (items[0] as Entry));
    const countTarget = Math.max(1, Math.floor((this.shape.fanout * 3) / 4));
    const bytesTarget = (this.shape.nodeBytesMax * 3) / 4;
    const chunks: T[][] = [];
    let current: T[] = [];
    let bytes = 0;
    for (const item of items) {
      const size = itemBytes(item, leaf);
      if (current.length > 0 && (current.length >= countTarget || bytes + size > bytesTarget)) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      current.push(item);
      bytes += size;
    }
    chunks.push(current);
    const last = chunks[chunks.length - 1] as T[];
    if (chunks.length > 1 && this.underfull({ leaf, items: last } as Node)) {
      const previous = chunks[chunks.length - 2] as T[];
      const combined = [...previous, ...last];
      chunks.splice(chunks.length - 2, 2);
      if (!this.overfull(combined, leaf)) chunks.push(combined);
      else {
        const at = this.splitPoint(combined, leaf);
        chunks.push(combined.slice(0, at), combined.slice(at));
      }
    }
    return chunks;
  }
}

/** The index of the child whose key range holds `key`: the last whose separator is ≤ key. */
function childIndex(children: readonly Child[], key: Entry): number {
  return Math.max(0, partitionPoint(children, (child) => compareEntries(child, key) <= 0) - 1);
}

/** The first index at which `key` could be inserted keeping `items` sorted. */
function lowerBound(items: readonly Entry[], key: Entry): number {
  return partitionPoint(items, (item) => compareEntries(item, key) < 0);
}

/** The number of leading items for which `before` holds (it must hold for a prefix only). */
function partitionPoint<T>(items: readonly T[], before: (item: T) => boolean): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (before(items[middle] as T)) low = middle + 1;
    else high = middle;
  }
  return low;
}

function firstKey(node: Node): Entry {
  const first = node.items[0];
  if (first === undefined) throw new Error('an empty node has no first key');
  return { score: first.score, member: first.member };
}

function countOf(node: Node): number {
  if (node.leaf) return node.items.length;
  let count = 0;
  for (const child of node.items) count += child.count;
  return count;
}

function itemBytes(item: Entry, leaf: boolean): number {
  // A leaf entry: score, member. An inner entry adds the child's id (4) and count (8).
  return (leaf ? 8 : 20) + varintLength(item.member.length) + item.member.length;
}

function itemsBytes(items: readonly Entry[], leaf: boolean): number {
  let bytes = 0;
  for (const item of items) bytes += itemBytes(item, leaf);
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Node encoding: a kind byte (1 leaf, 2 inner), a varint item count, then per item: for an inner
// node the child's id (uint32 LE) and subtree count (float64 LE); then the score (float64 LE),
// a varint member length and the member's bytes.

const LEAF_KIND = 1;
const INNER_KIND = 2;

export function encodeNode(node: Node): Uint8Array {
  const bytes = Buffer.allocUnsafe(1 + 5 + itemsBytes(node.items, node.leaf));
  bytes[0] = node.leaf ? LEAF_KIND : INNER_KIND;
  let offset = writeVarint(bytes, 1, node.items.length);
  for (const item of node.items) {
    if (!node.leaf) {
      const child = item as Child;
      bytes.writeUInt32LE(child.id, offset);
      bytes.writeDoubleLE(child.count, offset + 4);
      offset += 12;
    }
    bytes.writeDoubleLE(item.score, offset);
    offset = writeVarint(bytes, offset + 8, item.member.length);
    offset += bytes.write(item.member, offset, 'latin1');
  }
  return bytes.subarray(0, offset);
}

export function decodeNode(stored: Uint8Array): Node {
  const bytes = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  const kind = bytes[0];
  if (kind !== LEAF_KIND && kind !== INNER_KIND) throw new Error('corrupt sorted set node');
  const leaf = kind === LEAF_KIND;
  let [count, offset] = readVarint(bytes, 1);
  const items: Entry[] = [];
  for (; count > 0; count--) {
    let id = 0;
    let childCount = 0;
    if (!leaf) {
      need(bytes, offset, 12);
      id = bytes.readUInt32LE(offset);
      childCount = bytes.readDoubleLE(offset + 4);
      offset += 12;
    }
    need(bytes, offset, 8);
    const score = bytes.readDoubleLE(offset);
    const [length, memberAt] = readVarint(bytes, offset + 8);
    need(bytes, memberAt, length);
    const member = bytes.toString('latin1', memberAt, memberAt + length);
    offset = memberAt + length;
    items.push(leaf ? { score, member } : ({ score, member, id, count: childCount } as Child));
  }
  if (offset !== bytes.length) throw new Error('corrupt sorted set node: trailing bytes');
  return { leaf, items } as Node;
}

function need(bytes: Buffer, offset: number, length: number): void {
  if (offset + length > bytes.length) throw new Error('corrupt sorted set node: truncated');
}

export function varintLength(value: number): number {
  let length = 1;
  for (let rest = Math.floor(value / 128); rest > 0; rest = Math.floor(rest / 128)) length++;
  return length;
}

export function writeVarint(bytes: Buffer, start: number, value: number): number {
  let offset = start;
  let rest = value;
  while (rest >= 0x80) {
    bytes[offset++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  bytes[offset++] = rest;
  return offset;
}

export function readVarint(bytes: Buffer, start: number): [number, number] {
  let value = 0;
  let offset = start;
  for (let shift = 0; shift < 5; shift++) {
    need(bytes, offset, 1);
    const byte = bytes[offset++] as number;
    value += (byte & 0x7f) * 2 ** (7 * shift);
    if (byte < 0x80) return [value, offset];
  }
  throw new Error('corrupt sorted set node: bad varint');
}
