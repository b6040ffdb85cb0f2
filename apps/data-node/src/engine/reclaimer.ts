// Runs reclaim steps (commands/collections/reclaim.ts) in the background, one transaction at a
// time, for the reclaim records this writer wrote (after DEL, UNLINK, an overwrite…) or met in a
// SCAN, KEYS or DBSIZE listing (records left by a writer that stopped), and for the Redis keys
// of flushed generations that listings or a flush walk (generation-sweeper.ts) meet, up to 64 of
// them per step. Each step is an ordinary transaction through the scheduler on its own keys only,
// so foreground work on other keys never waits for it, and a record two writers reclaim at once
// costs one of them a conflict.
import { isReclaimRecordKey, reclaimOldKeys, reclaimStep } from '../commands/collections/reclaim.js';
import type { DataCommandContext } from '../commands/context-access.js';
import type { Clock } from './clock.js';

/** Records waiting at most; more are left for a later listing to find. */
const QUEUED_RECORDS_MAX = 100_000;
/** The longest pause between two steps. */
const STEP_PAUSE_MAX_MS = 1_000;
/** Keys of flushed generations deleted per step (one transaction). */
const OLD_KEYS_PER_STEP = 64;

export interface ReclaimRunner {
  readonly clock: Clock;
  runInternal(keys: string[], task: (context: DataCommandContext) => string): Promise<string>;
}

export class Reclaimer {
  readonly counters = {
    recordsReclaimed: 0,
    oldKeysReclaimed: 0,
    steps: 0,
    failedSteps: 0,
    lastFailure: null as string | null,
  };
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private draining: Promise<void> | null = null;

  constructor(private readonly runner: ReclaimRunner) {}

  get pending(): number {
    return this.queue.length;
  }

  /** Queues records (by key) to reclaim; starts the background loop if it is idle. */
  enqueue(recordKeys: Iterable<string>): void {
    for (const key of recordKeys) {
      if (this.queued.has(key) || this.queue.length >= QUEUED_RECORDS_MAX) continue;
      this.queued.add(key);
      this.queue.push(key);
    }
    if (this.draining === null && this.queue.length > 0) {
      this.draining = this.drain().finally(() => {
        this.draining = null;
      });
    }
  }

  /** Resolves once the queue is empty (for tests and an orderly detach). */
  async idle(): Promise<void> {
    while (this.draining !== null) await this.draining;
  }

  private async drain(): Promise<void> {
    for (let key = this.queue[0]; key !== undefined; key = this.queue[0]) {
      if (isReclaimRecordKey(key)) await this.recordStep(key);
      else await this.oldKeysStep();
    }
  }

  private async recordStep(recordKey: string): Promise<void> {
    const startedMs = this.runner.clock.nowMs();
    let outcome: string;
    try {
      outcome = await this.runner.runInternal([recordKey], (context) => reclaimStep(context, recordKey));
    } catch (cause) {
      outcome = `failed: ${(cause as Error).message}`;
    }
    this.counters.steps++;
    if (outcome === 'more') {
      await this.pause(startedMs);
      return;
    }
    this.dequeue(1);
    if (outcome === 'done') this.counters.recordsReclaimed++;
    else this.fail(outcome);
  }

  /** The old generation's keys at the head of the queue, up to OLD_KEYS_PER_STEP, in one step. */
  private async oldKeysStep(): Promise<void> {
    const startedMs = this.runner.clock.nowMs();
    let count = 0;
    while (
      count < OLD_KEYS_PER_STEP &&
      count < this.queue.length &&
      !isReclaimRecordKey(this.queue[count] as string)
    )
      count++;
    const keys = this.queue.slice(0, count);
    let outcome: string;
    try {
      outcome = await this.runner.runInternal(keys, (context) =>
        JSON.stringify(reclaimOldKeys(context, keys)),
      );
    } catch (cause) {
      outcome = `failed: ${(cause as Error).message}`;
    }
    this.counters.steps++;
    this.dequeue(count);
    if (!outcome.startsWith('[')) {
      this.fail(outcome);
      return;
    }
    this.counters.oldKeysReclaimed += count;
    // Old collections' records: their elements go next.
    this.enqueue(JSON.parse(outcome) as string[]);
    await this.pause(startedMs);
  }

  /**
   * Between steps, waits as long as the step took (at least a turn of the event loop): reclaim
   * keeps to about half of what the writer and its storage nodes can do, and the commands of
   * clients get the rest. Back to back, a huge collection's reclaim steps (each reading and
   * deleting 256 keys) held other clients' commands for hundreds of milliseconds.
   */
  private async pause(stepStartedMs: number): Promise<void> {
    const tookMs = this.runner.clock.nowMs() - stepStartedMs;
    if (tookMs > 0) await this.runner.clock.sleep(Math.min(tookMs, STEP_PAUSE_MAX_MS));
    else await new Promise((resolve) => setImmediate(resolve));
  }

  private dequeue(count: number): void {
    for (const key of this.queue.splice(0, count)) this.queued.delete(key);
  }

  /** Failed or not ours to finish: the keys stay, and a later listing or flush walk finds them. */
  private fail(outcome: string): void {
    this.counters.failedSteps++;
    this.counters.lastFailure = outcome;
  }
}
