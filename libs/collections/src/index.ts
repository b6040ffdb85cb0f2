// A Map's oldest entry, for maps that drop their oldest entries (a size bound, an age bound) or
// sweep them (CLOCK), without walking the slots of entries deleted before it.
//
// Why not `map.keys().next()` or a fresh `for ... of`: V8 leaves a deleted entry's slot in its
// table until the table is rehashed, and a new iterator starts at the first slot and steps over
// every deleted one. A map that deletes from its front gathers up to a third of its capacity of
// such slots there, so each eviction walks them: 45–49 µs per eviction at 100,000 entries on this
// project's machine (`npm run bench -- bounded-maps`), where a set and a delete take under one.
// An iterator kept between calls resumes where it stopped: the slots behind it are never walked
// again, and entries added later are still met (a Map iterator visits entries added while it
// runs, ECMAScript's Map iteration semantics). No library fits: an LRU cache package owns
// its storage, and these maps keep their own entries and order.
//
// The contract: the entry `oldest()` returned is deleted through `dropOldest()`, or, if the caller
// deletes or moves it (deletes and sets it again) itself, the caller calls `pass()`. Elsewhere an entry's value object is replaced only by deleting its key and
// setting it again (which moves it to the back), so that the hand notices by the value's identity
// that the entry it holds left its place. Then every entry behind the hand is gone or moved to
// the back, and `oldest()` is the oldest entry in the map.

export class MapHand<K, V> {
  private iterator: Iterator<[K, V]> | null = null;
  /** What `oldest()` returned and nobody passed yet. */
  private held: [K, V] | null = null;

  constructor(private readonly map: Map<K, V>) {}

  /** The oldest entry, or undefined if the map is empty; the same one until it is passed or leaves. */
  oldest(): [K, V] | undefined {
    const held = this.held;
    if (held !== null && this.map.get(held[0]) === held[1]) return held;
    this.held = this.advance();
    return this.held ?? undefined;
  }

  /** Deletes the oldest entry from the map and goes past it; returns it, or undefined if the map is empty. */
  dropOldest(): [K, V] | undefined {
    const oldest = this.oldest();
    if (oldest === undefined) return undefined;
    this.map.delete(oldest[0]);
    this.held = null;
    return oldest;
  }

  /** The caller deleted or moved the entry `oldest()` returned: the hand goes past it. */
  pass(): void {
    this.held = null;
  }

  /** After `map.clear()`: start from the first entry again. */
  reset(): void {
    this.iterator = null;
    this.held = null;
  }

  private advance(): [K, V] | null {
    if (this.iterator !== null) {
      const step = this.iterator.next();
      if (step.done !== true) return step.value;
    }
    // Past the newest (or never started): from the first slot again. Only deleted slots lie
    // before the entries still there, and this walk over them happens once per pass.
    this.iterator = this.map.entries();
    const step = this.iterator.next();
    if (step.done === true) {
      this.iterator = null;
      return null;
    }
    return step.value;
  }
}
