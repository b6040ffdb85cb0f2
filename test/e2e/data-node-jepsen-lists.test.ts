// Jepsen-style check of lists under multi-master writes: six real storage-node processes, three
// data-node processes (writers) on one volume in cluster read consistency, and ioredis clients on
// every writer pushing unique elements onto one list (LPUSH, RPUSH) and popping from it (LPOP,
// RPOP, with and without a count, LMPOP, and LMOVE of the list onto itself, which rotates it). A
// nemesis kill -9s and restarts storage nodes (never more than two down at once) and SIGKILLs one
// writer, whose clients move to the others.
//
// At the end, with everything healed, the list is read whole. Then:
// - no element is seen twice (in acknowledged pops and the final list together);
// - every element seen was pushed, by a push that was acknowledged or whose outcome is unknown
//   (never by one that certainly failed);
// - every acknowledged push is popped or still in the list, except for at most as many elements
//   as the pops with an unknown outcome could have taken (each counts for the elements it asked
//   for): those pops may have happened without their reply reaching the client.
//
// The nemesis and the workload draw from a fixed seed (the timing of real processes still varies
// from run to run); FAULT_SEED=<n> picks another, FAULT_SEED=random a new one, printed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { JepsenCluster, untilWorkloadEnds } from '../support/jepsen-cluster.js';
import { definitelyNotApplied } from '../support/jepsen-workload.js';
import { mulberry32, seedFromEnvironment, sleep } from '../support/prng.js';

const CLUSTER = 'jepsen-lists';
const LIST = 'jepsen:list';
const WRITERS = 3;
const PUSHERS_PER_WRITER = 2;
const POPPERS_PER_WRITER = 2;
/**
 * The workload runs at least this long, and on after the nemesis has healed everything until
 * enough has completed.
 */
const WORKLOAD_MS = 15_000;
/** When the nemesis is quick, the wait for enough ends here; a slow one moves it on as far. */
const WORKLOAD_MAX_MS = 45_000;
/** Fault steps the nemesis takes, 400–1,100 ms apart: at least seven storage kills. */
const NEMESIS_STEPS = 14;
/** The workload runs on at least this long after the nemesis has healed everything. */
const HEALED_MS = 2_500;
const MINIMUMS = { pushes: 200, popped: 60 };
/** Operations still running this long after the workload stops are cut (and stay unknown). */
const SETTLE_MS = 8_000;
/** The storage layer's own deadlines are 10 s; a command gets a little more. */
const COMMAND_TIMEOUT_MS = 12_000;
const SEED = seedFromEnvironment('FAULT_SEED', 20261202);

type Outcome = 'ok' | 'failed' | 'unknown';

/** What the clients did and saw: the ground truth the final list is checked against. */
class Ledger {
  /** Every element a push carried, with how that push ended. */
  readonly pushed = new Map<string, Outcome>();
  /**
   * Every element a push was sent with, from before it was sent: another client may see it (a
   * rotation through another writer) before the push's own reply has been read here.
   */
  readonly sent = new Set<string>();
  /** Elements rotations returned that no push was ever sent with. */
  readonly inventedByRotations: string[] = [];
  /** Every element an acknowledged pop returned, with how often. */
  readonly popped = new Map<string, number>();
  /** Elements that pops with an unknown outcome may have taken. */
  unknownPopBudget = 0;
  readonly counts = {
    pushesOk: 0,
    pushesFailed: 0,
    pushesUnknown: 0,
    popsOk: 0,
    poppedElements: 0,
    emptyPops: 0,
    popsFailed: 0,
    popsUnknown: 0,
    rotations: 0,
    connections: 0,
  };
  readonly sampleErrors: string[] = [];

  push(elements: readonly string[], outcome: Outcome): void {
    for (const element of elements) this.pushed.set(element, outcome);
  }

  pop(elements: readonly string[]): void {
    for (const element of elements) this.popped.set(element, (this.popped.get(element) ?? 0) + 1);
    this.counts.poppedElements += elements.length;
  }

  noteError(outcome: Outcome, error: unknown): void {
    if (this.sampleErrors.length < 8) this.sampleErrors.push(`${outcome}: ${(error as Error).message}`);
  }

