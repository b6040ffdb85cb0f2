// Blind writes (ReadEntry.blind, ADR 0016): one replica, proposals and decisions sent to it
// directly. A blind entry is checked like a read (newer or pending: NO) and by its guard against
// the value held; a commit installs the chosen seq + 1.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type BlindGuard,
  type Proposal,
  type ReadEntry,
  StorageReplica,
  type VoteMessage,
} from '../../libs/quorum/src/index.js';
import { MEMBERS, voteOn } from '../support/replica-group.js';

const VOLUME = 'v';
const NOW_MS = 1_000;
/** Admits values starting with 's' (0x73); refuses any other first byte. */
const GUARD: BlindGuard = { mask: 0xff, firstBytes: [0x73] };

let txids = 0;
function proposal(reads: ReadEntry[], writes: [string, string | null][]): Proposal {
  return {
    txid: `w.${++txids}`,
    reads,
    writes: writes.map(([key, value]) => ({
      key,
      value: value === null ? null : Buffer.from(value, 'latin1'),
    })),
    proposedAtMs: NOW_MS,
  };
}

/** Sends PROPOSE; answers the vote and its reason. */
function propose(target: StorageReplica, sent: Proposal): VoteMessage {
  return voteOn(target, 'w', { type: 'propose', volume: VOLUME, proposal: sent }, NOW_MS);
}

/** Proposes and, on YES, commits. */
function commit(target: StorageReplica, sent: Proposal): void {
  assert.equal(propose(target, sent).vote, 'yes');
  target.step(
    'w',
    { type: 'decided', volume: VOLUME, txid: sent.txid, decision: 'commit', proposal: sent },
    NOW_MS,
  );
  target.takeReady();
}

describe('blind writes', () => {
  it('a blind write of an absent key commits at the chosen seq + 1', () => {
    const node = new StorageReplica({ members: MEMBERS, selfIndex: 0 });
    commit(node, proposal([{ key: 'k', seq: 41, blind: GUARD }], [['k', 'one']]));
    assert.equal(node.inspectKey(VOLUME, 'k')?.seq, 42);
  });

  it('a blind write at or below the version held gets NO (stale), above it YES', () => {
    const node = new StorageReplica({ members: MEMBERS, selfIndex: 0 });
    commit(node, proposal([{ key: 'k', seq: 9 }], [['k', 'sv']]));
    assert.deepEqual(propose(node, proposal([{ key: 'k', seq: 8, blind: GUARD }], [['k', 'x']])), {
      type: 'vote',
      volume: VOLUME,
      txid: `w.${txids}`,
      vote: 'no',
      reason: 'stale',
      // The vote also tells the writer that this replica holds the decision it sent before (ADR 0021).
      held: [`w.${txids - 1}`],
    });
    // Equal to the version is allowed: it installs version + 1, as a read of it would.
    assert.equal(propose(node, proposal([{ key: 'k', seq: 10, blind: GUARD }], [['k', 'x']])).vote, 'yes');
  });

  it('the guard refuses a value it does not admit, and admits an absent or deleted key', () => {
    const node = new StorageReplica({ members: MEMBERS, selfIndex: 0 });
    commit(node, proposal([{ key: 'held', seq: 0 }], [['held', 'hv']]));
    const refused = propose(node, proposal([{ key: 'held', seq: 100, blind: GUARD }], [['held', 'x']]));
    assert.equal(refused.vote, 'no');
    assert.equal(refused.reason, 'guard');
    commit(node, proposal([{ key: 'gone', seq: 0 }], [['gone', 'hv']]));
    commit(node, proposal([{ key: 'gone', seq: 1 }], [['gone', null]]));
    assert.equal(
      propose(node, proposal([{ key: 'gone', seq: 100, blind: GUARD }], [['gone', 'x']])).vote,
      'yes',
    );
  });

  it('a blind entry for a key the proposal does not write, or a shared one, is refused as invalid', () => {
    const node = new StorageReplica({ members: MEMBERS, selfIndex: 0 });
    const unwritten = propose(node, proposal([{ key: 'a', seq: 5, blind: GUARD }], []));
    assert.equal(unwritten.reason, 'invalid');
    const shared = propose(node, proposal([{ key: 'b', seq: 5, shared: true, blind: GUARD }], [['b', 's']]));
    assert.equal(shared.reason, 'invalid');
  });
});
