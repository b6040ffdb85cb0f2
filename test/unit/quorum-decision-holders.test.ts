// A writer tells the replicas which of its decisions all six hold (ADR 0021): each replica names
// the decisions a writer sent it in its next vote to that writer (`held`), and once all six have,
// the writer's next PROPOSE names them (`heldByAll`) and every replica forgets their records
// without asking its peers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DECISION_HOLDERS_WAIT_MS,
  DecisionHolders,
  HELD_BY_ALL_PER_PROPOSE_MAX,
} from '../../libs/quorum/src/decision-holders.js';
import { type Proposal, StorageReplica, type VoteMessage } from '../../libs/quorum/src/index.js';
import { MEMBERS, ReplicaGroup, voteOn } from '../support/replica-group.js';

const VOLUME = 'v';
const NOW_MS = 1_000;

function proposal(txid: string, key: string): Proposal {
  return { txid, reads: [{ key, seq: 0 }], writes: [{ key, value: Buffer.from('x') }], proposedAtMs: NOW_MS };
}

/** Sends PROPOSE from `writer`; answers the vote. */
function propose(replica: StorageReplica, writer: string, sent: Proposal): VoteMessage {
  return voteOn(replica, writer, { type: 'propose', volume: VOLUME, proposal: sent }, NOW_MS);
}

function decide(replica: StorageReplica, from: string, sent: Proposal | null, txid: string): void {
  replica.step(
    from,
    {
      type: 'decided',
      volume: VOLUME,
      txid,
      decision: 'commit',
      ...(sent !== null ? { proposal: sent } : {}),
    },
    NOW_MS,
  );
}

describe('a replica tells a writer which decisions it holds', () => {
  it('names a DECIDED of that writer in its next vote to it, once', () => {
    const replica = new StorageReplica({ members: MEMBERS, selfIndex: 0 });
    const first = proposal('w.1', 'a');
    assert.equal(propose(replica, 'w', first).held, undefined);
    decide(replica, 'w', null, 'w.1');
    assert.deepEqual(propose(replica, 'w', proposal('w.2', 'b')).held, ['w.1']);
    assert.equal(propose(replica, 'w', proposal('w.3', 'c')).held, undefined);
  });

  it('tells only the writer that sent the DECIDED, and not a peer that sent one', () => {
    const replica = new StorageReplica({ members: MEMBERS, selfIndex: 0 });
    decide(replica, 'w', proposal('w.1', 'a'), 'w.1');
    decide(replica, 's2', proposal('x.1', 'b'), 'x.1');
    assert.equal(propose(replica, 'x', proposal('x.2', 'c')).held, undefined);
    assert.deepEqual(propose(replica, 'w', proposal('w.2', 'd')).held, ['w.1']);
  });

  it('does not name a commit it could not apply (no proposal anywhere)', () => {
    const replica = new StorageReplica({ members: MEMBERS, selfIndex: 0 });
    decide(replica, 'w', null, 'w.1');
    assert.equal(replica.takeReady().records.length, 0);
    assert.equal(propose(replica, 'w', proposal('w.2', 'b')).held, undefined);
  });
});

describe('a PROPOSE naming decisions all six hold', () => {
  it('makes the replica forget those it decided, in one forget record, and no others', () => {
    const replica = new StorageReplica({ members: MEMBERS, selfIndex: 0 });
    const decided = proposal('w.1', 'a');
    propose(replica, 'w', decided);
    decide(replica, 'w', null, 'w.1');
    const undecided = proposal('w.2', 'b');
    propose(replica, 'w', undecided);
    replica.step(
      'w',
      { type: 'propose', volume: VOLUME, proposal: proposal('w.3', 'c'), heldByAll: ['w.1', 'w.2'] },
      NOW_MS,
    );
    const forgets = replica.takeReady().records.filter((record) => record.kind === 'forget');
    assert.deepEqual(
      forgets.map((record) => (record.kind === 'forget' ? record.txids : [])),
      [['w.1']],
    );
    assert.equal(replica.isForgotten(VOLUME, 'w.1'), true);
    // An undecided transaction named by mistake keeps its record and its key.
    assert.equal(replica.isForgotten(VOLUME, 'w.2'), false);
    assert.equal(replica.inspectKey(VOLUME, 'b')?.pendingTxid, 'w.2');
  });
});

