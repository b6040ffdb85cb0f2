// Linearizability of a key/value register history, checked the way Porcupine does it: the
// Wing–Gong search with Lowe's memoization, run on each key alone. Linearizability is
// compositional (P-compositionality), so a history is linearizable exactly when every key's
// sub-history is, and splitting by key turns one exponential search into many small ones.
// Register semantics then let the search skip most orders that cannot make a difference (see
// `preserving` below), which is what keeps dozens of concurrent clients affordable.
import type { Operation } from './history.js';

export type RegisterValue = string | null;

export interface RegisterRead {
  key: string;
  kind: 'read';
}

export interface RegisterWrite {
  key: string;
  kind: 'write';
  value: RegisterValue;
}

/** Sets `value` only when the current value equals `expected`; the output says whether it did. */
export interface RegisterCas {
  key: string;
  kind: 'cas';
  expected: RegisterValue;
  value: RegisterValue;
}

export type RegisterInput = RegisterRead | RegisterWrite | RegisterCas;

/** A read returns the value (`null` when absent), a write `'ok'`, a compare-and-set a boolean. */
export type RegisterOutput = RegisterValue | boolean;

export type RegisterOperation = Operation<RegisterInput, RegisterOutput>;

export interface LinearizabilityOptions {
  /** Values of keys before the history starts; keys not listed start absent (`null`). */
  initial?: ReadonlyMap<string, RegisterValue> | Readonly<Record<string, RegisterValue>>;
  /** Distinct search states explored for one key before giving up with `ok: 'unknown'`. */
  maxStatesPerKey?: number;
}

export type LinearizabilityResult =
  | { ok: true }
  | {
      ok: false;
      key: string;
      reason: string;
      /** The operations that show the problem, or surround it, by invocation time. */
      operations: RegisterOperation[];
    }
  | { ok: 'unknown'; key: string; reason: string };

export const defaultMaxStatesPerKey = 2_000_000;

// Keeps a failure report readable; the slice is a pointer into the history, not a proof.
const maxReportedOperations = 32;

/**
 * Checks that the history of a read/write/compare-and-set register is linearizable, key by key.
 *
 * Operation `a` precedes `b` in real time only when `a.return < b.call`; operations whose
 * intervals touch count as concurrent. An operation with an unknown outcome may take effect at
 * any time after its call, or not at all. A definite failure on any key wins over a search that
 * ran out of budget on another. Malformed records throw.
 */
export function checkRegisterLinearizability(
  history: readonly RegisterOperation[],
  options: LinearizabilityOptions = {},
): LinearizabilityResult {
  const maxStates = options.maxStatesPerKey ?? defaultMaxStatesPerKey;
  if (!(maxStates >= 1)) throw new RangeError(`maxStatesPerKey must be at least 1, got ${maxStates}`);

  const byKey = new Map<string, RegisterOperation[]>();
  for (const operation of history) {
    assertWellFormed(operation);
    const operations = byKey.get(operation.input.key);
    if (operations === undefined) byKey.set(operation.input.key, [operation]);
    else operations.push(operation);
  }

  let undecided: LinearizabilityResult | undefined;
  for (const [key, operations] of byKey) {
    const result = checkKey(key, operations, initialValue(options.initial, key), maxStates);
    if (result.ok === false) return result;
    if (result.ok === 'unknown') undecided ??= result;
  }
  return undecided ?? { ok: true };
}

function initialValue(initial: LinearizabilityOptions['initial'], key: string): RegisterValue {
  if (initial === undefined) return null;
  if (initial instanceof Map) return initial.get(key) ?? null;
  const record = initial as Readonly<Record<string, RegisterValue>>;
  return Object.hasOwn(record, key) ? (record[key] ?? null) : null;
}

// A malformed record is a bug in whatever produced the history, not evidence about the system,
// so it throws rather than being reported as a linearizability violation.
function assertWellFormed(operation: RegisterOperation): void {
  const { input, output } = operation;
  const where = `operation of process ${operation.process} called at ${operation.call}`;
  if (!Number.isFinite(operation.call)) throw new RangeError(`${where}: call time must be finite`);
  if (Number.isNaN(operation.return) || operation.return < operation.call) {
    throw new RangeError(`${where}: returns at ${operation.return}, before its call`);
  }
  const unknownOutcome = operation.return === Number.POSITIVE_INFINITY;
  if (unknownOutcome !== (output === undefined)) {
    throw new TypeError(`${where}: an unknown outcome needs both return Infinity and output undefined`);
  }
  if (typeof input.key !== 'string') throw new TypeError(`${where}: key must be a string`);
  if (output === undefined) return;
  switch (input.kind) {
    case 'read':
      if (typeof output !== 'string' && output !== null) {
        throw new TypeError(`${where}: a read returns a string or null`);
      }
      return;
    case 'write':
      if (output !== 'ok') throw new TypeError(`${where}: a completed write returns 'ok'`);
      return;
    case 'cas':
      if (typeof output !== 'boolean') throw new TypeError(`${where}: a compare-and-set returns a boolean`);
      return;
    default:
      throw new TypeError(`${where}: unknown operation kind ${(input as { kind: unknown }).kind}`);
  }
}

