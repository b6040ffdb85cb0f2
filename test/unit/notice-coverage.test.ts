// ADR 0020's two pure parts: a writer's record of each storage node's stream of `applied` notices
// (libs/storage-client NoticeStreams), and the cache serving entries past its age bound only while
// those streams cover them (VersionedCache with a CacheCoverage).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  CACHE_ENTRY_COVERED_AGE_MAX_MS,
  type CacheCoverage,
  NOTICE_MEMORY_KEYS_MAX,
  NOTICE_MEMORY_MS,
  VersionedCache,
} from '../../apps/data-node/src/cache/versioned-cache.js';
import type { CommandSpec } from '../../apps/data-node/src/commands/command-table.js';
import { lookupCommand } from '../../apps/data-node/src/commands/served-commands.js';
import {
  TransactionEngine,
  type TransactionStore,
} from '../../apps/data-node/src/engine/transaction-engine.js';
import type { ReadEntry, WriteEntry } from '../../libs/quorum/src/index.js';
import { NoticeStreams, STREAM_SILENT_MS } from '../../libs/storage-client/src/index.js';

const NODES = ['s1', 's2', 's3', 's4', 's5', 's6'];
const V = 'v';

/** Six nodes connected at `atMs`, each with a first mark heard then. */
function connectedStreams(atMs: number): NoticeStreams {
  const streams = new NoticeStreams(NODES);
  for (const [index, node] of NODES.entries()) {
    streams.connected(node, atMs);
    streams.mark(node, V, 100 + index, 0, atMs);
  }
  return streams;
}

