// Runs reclaim steps (commands/collections/reclaim.ts) in the background, one transaction at a
// time, for the reclaim records this writer wrote (after DEL, UNLINK, an overwrite…) or met in a
// SCAN, KEYS or DBSIZE listing (records left by a writer that stopped), and for the Redis keys
// of flushed generations that listings meet. Each step is an ordinary
// transaction through the scheduler on the record's key only, so foreground work on other keys
// never waits for it, and a record two writers reclaim at once costs one of them a conflict.
import { reclaimStep } from '../commands/collections/reclaim.js';
import type { DataCommandContext } from '../commands/context-access.js';

/** Records waiting at most; more are left for a later listing to find. */
const QUEUED_RECORDS_MAX = 100_000;

export interface ReclaimRunner {
  runInternal(keys: string[], task: (context: DataCommandContext) => string): Promise<string>;
}

export class Reclaimer {
  readonly counters = { recordsReclaimed: 0, steps: 0, failedSteps: 0, lastFailure: null as string | null };
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
      const recordKey = key;
      let outcome: string;
      try {
        outcome = await this.runner.runInternal([recordKey], (context) => reclaimStep(context, recordKey));
      } catch (cause) {
        outcome = `failed: ${(cause as Error).message}`;
      }
      this.counters.steps++;
      if (outcome === 'more') {
        // Let foreground work in before the next batch.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      this.queue.shift();
      this.queued.delete(recordKey);
      if (outcome.startsWith('then:')) {
        // An old generation's collection: its elements go next, under the record just written.
        this.counters.recordsReclaimed++;
        this.enqueue([outcome.slice('then:'.length)]);
        continue;
      }
      if (outcome === 'done') this.counters.recordsReclaimed++;
      else {
        // Failed or not ours to finish: the record stays, and a later listing finds it again.
        this.counters.failedSteps++;
        this.counters.lastFailure = outcome;
      }
    }
  }
}
