// The storage client checks its writer's timers every few milliseconds only while something waits
// on time: a call in flight, decisions whose holders it is still hearing about, a DECIDED held for
// a later message. Idle, it stops ticking (an idle data node woke 200 times a second for nothing),
// and the next call starts it again. Driven here on a clock the test moves by hand, over links that
// deliver in memory to replicas that vote YES (or, in one test, answer nothing).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DECISION_HOLDERS_WAIT_MS } from '../../libs/quorum/src/decision-holders.js';
import {
  type ClientClock,
  OutcomeUnknownError,
  QuorumClient,
  type StorageLinkFactory,
} from '../../libs/storage-client/src/index.js';

const VOLUME = 'idle';
const TICK_MS = 5;
const NODES = ['s1', 's2', 's3', 's4', 's5', 's6'].map((id) => ({ id, host: '', port: 0 }));

/** A clock moved by `advance`: timers run in time order, deferred work after each. */
class ManualClock implements ClientClock {
  private now = 1_000_000;
  private nextId = 0;
  private readonly timers = new Map<number, { atMs: number; everyMs: number | null; run: () => void }>();
  private deferred: (() => void)[] = [];

  nowMs(): number {
    return this.now;
  }

  every(ms: number, run: () => void): () => void {
    const id = this.nextId++;
    this.timers.set(id, { atMs: this.now + ms, everyMs: ms, run });
    return () => this.timers.delete(id);
  }

  after(ms: number, run: () => void): () => void {
    const id = this.nextId++;
    this.timers.set(id, { atMs: this.now + ms, everyMs: null, run });
    return () => this.timers.delete(id);
  }

  defer(run: () => void): void {
    this.deferred.push(run);
  }

  /** Repeating timers now running (the client's ticks are the only ones here). */
  get intervals(): number {
    let count = 0;
    for (const timer of this.timers.values()) if (timer.everyMs !== null) count++;
    return count;
  }

  /** Runs deferred work until none is left (replies, then what they make ready). */
  async settle(): Promise<void> {
    for (let round = 0; round < 100 && this.deferred.length > 0; round++) {
      const work = this.deferred;
      this.deferred = [];
      for (const run of work) run();
      // Promise callbacks (a commit's caller) run between turns, as on the event loop.
      await Promise.resolve();
    }
  }

  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    await this.settle();
    for (;;) {
      let next: [number, { atMs: number; everyMs: number | null; run: () => void }] | undefined;
      for (const entry of this.timers) if (next === undefined || entry[1].atMs < next[1].atMs) next = entry;
      if (next === undefined || next[1].atMs > until) break;
      const [id, timer] = next;
      this.now = timer.atMs;
      if (timer.everyMs === null) this.timers.delete(id);
      else timer.atMs += timer.everyMs;
      timer.run();
      await this.settle();
    }
    this.now = until;
  }
}

/** In-memory links to replicas that vote YES on every proposal (or say nothing), counting what arrives. */
function replicas(clock: ManualClock, answer: boolean) {
  const received = new Map<string, string[]>(NODES.map((node) => [node.id, []]));
  const links: StorageLinkFactory = (node, _hello, events) => ({
    connected: true,
    send: (message) => {
      const typed = message as { type: string; proposal?: { txid: string } };
      received.get(node.id)?.push(typed.type);
      if (!answer || typed.type !== 'propose' || typed.proposal === undefined) return;
      const vote = { type: 'vote', volume: VOLUME, txid: typed.proposal.txid, vote: 'yes' };
      clock.defer(() => events.onMessage(vote));
    },
    close: () => {},
  });
  return { links, received };
}

function client(clock: ManualClock, links: StorageLinkFactory, tickWhileIdle?: boolean): QuorumClient {
  return new QuorumClient({
    writerId: 'idle-writer',
    coordinatorId: 7,
    nodes: NODES,
    clock,
    links,
    ...(tickWhileIdle !== undefined ? { tickWhileIdle } : {}),
  });
}

const commitOne = (writer: QuorumClient, key: string) =>
  writer.commit(VOLUME, [], [{ key, value: Buffer.from(key) }]);

describe('QuorumClient ticks only while something waits on time', () => {
  it('does not tick idle, ticks from a commit until its decision needs no more time, then stops', async () => {
    const clock = new ManualClock();
    const { links } = replicas(clock, true);
    const writer = client(clock, links);
    assert.equal(clock.intervals, 0, 'a fresh client has nothing to tick for');

    const first = commitOne(writer, 'a');
    assert.equal(clock.intervals, 1, 'a commit in flight starts the ticks');
    await clock.advance(TICK_MS);
    assert.equal((await first).outcome, 'committed');
    // Committed, but the writer still listens for which replicas hold its decision, for a while.
    assert.equal(clock.intervals, 1);
    await clock.advance(DECISION_HOLDERS_WAIT_MS + 2 * TICK_MS);
    assert.equal(clock.intervals, 0, 'idle again: the ticks stopped');

    const second = commitOne(writer, 'b');
    assert.equal(clock.intervals, 1, 'the next commit starts them again');
    await clock.advance(TICK_MS);
    assert.equal((await second).outcome, 'committed');
    await writer.close();
    assert.equal(clock.intervals, 0);
  });

  it('still sends a held DECIDED on the next tick', async () => {
    const clock = new ManualClock();
    const { links, received } = replicas(clock, true);
    const writer = client(clock, links);
    const commit = commitOne(writer, 'a');
    await clock.settle();
    assert.equal((await commit).outcome, 'committed');
    for (const types of received.values()) assert.deepEqual(types, ['propose'], 'the DECIDED is held');
    await clock.advance(TICK_MS);
    for (const types of received.values()) assert.deepEqual(types, ['propose', 'decided']);
    await writer.close();
  });

  it('keeps ticking while a commit waits for replicas that do not answer, until it ends', async () => {
    const clock = new ManualClock();
    const { links, received } = replicas(clock, false);
    const writer = client(clock, links);
    const commit = commitOne(writer, 'a').then(
      () => 'settled',
      (error: unknown) => error,
    );
    await clock.advance(60_000);
    const outcome = await commit;
    assert.ok(outcome instanceof OutcomeUnknownError, `the commit ended as unknown, not ${String(outcome)}`);
    // Its proposal was sent again while it waited: the ticks ran.
    for (const types of received.values()) assert.ok(types.filter((type) => type === 'propose').length > 1);
    assert.equal(clock.intervals, 0, 'ended, and nothing left to wait for');
    await writer.close();
  });

  it('ticks all along with tickWhileIdle', async () => {
    const clock = new ManualClock();
    const { links } = replicas(clock, true);
    const writer = client(clock, links, true);
    assert.equal(clock.intervals, 1);
    const commit = commitOne(writer, 'a');
    await clock.advance(DECISION_HOLDERS_WAIT_MS * 3);
    assert.equal((await commit).outcome, 'committed');
    assert.equal(clock.intervals, 1);
    await writer.close();
    assert.equal(clock.intervals, 0);
  });
});