describe('six replicas and a writer', () => {
  it('forget a commit once the writer heard all six hold it, with no question between replicas', () => {
    const group = new ReplicaGroup({});
    group.write(VOLUME, ['a', 'b', 'c']);
    for (const replica of group.replicas) {
      assert.equal(replica.isForgotten(VOLUME, 'w.1'), true, replica.selfId);
      // The votes on w.3 told the writer about w.2; only its next PROPOSE would name it.
      assert.equal(replica.isForgotten(VOLUME, 'w.2'), false, replica.selfId);
    }
    assert.deepEqual(
      group.sent.filter(({ message }) => message.type === 'decisionQuery'),
      [],
    );
  });

  it('do not forget a commit one replica never heard decided: they ask each other, and tell it', () => {
    const group = new ReplicaGroup({});
    group.cut.add('w>s6');
    group.write(VOLUME, ['a']);
    group.cut.delete('w>s6');
    group.write(VOLUME, ['b', 'c']);
    // s6 missed DECIDED of w.1, so no vote of s6 named it and no PROPOSE named it to anyone.
    for (const replica of group.replicas) assert.equal(replica.isForgotten(VOLUME, 'w.1'), false);
    // The replicas' own confirmations find the gap, send s6 the decision and then forget it.
    group.run(2_000);
    for (const replica of group.replicas) assert.equal(replica.isForgotten(VOLUME, 'w.1'), true);
    assert.equal(group.replicas[5]?.inspectKey(VOLUME, 'a')?.pendingTxid, null);
  });
});

describe('DecisionHolders', () => {
  it('lists a transaction once all six replicas named it, and only then', () => {
    const holders = new DecisionHolders();
    holders.sent(VOLUME, 'w.1', 0);
    for (const index of [0, 1, 2, 3, 4]) holders.heard(index, ['w.1'], 0);
    holders.heard(4, ['w.1'], 0);
    assert.equal(holders.take(VOLUME), null);
    holders.heard(5, ['w.1', 'w.unknown'], 0);
    assert.deepEqual(holders.take(VOLUME), ['w.1']);
    assert.equal(holders.take(VOLUME), null);
    assert.equal(holders.take('other'), null);
  });

  it('gives up on what waited too long, and caps what one PROPOSE carries', () => {
    const holders = new DecisionHolders();
    holders.sent(VOLUME, 'w.1', 0);
    holders.expire(DECISION_HOLDERS_WAIT_MS - 1);
    assert.equal(holders.awaitedCount, 1);
    holders.expire(DECISION_HOLDERS_WAIT_MS);
    assert.equal(holders.awaitedCount, 0);
    for (let index = 0; index < 6; index++) holders.heard(index, ['w.1'], DECISION_HOLDERS_WAIT_MS);
    assert.equal(holders.take(VOLUME), null);
    const count = HELD_BY_ALL_PER_PROPOSE_MAX + 3;
    const txids = Array.from({ length: count }, (_, n) => `w.${n + 2}`);
    for (const txid of txids) holders.sent(VOLUME, txid, 0);
    for (let index = 0; index < 6; index++) holders.heard(index, txids, 0);
    assert.equal(holders.take(VOLUME)?.length, HELD_BY_ALL_PER_PROPOSE_MAX);
    assert.deepEqual(holders.take(VOLUME), txids.slice(HELD_BY_ALL_PER_PROPOSE_MAX));
    holders.sent(VOLUME, 'w.late', 0);
    for (let index = 0; index < 6; index++) holders.heard(index, ['w.late'], 0);
    holders.expire(DECISION_HOLDERS_WAIT_MS);
    assert.equal(holders.take(VOLUME), null);
  });
});