describe('notice streams', () => {
  it('cover from the connection on while every notice arrives in order and marks repeat the last', () => {
    const streams = connectedStreams(1_000);
    assert.equal(streams.coveredSinceMs(V, 1_000), 1_000);
    for (const [index, node] of NODES.entries()) {
      streams.notice(node, V, 100 + index, 1, 1_200);
      streams.notice(node, V, 100 + index, 2, 1_300);
      streams.mark(node, V, 100 + index, 2, 1_500);
    }
    assert.equal(streams.coveredSinceMs(V, 1_600), 1_000);
    assert.equal(streams.restarts, 0);
    assert.equal(streams.wholeStreams(V, 1_600), 6);
  });

  it('start a stream again at a missing number, a mark that skips one, or a new stream id', () => {
    const streams = connectedStreams(0);
    streams.notice('s1', V, 100, 2, 50); // 1 went missing
    streams.mark('s2', V, 101, 1, 60); // a notice the mark counts never came
    streams.notice('s3', V, 999, 1, 70); // the node started a new subscription (a restart)
    assert.equal(streams.restarts, 3);
    // Three streams are still whole from 0: a read quorum covers what was stored after 0.
    assert.equal(streams.coveredSinceMs(V, 100), 0);
    streams.notice('s4', V, 103, 5, 80);
    // Two streams whole from 0, the others since 50, 60, 70 and 80: the third began at 50.
    assert.equal(streams.coveredSinceMs(V, 100), 50);
  });

  it('leave out a stream not heard from for STREAM_SILENT_MS, and count it again once it is heard whole', () => {
    const streams = connectedStreams(0);
    const later = STREAM_SILENT_MS + 10;
    for (const node of ['s1', 's2', 's3']) streams.mark(node, V, 100 + NODES.indexOf(node), 0, later - 5);
    assert.equal(streams.coveredSinceMs(V, later), 0, 'three streams still heard');
    streams.mark('s4', V, 103, 0, later); // s4 was only late: its numbers still match
    assert.equal(streams.wholeStreams(V, later), 4);
    assert.equal(streams.coveredSinceMs(V, later + STREAM_SILENT_MS), Number.POSITIVE_INFINITY);
  });

  it('end at a disconnection, and start whole from the new connection', () => {
    const streams = connectedStreams(0);
    for (const node of ['s1', 's2', 's3', 's4']) streams.disconnected(node);
    assert.equal(streams.coveredSinceMs(V, 10), Number.POSITIVE_INFINITY);
    streams.connected('s1', 20);
    streams.notice('s1', V, 555, 1, 30);
    assert.equal(streams.coveredSinceMs(V, 40), 20, 'the new stream is whole from its connection');
    streams.connected('s2', 50);
    streams.notice('s2', V, 556, 3, 60); // its first two notices never came: whole since 60 only
    assert.equal(streams.coveredSinceMs(V, 70), 20);
    streams.disconnected('s1');
    assert.equal(streams.coveredSinceMs(V, 70), 60);
  });

  it('never cover a moment before the third-latest whole stream began (random events, asked after each)', () => {
    // Model: each node's stream is whole since its last break; the covered time is the third
    // smallest such time among the streams heard recently. Checked against the class after every
    // event and again a random while later, so that its remembered answer is checked as time passes.
    const event = fc.record({
      node: fc.integer({ min: 0, max: 5 }),
      kind: fc.constantFrom('ok', 'gap', 'disconnect', 'connect', 'connect-quiet'),
      stepMs: fc.integer({ min: 0, max: 400 }),
      askAfterMs: fc.integer({ min: 0, max: 2_000 }),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), (events) => {
        const streams = connectedStreams(0);
        const model = NODES.map((_, index) => ({ up: true, since: 0, n: 0, heard: 0, stream: 100 + index }));
        const check = (atMs: number) => {
          const live = model
            .filter((state) => state.up && atMs - state.heard <= STREAM_SILENT_MS)
            .map((state) => state.since)
            .sort((a, b) => a - b);
          const expected = live.length < 3 ? Number.POSITIVE_INFINITY : live[2];
          assert.equal(streams.coveredSinceMs(V, atMs), expected);
          assert.equal(streams.wholeStreams(V, atMs), live.length);
        };
        let now = 0;
        for (const { node, kind, stepMs, askAfterMs } of events) {
          now += stepMs;
          const id = NODES[node] as string;
          const state = model[node] as (typeof model)[number];
          if (kind === 'disconnect') {
            streams.disconnected(id);
            state.up = false;
          } else if (kind === 'connect' || kind === 'connect-quiet') {
            // A node that has sent nothing yet counts from its connection, as one marked then.
            streams.connected(id, now);
            state.stream += 1_000;
            if (kind === 'connect') streams.mark(id, V, state.stream, 0, now);
            Object.assign(state, { up: true, since: now, n: 0, heard: now });
          } else if (state.up) {
            state.n += kind === 'gap' ? 2 : 1;
            streams.notice(id, V, state.stream, state.n, now);
            if (kind === 'gap') state.since = now;
            state.heard = now;
          }
          check(now);
          now += askAfterMs;
          check(now);
        }
      }),
    );
  });

  it('count a connected node that has sent nothing yet only until its first mark is due', () => {
    const streams = new NoticeStreams(NODES);
    for (const node of ['s1', 's2', 's3']) streams.connected(node, 1_000);
    assert.equal(streams.coveredSinceMs(V, 1_000), 1_000);
    assert.equal(streams.wholeStreams(V, 1_000 + STREAM_SILENT_MS), 3);
    streams.mark('s1', V, 7, 0, 1_000 + STREAM_SILENT_MS);
    streams.mark('s2', V, 8, 0, 1_000 + STREAM_SILENT_MS);
    // s3 never sent its first mark: past its deadline it no longer counts.
    assert.equal(streams.coveredSinceMs(V, 1_001 + STREAM_SILENT_MS), Number.POSITIVE_INFINITY);
    assert.equal(streams.wholeStreams(V, 1_001 + STREAM_SILENT_MS), 2);
  });
});

/** A cache whose coverage the test sets by hand. */
function coveredCache(): { cache: VersionedCache; cover: (sinceMs: number) => void } {
  let since = Number.POSITIVE_INFINITY;
  const coverage: CacheCoverage = {
    coveredSinceMs: () => since,
    coveredAgeMsMax: CACHE_ENTRY_COVERED_AGE_MAX_MS,
  };
  return {
    cache: new VersionedCache(1 << 20, 1_000, coverage),
    cover: (sinceMs) => {
      since = sinceMs;
    },
  };
}