  /** The checks of the header comment, over the list as finally read. */
  verify(finalList: readonly string[]): void {
    const seen = new Map<string, number>(this.popped);
    for (const element of finalList) seen.set(element, (seen.get(element) ?? 0) + 1);
    const duplicated = [...seen].filter(([, times]) => times > 1).map(([element]) => element);
    assert.deepEqual(duplicated.slice(0, 20), [], `${duplicated.length} elements seen more than once`);
    assert.deepEqual(
      this.inventedByRotations.slice(0, 20),
      [],
      `${this.inventedByRotations.length} elements returned by rotations that no push carried`,
    );
    const invented = [...seen.keys()].filter((element) => !this.pushed.has(element));
    assert.deepEqual(invented.slice(0, 20), [], `${invented.length} elements seen that no push carried`);
    const resurrected = [...seen.keys()].filter((element) => this.pushed.get(element) === 'failed');
    assert.deepEqual(
      resurrected.slice(0, 20),
      [],
      `${resurrected.length} elements seen whose push certainly failed`,
    );
    const lost = [...this.pushed]
      .filter(([element, outcome]) => outcome === 'ok' && !seen.has(element))
      .map(([element]) => element);
    assert.ok(
      lost.length <= this.unknownPopBudget,
      `${lost.length} acknowledged elements neither popped nor in the list, more than the ${this.unknownPopBudget} that pops with unknown outcomes could have taken: ${lost.slice(0, 20).join(' ')}`,
    );
  }
}