function checkKey(
  key: string,
  keyOperations: readonly RegisterOperation[],
  initial: RegisterValue,
  maxStates: number,
): LinearizabilityResult {
  // A read with an unknown outcome constrains nothing and changes nothing, so it is dropped. The
  // rest go completed ones first, each part by call time, so that the operations a search has
  // placed are mostly a prefix of each part (see `StateCache`).
  const operations = keyOperations
    .filter((op) => !(op.input.kind === 'read' && op.output === undefined))
    .sort((a, b) => Number(a.output === undefined) - Number(b.output === undefined) || a.call - b.call);
  if (operations.every((op) => op.output === undefined)) return { ok: true };
  const model = new KeyModel(operations, initial);
  return plainViolation(key, model) ?? searchLinearization(key, model, maxStates);
}

const readKind = 0;
const writeKind = 1;
const casKind = 2;
const casUnknown = -1;

// Candidates, the operations that may come next, are tried in three rounds:
// - `preserving`: completed operations that leave the value as they found it wherever they are
//   valid (reads, failed compare-and-sets, swaps of a value for itself). When one is valid now,
//   some linearization, if any exists, places it next, since moving it forward changes no other
//   operation's view; so it is placed without trying alternatives.
// - `changing`: completed writes and successful compare-and-sets. A write is placed before it is
//   due (its return being the earliest pending one) only when what comes next needs it.
//   Otherwise it waits until it is due and then either takes effect or, if it can have been
//   overwritten unobserved, is slotted in just before an earlier write, which changes no one's
//   view.
// - `unknownOutcome`: operations that may never have taken effect. One that did can be assumed
//   to be followed at once by an operation observing its value; any other placement amounts to
//   dropping it (overwritten unobserved) or to moving it later (what follows ignores it). Trying
//   them last, and only where observed, keeps a few timed-out writes from multiplying the search
//   by every subset of them.
const preserving = 0;
const changing = 1;
const unknownOutcome = 2;

/**
 * One key's operations as flat arrays, with values interned to small integers so that a model
 * state is an integer and stepping the model never compares strings.
 */
class KeyModel {
  readonly count: number;
  readonly calls: Float64Array;
  readonly returns: Float64Array;
  readonly kind: Uint8Array;
  readonly round: Uint8Array;
  readonly value: Int32Array;
  readonly expected: Int32Array;
  /** The value a read returned, or 1/0/`casUnknown` for a compare-and-set. */
  readonly observed: Int32Array;
  /** The value a write or compare-and-set may set, or -1. */
  readonly produced: Int32Array;
  /** The value a completed read or successful compare-and-set saw, or -1. */
  readonly consumed: Int32Array;
  readonly initial: number;
  /** The state shared by every value that no operation observes. */
  readonly anonymous: number;
  /** Writes with unknown outcomes whose values no operation observes, by call time. */
  readonly anonymousUnknownWrites: Int32Array;
  private readonly names: RegisterValue[] = [null];
  private readonly ids = new Map<string, number>();

  constructor(
    readonly operations: readonly RegisterOperation[],
    initial: RegisterValue,
  ) {
    const count = operations.length;
    this.count = count;
    this.calls = Float64Array.from(operations, (op) => op.call);
    this.returns = Float64Array.from(operations, (op) => op.return);
    this.kind = new Uint8Array(count);
    this.round = new Uint8Array(count);
    this.value = new Int32Array(count);
    this.expected = new Int32Array(count);
    this.observed = new Int32Array(count);
    this.produced = new Int32Array(count).fill(-1);
    this.consumed = new Int32Array(count).fill(-1);
    this.initial = this.intern(initial);
    operations.forEach((operation, index) => {
      const { input, output } = operation;
      switch (input.kind) {
        case 'read':
          this.kind[index] = readKind;
          this.observed[index] = this.intern(output as RegisterValue);
          if (output !== undefined) this.consumed[index] = this.observed[index] as number;
          break;
        case 'write':
          this.kind[index] = writeKind;
          this.value[index] = this.intern(input.value);
          this.produced[index] = this.value[index] as number;
          break;
        case 'cas':
          this.kind[index] = casKind;
          this.value[index] = this.intern(input.value);
          this.expected[index] = this.intern(input.expected);
          this.observed[index] = output === undefined ? casUnknown : output ? 1 : 0;
          if (output !== false) this.produced[index] = this.value[index] as number;
          if (output === true) this.consumed[index] = this.expected[index] as number;
          break;
      }
      this.round[index] =
        output === undefined
          ? unknownOutcome
          : input.kind === 'read' ||
              output === false ||
              (input.kind === 'cas' && input.expected === input.value)
            ? preserving
            : changing;
    });

    // Values no read returns and no compare-and-set expects are indistinguishable to every
    // operation, so they share one state. This lets paths that differ only in which unobserved
    // value is current meet in the cache, and makes timed-out writes of such values
    // interchangeable (see `anonymousUnknownWrites`).
    const mentioned = new Uint8Array(this.names.length);
    for (let op = 0; op < count; op++) {
      if (this.kind[op] === readKind) mentioned[this.observed[op] as number] = 1;
      else if (this.kind[op] === casKind) mentioned[this.expected[op] as number] = 1;
    }
    this.anonymous = this.names.length;
    this.names.push(null);
    const canonical = (id: number): number => (mentioned[id] ? id : this.anonymous);
    this.initial = canonical(this.initial);
    for (let op = 0; op < count; op++) {
      this.value[op] = canonical(this.value[op] as number);
      if ((this.produced[op] as number) >= 0) this.produced[op] = this.value[op] as number;
    }
    this.anonymousUnknownWrites = Int32Array.from(
      Array.from({ length: count }, (_, op) => op)
        .filter(
          (op) =>
            this.round[op] === unknownOutcome &&
            this.kind[op] === writeKind &&
            this.value[op] === this.anonymous,
        )
        .sort((a, b) => (this.calls[a] as number) - (this.calls[b] as number) || a - b),
    );
  }

