// The session guarantees of the "instance consistency" read mode, checked on a history of counter
// increments and reads. Several writers each serve reads from their own cache, which lags the
// commits of the others, so two connections may well disagree about a key; what one connection is
// promised is that it never sees its own past undone: it reads its own writes, its reads never go
// back, and its increments land after everything it has already seen. Nothing is promised across
// connections, so the only global checks are the ones any history must pass: every value was
// produced by increments that could have happened, and no version was handed out twice.
//
// Counters make this cheap to check. INCR returns the key's new value, which is also its version
// (the n-th increment returns n), so every value a process sees names a point in the key's one
// sequence of versions and "went back" is a comparison of two numbers: no search, only a few
// sorts, so the work is O(n log n) in the size of the history.
import type { Operation } from './history.js';

/** INCR is a write and GET a read, each of one integer counter. */
export type SessionInput = { f: 'incr'; key: string } | { f: 'get'; key: string };

/**
 * INCR returns the key's new value, which is also its version; GET returns the value, with a
 * missing key recorded as 0.
 */
export interface SessionOutput {
  value: number;
}

export type SessionOperation = Operation<SessionInput, SessionOutput>;

export type SessionAnomalyKind =
  | 'read-your-writes'
  | 'monotonic-reads'
  | 'monotonic-writes'
  | 'value-from-nowhere'
  | 'duplicate-increment'
  | 'stale-read';

export interface SessionAnomaly {
  kind: SessionAnomalyKind;
  /** The process of the offending operation. */
  process: number;
  key: string;
  /** The offending operation, as it appears in the history. */
  operation: SessionOperation;
  /**
   * The earlier operation it contradicts: for the session guarantees, the one of the same process
   * that saw the highest value; for a duplicate increment, the other increment. Absent for a
   * value from nowhere, which contradicts the absence of operations.
   */
  earlier?: SessionOperation;
  message: string;
}

export interface SessionCheckOptions {
  /**
   * How many anomalies the result lists, earliest offending operation first; `valid` accounts for
   * all of them. A misbehaving cache can make every later read of a process stale, and the first
   * few say what the rest would. Defaults to 100.
   */
  maxAnomalies?: number;
  /**
   * Also checks, across processes, that a read sees every increment of its key acknowledged at
   * least this long before the read was called ('stale-read'). Not a session guarantee: instance
   * consistency bounds staleness only by the age at which a writer stops serving a cache entry,
   * and it is the writers' `applied` notices that keep other writers' caches close behind in
   * practice. Off unless given.
   */
  maxStalenessMs?: number;
}

export interface SessionCheckResult {
  valid: boolean;
  anomalies: SessionAnomaly[];
}

const defaultMaxAnomalies = 100;

/**
 * Checks read-your-writes, monotonic reads and monotonic writes (with writes-follow-reads) for
 * each process, and, across all processes, that every value could have been produced and that no
 * two increments of a key returned the same version.
 *
 * A process's operations are taken in order of call, ties in the order of the history (the
 * recorder's order is invocation order). An operation with an unknown outcome told its process
 * nothing, so it constrains no session; an INCR of unknown outcome may still have taken effect,
 * so it counts among the increments that can explain a value. Intervals that touch are
 * concurrent, as in the linearizability checker. Malformed records throw.
 */
export function checkSessionGuarantees(
  operations: readonly SessionOperation[],
  options: SessionCheckOptions = {},
): SessionCheckResult {
  const maxAnomalies = options.maxAnomalies ?? defaultMaxAnomalies;
  if (!(maxAnomalies === Number.POSITIVE_INFINITY || (Number.isInteger(maxAnomalies) && maxAnomalies >= 0))) {
    throw new RangeError(`maxAnomalies must be a non-negative integer or Infinity, got ${maxAnomalies}`);
  }
  operations.forEach(assertWellFormed);

  const found: Found[] = [];
  checkSessions(operations, found);
  checkOrigins(operations, found);
  if (options.maxStalenessMs !== undefined) {
    if (!(options.maxStalenessMs >= 0)) {
      throw new RangeError(`maxStalenessMs must be a non-negative number, got ${options.maxStalenessMs}`);
    }
    checkStaleness(operations, options.maxStalenessMs, found);
  }
  // Stable, so that the anomalies of one operation keep the order they were found in.
  found.sort((a, b) => a.anomaly.operation.call - b.anomaly.operation.call || a.index - b.index);
  return {
    valid: found.length === 0,
    anomalies: found.slice(0, maxAnomalies).map((entry) => entry.anomaly),
  };
}

interface Found {
  anomaly: SessionAnomaly;
  /** Position of the offending operation in the history, which orders ties in call time. */
  index: number;
}