describe('lists under storage and writer crashes (Jepsen-style)', { timeout: 180_000 }, () => {
  const cluster = new JepsenCluster({
    name: CLUSTER,
    writers: WRITERS,
    idPrefix: 'jl',
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
  });
  const { writers } = cluster;
  const connect = (index: number): Promise<Redis> => cluster.connect(index);
  const drop = (client: Redis): void => cluster.drop(client);

  before(() => cluster.start());

  after(() => cluster.stop());

  it(`loses and duplicates no element through crashes (seed ${SEED})`, async (t) => {
    if (process.env.FAULT_SEED === 'random') console.log(`list Jepsen test: FAULT_SEED=${SEED}`);
    const random = mulberry32(SEED);
    const alive = new Set(writers.map((_, index) => index));
    const ledger = new Ledger();
    const startedAt = performance.now();
    const now = () => performance.now() - startedAt;
    let running = true;
    let nextElement = 0;

    /** Runs one command; its error is sorted into certainly-not-applied or unknown. */
    const outcomeOf = async <T>(run: () => Promise<T>): Promise<{ outcome: Outcome; value?: T }> => {
      try {
        return { outcome: 'ok', value: await run() };
      } catch (error) {
        const outcome: Outcome = definitelyNotApplied(error) ? 'failed' : 'unknown';
        ledger.noteError(outcome, error);
        return { outcome };
      }
    };

    const pushOnce = async (client: Redis, worker: string): Promise<Outcome> => {
      const elements = Array.from(
        { length: 1 + Math.floor(random() * 3) },
        () => `${worker}.${nextElement++}`,
      );
      const atHead = random() < 0.5;
      for (const element of elements) ledger.sent.add(element);
      const { outcome } = await outcomeOf(() =>
        atHead ? client.lpush(LIST, ...elements) : client.rpush(LIST, ...elements),
      );
      ledger.push(elements, outcome);
      if (outcome === 'ok') ledger.counts.pushesOk++;
      else if (outcome === 'failed') ledger.counts.pushesFailed++;
      else ledger.counts.pushesUnknown++;
      return outcome;
    };

    const popOnce = async (client: Redis): Promise<Outcome> => {
      const choice = random();
      const count = 1 + Math.floor(random() * 3);
      let asked = count;
      let run: () => Promise<string[]>;
      if (choice < 0.25) {
        asked = 1;
        run = async () => {
          const element = await (random() < 0.5 ? client.lpop(LIST) : client.rpop(LIST));
          return element === null ? [] : [element];
        };
      } else if (choice < 0.55) {
        run = async () =>
          (await (random() < 0.5 ? client.lpop(LIST, count) : client.rpop(LIST, count))) ?? [];
      } else if (choice < 0.85) {
        const end = random() < 0.5 ? 'LEFT' : 'RIGHT';
        run = async () => {
          const reply = (await client.call('LMPOP', '1', LIST, end, 'COUNT', String(count))) as
            | [string, string[]]
            | null;
          if (reply === null) return [];
          assert.equal(reply[0], LIST);
          return reply[1];
        };
      } else {
        // A rotation takes nothing away: its element must be one that was pushed, nothing more.
        const { outcome, value } = await outcomeOf(() => client.lmove(LIST, LIST, 'LEFT', 'RIGHT'));
        if (outcome === 'ok') {
          ledger.counts.rotations++;
          if (value !== null && value !== undefined) {
            // Judged at the end: an assertion thrown here would leave the other workers running.
            if (!ledger.sent.has(value)) ledger.inventedByRotations.push(value);
          }
        }
        return outcome;
      }
      const { outcome, value } = await outcomeOf(run);
      if (outcome === 'ok') {
        const elements = value ?? [];
        ledger.counts.popsOk++;
        if (elements.length === 0) ledger.counts.emptyPops++;
        ledger.pop(elements);
      } else if (outcome === 'failed') {
        ledger.counts.popsFailed++;
      } else {
        ledger.counts.popsUnknown++;
        ledger.unknownPopBudget += asked;
      }
      return outcome;
    };

    const worker = async (home: number, role: 'push' | 'pop', name: string): Promise<void> => {
      let client: Redis | null = null;
      let attempts = 0;
      while (running) {
        if (client === null) {
          try {
            // A worker stays with its writer while it lives, then spreads over the others.
            const index = alive.has(home) ? home : ([...alive][(home + attempts) % alive.size] as number);
            attempts++;
            client = await connect(index);
            ledger.counts.connections++;
          } catch {
            await sleep(50);
            continue;
          }
        }
        const outcome = role === 'push' ? await pushOnce(client, name) : await popOnce(client);
        if (outcome !== 'ok') {
          // Start afresh on a new connection; while too few storage nodes are up, do not spin.
          drop(client);
          client = null;
          await sleep(20);
        }
      }
      if (client !== null) drop(client);
    };

    // Storage faults in a fixed cycle with random victims (at most two down at once), and one
    // writer SIGKILLed at a random step in the middle.
    const nemesis = () => cluster.nemesis({ random, steps: NEMESIS_STEPS, alive });

    const workers: Promise<void>[] = [];
    for (const home of writers.keys()) {
      for (let index = 0; index < PUSHERS_PER_WRITER; index++)
        workers.push(worker(home, 'push', `w${home}p${index}`));
      for (let index = 0; index < POPPERS_PER_WRITER; index++)
        workers.push(worker(home, 'pop', `w${home}q${index}`));
    }
    const faults = await nemesis();
    const enough = () =>
      ledger.counts.pushesOk > MINIMUMS.pushes && ledger.counts.poppedElements > MINIMUMS.popped;
    // On a slow machine the workload runs on a little (healed) to complete enough to judge.
    await untilWorkloadEnds(now, {
      workloadMs: WORKLOAD_MS,
      healedMs: HEALED_MS,
      workloadMaxMs: WORKLOAD_MAX_MS,
      enough: enough,
    });
    running = false;
    // Whatever is still running when the workload is cut stays unknown.
    let settleTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(workers),
      new Promise((resolve) => {
        settleTimer = setTimeout(resolve, SETTLE_MS);
      }),
    ]);
    clearTimeout(settleTimer);
    cluster.disconnectAll();
    await Promise.all(workers);

    // The final read, retried (bounded) while the writer reconnects to restarted storage nodes.
    const reader = await connect([...alive][0] as number);
    let finalList: string[] | null = null;
    for (let tries = 1; finalList === null; tries++) {
      try {
        finalList = await reader.lrange(LIST, 0, -1);
        assert.equal(await reader.llen(LIST), finalList.length);
      } catch (error) {
        finalList = null;
        if (tries >= 20) throw error;
        await sleep(250);
      }
    }
    drop(reader);

    const { counts } = ledger;
    t.diagnostic(
      `seed ${SEED}; faults ${JSON.stringify(faults)}; counts ${JSON.stringify(counts)}; unknown-pop budget ${ledger.unknownPopBudget}; final length ${finalList.length}`,
    );
    if (ledger.sampleErrors.length > 0) t.diagnostic(`some errors: ${ledger.sampleErrors.join(' | ')}`);

    assert.ok(faults.kills >= 3, `the nemesis killed only ${faults.kills} storage nodes`);
    assert.ok(counts.pushesOk > MINIMUMS.pushes, `only ${counts.pushesOk} pushes were acknowledged`);
    assert.ok(counts.poppedElements > MINIMUMS.popped, `only ${counts.poppedElements} elements were popped`);
    ledger.verify(finalList);
  });
});