  get valueCount(): number {
    return this.names.length;
  }

  /** The state after applying the operation, or -1 when its output rules that state out. */
  step(state: number, operation: number): number {
    switch (this.kind[operation]) {
      case readKind:
        return this.observed[operation] === state ? state : -1;
      case writeKind:
        return this.value[operation] as number;
      default: {
        const matches = this.expected[operation] === state;
        const observed = this.observed[operation];
        if (observed === casUnknown) return matches ? (this.value[operation] as number) : state;
        if (matches !== (observed === 1)) return -1;
        return matches ? (this.value[operation] as number) : state;
      }
    }
  }

  /**
   * Whether placing the operation right after a change from `before` to `after` could only
   * succeed because of that change: it reads the new value, or would have reacted differently
   * to the old one.
   */
  observesChange(operation: number, before: number, after: number): boolean {
    switch (this.kind[operation]) {
      case readKind:
        return this.observed[operation] === after;
      case writeKind:
        return false;
      default: {
        const expected = this.expected[operation];
        if (this.observed[operation] === 0) return expected === before && expected !== after;
        return expected === after;
      }
    }
  }

  /** Whether the operation set the value, given the state it was applied to. */
  wrote(stateBefore: number, operation: number): boolean {
    const kind = this.kind[operation];
    return kind === writeKind || (kind === casKind && this.expected[operation] === stateBefore);
  }

  name(id: number): RegisterValue {
    return this.names[id] ?? null;
  }

  describeValue(id: number): string {
    return id === this.anonymous ? 'a value no operation observed' : JSON.stringify(this.name(id));
  }

  describe(operation: number): string {
    return describeOperation(this.operations[operation] as RegisterOperation);
  }

  private intern(value: RegisterValue): number {
    if (value === null) return 0;
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(value);
      this.ids.set(value, id);
    }
    return id;
  }
}

function producerCounts(model: KeyModel): Int32Array {
  const producers = new Int32Array(model.valueCount);
  for (let op = 0; op < model.count; op++) {
    const value = model.produced[op] as number;
    if (value >= 0) producers[value] = (producers[value] as number) + 1;
  }
  return producers;
}

/**
 * The commonest violations, found without searching so that they get a report of the few
 * operations that prove them rather than wherever a search happened to give up: a value that was
 * never there to observe, and a value observed after a write that certainly replaced it when
 * only one operation (or only the initial state) could have produced it.
 */
