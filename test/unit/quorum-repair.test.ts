// A replica that lost records it may have acknowledged (docs/adr/0009-replica-repair.md): six pure
// replicas and a writer in memory, with a message pump that can keep members down, and each
// replica's records kept as its disk so that a damaged disk can be replayed as a prefix.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Envelope, ReplicaRecord, StorageReplica } from '../../libs/quorum/src/index.js';
import { MEMBERS, ReplicaGroup, TICK_MS } from '../support/replica-group.js';

const VOLUME = 'v';
/** Short timings: the quiet period (proposal age + 4 pending timeouts + 1 s) is 2.7 s. */
const TIMING = {
  syncIntervalMs: 20,
  syncIntervalMaxMs: 100,
  decisionConfirmAfterMs: 50,
  retransmitMs: 40,
  proposalMaxAgeMs: 500,
  pendingTimeoutMs: 300,
};
const QUIET_MS = 500 + 4 * 300 + 1_000;
/** The group with what these tests add: damaging a replica's disk, and waiting for its repair. */
class Cluster extends ReplicaGroup {
  constructor() {
    super(TIMING);
  }

  /** Runs until `replica` is whole again, at most `boundMs`; returns how long it took. */
  runUntilRepaired(index: number, boundMs: number): number {
    const startedAtMs = this.nowMs;
    while ((this.replicas[index] as StorageReplica).isRepairing) {
      if (this.nowMs - startedAtMs > boundMs)
        assert.fail(`${MEMBERS[index]} still repairing after ${boundMs} ms`);
      this.run(TICK_MS);
    }
    return this.nowMs - startedAtMs;
  }

  /**
   * Replica `index` restarts from the first `keep` records of its disk (the rest lost to damage)
   * and repairs. Its disk becomes that prefix, as the log's verified prefix does.
   */
  damage(index: number, keep: number): StorageReplica {
    const replica = this.replay(index, keep);
    this.disks[index] = (this.disks[index] as ReplicaRecord[]).slice(0, keep);
    replica.beginRepair('test damage', this.nowMs);
    this.replicas[index] = replica;
    return replica;
  }

  repairRequestsFrom(id: string): number {
    return this.sent.filter(({ from, message }) => from === id && message.type === 'repairRequest').length;
  }
}

const keys = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

function assertHolds(replica: StorageReplica, names: string[]): void {
  for (const key of names) {
    const state = replica.inspectKey(VOLUME, key);
    assert.ok(state !== null && state.seq === 1, `${replica.selfId} lacks ${key}`);
    assert.deepEqual(Buffer.from(state.value ?? []), Buffer.from(`${key}!`));
  }
}

