// The history format shared by the simulator and by tests against real processes: one record
// per client operation, with the interval during which it was in flight.

export interface Operation<I, O> {
  /** The client (or process) that issued the operation; a client issues one operation at a time. */
  process: number;
  /** Invocation time, in any monotonic unit shared by the whole history. */
  call: number;
  /**
   * Completion time; `Infinity` when the outcome is unknown (a timeout, a crash), because such an
   * operation may take effect at any moment after its call, or never.
   */
  return: number;
  input: I;
  /** `undefined` exactly when the outcome is unknown. */
  output: O | undefined;
}

declare const operationHandleBrand: unique symbol;

/** Identifies an operation between its invocation and its completion. */
export type OperationHandle = number & { readonly [operationHandleBrand]: true };

interface PendingOperation<I, O> {
  operation: Operation<I, O>;
  settled: boolean;
  failed: boolean;
}

/**
 * Collects a history as a test runs. An operation that is still pending when the history is read
 * is reported with an unknown outcome: nothing proves it did not take effect.
 */
export class HistoryRecorder<I, O> {
  private readonly recorded: PendingOperation<I, O>[] = [];

  invoke(process: number, input: I, now: number): OperationHandle {
    if (!Number.isFinite(now)) throw new RangeError(`invocation time must be finite, got ${now}`);
    this.recorded.push({
      operation: { process, call: now, return: Number.POSITIVE_INFINITY, input, output: undefined },
      settled: false,
      failed: false,
    });
    return (this.recorded.length - 1) as OperationHandle;
  }

  complete(handle: OperationHandle, output: O, now: number): void {
    const call = this.recorded[handle]?.operation.call;
    if (call !== undefined && !(Number.isFinite(now) && now >= call)) {
      throw new RangeError(
        `completion time ${now} is not a finite time at or after the invocation at ${call}`,
      );
    }
    const pending = this.settle(handle);
    pending.operation.return = now;
    pending.operation.output = output;
  }

  /** The operation may or may not have taken effect. */
  unknown(handle: OperationHandle): void {
    this.settle(handle);
  }

  /** The operation definitely did not take effect, so it constrains nothing and is left out. */
  fail(handle: OperationHandle): void {
    this.settle(handle).failed = true;
  }

  /** The recorded operations in invocation order; copies, so later recording does not alter them. */
  operations(): Operation<I, O>[] {
    return this.recorded.filter((pending) => !pending.failed).map((pending) => ({ ...pending.operation }));
  }

  private settle(handle: OperationHandle): PendingOperation<I, O> {
    const pending = this.recorded[handle];
    if (pending === undefined) throw new RangeError(`no operation was invoked with handle ${handle}`);
    if (pending.settled) throw new Error(`operation ${handle} was already completed, failed or left unknown`);
    pending.settled = true;
    return pending;
  }
}