function plainViolation(key: string, model: KeyModel): LinearizabilityResult | undefined {
  const { count, calls, returns, consumed, produced } = model;
  const producers = producerCounts(model);
  const earliestCalled = (current: number, candidate: number): boolean =>
    current === -1 || (calls[candidate] as number) < (calls[current] as number);

  let phantom = -1;
  for (let op = 0; op < count; op++) {
    const value = consumed[op] as number;
    if (value < 0 || value === model.initial || producers[value] !== 0) continue;
    if (earliestCalled(phantom, op)) phantom = op;
  }
  if (phantom !== -1) {
    const value = JSON.stringify(model.name(consumed[phantom] as number));
    return {
      ok: false,
      key,
      reason: `${model.describe(phantom)} observed ${value}, which the key never held`,
      operations: [model.operations[phantom] as RegisterOperation],
    };
  }

  // Operations that certainly set a value, by call time, and for each position the one among it
  // and those called later that returned first.
  const overwrites: number[] = [];
  const soleProducer = new Int32Array(model.valueCount).fill(-1);
  for (let op = 0; op < count; op++) {
    const value = produced[op] as number;
    if (value < 0) continue;
    if (producers[value] === 1) soleProducer[value] = op;
    if (model.round[op] !== unknownOutcome) overwrites.push(op);
  }
  overwrites.sort((a, b) => (calls[a] as number) - (calls[b] as number));
  const earliestReturning = new Int32Array(overwrites.length + 1).fill(-1);
  for (let index = overwrites.length - 1; index >= 0; index--) {
    const op = overwrites[index] as number;
    const later = earliestReturning[index + 1] as number;
    earliestReturning[index] =
      later !== -1 && (returns[later] as number) <= (returns[op] as number) ? later : op;
  }
  const overwriteCalledAfter = (time: number): number => {
    let low = 0;
    let high = overwrites.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((calls[overwrites[middle] as number] as number) <= time) low = middle + 1;
      else high = middle;
    }
    return earliestReturning[low] as number;
  };

  let stale = -1;
  let staleSource = -1;
  let staleOverwrite = -1;
  for (let op = 0; op < count; op++) {
    const value = consumed[op] as number;
    if (value < 0) continue;
    const onlyInitial = value === model.initial && producers[value] === 0;
    const source = value === model.initial ? -1 : (soleProducer[value] as number);
    if (!onlyInitial && source === -1) continue;
    // Any other operation setting a value differs from this one, which has no other producer.
    const overwrite = overwriteCalledAfter(
      source === -1 ? Number.NEGATIVE_INFINITY : (returns[source] as number),
    );
    if (overwrite === -1 || (returns[overwrite] as number) >= (calls[op] as number)) continue;
    if (earliestCalled(stale, op)) {
      stale = op;
      staleSource = source;
      staleOverwrite = overwrite;
    }
  }
  if (stale === -1) return undefined;
  const value = JSON.stringify(model.name(consumed[stale] as number));
  const origin = staleSource === -1 ? 'the initial value' : `written by ${model.describe(staleSource)}`;
  return {
    ok: false,
    key,
    reason: `${model.describe(stale)} observed ${value} (${origin}), but ${model.describe(staleOverwrite)} had replaced it`,
    operations: [staleSource, staleOverwrite, stale]
      .filter((op) => op !== -1)
      .map((op) => model.operations[op] as RegisterOperation),
  };
}

/**
 * Searches for a linearization of one key's operations: Wing–Gong over a list of call and return
 * entries, memoized Lowe's way, with the pruning described above `preserving`.
 */
