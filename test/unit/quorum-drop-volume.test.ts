// Deleting a volume from the pure replica (docs/adr/0007-deleting-volumes.md): six replicas and a
// writer in memory, with a message pump that can keep a replica down, each replica's records kept
// as its disk so that replay and snapshots can be checked.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type QuorumMessage, type ReplicaRecord, StorageReplica } from '../../libs/quorum/src/index.js';
import { MEMBERS, ReplicaGroup } from '../support/replica-group.js';

const GONE = 'v-deleted';
const KEPT = 'v-kept';
/** Short timings, so that a few virtual seconds run many repair and confirmation rounds. */
const TIMING = { syncIntervalMs: 20, syncIntervalMaxMs: 100, decisionConfirmAfterMs: 50, retransmitMs: 40 };

const keys = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

function assertHolds(replica: StorageReplica, volume: string, names: string[]): void {
  for (const key of names) {
    const state = replica.inspectKey(volume, key);
    assert.ok(state !== null && state.seq === 1, `${replica.selfId} lacks ${volume}/${key}`);
    assert.deepEqual(Buffer.from(state.value ?? []), Buffer.from(`${key}!`));
  }
}

function assertGone(replica: StorageReplica, volume: string, names: string[]): void {
  assert.ok(!replica.volumeNames().includes(volume), `${replica.selfId} still lists ${volume}`);
  assert.equal(replica.isDropped(volume), true);
  for (const key of names) assert.equal(replica.inspectKey(volume, key), null, `${replica.selfId}: ${key}`);
}