const version = (seq: number) => ({ seq, txid: `w.${seq}`, value: new Uint8Array([seq]) });

describe('versioned cache with notice coverage', () => {
  it('serves an entry past the age bound only while the streams cover it, up to the covered bound', () => {
    const { cache, cover } = coveredCache();
    cache.offer('k', version(1), 100);
    assert.equal(cache.peek('k', 1_101), null, 'past the bound, without coverage');
    cover(50);
    assert.equal(cache.peek('k', 1_101)?.seq, 1, 'streams whole since before it was stored');
    assert.equal(cache.peek('k', 100 + CACHE_ENTRY_COVERED_AGE_MAX_MS)?.seq, 1);
    assert.equal(cache.peek('k', 101 + CACHE_ENTRY_COVERED_AGE_MAX_MS), null, 'never past the covered bound');
    cover(100);
    assert.equal(cache.peek('k', 1_101), null, 'a stream that began when it was stored does not cover it');
    cover(50);
    assert.equal(cache.get('k', 1_101)?.seq, 1);
  });

  it("refuses a read's version that a notice superseded while the read was under way", () => {
    const { cache, cover } = coveredCache();
    cover(0);
    // The read is sent at 10; the notice of seq 3 comes at 12, before its answer (seq 2) at 15.
    cache.applyNotice([{ key: 'k', seq: 3 }], 12);
    cache.offer('k', version(2), 15, 10);
    assert.equal(cache.peek('k', 15), null);
    cache.offer('k', version(3), 16, 14);
    assert.equal(cache.peek('k', 16)?.seq, 3, 'the version the notice reported is taken');
  });

  it('ages an entry from when its read was sent, and does not store a read slower than the notices kept', () => {
    const { cache } = coveredCache();
    cache.offer('a', version(1), 500, 0);
    assert.equal(cache.peek('a', 1_000)?.seq, 1);
    assert.equal(cache.peek('a', 1_001), null, 'its age counts from the read');
    cache.offer('b', version(1), 10 + NOTICE_MEMORY_MS + 1, 10);
    assert.equal(cache.peek('b', 10 + NOTICE_MEMORY_MS + 1), null);
  });

  it('ends the longer life of older entries when it forgets a notice early, or a session moves here', () => {
    const { cache, cover } = coveredCache();
    cover(0);
    cache.offer('old', version(1), 10);
    for (let index = 0; index <= NOTICE_MEMORY_KEYS_MAX; index++) {
      cache.applyNotice([{ key: `other${index}`, seq: 1 }], 20);
    }
    assert.equal(cache.peek('old', 1_100), null, 'stored before the forgotten notice: the short bound only');
    cache.offer('new', version(1), 30);
    assert.equal(cache.peek('new', 1_100)?.seq, 1);
    cache.endCoveredLives(40);
    assert.equal(cache.peek('new', 1_100), null, 'stored before the move');
    assert.equal(cache.peek('new', 1_030)?.seq, 1, 'still served while young');
  });
});

/**
 * A store whose commits wait until the test lets them answer (an outcome learned late, as after a
 * partition heals), over an in-memory map; it counts the reads of each key.
 */
class HeldCommitsStore implements TransactionStore {
  private readonly entries = new Map<string, { seq: number; value: Uint8Array | null }>();
  readonly keyReads = new Map<string, number>();
  private held: (() => void)[] = [];
  private onCommit: (() => void) | null = null;

  async read(_volume: string, keys: string[]) {
    for (const key of keys) this.keyReads.set(key, (this.keyReads.get(key) ?? 0) + 1);
    return keys.map((key) => {
      const entry = this.entries.get(key);
      return { key, version: { seq: entry?.seq ?? 0, txid: '' }, value: entry?.value ?? null };
    });
  }