function searchLinearization(key: string, model: KeyModel, maxStates: number): LinearizabilityResult {
  const { count, calls, returns, kind, round, produced, consumed } = model;
  let remaining = 0;
  let pendingUnknown = 0;
  for (let op = 0; op < count; op++) {
    if (round[op] === unknownOutcome) pendingUnknown++;
    else remaining++;
  }

  // Entry 2i is the call of operation i and 2i+1 its return, so a call's match is entry + 1.
  // At equal times calls sort first, which makes touching intervals concurrent.
  const order = Array.from({ length: 2 * count }, (_, entry) => entry);
  const time = (entry: number): number => (entry & 1 ? returns[entry >> 1] : calls[entry >> 1]) as number;
  order.sort((a, b) => {
    const timeA = time(a);
    const timeB = time(b);
    return timeA === timeB ? (a & 1) - (b & 1) || a - b : timeA < timeB ? -1 : 1;
  });

  // A doubly linked list over the entries, with a head sentinel: placing an operation lifts its
  // call and return out of the list, backtracking puts them back where they were. The calls
  // before the first return left in the list are the candidates, the operations that may come
  // next, and that return is due: its operation must be placed before anything called later.
  const head = 2 * count;
  const next = new Int32Array(2 * count + 1);
  const prev = new Int32Array(2 * count + 1);
  let last = head;
  for (const entry of order) {
    next[last] = entry;
    prev[entry] = last;
    last = entry;
  }
  next[last] = -1;
  const unlink = (entry: number): void => {
    const before = prev[entry] as number;
    const after = next[entry] as number;
    next[before] = after;
    if (after !== -1) prev[after] = before;
  };
  const relink = (entry: number): void => {
    const after = next[entry] as number;
    next[prev[entry] as number] = entry;
    if (after !== -1) prev[after] = entry;
  };
  const firstReturn = (): number => {
    let entry = next[head] as number;
    while ((entry & 1) === 0) entry = next[entry] as number;
    return entry;
  };
  const someCandidateObserves = (except: number, before: number, after: number, alsoExcept = -1): boolean => {
    for (let entry = next[head] as number; (entry & 1) === 0; entry = next[entry] as number) {
      const op = entry >> 1;
      if (op !== except && op !== alsoExcept && model.observesChange(op, before, after)) return true;
    }
    return false;
  };
  // Whether a write placed before it is due can be followed by something that needs it: an
  // observer of its value, or a write with an unknown outcome that an observer then needs (the
  // early write being what that one overwrote).
  const earlyWriteJustified = (write: number, before: number, after: number): boolean => {
    if (someCandidateObserves(write, before, after)) return true;
    if (pendingUnknown === 0) return false;
    for (let entry = next[head] as number; (entry & 1) === 0; entry = next[entry] as number) {
      const op = entry >> 1;
      if (round[op] !== unknownOutcome || kind[op] !== writeKind) continue;
      const overwritten = model.value[op] as number;
      if (overwritten !== after && someCandidateObserves(write, after, overwritten, op)) return true;
    }
    return false;
  };

  // A due write whose value nobody ever observes was most likely overwritten unobserved, so it is
  // tried slotted in earlier first; any other is tried in place first. Only the order of the two
  // attempts depends on this guess.
  const observers = new Int32Array(model.valueCount);
  for (let op = 0; op < count; op++) {
    if (kind[op] === readKind) observers[model.observed[op] as number]++;
    else if (kind[op] === casKind) observers[model.expected[op] as number]++;
  }
  const slotFirst = (op: number): boolean => observers[model.value[op] as number] === 0;

  // A value that unplaced operations still have to observe (consumers) but that no unplaced
  // operation can set any more (producers) is orphaned: unless it is the current value, the
  // prefix is doomed. Noticing when a write overwrites a value whose readers are still pending
  // saves exploring everything up to those readers' returns.
  const producers = producerCounts(model);
  const consumers = new Int32Array(model.valueCount);
  for (let op = 0; op < count; op++) {
    const value = consumed[op] as number;
    if (value >= 0) consumers[value] = (consumers[value] as number) + 1;
  }
  const orphaned = (value: number): boolean => (consumers[value] as number) > 0 && producers[value] === 0;
  let orphans = 0;
  for (let value = 0; value < model.valueCount; value++) if (orphaned(value)) orphans++;
  const adjust = (counts: Int32Array, value: number, delta: number): void => {
    const before = orphaned(value);
    counts[value] = (counts[value] as number) + delta;
    orphans += Number(orphaned(value)) - Number(before);
  };
  /** Updates the counts for placing (`delta` -1) or unplacing (+1) an operation. */
  const recount = (op: number, delta: number): void => {
    if ((produced[op] as number) >= 0) adjust(producers, produced[op] as number, delta);
    if ((consumed[op] as number) >= 0) adjust(consumers, consumed[op] as number, delta);
  };
  const doomedAfter = (op: number, after: number): boolean => {
    recount(op, -1);
    const doomed = orphans > (orphaned(after) ? 1 : 0);
    recount(op, 1);
    return doomed;
  };

  // Placed operations as a bitset in which those with unknown outcomes, which come last, start a
  // fresh word.
  const completedCount = remaining;
  const completedWords = (completedCount + 31) >>> 5;
  const bitOf = Int32Array.from({ length: count }, (_, op) =>
    op < completedCount ? op : 32 * completedWords + op - completedCount,
  );
  const placed = new Int32Array(completedWords + ((count - completedCount + 31) >>> 5));
  const isPlaced = (op: number): boolean => {
    const bit = bitOf[op] as number;
    return ((placed[bit >>> 5] as number) & (1 << (bit & 31))) !== 0;
  };
  const togglePlaced = (op: number): void => {
    const bit = bitOf[op] as number;
    placed[bit >>> 5] = (placed[bit >>> 5] as number) ^ (1 << (bit & 31));
  };
  const operationHashes = randomWords(count);
  const cache = new StateCache(completedWords, placed.length);
  let setHash = 0;
  let state = model.initial;
  let explored = 0;
  // Writes with unknown outcomes of unobserved values are interchangeable, and one called earlier
  // can stand in for one called later anywhere; so they are placed in call order, and only how
  // many of them are placed matters.
  let anonymousPlaced = 0;
  const interchangeableWrite = (op: number): boolean =>
    round[op] === unknownOutcome && kind[op] === writeKind && model.value[op] === model.anonymous;

  // The placements so far, in order. A write slotted in after the fact is pushed like any other
  // placement, though it went in just before the latest write placed in place.
  const stackEntry = new Int32Array(count);
  const stackState = new Int32Array(count);
  const stackPlacement = new Int8Array(count);
  const stackHorizon = new Float64Array(count);
  let depth = 0;

  // A due write can be slotted in just before the latest write placed in place when nothing
  // placed since has returned before the due write was called: the horizon is the earliest
  // return among that write and everything after it, and writes called by then fit. Which
  // prefix led to a set of operations and a value thus matters through the horizon too, and a
  // later horizon only allows more; the cache keeps the latest horizon each pair was explored
  // with, as the number of writes it lets in.
  let horizon = Number.NEGATIVE_INFINITY;
  const writeCalls = Float64Array.from(
    model.operations.filter((op) => op.input.kind === 'write' && op.output !== undefined),
    (op) => op.call,
  ).sort();
  const writesCalledBy = (time: number): number => {
    let low = 0;
    let high = writeCalls.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((writeCalls[middle] as number) <= time) low = middle + 1;
      else high = middle;
    }
    return low;
  };
  const horizonAfter = (op: number, placement: Placement): number => {
    if (placement === slotted) return horizon;
    if (kind[op] === writeKind) return returns[op] as number;
    return Math.min(horizon, returns[op] as number);
  };

  // Where the search got furthest, for the report if it fails.
  const furthest = { depth: -1, blocked: -1, state: 0, lastWriter: -1, stranded: -1 };
  const recordFurthest = (blocked: number): void => {
    furthest.depth = depth;
    furthest.blocked = blocked;
    furthest.state = state;
    furthest.lastWriter = -1;
    for (let index = depth - 1; index >= 0; index--) {
      const op = (stackEntry[index] as number) >> 1;
      if (stackPlacement[index] !== slotted && model.wrote(stackState[index] as number, op)) {
        furthest.lastWriter = op;
        break;
      }
    }
    // A pending operation that placing the blocked one would have left unable to observe its value.
    furthest.stranded = -1;
    const after = model.step(state, blocked);
    if (after < 0) return;
    recount(blocked, -1);
    for (let op = 0; op < count && furthest.stranded === -1; op++) {
      const value = consumed[op] as number;
      if (op !== blocked && value >= 0 && value !== after && !isPlaced(op) && orphaned(value)) {
        furthest.stranded = op;
      }
    }
    recount(blocked, 1);
  };
  const undecided = (why: string): LinearizabilityResult => ({
    ok: 'unknown',
    key,
    reason: `search of ${count} operations on key ${JSON.stringify(key)} ${why}`,
  });

  let entry = next[head] as number;
  let due = firstReturn();
  let currentRound = preserving;
  // How many of its two placements the due write at `entry` has had tried.
  let dueAttempts = 0;
  for (;;) {
    let backtrack = false;
    if ((entry & 1) === 0) {
      const op = entry >> 1;
      if (round[op] !== currentRound) {
        entry = next[entry] as number;
        continue;
      }
      let after = model.step(state, op);
      let placement: Placement = ordinary;
      if (after >= 0 && currentRound === changing && kind[op] === writeKind) {
        if (entry + 1 !== due) {
          if (!earlyWriteJustified(op, state, after)) after = -1;
        } else {
          const slotNow = (dueAttempts === 0) === slotFirst(op);
          dueAttempts++;
          if (slotNow) {
            placement = slotted;
            after = (calls[op] as number) <= horizon ? state : -1;
          } else {
            placement = dueInPlace;
          }
        }
      } else if (after >= 0 && currentRound === unknownOutcome) {
        if (interchangeableWrite(op) && op !== model.anonymousUnknownWrites[anonymousPlaced]) after = -1;
        else if (after === state || !someCandidateObserves(op, state, after)) after = -1;
      }
      if (after >= 0 && currentRound !== preserving && doomedAfter(op, after)) after = -1;

      if (after >= 0) {
        togglePlaced(op);
        const extendedHash = setHash ^ (operationHashes[op] as number);
        const nextHorizon = horizonAfter(op, placement);
        const added = cache.addIfAbsent(
          placed,
          after,
          writesCalledBy(nextHorizon),
          extendedHash ^ stateHash(after),
        );
        if (added === 'added') {
          if (++explored > maxStates) return undecided(`explored ${maxStates} states without deciding`);
          stackEntry[depth] = entry;
          stackState[depth] = state;
          stackPlacement[depth] = placement;
          stackHorizon[depth] = horizon;
          depth++;
          state = after;
          setHash = extendedHash;
          horizon = nextHorizon;
          recount(op, -1);
          if (interchangeableWrite(op)) anonymousPlaced++;
          if (currentRound === unknownOutcome) pendingUnknown--;
          // What is left has unknown outcomes, which can all take effect after everything else.
          else if (--remaining === 0) return { ok: true };
          unlink(entry);
          unlink(entry + 1);
          entry = next[head] as number;
          due = firstReturn();
          currentRound = preserving;
          dueAttempts = 0;
          continue;
        }
        togglePlaced(op);
        if (added === 'full') return undecided(`ran out of memory for states after exploring ${explored}`);
      }
      if (after >= 0 && currentRound === preserving) {
        // A preserving operation valid here could have come first in any linearization from
        // here; that one was explored already, so this prefix is a dead end.
        backtrack = true;
      } else if (dueAttempts !== 1) {
        entry = next[entry] as number;
        dueAttempts = 0;
      }
    } else if (currentRound === preserving || (currentRound === changing && pendingUnknown > 0)) {
      currentRound++;
      entry = next[head] as number;
    } else {
      // The due operation could not be placed, nor anything that would have let it be.
      backtrack = true;
      if (depth > furthest.depth) recordFurthest(entry >> 1);
    }
    if (!backtrack) continue;

    // Undo placements back to one that had alternatives; a preserving placement had none.
    let resumed = false;
    while (depth > 0 && !resumed) {
      depth--;
      entry = stackEntry[depth] as number;
      state = stackState[depth] as number;
      horizon = stackHorizon[depth] as number;
      const op = entry >> 1;
      togglePlaced(op);
      setHash ^= operationHashes[op] as number;
      currentRound = round[op] as number;
      if (currentRound === unknownOutcome) pendingUnknown++;
      else remaining++;
      recount(op, 1);
      if (interchangeableWrite(op)) anonymousPlaced--;
      relink(entry + 1);
      relink(entry);
      if (currentRound === preserving) continue;
      resumed = true;
      due = firstReturn();
      const placement = stackPlacement[depth];
      if (placement !== ordinary && (placement === slotted) === slotFirst(op)) {
        // The due write's other placement is still to be tried.
        dueAttempts = 1;
      } else {
        entry = next[entry] as number;
        dueAttempts = 0;
      }
    }
    if (!resumed) break;
  }

  return searchFailure(key, model, furthest);
}