// A malformed record is a bug in whatever produced the history, not evidence about the database,
// so it throws rather than being reported as an anomaly.
function assertWellFormed(operation: SessionOperation, index: number): void {
  const { input, output } = operation;
  const where = `operation ${index} (process ${operation.process}, called at ${operation.call})`;
  if (!Number.isFinite(operation.call)) throw new RangeError(`${where}: call time must be finite`);
  if (Number.isNaN(operation.return) || operation.return < operation.call) {
    throw new RangeError(`${where}: returns at ${operation.return}, before its call`);
  }
  if ((operation.return === Number.POSITIVE_INFINITY) !== (output === undefined)) {
    throw new TypeError(`${where}: an unknown outcome needs both return Infinity and output undefined`);
  }
  if (typeof input !== 'object' || input === null) throw new TypeError(`${where}: input must be an object`);
  if (input.f !== 'incr' && input.f !== 'get') {
    throw new TypeError(`${where}: unknown operation ${JSON.stringify((input as { f: unknown }).f)}`);
  }
  if (typeof input.key !== 'string') throw new TypeError(`${where}: key must be a string`);
  if (output === undefined) return;
  if (typeof output !== 'object' || output === null || typeof output.value !== 'number') {
    throw new TypeError(`${where}: output must be { value: number }`);
  }
  const { value } = output;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${where}: value ${value} is not a non-negative integer`);
  }
  // Counters start at 0 and only go up, so the first increment already returns 1.
  if (input.f === 'incr' && value === 0) throw new RangeError(`${where}: an INCR returns at least 1`);
}

/** The operation of one process that showed it the highest value of a key, so far. */
interface Seen {
  value: number;
  operation: SessionOperation;
}

/** What one process has learned about one key: its highest write and its highest read. */
interface KeyView {
  written?: Seen;
  read?: Seen;
}

function checkSessions(operations: readonly SessionOperation[], found: Found[]): void {
  const byProcess = new Map<number, number[]>();
  operations.forEach((operation, index) => {
    const indices = byProcess.get(operation.process);
    if (indices === undefined) byProcess.set(operation.process, [index]);
    else indices.push(index);
  });

  for (const [process, indices] of byProcess) {
    indices.sort((a, b) => at(operations, a).call - at(operations, b).call || a - b);
    const views = new Map<string, KeyView>();
    // Overlapping operations of one process would leave its order, and so its session,
    // undefined. An operation of unknown outcome never ends, so it is left out of this: a
    // connection may go on after a timeout.
    let busy: SessionOperation | undefined;
    for (const index of indices) {
      const operation = at(operations, index);
      if (busy !== undefined && operation.call < busy.return) {
        throw new RangeError(
          `operation ${index}: process ${process} calls it at ${operation.call} while its operation ` +
            `${busy.input.f.toUpperCase()} ${busy.input.key} at ${interval(busy)} is still running; a process ` +
            'issues one operation at a time',
        );
      }
      const { output } = operation;
      if (output === undefined) continue;
      busy = operation;

      const key = operation.input.key;
      let view = views.get(key);
      if (view === undefined) {
        view = {};
        views.set(key, view);
      }
      // The contradicted operation is the one that saw the most; on a tie, the process's own
      // write is the more telling one.
      const highest =
        view.read !== undefined && (view.written === undefined || view.read.value > view.written.value)
          ? view.read
          : view.written;
      const value = output.value;

      // The session anomaly of this operation, against the earlier one that saw the most.
      const report = (seen: Seen, kind: SessionAnomalyKind, label: string) =>
        found.push({
          index,
          anomaly: {
            kind,
            process,
            key,
            operation,
            earlier: seen.operation,
            message: `process ${process} ${describe(operation, 'did')} after it had ${describe(seen.operation, 'had')} (${label})`,
          },
        });

      if (operation.input.f === 'get') {
        if (highest !== undefined && value < highest.value) {
          if (highest === view.written) report(highest, 'read-your-writes', 'read-your-writes');
          else report(highest, 'monotonic-reads', 'monotonic reads');
        }
        if (view.read === undefined || value > view.read.value) view.read = { value, operation };
      } else {
        if (highest !== undefined && value <= highest.value) {
          report(
            highest,
            'monotonic-writes',
            highest === view.written ? 'monotonic writes' : 'writes-follow-reads',
          );
        }
        if (view.written === undefined || value > view.written.value) view.written = { value, operation };
      }
    }
  }
}

function checkOrigins(operations: readonly SessionOperation[], found: Found[]): void {
  // Every INCR that may have taken effect, known or not, by key: a value v needs v of them called
  // no later than the return of the operation that saw it.
  const incrementCalls = new Map<string, number[]>();
  const knownIncrements: number[] = [];
  operations.forEach((operation, index) => {
    if (operation.input.f !== 'incr') return;
    const calls = incrementCalls.get(operation.input.key);
    if (calls === undefined) incrementCalls.set(operation.input.key, [operation.call]);
    else calls.push(operation.call);
    if (operation.output !== undefined) knownIncrements.push(index);
  });
  for (const calls of incrementCalls.values()) calls.sort((a, b) => a - b);

  operations.forEach((operation, index) => {
    const value = operation.output?.value;
    if (value === undefined || value === 0) return;
    const key = operation.input.key;
    const available = countAtMost(incrementCalls.get(key) ?? [], operation.return);
    if (available >= value) return;
    const increments = available === 0 ? 'no INCR' : `only ${available} INCR${available === 1 ? '' : 's'}`;
    found.push({
      index,
      anomaly: {
        kind: 'value-from-nowhere',
        process: operation.process,
        key,
        operation,
        message:
          `process ${operation.process} ${describe(operation, 'did')}, but ${increments} of ${key} had been ` +
          `called by ${operation.return} (value from nowhere)`,
      },
    });
  });

  // The first increment to claim a version, in call order, is taken as its owner; each later one
  // that returns the same version is reported against it.
  knownIncrements.sort((a, b) => at(operations, a).call - at(operations, b).call || a - b);
  const owners = new Map<string, Map<number, SessionOperation>>();
  for (const index of knownIncrements) {
    const operation = at(operations, index);
    const key = operation.input.key;
    const value = (operation.output as SessionOutput).value;
    let versions = owners.get(key);
    if (versions === undefined) {
      versions = new Map();
      owners.set(key, versions);
    }
    const owner = versions.get(value);
    if (owner === undefined) {
      versions.set(value, operation);
      continue;
    }
    found.push({
      index,
      anomaly: {
        kind: 'duplicate-increment',
        process: operation.process,
        key,
        operation,
        earlier: owner,
        message:
          `process ${operation.process} ${describe(operation, 'did')}, but process ${owner.process} had ` +
          `${describe(owner, 'had')} too (duplicate increment: each increment is one version)`,
      },
    });
  }
}

function checkStaleness(
  operations: readonly SessionOperation[],
  maxStalenessMs: number,
  found: Found[],
): void {
  // Per key, the acknowledged increments in order of return, each with the highest value
  // acknowledged by then: a read called at t must see at least the one at t - maxStalenessMs.
  const byKey = new Map<string, SessionOperation[]>();
  for (const operation of operations) {
    if (operation.input.f !== 'incr' || operation.output === undefined) continue;
    const list = byKey.get(operation.input.key);
    if (list === undefined) byKey.set(operation.input.key, [operation]);
    else list.push(operation);
  }
  const highestByReturn = new Map<string, { returns: number[]; highest: SessionOperation[] }>();
  for (const [key, increments] of byKey) {
    increments.sort((a, b) => a.return - b.return);
    const highest: SessionOperation[] = [];
    let best: SessionOperation | undefined;
    for (const increment of increments) {
      if (best === undefined || incrementValue(increment) > incrementValue(best)) best = increment;
      highest.push(best);
    }
    highestByReturn.set(key, { returns: increments.map((increment) => increment.return), highest });
  }
  operations.forEach((operation, index) => {
    if (operation.input.f !== 'get' || operation.output === undefined) return;
    const key = operation.input.key;
    const acknowledged = highestByReturn.get(key);
    if (acknowledged === undefined) return;
    const count = countAtMost(acknowledged.returns, operation.call - maxStalenessMs);
    if (count === 0) return;
    const missed = acknowledged.highest[count - 1] as SessionOperation;
    if (operation.output.value >= incrementValue(missed)) return;
    found.push({
      index,
      anomaly: {
        kind: 'stale-read',
        process: operation.process,
        key,
        operation,
        earlier: missed,
        message:
          `process ${operation.process} ${describe(operation, 'did')}, but process ${missed.process} had ` +
          `${describe(missed, 'had')}, more than ${maxStalenessMs} ms before (stale read)`,
      },
    });
  });
}

function incrementValue(operation: SessionOperation): number {
  return (operation.output as SessionOutput).value;
}

/** How many of the ascending `times` are at most `limit`. */
function countAtMost(times: readonly number[], limit: number): number {
  let low = 0;
  let high = times.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((times[middle] as number) <= limit) low = middle + 1;
    else high = middle;
  }
  return low;
}

function at(operations: readonly SessionOperation[], index: number): SessionOperation {
  return operations[index] as SessionOperation;
}

/**
 * "read k=4 at [3, 5]", or for an INCR "wrote k=6 at [1, 2]" after a process ('did') and
 * "written k=6 at [1, 2]" after "it had" ('had').
 */
function describe(operation: SessionOperation, tense: 'did' | 'had'): string {
  const verb = operation.input.f === 'get' ? 'read' : tense === 'did' ? 'wrote' : 'written';
  const value = operation.output === undefined ? '?' : String(operation.output.value);
  return `${verb} ${operation.input.key}=${value} at ${interval(operation)}`;
}

function interval(operation: SessionOperation): string {
  const end = operation.return === Number.POSITIVE_INFINITY ? '∞)' : `${operation.return}]`;
  return `[${operation.call}, ${end}`;
}