describe('a replica repairing after lost records', () => {
  it('answers no vote or read until it has read three healthy peers after the quiet period, then holds every commit', () => {
    const cluster = new Cluster();
    cluster.write(VOLUME, keys('k', 30));
    cluster.run(200);
    const replica = cluster.damage(0, 4);
    assert.ok((replica.inspectKey(VOLUME, 'k29')?.seq ?? 0) === 0, 'the damage lost later commits');

    replica.step('w', { type: 'read', volume: VOLUME, requestId: 1, keys: ['k0'] }, cluster.nowMs);
    replica.step(
      'w',
      {
        type: 'propose',
        volume: VOLUME,
        proposal: { txid: 'w.900', reads: [{ key: 'k0', seq: 1 }], writes: [], proposedAtMs: cluster.nowMs },
      },
      cluster.nowMs,
    );
    assert.deepEqual(replica.takeReady(), { records: [], messages: [] }, 'silent while repairing');
    assert.equal(replica.repairStatus()?.messagesNotAnswered, 2);

    cluster.run(QUIET_MS - 100);
    assert.equal(replica.isRepairing, true);
    assert.equal(cluster.repairRequestsFrom('s1'), 0, 'no pass starts inside the quiet period');

    cluster.runUntilRepaired(0, 5_000);
    assertHolds(replica, keys('k', 30));
    assert.equal(replica.completedRepair()?.reason, 'test damage');
    assert.equal(replica.takeRepairCompletion(), true);
    assert.equal(replica.takeRepairCompletion(), false);
    cluster.write(VOLUME, ['after']);
    assertHolds(replica, ['after']);
  });

  it('does not count a peer that is repairing too, and waits while fewer than three healthy peers answer', () => {
    const cluster = new Cluster();
    cluster.write(VOLUME, keys('k', 10));
    cluster.run(200);
    const first = cluster.damage(0, 2);
    cluster.damage(1, 2);
    cluster.down.add('s3');
    cluster.down.add('s4');
    cluster.run(QUIET_MS + 3_000);
    assert.equal(first.isRepairing, true, 'two healthy peers (s5, s6) are not enough');
    assert.ok(cluster.repairRequestsFrom('s1') > 0);

    cluster.down.delete('s3');
    cluster.runUntilRepaired(0, 5_000);
    assertHolds(first, keys('k', 10));
    cluster.down.delete('s4');
    cluster.runUntilRepaired(1, 5_000);
  });

  it('waits until a transaction its peers hold open is decided', () => {
    const cluster = new Cluster();
    cluster.write(VOLUME, keys('k', 3));
    const replica = cluster.damage(0, 0);
    cluster.run(QUIET_MS - 50);
    // Just before the passes start, a commit whose writer dies after its votes: five replicas hold
    // `open` pending until their own recovery decides it.
    cluster.down.add('w');
    cluster.writer.begin(
      VOLUME,
      [{ key: 'open', seq: 0 }],
      [{ key: 'open', value: Buffer.from('open!') }],
      cluster.nowMs,
    );
    const proposals = cluster.writer.takeReady().messages;
    for (const { to, message } of proposals) {
      cluster.replicas[MEMBERS.indexOf(to)]?.step('w', message, cluster.nowMs);
    }
    cluster.pump();
    assert.deepEqual(cluster.replicas[1]?.pendingTransactions(VOLUME), ['w.4']);

    let sawOpen = false;
    const startedAtMs = cluster.nowMs;
    while (replica.isRepairing && cluster.nowMs - startedAtMs < 10_000) {
      cluster.run(TICK_MS);
      const status = replica.repairStatus();
      if (status !== null && status.openTransactions > 0) sawOpen = true;
    }
    assert.equal(replica.isRepairing, false);
    assert.ok(sawOpen, 'the repair waited on the open transaction');
    // The peers' own recovery decided it (four YES votes: commit), and the repair saw the decision.
    assert.equal(replica.inspectTransaction(VOLUME, 'w.4')?.decision, 'commit');
    assertHolds(replica, keys('k', 3));
    assert.equal(replica.inspectKey(VOLUME, 'open')?.seq, 1);
  });

  it('gives up waiting on a transaction that three healthy peers neither hold nor know decided', () => {
    const cluster = new Cluster();
    cluster.write(VOLUME, keys('k', 2));
    const replica = cluster.damage(0, 0);
    cluster.run(QUIET_MS - 50);
    // Just before the passes, a transaction proposed to s2 alone, whose writer then dies: one YES
    // vote, so it can never commit. s2 is cut off from s3–s6, so its own recovery cannot end it:
    // it holds the transaction for as long as the test runs.
    for (const peer of ['s3', 's4', 's5', 's6']) {
      cluster.cut.add(`s2>${peer}`);
      cluster.cut.add(`${peer}>s2`);
    }
    cluster.down.add('w');
    cluster.writer.begin(
      VOLUME,
      [{ key: 'lone', seq: 0 }],
      [{ key: 'lone', value: Buffer.from('x') }],
      cluster.nowMs,
    );
    const toS2 = cluster.writer.takeReady().messages.find((envelope) => envelope.to === 's2') as Envelope;
    cluster.replicas[1]?.step('w', toS2.message, cluster.nowMs);
    cluster.replicas[1]?.takeReady();

    let sawWaiting = false;
    const startedAtMs = cluster.nowMs;
    while (replica.isRepairing && cluster.nowMs - startedAtMs < 10_000) {
      cluster.run(TICK_MS);
      if (replica.repairStatus()?.waitingOn.some((name) => name.endsWith('/w.3')) === true) sawWaiting = true;
    }
    assert.equal(replica.isRepairing, false);
    assert.ok(sawWaiting, 's2 listed the transaction open in its pass');
    assert.deepEqual(cluster.replicas[1]?.pendingTransactions(VOLUME), ['w.3'], 'still undecided at s2');
    assert.equal(replica.inspectTransaction(VOLUME, 'w.3'), null);
  });

  it('releases keys it held for a transaction that every peer has forgotten since', () => {
    const cluster = new Cluster();
    cluster.write(VOLUME, ['held']);
    cluster.run(2_000);
    assert.equal(cluster.replicas[1]?.isForgotten(VOLUME, 'w.1'), true, 'all six confirmed the decision');
    // The disk keeps the YES vote and loses the decision: the prefix holds `held` pending.
    const voteAt = (cluster.disks[0] as ReplicaRecord[]).findIndex((record) => record.kind === 'vote');
    const replica = cluster.damage(0, voteAt + 1);
    assert.deepEqual(replica.pendingTransactions(VOLUME), ['w.1']);

    cluster.runUntilRepaired(0, 5_000);
    assert.deepEqual(replica.pendingTransactions(VOLUME), []);
    assertHolds(replica, ['held']);
    cluster.write(VOLUME, ['another']);
    const txid = cluster.writer.begin(
      VOLUME,
      [{ key: 'held', seq: 1 }],
      [{ key: 'held', value: Buffer.from('held again') }],
      cluster.nowMs,
    );
    cluster.pump();
    assert.ok(cluster.events.some((event) => event.type === 'committed' && event.txid === txid));
    assert.equal(replica.inspectKey(VOLUME, 'held')?.seq, 2);
  });
});