type Placement = 0 | 1 | 2;
const ordinary: Placement = 0;
const dueInPlace: Placement = 1;
const slotted: Placement = 2;

interface Furthest {
  depth: number;
  blocked: number;
  state: number;
  lastWriter: number;
  stranded: number;
}

function searchFailure(key: string, model: KeyModel, furthest: Furthest): LinearizabilityResult {
  const { blocked, stranded, lastWriter } = furthest;
  const writer = lastWriter === -1 ? 'the initial value' : `last written by ${model.describe(lastWriter)}`;
  const strandedNote =
    stranded === -1 ? '' : ` without leaving ${model.describe(stranded)} with no write left to observe`;
  return {
    ok: false,
    key,
    reason:
      `no linearization of the ${model.count} operations on key ${JSON.stringify(key)}: the furthest ` +
      `attempt placed ${furthest.depth} of them, leaving ${model.describeValue(furthest.state)} ` +
      `(${writer}), and could not place ${model.describe(blocked)}${strandedNote}`,
    operations: reportSlice(model.operations, blocked, stranded, lastWriter),
  };
}

/**
 * The operations a reader needs to see the conflict: those the search could not place or would
 * have stranded, the write that produced the value they were checked against, the latest write
 * of the value they observed, and whatever ran concurrently with the blocked one.
 */
