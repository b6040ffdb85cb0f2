// Mutation checks: each test breaks the compiled protocol in a copy of `dist/libs` (never the
// repository) and requires the simulator, running on that copy, to report a violation. A checker
// that cannot tell these bugs from correct code proves nothing.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type Patch, patchedCopy } from '../support/compiled-copy.js';

type SimulatorModule = typeof import('../../libs/quorum/src/simulator/index.js');

/** A patch of a file under libs/ in the compiled copy. */
interface Mutation extends Patch {
  /** Seeds tried in order until one shows a violation. */
  seeds: { from: number; count: number; profile: string };
}

/** Patches a copy of the compiled libraries and imports its simulator. */
async function withCopy<T>(patch: Patch | null, run: (simulator: SimulatorModule) => T): Promise<T> {
  const copy = patchedCopy(['libs'], patch === null ? [] : [{ ...patch, file: `libs/${patch.file}` }]);
  try {
    const entry = join(copy.root, 'libs', 'quorum', 'src', 'simulator', 'index.js');
    const simulator = (await import(pathToFileURL(entry).href)) as SimulatorModule;
    return run(simulator);
  } finally {
    copy.remove();
  }
}

async function assertCaught(context: TestContext, mutation: Mutation): Promise<void> {
  const { from, count, profile } = mutation.seeds;
  const caught = await withCopy(mutation, (simulator) => {
    for (let seed = from; seed < from + count; seed++) {
      const result = simulator.runSimulation({ seed, profile });
      if (!result.ok) return { result, seedsTried: seed - from + 1 };
    }
    return null;
  });
  assert.ok(caught !== null, `no violation in ${count} seeds of profile ${profile} from seed ${from}`);
  // A crash of the harness is not a verdict on the protocol.
  assert.notEqual(caught.result.violation?.invariant, 'exception', caught.result.summary);
  context.diagnostic(
    `caught by seed ${caught.result.seed} (${profile}) after ${caught.seedsTried} seeds: ${caught.result.violation?.invariant}`,
  );
}

test('the copy without a mutation passes the seeds the mutations are tried on', async () => {
  await withCopy(null, (simulator) => {
    for (const profile of ['crash', 'lossy', 'split']) {
      for (let seed = 1; seed <= 5; seed++) {
        const result = simulator.runSimulation({ seed, profile });
        assert.ok(result.ok, result.summary);
      }
    }
  });
});