  async commit(_volume: string, reads: ReadEntry[], writes: WriteEntry[]) {
    this.onCommit?.();
    await new Promise<void>((resolve) => this.held.push(resolve));
    for (const write of writes) {
      const read = reads.find((entry) => entry.key === write.key);
      this.entries.set(write.key, { seq: (read?.seq ?? 0) + 1, value: write.value });
    }
    return { outcome: 'committed' as const, txid: 'w.1' };
  }

  /** Resolves once a commit has been sent. */
  commitSent(): Promise<void> {
    return new Promise((resolve) => {
      this.onCommit = resolve;
    });
  }

  answerCommits(): void {
    for (const answer of this.held) answer();
    this.held = [];
  }
}

describe("a writer's own commits in its cache (ADR 0020)", () => {
  const SET = lookupCommand('set') as CommandSpec;
  const GET = lookupCommand('get') as CommandSpec;
  const AGE_MS = 300;

  /** A writer over a store that holds commits' answers; its clock starts at 1,000. */
  function heldWriter() {
    const clock = { ms: 1_000, nowMs: () => clock.ms, sleep: async () => undefined };
    let covered = Number.POSITIVE_INFINITY;
    const cache = new VersionedCache(1 << 20, AGE_MS, {
      coveredSinceMs: () => covered,
      coveredAgeMsMax: CACHE_ENTRY_COVERED_AGE_MAX_MS,
    });
    const store = new HeldCommitsStore();
    const engine = new TransactionEngine({ volume: 'v', store, cache, clock });
    const command = (spec: CommandSpec, ...args: string[]) => ({
      spec,
      args: args.map((arg) => Buffer.from(arg)),
      keys: ['k'],
    });
    return {
      clock,
      /** The notice streams of a read quorum have been whole since `sinceMs`. */
      cover: (sinceMs: number) => {
        covered = sinceMs;
      },
      /** SET k `value`, sent now; its outcome comes back at `answerAtMs`. */
      write: async (value: string, answerAtMs: number) => {
        const sent = store.commitSent();
        const set = engine.run([command(SET, 'SET', 'k', value)], 'instance');
        await sent;
        clock.ms = answerAtMs;
        store.answerCommits();
        await set;
      },
      /** GET k: its reply, and whether the replicas or the cache answered. */
      read: async () => {
        const readsBefore = store.keyReads.get('k') ?? 0;
        const [reply] = (await engine.run([command(GET, 'GET', 'k')], 'instance')) ?? [];
        const from: 'cache' | 'replicas' =
          (store.keyReads.get('k') ?? 0) > readsBefore ? 'replicas' : 'cache';
        return { reply, from };
      },
    };
  }

  /**
   * SET k at 1,000; its outcome comes back at 2,500, the notice streams whole since
   * `coveredSinceMs`; then a GET at 2,900, past the age bound counted from either moment.
   * Says whether the GET was answered from the cache.
   */
  async function getAfterLateOutcome(coveredSinceMs: number): Promise<'cache' | 'replicas'> {
    const writer = heldWriter();
    writer.cover(coveredSinceMs);
    await writer.write('v', 2_500);
    writer.clock.ms = 2_900;
    const { reply, from } = await writer.read();
    assert.deepEqual(reply, { kind: 'bulk', value: Buffer.from('v') });
    return from;
  }

  it('age from when the commit was sent: streams begun again while it was under way do not cover them', async () => {
    // A later commit of k may have been made, and its notice lost, before the streams began
    // again at 1,200: the value this writer wrote at 1,000 is not known current after that.
    assert.equal(await getAfterLateOutcome(1_200), 'replicas');
  });

  it('are not cached when the outcome comes back later than the notices are remembered, and the older entry goes', async () => {
    const writer = heldWriter();
    writer.cover(0);
    await writer.write('v1', 1_010);
    await writer.write('v2', 1_010 + NOTICE_MEMORY_MS + 1);
    const { reply } = await writer.read();
    assert.deepEqual(reply, { kind: 'bulk', value: Buffer.from('v2') }, 'read-your-writes');
  });

  it('live on past the age bound when the streams were whole since before the commit was sent', async () => {
    assert.equal(await getAfterLateOutcome(900), 'cache');
  });
});