function reportSlice(
  operations: readonly RegisterOperation[],
  blocked: number,
  stranded: number,
  lastWriter: number,
): RegisterOperation[] {
  const target = operations[blocked] as RegisterOperation;
  const chosen = [blocked, stranded, lastWriter].filter((index) => index !== -1);

  const observer = operations[stranded === -1 ? blocked : stranded] as RegisterOperation;
  const observed = observedValue(observer);
  if (observed !== undefined) {
    let source = -1;
    operations.forEach((op, index) => {
      const { input } = op;
      const writes = input.kind === 'write' || input.kind === 'cas';
      if (writes && input.value === observed && op.call <= observer.return) {
        if (source === -1 || op.call > (operations[source] as RegisterOperation).call) source = index;
      }
    });
    if (source !== -1) chosen.push(source);
  }

  const overlapping = operations
    .map((op, index) => ({ op, index }))
    .filter(({ op, index }) => index !== blocked && op.call <= target.return && op.return >= target.call);
  // An operation with an unknown outcome overlaps everything called after it, which says little;
  // only those called while the completed overlapping ones were running are shown.
  const windowStart = Math.min(
    target.call,
    ...overlapping.filter(({ op }) => op.output !== undefined).map(({ op }) => op.call),
  );
  const concurrent = overlapping
    .filter(({ op }) => op.output !== undefined || op.call >= windowStart)
    .sort((a, b) => Math.abs(a.op.call - target.call) - Math.abs(b.op.call - target.call));
  for (const { index } of concurrent) chosen.push(index);

  return [...new Set(chosen)]
    .slice(0, maxReportedOperations)
    .map((index) => operations[index] as RegisterOperation)
    .sort((a, b) => a.call - b.call || a.return - b.return);
}

/** The value an operation saw, when its output reveals one. */
function observedValue(operation: RegisterOperation): RegisterValue | undefined {
  const { input, output } = operation;
  if (output === undefined) return undefined;
  if (input.kind === 'read') return output as RegisterValue;
  if (input.kind === 'cas' && output === true) return input.expected;
  return undefined;
}

/** A one-line rendering of an operation, as failure reports use it. */
export function describeOperation(operation: RegisterOperation): string {
  const { input, output } = operation;
  const interval = `[${operation.call}, ${operation.return === Number.POSITIVE_INFINITY ? '∞)' : `${operation.return}]`}`;
  const outcome = output === undefined ? '?' : JSON.stringify(output);
  let action: string;
  switch (input.kind) {
    case 'read':
      action = `read → ${outcome}`;
      break;
    case 'write':
      action = `write ${JSON.stringify(input.value)}${output === undefined ? ' → ?' : ''}`;
      break;
    case 'cas':
      action = `cas ${JSON.stringify(input.expected)} → ${JSON.stringify(input.value)} = ${outcome}`;
      break;
  }
  return `${action} by process ${operation.process} ${interval}`;
}

type CacheOutcome = 'added' | 'present' | 'full';

// State, horizon, then low and length of each of the two trimmed runs.
const entryHeader = 6;

// Beyond this many 32-bit words (256 MiB) the state cache reports the search as undecided
// instead of growing further.
const maxPoolWords = 1 << 26;