describe('dropping a volume on a replica', () => {
  it('forgets its keys and records, logs one dropVolume record, and leaves other volumes alone', () => {
    const cluster = new ReplicaGroup(TIMING);
    cluster.write(GONE, keys('g', 20));
    cluster.write(KEPT, keys('k', 5));
    cluster.run(300);
    const replica = cluster.replicas[0] as StorageReplica;
    const before = replica.stats();

    const dropped = replica.dropVolume(GONE, cluster.nowMs);

    assert.deepEqual(dropped, { existed: true, keys: 20 });
    const ready = replica.takeReady();
    assert.deepEqual(ready.records, [{ kind: 'dropVolume', volume: GONE, atMs: cluster.nowMs }]);
    assert.deepEqual(ready.messages, []);
    assertGone(replica, GONE, keys('g', 20));
    assert.equal(replica.inspectTransaction(GONE, 'w.1'), null);
    assertHolds(replica, KEPT, keys('k', 5));
    const after = replica.stats();
    assert.equal(after.volumes, before.volumes - 1);
    assert.equal(after.keys, before.keys - 20);
    assert.equal(after.droppedVolumes, 1);
  });

  it('is idempotent, and drops (remembers) a volume it never held', () => {
    const replica = new StorageReplica({ members: MEMBERS, selfIndex: 0 });
    assert.deepEqual(replica.dropVolume('v-never-seen', 5), { existed: false, keys: 0 });
    assert.deepEqual(replica.takeReady().records, [{ kind: 'dropVolume', volume: 'v-never-seen', atMs: 5 }]);
    assert.deepEqual(replica.dropVolume('v-never-seen', 6), { existed: false, keys: 0 });
    assert.deepEqual(replica.takeReady(), { records: [], messages: [] });
    assert.equal(replica.isDropped('v-never-seen'), true);
  });

  it('stays dropped after replay and after a snapshot, which leaves the volume out', () => {
    const cluster = new ReplicaGroup(TIMING);
    cluster.write(GONE, keys('g', 10));
    cluster.write(KEPT, keys('k', 10));
    const replica = cluster.replicas[2] as StorageReplica;
    replica.dropVolume(GONE, cluster.nowMs);
    cluster.pump();

    const replayed = cluster.replay(2);
    assertGone(replayed, GONE, keys('g', 10));
    assertHolds(replayed, KEPT, keys('k', 10));

    const snapshot = replica.snapshot();
    assert.deepEqual(
      snapshot.volumes.map((volume) => volume.name),
      [KEPT],
    );
    assert.deepEqual(snapshot.droppedVolumes, [[GONE, cluster.nowMs]]);
    const restored = new StorageReplica({ members: MEMBERS, selfIndex: 2 });
    restored.restore(structuredClone(snapshot));
    assertGone(restored, GONE, keys('g', 10));
    assertHolds(restored, KEPT, keys('k', 10));

    // A snapshot from before volumes could be dropped has no droppedVolumes field.
    const { droppedVolumes: _droppedVolumes, ...older } = structuredClone(snapshot);
    const fromOlder = new StorageReplica({ members: MEMBERS, selfIndex: 2 });
    fromOlder.restore(older);
    assertHolds(fromOlder, KEPT, keys('k', 10));

    // A record about the volume after its drop (none is ever logged) cannot bring it back.
    const stray: ReplicaRecord = {
      kind: 'adopt',
      volume: GONE,
      entries: [{ key: 'g0', version: { seq: 1, txid: 'w.1' }, value: Buffer.from('g0!') }],
    };
    restored.applyRecord(stray);
    assertGone(restored, GONE, ['g0']);
  });

  it('answers nothing and logs nothing about a dropped volume, whoever asks', () => {
    const cluster = new ReplicaGroup(TIMING);
    cluster.write(GONE, keys('g', 3));
    const replica = cluster.replicas[0] as StorageReplica;
    replica.dropVolume(GONE, cluster.nowMs);
    replica.takeReady();
    const proposal = {
      txid: 'late.1',
      reads: [{ key: 'g0', seq: 1 }],
      writes: [{ key: 'g0', value: Buffer.from('x') }],
      proposedAtMs: cluster.nowMs,
    };
    const messages: QuorumMessage[] = [
      { type: 'propose', volume: GONE, proposal },
      { type: 'accept', volume: GONE, txid: 'late.1', ballot: 1, decision: 'commit', proposal },
      { type: 'prepare', volume: GONE, txid: 'w.1', ballot: 2 ** 20 + 9 },
      { type: 'decided', volume: GONE, txid: 'late.1', decision: 'commit', proposal },
      { type: 'read', volume: GONE, requestId: 1, keys: ['g0'] },
      { type: 'scan', volume: GONE, requestId: 2, fromHash: 0, limit: 10 },
      { type: 'syncRequest', volume: GONE, fromIndex: 0, limit: 10, pendingTxids: ['w.1'] },
      {
        type: 'syncReply',
        volume: GONE,
        entries: [{ key: 'g0', version: { seq: 5, txid: 'x.5' }, value: Buffer.from('back') }],
        decisions: [],
        nextIndex: 0,
      },
      { type: 'decisionQuery', volume: GONE, txids: ['w.1'] },
      { type: 'decisionAck', volume: GONE, known: ['w.1'], unknown: [] },
    ];
    for (const message of messages) replica.step('s2', message, cluster.nowMs);
    replica.tick(cluster.nowMs + 60_000);
    const ready = replica.takeReady();
    assert.deepEqual(ready.records, []);
    assert.deepEqual(
      ready.messages.filter((envelope) => envelope.message.volume === GONE),
      [],
    );
    assertGone(replica, GONE, keys('g', 3));
    assert.equal(replica.stats().droppedVolumeMessages, messages.length);
  });

  it('is not brought back by repair from a replica that was down at delete time, which keeps its copy until dropped itself', () => {
    const cluster = new ReplicaGroup(TIMING);
    cluster.write(GONE, keys('g', 30));
    cluster.write(KEPT, keys('k', 10));
    cluster.run(500);
    // Decided everywhere but not yet confirmed between the replicas when s6 goes down.
    cluster.write(GONE, keys('g-late-', 5));
    // s6 is down while the control plane deletes the volume on the five others.
    cluster.down.add('s6');
    for (const replica of cluster.replicas.slice(0, 5)) replica.dropVolume(GONE, cluster.nowMs);
    cluster.pump();
    cluster.write(KEPT, keys('k-while-s6-down-', 10));

    // s6 comes back with its copy: it asks the others for repairs and confirmations about it.
    cluster.down.delete('s6');
    const sentBefore = cluster.sent.length;
    cluster.run(2_000);
    const s6 = cluster.replicas[5] as StorageReplica;
    assert.ok(
      cluster.sent.slice(sentBefore).some((entry) => entry.from === 's6' && entry.message.volume === GONE),
      's6 kept asking about its copy',
    );
    for (const replica of cluster.replicas.slice(0, 5)) {
      assertGone(replica, GONE, keys('g', 30));
      assert.ok(replica.stats().droppedVolumeMessages > 0);
    }
    for (const [index, disk] of cluster.disks.entries()) {
      if (index === 5) continue;
      const afterDrop = disk.slice(disk.findIndex((record) => record.kind === 'dropVolume') + 1);
      assert.deepEqual(
        afterDrop.filter((record) => record.volume === GONE),
        [],
        `${MEMBERS[index]} logged something about the dropped volume`,
      );
    }
    // s6 still holds the volume, and its decided records of it stay unconfirmed: no peer answers.
    assertHolds(s6, GONE, keys('g', 30));
    assert.ok(s6.stats().unconfirmedDecisions > 0);
    // The other volume is untouched: s6 got what it missed, and decided records are forgotten.
    for (const replica of cluster.replicas) {
      assertHolds(replica, KEPT, [...keys('k', 10), ...keys('k-while-s6-down-', 10)]);
    }
    assert.equal((cluster.replicas[0] as StorageReplica).stats().unconfirmedDecisions, 0);

    // The control plane's retry reaches s6: then the volume is gone everywhere and nothing about
    // it flows any more, while the other volume's bookkeeping finishes.
    assert.deepEqual(s6.dropVolume(GONE, cluster.nowMs), { existed: true, keys: 35 });
    cluster.run(500);
    const quietFrom = cluster.sent.length;
    cluster.run(1_000);
    assert.deepEqual(
      cluster.sent.slice(quietFrom).filter((entry) => entry.message.volume === GONE),
      [],
    );
    for (const [index, replica] of cluster.replicas.entries()) {
      assertGone(replica, GONE, keys('g', 30));
      assertGone(cluster.replay(index), GONE, keys('g', 30));
      assert.equal(replica.stats().unconfirmedDecisions, 0, MEMBERS[index]);
    }
  });

  it('leaves a writer that still uses the volume without answers: reads fail, commits end unknown', () => {
    const cluster = new ReplicaGroup(TIMING);
    cluster.write(GONE, keys('g', 1));
    for (const replica of cluster.replicas) replica.dropVolume(GONE, cluster.nowMs);
    cluster.pump();
    const requestId = cluster.writer.read(GONE, ['g0'], cluster.nowMs);
    const txid = cluster.writer.begin(
      GONE,
      [{ key: 'g0', seq: 1 }],
      [{ key: 'g0', value: Buffer.from('late') }],
      cluster.nowMs,
    );
    cluster.run(1_500);
    assert.ok(cluster.events.some((event) => event.type === 'readFailed' && event.requestId === requestId));
    assert.ok(cluster.events.some((event) => event.type === 'unknown' && event.txid === txid));
    for (const replica of cluster.replicas) assertGone(replica, GONE, ['g0']);
  });
});