test('votes that never reach the disk are caught', async (context) => {
  await assertCaught(context, {
    file: 'quorum/src/replica.js',
    // onPropose: the vote is applied in memory but never handed to the shell for its fsync.
    anchor: /this\.persist\((\{\s*kind: 'vote',)/,
    replacement: 'this.applyRecord($1',
    seeds: { from: 1, count: 300, profile: 'crash' },
  });
});

test('releasing pending keys on ACCEPT instead of on the decision is caught', async (context) => {
  await assertCaught(context, {
    file: 'quorum/src/replica.js',
    anchor: /transaction\.accepted = \{ ballot: record\.ballot, decision: record\.decision \};/,
    replacement:
      'transaction.accepted = { ballot: record.ballot, decision: record.decision };\n                this.releaseKeys(volume, record.txid, transaction);',
    seeds: { from: 1, count: 300, profile: 'lossy' },
  });
});

test('committing on three YES votes is caught', async (context) => {
  await assertCaught(context, {
    file: 'quorum/src/quorum-table.js',
    anchor: /commitVotes: 4,/,
    replacement: 'commitVotes: 3,',
    // Three against three is where two disjoint sets of three YES votes come easiest.
    seeds: { from: 1, count: 300, profile: 'split' },
  });
});

test('choosing COMMIT without an ACCEPT round on five YES votes is caught', async (context) => {
  await assertCaught(context, {
    file: 'quorum/src/quorum-table.js',
    // ADR 0015: with five YES voters, a recovery whose promises include the sixth replica sees
    // only three YES and may choose ABORT for a transaction the writer reported committed.
    anchor: /fastCommitVotes: 6,/,
    replacement: 'fastCommitVotes: 5,',
    seeds: { from: 1, count: 300, profile: 'split' },
  });
});

test("a replica that ignores a blind write's guard is caught", async (context) => {
  await assertCaught(context, {
    file: 'quorum/src/replica.js',
    // ADR 0016: the guard is what keeps a blind write off a value its writer must see first.
    anchor: /if \(state\.value !== null && !blindGuardAllows\(read\.blind, firstByte\(state\.value\)\)\)/,
    replacement: 'if (false)',
    seeds: { from: 1, count: 300, profile: 'crash' },
  });
});

test('a replica that accepts a blind write at or below its version is caught', async (context) => {
  await assertCaught(context, {
    file: 'quorum/src/replica.js',
    // ADR 0016: a blind write's chosen seq is checked like a read's; skipping that check for
    // blind writes lets one replace a newer version, or two take the same seq.
    anchor: /if \(state\.seq > read\.seq\)(\s*return 'stale';)/,
    replacement: 'if (state.seq > read.seq && read.blind === undefined)$1',
    seeds: { from: 1, count: 300, profile: 'crash' },
  });
});

test('a replica that forgets a decision a peer has not confirmed is caught', async (context) => {
  await assertCaught(context, {
    file: 'quorum/src/replica.js',
    // A decided record is forgotten only once all five peers hold the decision (the questions and
    // answers of the decision confirmations tell a replica that they do, ADR 0019). Forgetting it
    // as soon as it is old enough to ask about leaves a peer that missed DECIDED nobody to learn
    // the decision from.
    anchor: /if \(\(confirmedBy \| waived\) === allPeers\)\s*confirmed\.push\(txid\);/,
    replacement: 'confirmed.push(txid);',
    seeds: { from: 1, count: 300, profile: 'lossy' },
  });
});

test("a replica that takes a peer's question as confirming decisions it did not ask about is caught", async (context) => {
  await assertCaught(context, {
    file: 'quorum/src/replica.js',
    // ADR 0019: a question confirms its asker holds the decisions it asks about, and only those.
    // Taken as confirming every decision awaiting confirmation here, it confirms decisions a
    // peer that missed DECIDED does not hold.
    anchor: /for \(const txid of message\.txids\) \{/,
    replacement: 'for (const txid of [...message.txids, ...volume.unconfirmed.keys()]) {',
    seeds: { from: 1, count: 300, profile: 'lossy' },
  });
});

test('a writer that lists a decision as held by all six once five named it is caught', async (context) => {
  await assertCaught(context, {
    file: 'quorum/src/decision-holders.js',
    // ADR 0021: the writer names a transaction in `heldByAll` only once every replica said it holds
    // the decision. With five, the replicas forget it while the sixth, which missed DECIDED, has
    // nobody left to learn it from.
    anchor: /if \(entry\.holders !== ALL_HOLD\)/,
    replacement: 'if ([0, 1, 2, 3, 4, 5].filter((bit) => ((entry.holders >> bit) & 1) === 1).length < 5)',
    seeds: { from: 1, count: 300, profile: 'lossy' },
  });
});

test("a writer that takes a replica's vote as holding every decision sent to it is caught", async (context) => {
  await assertCaught(context, {
    file: 'quorum/src/writer.js',
    // ADR 0021: a vote vouches only for the decisions it names (`held`), which the replica logged
    // before the vote left. Taken as vouching for every DECIDED sent to that replica so far, it
    // vouches for one the network lost.
    anchor:
      /if \(message\.held !== undefined\)\s*this\.decisionHolders\.heard\(fromIndex, message\.held, nowMs\);/,
    replacement: 'this.decisionHolders.heard(fromIndex, [...this.decisionHolders.awaited.keys()], nowMs);',
    seeds: { from: 1, count: 300, profile: 'lossy' },
  });
});

test('a replica that lets forgotten txids expire while a peer it wrote off may hold them open is caught', async (context) => {
  await assertCaught(context, {
    file: 'quorum/src/replica.js',
    // ADR 0022: decisions forgotten without a written-off peer's confirmation stay forgotten (and
    // refuse recoveries) while it is written off and for the retention after. Expiring them as
    // before lets a recovery of a transaction that peer still holds, its own or a reader's, meet
    // empty records and decide it anew.
    anchor: /if \(this\.writtenOff\.size === 0 && nowMs - this\.writeOffsEndedAtMs > retention\)/,
    replacement: 'if (true)',
    seeds: { from: 1, count: 300, profile: 'write-off' },
  });
});

test('a written-off replica that asks to rejoin before it settled the keys it holds is caught', async (context) => {
  await assertCaught(context, {
    file: 'quorum/src/replica.js',
    // ADR 0022: it rejoins only once nothing it holds is of a transaction its peers may have
    // forgotten; taken back earlier, it keeps such a hold past the peers' retention.
    anchor: /if \(holds > 0\) \{/,
    replacement: 'if (false) {',
    seeds: { from: 1, count: 300, profile: 'write-off' },
  });
});