/**
 * The (placed operations, value) pairs already explored, each with the best slot horizon it was
 * explored with: reaching one again with no better horizon cannot succeed where the first visit
 * failed. The bitset of placed operations is stored as two trimmed runs, one for completed
 * operations and one for those with unknown outcomes, each without its leading all-ones and
 * trailing all-zero words: searches mostly differ in a narrow band of concurrent operations, so
 * an entry stays a few words long however long the history is, even with an operation of
 * unknown outcome left unplaced from its start. Entries live in one flat pool behind an
 * open-addressing table to spare the garbage collector millions of small objects.
 */
class StateCache {
  private slots = new Int32Array(1 << 12);
  private slotHashes = new Int32Array(1 << 12);
  private size = 0;
  private pool = new Int32Array(1 << 14);
  private poolUsed = 0;
  // Trimmed runs of the bitset being looked up: [low, length] for each part.
  private readonly runs = new Int32Array(4);

  constructor(
    private readonly completedWords: number,
    private readonly words: number,
  ) {}

  addIfAbsent(bits: Int32Array, state: number, horizon: number, hash: number): CacheOutcome {
    const runs = this.runs;
    this.trim(bits, 0, this.completedWords, 0);
    this.trim(bits, this.completedWords, this.words, 2);
    const length = (runs[1] as number) + (runs[3] as number);

    let mask = this.slots.length - 1;
    let slot = hash & mask;
    for (;;) {
      const stored = this.slots[slot] as number;
      if (stored === 0) break;
      const offset = stored - 1;
      if (this.slotHashes[slot] === hash && this.matches(offset, bits, state)) {
        if ((this.pool[offset + 1] as number) >= horizon) return 'present';
        this.pool[offset + 1] = horizon;
        return 'added';
      }
      slot = (slot + 1) & mask;
    }

    const offset = this.poolUsed;
    const needed = offset + entryHeader + length;
    if (needed > this.pool.length) {
      if (needed > maxPoolWords) return 'full';
      const grown = new Int32Array(Math.min(maxPoolWords, Math.max(needed, this.pool.length * 2)));
      grown.set(this.pool);
      this.pool = grown;
    }
    const pool = this.pool;
    pool[offset] = state;
    pool[offset + 1] = horizon;
    pool.set(runs, offset + 2);
    let at = offset + entryHeader;
    for (let run = 0; run < 4; run += 2) {
      const low = runs[run] as number;
      const end = low + (runs[run + 1] as number);
      for (let word = low; word < end; word++) pool[at++] = bits[word] as number;
    }
    this.poolUsed = needed;

    if ((this.size + 1) * 2 > this.slots.length) {
      this.grow();
      mask = this.slots.length - 1;
      slot = hash & mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
    }
    this.slots[slot] = offset + 1;
    this.slotHashes[slot] = hash;
    this.size++;
    return 'added';
  }

  private trim(bits: Int32Array, start: number, end: number, run: number): void {
    let low = start;
    while (low < end && bits[low] === -1) low++;
    let high = end - 1;
    while (high >= low && bits[high] === 0) high--;
    this.runs[run] = low;
    this.runs[run + 1] = high - low + 1;
  }

  private matches(offset: number, bits: Int32Array, state: number): boolean {
    const pool = this.pool;
    const runs = this.runs;
    if (pool[offset] !== state) return false;
    for (let index = 0; index < 4; index++) if (pool[offset + 2 + index] !== runs[index]) return false;
    let at = offset + entryHeader;
    for (let run = 0; run < 4; run += 2) {
      const low = runs[run] as number;
      const end = low + (runs[run + 1] as number);
      for (let word = low; word < end; word++) if (pool[at++] !== bits[word]) return false;
    }
    return true;
  }

  private grow(): void {
    const oldSlots = this.slots;
    const oldHashes = this.slotHashes;
    this.slots = new Int32Array(oldSlots.length * 2);
    this.slotHashes = new Int32Array(oldSlots.length * 2);
    const mask = this.slots.length - 1;
    for (let index = 0; index < oldSlots.length; index++) {
      const stored = oldSlots[index] as number;
      if (stored === 0) continue;
      const hash = oldHashes[index] as number;
      let slot = hash & mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
      this.slots[slot] = stored;
      this.slotHashes[slot] = hash;
    }
  }
}

// Zobrist hashing: a set's hash is the XOR of its members' random words, so adding or removing an
// operation updates it in constant time. A fixed seed keeps runs reproducible.
function randomWords(count: number): Int32Array {
  const words = new Int32Array(count);
  let seed = 0x9e3779b9;
  for (let index = 0; index < count; index++) {
    seed = (seed + 0x9e3779b9) | 0;
    let mixed = seed;
    mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b);
    mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35);
    words[index] = mixed ^ (mixed >>> 16);
  }
  return words;
}

function stateHash(state: number): number {
  const mixed = Math.imul(state + 1, 0x9e3779b1);
  return mixed ^ (mixed >>> 15);
}
