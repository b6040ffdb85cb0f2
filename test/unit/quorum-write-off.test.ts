// ADR 0022: a replica whose decisions awaiting an absent peer's confirmation pass its memory bound
// writes that peer off and forgets them; the peer, back, votes NO and recovers nothing, settles the
// keys it holds through its peers, and rejoins. Six pure replicas and one writer (ReplicaGroup).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProposeMessage, ReplicaRecord } from '../../libs/quorum/src/index.js';
import { StorageReplica } from '../../libs/quorum/src/index.js';
import { MEMBERS, ReplicaGroup } from '../support/replica-group.js';

const VOLUME = 'v';
/** A few commits of the group's writes: 20 of them pass it many times over. */
const BOUND_BYTES = 2_000;

function keys(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}${index}`);
}

function writeOffRecords(group: ReplicaGroup, index: number): ReplicaRecord[] {
  return (group.disks[index] as ReplicaRecord[]).filter(
    (record) => record.kind === 'writeOff' || record.kind === 'readmit',
  );
}

function stats(group: ReplicaGroup, index: number) {
  return (group.replicas[index] as StorageReplica).stats();
}

test('replicas write off a peer that stays away past the bound, and forget what only it had not confirmed', () => {
  const group = new ReplicaGroup({ unconfirmedBytesMax: BOUND_BYTES });
  group.run(100);
  group.down.add('s6');
  group.write(VOLUME, keys('k', 20));
  const waiting = stats(group, 0);
  assert.equal(waiting.unconfirmedDecisions, 20);
  assert.ok(waiting.unconfirmedBytes > BOUND_BYTES, `${waiting.unconfirmedBytes} bytes`);

  // Under the silence window (twice the 1 s age at which decisions are asked about), nobody is
  // written off: a peer slow to answer is not an absent one.
  group.run(1_500);
  for (let index = 0; index < 5; index++) assert.deepEqual(writeOffRecords(group, index), []);

  group.run(1_500);
  for (let index = 0; index < 5; index++) {
    const records = writeOffRecords(group, index);
    assert.equal(records.length, 1, MEMBERS[index]);
    assert.deepEqual(
      records.map((record) => record.kind === 'writeOff' && record.peer),
      ['s6'],
    );
    const after = stats(group, index);
    assert.deepEqual(after.writeOffs.peers, ['s6']);
    assert.equal(after.unconfirmedDecisions, 0, `${MEMBERS[index]} forgot what only s6 had not confirmed`);
    assert.equal(after.unconfirmedBytes, 0);
  }
});

test('without the bound passed, decisions wait for the absent peer however long it stays away', () => {
  const group = new ReplicaGroup({});
  group.run(100);
  group.down.add('s6');
  group.write(VOLUME, keys('k', 20));
  group.run(5_000);
  for (let index = 0; index < 5; index++) {
    assert.deepEqual(writeOffRecords(group, index), []);
    assert.equal(stats(group, index).unconfirmedDecisions, 20);
  }
});

test('a replica that hears fewer than three peers writes nobody off: it is not on a write quorum side', () => {
  const group = new ReplicaGroup({ unconfirmedBytesMax: BOUND_BYTES });
  group.run(100);
  group.down.add('s6');
  group.write(VOLUME, keys('k', 20));
  // Two more go before anyone could judge s6 absent: s1-s3 hear only each other.
  group.down.add('s4');
  group.down.add('s5');
  group.run(5_000);
  for (let index = 0; index < 3; index++) {
    assert.deepEqual(writeOffRecords(group, index), [], MEMBERS[index]);
    assert.equal(stats(group, index).unconfirmedDecisions, 20);
  }
});

test('a written-off replica hears so, votes NO, lets go of what the others forgot, and rejoins', () => {
  const group = new ReplicaGroup({ unconfirmedBytesMax: BOUND_BYTES });
  group.run(100);
  // s6 votes YES on a commit and goes down before its decision reaches it: it holds the key.
  const held = group.writer.begin(
    VOLUME,
    [{ key: 'held', seq: 0 }],
    [{ key: 'held', value: Buffer.from('v') }],
    group.nowMs,
  );
  const proposals = group.writer.takeReady().messages;
  for (const { to, message } of proposals)
    group.replicas[MEMBERS.indexOf(to)]?.step('w', message, group.nowMs);
  group.down.add('s6');
  group.pump(); // the five votes reach the writer; s6's vote never leaves
  for (let waitedMs = 0; waitedMs < 1_000; waitedMs += 10) {
    group.nowMs += 10;
    group.writer.tick(group.nowMs);
    group.pump();
  }
  assert.ok(group.events.some((event) => event.type === 'committed' && event.txid === held));
  assert.deepEqual((group.replicas[5] as StorageReplica).pendingTransactions(VOLUME), [held]);

  group.write(VOLUME, keys('k', 20));
  group.run(3_500);
  for (let index = 0; index < 5; index++) {
    assert.deepEqual(stats(group, index).writeOffs.peers, ['s6']);
    assert.equal((group.replicas[index] as StorageReplica).isForgotten(VOLUME, held), true);
  }

  group.down.delete('s6');
  // Until it is taken back, s6 votes NO on what it is asked.
  group.run(150);
  assert.ok(stats(group, 5).writeOffs.by.length > 0, 's6 heard it was written off');
  const s6 = group.replicas[5] as StorageReplica;
  const propose: ProposeMessage = {
    type: 'propose',
    volume: VOLUME,
    proposal: {
      txid: 'w.x1',
      reads: [{ key: 'fresh', seq: 0 }],
      writes: [{ key: 'fresh', value: null }],
      proposedAtMs: group.nowMs,
    },
  };
  s6.step('w', propose, group.nowMs);
  const vote = s6.takeReady().messages.find((envelope) => envelope.message.type === 'vote')?.message;
  assert.deepEqual(vote?.type === 'vote' ? [vote.vote, vote.reason] : null, ['no', 'rejoining']);

  group.run(3_000);
  // It let the key go on its peers' word that they forgot the decision, deciding nothing itself.
  assert.deepEqual(s6.pendingTransactions(VOLUME), []);
  const s6Decides = (group.disks[5] as ReplicaRecord[]).filter(
    (record) => record.kind === 'decide' && record.txid === held,
  );
  assert.deepEqual(s6Decides, []);
  // No peer promised anything about the forgotten transaction: the txid stays forgotten while s6
  // is written off, so s6's PREPAREs for it were refused.
  const promised = group.sent.filter(
    ({ from, message }) => from !== 's6' && message.type === 'promise' && message.txid === held && message.ok,
  );
  assert.deepEqual(promised, []);
  // Every peer took it back, durably, and it takes part again.
  for (let index = 0; index < 5; index++) {
    assert.deepEqual(
      writeOffRecords(group, index).map((record) => record.kind),
      ['writeOff', 'readmit'],
      MEMBERS[index],
    );
    assert.deepEqual(stats(group, index).writeOffs.peers, []);
  }
  assert.deepEqual(stats(group, 5).writeOffs.by, []);
  const sentBefore = group.sent.length;
  group.write(VOLUME, ['after']);
  const afterVote = group.sent
    .slice(sentBefore)
    .filter(({ from, message }) => from === 's6' && message.type === 'vote' && message.vote === 'yes');
  assert.ok(afterVote.length > 0, 's6 votes YES again once taken back');
});

test('write-offs and their lifting survive replay and snapshots', () => {
  const group = new ReplicaGroup({ unconfirmedBytesMax: BOUND_BYTES });
  group.run(100);
  group.down.add('s6');
  group.write(VOLUME, keys('k', 20));
  group.run(3_000);
  const replayed = group.replay(0);
  assert.deepEqual(replayed.stats().writeOffs.peers, ['s6']);
  assert.equal(replayed.stats().unconfirmedDecisions, 0);
  const restored = new StorageReplica({ members: MEMBERS, selfIndex: 0, timing: group.timing });
  restored.restore(structuredClone(replayed.snapshot()));
  assert.deepEqual(restored.stats().writeOffs.peers, ['s6']);

  group.down.delete('s6');
  group.run(3_000);
  assert.deepEqual(group.replay(0).stats().writeOffs.peers, []);
  const again = new StorageReplica({ members: MEMBERS, selfIndex: 0, timing: group.timing });
  again.restore(structuredClone(group.replay(0).snapshot()));
  assert.deepEqual(again.stats().writeOffs.peers, []);
});

test('the bytes decisions keep waiting for confirmation grow with their proposals and go when they are forgotten', () => {
  const group = new ReplicaGroup({});
  group.run(100);
  group.down.add('s6');
  group.write(VOLUME, ['a']);
  const one = stats(group, 0).unconfirmedBytes;
  group.write(VOLUME, ['b'.repeat(1_000)]);
  const two = stats(group, 0).unconfirmedBytes;
  assert.ok(one > 0);
  assert.ok(two - one > 1_000, `a 1,000-byte key adds its bytes: ${one} then ${two}`);
  group.down.delete('s6');
  group.run(3_000);
  assert.equal(stats(group, 0).unconfirmedDecisions, 0);
  assert.equal(stats(group, 0).unconfirmedBytes, 0);
});

test('txids forgotten during a write-off stay forgotten until the retention after it is lifted', () => {
  const group = new ReplicaGroup({
    unconfirmedBytesMax: BOUND_BYTES,
    forgottenRetentionMs: 1_000,
    recordRetentionMs: 800,
  });
  group.run(100);
  group.down.add('s6');
  group.write(VOLUME, keys('k', 20));
  group.run(3_000);
  const s1 = group.replicas[0] as StorageReplica;
  const first = [...(group.disks[0] as ReplicaRecord[])].find((record) => record.kind === 'forget');
  assert.ok(first?.kind === 'forget');
  const txid = first.txids[0] as string;
  // Far past the retention while s6 stays written off: still refused as forgotten.
  group.run(5_000);
  assert.equal(s1.isForgotten(VOLUME, txid), true);

  group.down.delete('s6');
  for (let waitedMs = 0; s1.stats().writeOffs.peers.length > 0; waitedMs += 10) {
    assert.ok(waitedMs < 10_000, 's1 takes s6 back');
    group.run(10);
  }
  // Pruning runs every eighth of the record retention (100 ms here).
  group.run(800);
  assert.equal(s1.isForgotten(VOLUME, txid), true, 'kept for the retention after the lift');
  group.run(500);
  assert.equal(s1.isForgotten(VOLUME, txid), false, 'let go once the retention after the lift passed');
});
