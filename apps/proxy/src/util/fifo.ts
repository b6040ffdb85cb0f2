// A first-in first-out queue on a growable ring buffer: push and shift in O(1) without the
// copying Array.prototype.shift does on long queues (a pipeline of thousands of commands).

export class Fifo<T> {
  private items: (T | undefined)[] = new Array(16);
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) & (this.items.length - 1)] = item;
    this.count++;
  }

  /** Puts `item` first, ahead of everything queued. */
  unshift(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.head = (this.head - 1) & (this.items.length - 1);
    this.items[this.head] = item;
    this.count++;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.count--;
    return item;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  /** The item `index` places from the front. */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.count) return undefined;
    return this.items[(this.head + index) & (this.items.length - 1)];
  }

  /** Removes and returns every item, front first. */
  drain(): T[] {
    const all: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) all.push(item);
    return all;
  }

  /** Removes the items `remove` accepts, keeping the others in order; answers those removed. */
  removeWhere(remove: (item: T) => boolean): T[] {
    const removed: T[] = [];
    const kept: T[] = [];
    for (const item of this.drain()) (remove(item) ? removed : kept).push(item);
    for (const item of kept) this.push(item);
    return removed;
  }

  private grow(): void {
    // The capacity stays a power of two, so that `& (length - 1)` wraps an index.
    const larger: (T | undefined)[] = new Array(this.items.length * 2);
    for (let index = 0; index < this.count; index++) {
      larger[index] = this.items[(this.head + index) & (this.items.length - 1)];
    }
    this.items = larger;
    this.head = 0;
  }
}
