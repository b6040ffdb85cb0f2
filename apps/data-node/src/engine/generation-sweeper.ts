// After a FLUSHDB or FLUSHALL, walks the whole volume once in hash order (the quorum scan, a page
// of names at a time) and hands the Redis keys of older generations, and any reclaim record it
// meets, to the reclaimer (ADR 0008, decision 7). Without it, the keys a flush ended would stay on
// the storage nodes until a SCAN, KEYS or DBSIZE happened to meet them.
//
// The walk is owed durably: the flush writes FLUSH_WALK_KEY in its own transaction, and a walk
// that reaches the end removes it if no later flush asked for another. The writer that commits a
// flush walks at once; a writer that attaches and finds the key walks too, so a walk cut short
// by a writer that stopped is done again by the next one (walks are idempotent: reclaiming a key
// twice costs a conflict at most).
//
// The walk is paced by the reclaimer: it waits for the queue to empty before handing on more
// than QUEUE_HIGH_WATER keys, so it never holds more than a page and a queue's worth of names.
// A flush during a walk starts the walk again from the beginning once it ends. A scan that fails
// (storage unavailable) is retried with backoff a bounded number of times; then the walk gives up
// and the key stays, for the next writer to attach or the next flush.
import { decodeGeneration, FLUSH_WALK_KEY } from '../commands/collections/layout.js';
import { isReclaimable } from '../commands/collections/reclaim.js';
import type { DataCommandContext } from '../commands/context-access.js';
import type { Clock } from './clock.js';
import type { KeyspaceStore } from './keyspace.js';

/** Names per scan page. */
const PAGE_KEYS = 1_000;
/** Queued reclaim work past which the walk waits for the reclaimer to catch up. */
const QUEUE_HIGH_WATER = 5_000;
/** Failed scans in a row before the walk gives up. */
const SCAN_FAILURES_MAX = 8;
const RETRY_FIRST_MS = 200;
const RETRY_MAX_MS = 5_000;

export interface SweepTarget {
  readonly clock: Clock;
  /** The volume's current generation (from 3 replicas). */
  currentGeneration(): Promise<number>;
  /** Reads of internal keys from 3 replicas. */
  readStorageKeys(keys: string[]): Promise<Map<string, { bytes: Uint8Array | null }>>;
  /** A transaction over internal keys; resolves to the task's answer, or `failed: …`. */
  runInternal(keys: string[], task: (context: DataCommandContext) => string): Promise<string>;
  readonly reclaimer: {
    readonly pending: number;
    enqueue(keys: Iterable<string>): void;
    idle(): Promise<void>;
  };
}

export class GenerationSweeper {
  readonly counters = { walks: 0, pages: 0, keysHandedOn: 0, abandonedWalks: 0 };
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly volume: string,
    private readonly store: KeyspaceStore,
    private readonly target: SweepTarget,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** A flush committed: walk the volume (again, if a walk is under way). */
  sweep(): void {
    if (this.stopped) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.running = this.walkUntilQuiet()
      .catch((cause: Error) => this.log(`the walk over the volume stopped: ${cause.message}`))
      .finally(() => {
        this.running = null;
      });
  }

  /** On attach: walks the volume if a flush's walk is still owed (a writer stopped mid-walk). */
  async resumeOwedWalk(): Promise<void> {
    const owed = (await this.target.readStorageKeys([FLUSH_WALK_KEY])).get(FLUSH_WALK_KEY)?.bytes ?? null;
    if (owed === null) return;
    this.log(`a walk over the volume for generation ${decodeGeneration(owed)} is owed: walking it`);
    this.sweep();
  }

  /** Stops after the page in hand; later flushes start nothing. */
  stop(): void {
    this.stopped = true;
  }

  private async walkUntilQuiet(): Promise<void> {
    do {
      this.again = false;
      await this.walk();
    } while (this.again && !this.stopped);
  }

  private async walk(): Promise<void> {
    this.counters.walks++;
    // Read with the first page: keys of generations below it are handed on by the end of the
    // walk, which so settles what every flush up to it owes. A flush later in the walk starts
    // another walk (here, or on the writer that flushed).
    let walkedGeneration: number | null = null;
    let cursor = 0;
    let failures = 0;
    let handedOn = 0;
    do {
      if (this.stopped) return;
      let names: string[];
      let generation: number;
      try {
        generation = walkedGeneration ?? (await this.target.currentGeneration());
        walkedGeneration = generation;
        const page = await this.store.scan(this.volume, cursor, PAGE_KEYS);
        names = page.keys;
        cursor = page.nextHash;
        failures = 0;
      } catch (error) {
        if (++failures >= SCAN_FAILURES_MAX) {
          this.counters.abandonedWalks++;
          this.log(
            `gave up reclaiming the keys of flushed generations after ${failures} failed scans ` +
              `(${(error as Error).message}); the next writer to attach, a listing or the next flush finds the rest`,
          );
          return;
        }
        await this.target.clock.sleep(Math.min(RETRY_FIRST_MS * 2 ** (failures - 1), RETRY_MAX_MS));
        continue;
      }
      this.counters.pages++;
      const reclaimable = names.filter((name) => isReclaimable(name, generation));
      if (reclaimable.length > 0) {
        handedOn += reclaimable.length;
        this.counters.keysHandedOn += reclaimable.length;
        this.target.reclaimer.enqueue(reclaimable);
        if (this.target.reclaimer.pending >= QUEUE_HIGH_WATER) await this.target.reclaimer.idle();
      }
    } while (cursor !== 0);
    await this.target.reclaimer.idle();
    if (handedOn > 0) this.log(`reclaimed ${handedOn} keys of flushed generations`);
    if (walkedGeneration !== null && walkedGeneration > 0) await this.settle(walkedGeneration);
  }

  /** Removes the owed-walk key unless a later flush (a higher generation) wrote it since. */
  private async settle(walkedGeneration: number): Promise<void> {
    const outcome = await this.target.runInternal([FLUSH_WALK_KEY], (context) => {
      const owed = context.readElement(FLUSH_WALK_KEY);
      if (owed !== null && decodeGeneration(owed) <= walkedGeneration)
        context.writeElement(FLUSH_WALK_KEY, null);
      return 'done';
    });
    if (outcome !== 'done')
      this.log(`could not mark the walk over the volume done (${outcome}); a later writer walks again`);
  }
}
