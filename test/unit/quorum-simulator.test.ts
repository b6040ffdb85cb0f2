// The deterministic simulator over many seeds and every fault profile, plus focused scenarios of
// the protocol core driven by hand: a commit with everything up, recovery of a crashed writer's
// transaction by the replicas, and a read that resolves the pending transaction blocking it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Envelope, QuorumMessage } from '../../libs/quorum/src/messages.js';
import { ballotRound, recoveryBallot } from '../../libs/quorum/src/messages.js';
import { QUORUM } from '../../libs/quorum/src/quorum-table.js';
import { type ReplicaRecord, type ReplicaTiming, StorageReplica } from '../../libs/quorum/src/replica.js';
import {
  MEMBERS,
  PROFILE_NAMES,
  profileForSeed,
  runSimulation,
} from '../../libs/quorum/src/simulator/index.js';
import { WriterCoordinator, type WriterEvent } from '../../libs/quorum/src/writer.js';

const SEEDS = 600;

for (const profile of PROFILE_NAMES) {
  test(`simulator: seeds 1..${SEEDS} of profile ${profile} keep every invariant`, () => {
    let runs = 0;
    let commits = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      if (profileForSeed(seed) !== profile) continue;
      const result = runSimulation({ seed });
      assert.ok(result.ok, result.summary);
      runs++;
      commits += result.stats.commits;
    }
    assert.ok(runs >= Math.floor(SEEDS / PROFILE_NAMES.length));
    // A run that commits nothing checks nothing.
    assert.ok(commits >= runs * 5, `only ${commits} commits in ${runs} runs`);
  });
}

test('simulator: the damage profile damages disks, and every damaged replica repairs before the run drains', () => {
  let damagedDisks = 0;
  let repairs = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const result = runSimulation({ seed, profile: 'damage' });
    assert.ok(result.ok, result.summary);
    damagedDisks += result.stats.damagedDisks;
    repairs += result.stats.repairs;
  }
  assert.ok(damagedDisks >= 20, `only ${damagedDisks} damaged disks in 40 runs`);
  // A replica damaged again while repairing repairs once; none is left repairing at the end.
  assert.ok(repairs >= damagedDisks, `${repairs} repairs for ${damagedDisks} damaged disks`);
});

test('simulator: a seed replays exactly', () => {
  const first = runSimulation({ seed: 4242, trace: true });
  const second = runSimulation({ seed: 4242, trace: true });
  assert.deepEqual(second.stats, first.stats);
  assert.deepEqual(second.trace, first.trace);
  assert.match(first.replay, /npm run sim -- --seed 4242 --profile \S+/);
});

test('simulator: without faults, everything commits or conflicts and nothing is left unknown', () => {
  for (let seed = 1; seed <= 5; seed++) {
    const result = runSimulation({ seed, faults: false });
    assert.ok(result.ok, result.summary);
    assert.equal(result.stats.unknownOutcomes, 0);
    assert.equal(result.stats.readsFailed, 0);
    assert.ok(result.stats.commits > 20);
  }
});

test('simulator: a quorum override reaches replicas and writers, and a commit on 3 YES is caught', () => {
  const weakened = { ...QUORUM, commitVotes: 3 };
  const failure = Array.from({ length: 20 }, (_, index) => index + 1)
    .map((seed) => runSimulation({ seed, profile: 'split', quorumOverride: weakened }))
    .find((result) => !result.ok);
  assert.ok(failure !== undefined, 'twenty seeds of three-against-three splits should expose it');
  assert.match(failure.summary, /npm run sim -- --seed \d+ --profile split/);
});

// ---- the core by hand ------------------------------------------------------------------------

const VOLUME = 'v';
/** Production's order: a writer recovers its own commit before the replicas step in. */
// Decisions are confirmed late here so that these tests can still inspect decided records;
// the test of forgetting sets its own.
const REPLICA_TIMING = {
  pendingTimeoutMs: 400,
  retransmitMs: 60,
  syncIntervalMs: 60,
  decisionConfirmAfterMs: 60_000,
};
const WRITER_TIMING = {
  retransmitMs: 40,
  retransmitMsMax: 160,
  commitRecoveryAfterMs: 300,
  commitDeadlineMs: 3_000,
  pendingTimeoutMs: 300,
  readDeadlineMs: 3_000,
};
const bytes = (text: string) => new TextEncoder().encode(text);
/** Begins a commit that inserts `key` (read at seq 0) with `value`. */
const insert = (writer: WriterCoordinator, key: string, value: string, nowMs: number) =>
  writer.begin(VOLUME, [{ key, seq: 0 }], [{ key, value: bytes(value) }], nowMs);

/** Six replicas and any writers, FIFO delivery, no loss; crashed actors drop what they are sent. */
class Cluster {
  nowMs = 0;
  readonly replicas = MEMBERS.map((_, selfIndex) => Cluster.newReplica(selfIndex));
  /** Each replica's durable records: what a restart replays. */
  readonly disks: ReplicaRecord[][] = MEMBERS.map(() => []);
  /** Messages to these actors are lost on the wire. */
  readonly unreachable = new Set<string>();
  readonly writers = new Map<string, WriterCoordinator>();
  readonly events = new Map<string, WriterEvent[]>();
  readonly down = new Set<string>();
  /** Replicas do not tick when false: only writers drive recovery. */
  replicasTick = true;
  private readonly inFlight: { from: string; to: string; message: QuorumMessage }[] = [];
  /** Messages put on the wire, by type. */
  readonly sent = new Map<string, number>();

  static replicaTiming: Partial<ReplicaTiming> = REPLICA_TIMING;

  static newReplica(selfIndex: number): StorageReplica {
    return new StorageReplica({ members: MEMBERS, selfIndex, timing: Cluster.replicaTiming });
  }

  /** A crash loses what the replica queued but had not handed over; its disk stays. */
  crashReplica(index: number): void {
    const replica = this.replicas[index] as StorageReplica;
    replica.takeReady();
    this.down.add(replica.selfId);
  }

  restartReplica(index: number): StorageReplica {
    const replica = Cluster.newReplica(index);
    for (const record of this.disks[index] as ReplicaRecord[]) replica.applyRecord(structuredClone(record));
    this.replicas[index] = replica;
    this.down.delete(replica.selfId);
    return replica;
  }

  addWriter(writerId: string, coordinatorId: number): WriterCoordinator {
    const writer = new WriterCoordinator({
      writerId,
      coordinatorId,
      members: MEMBERS,
      timing: WRITER_TIMING,
    });
    this.writers.set(writerId, writer);
    this.events.set(writerId, []);
    return writer;
  }

  /** Moves everything the actors queued onto the wire. */
  collect(): void {
    this.replicas.forEach((replica, index) => {
      if (this.down.has(replica.selfId)) return;
      const ready = replica.takeReady();
      (this.disks[index] as ReplicaRecord[]).push(...ready.records);
      this.enqueue(replica.selfId, ready.messages);
    });
    for (const [writerId, writer] of this.writers) {
      if (this.down.has(writerId)) continue;
      const ready = writer.takeReady();
      this.enqueue(writerId, ready.messages);
      this.events.get(writerId)?.push(...ready.events);
    }
  }

  private enqueue(from: string, envelopes: Envelope[]): void {
    for (const { to, message } of envelopes) {
      this.inFlight.push({ from, to, message });
      this.sent.set(message.type, (this.sent.get(message.type) ?? 0) + 1);
    }
  }

  /** Delivers until the wire is empty (bounded). */
  deliverAll(): void {
    this.collect();
    for (let step = 0; step < 100_000 && this.inFlight.length > 0; step++) {
      const { from, to, message } = this.inFlight.shift() as (typeof this.inFlight)[number];
      if (this.down.has(to) || this.unreachable.has(to)) continue;
      const replica = this.replicas.find((candidate) => candidate.selfId === to);
      if (replica !== undefined) {
        replica.step(from, message, this.nowMs);
      } else if (
        message.type === 'vote' ||
        message.type === 'accepted' ||
        message.type === 'promise' ||
        message.type === 'readReply'
      ) {
        this.writers.get(to)?.step(from, message, this.nowMs);
      }
      this.collect();
    }
    assert.equal(this.inFlight.length, 0, 'the messages did not settle');
  }

  /** Lets virtual time pass in 10 ms ticks, delivering everything after each. */
  advance(ms: number): void {
    for (const end = this.nowMs + ms; this.nowMs < end; ) {
      this.nowMs += 10;
      if (this.replicasTick) {
        for (const replica of this.replicas) if (!this.down.has(replica.selfId)) replica.tick(this.nowMs);
      }
      for (const [writerId, writer] of this.writers) if (!this.down.has(writerId)) writer.tick(this.nowMs);
      this.deliverAll();
    }
  }

  pending(): string[] {
    return this.replicas.flatMap((replica) => replica.pendingTransactions(VOLUME));
  }
}

test('core: a commit with all replicas up is applied everywhere and read back', () => {
  const cluster = new Cluster();
  const writer = cluster.addWriter('w1', 7);
  const txid = writer.begin(
    VOLUME,
    [{ key: 'k', seq: 0 }],
    [{ key: 'k', value: bytes('one') }],
    cluster.nowMs,
  );
  cluster.deliverAll();
  assert.deepEqual(cluster.events.get('w1'), [{ type: 'committed', txid, fastPath: true }]);
  for (const replica of cluster.replicas) {
    const state = replica.inspectKey(VOLUME, 'k');
    assert.equal(state?.seq, 1, replica.selfId);
    assert.equal(state?.txid, txid);
    assert.equal(state?.pendingTxid, null);
  }
  const requestId = writer.read(VOLUME, ['k'], cluster.nowMs);
  cluster.deliverAll();
  const read = cluster.events
    .get('w1')
    ?.find((event) => event.type === 'read' && event.requestId === requestId);
  assert.ok(read?.type === 'read');
  assert.equal(read.values[0]?.version.seq, 1);
  assert.deepEqual(read.values[0]?.value, bytes('one'));
});

test('core: one replica serves many volumes, and the same key in two volumes is two keys', () => {
  const cluster = new Cluster();
  const writer = cluster.addWriter('w1', 7);
  // Both commits read seq 0 of key k: they would conflict within one volume.
  const first = writer.begin(
    'volume-a',
    [{ key: 'k', seq: 0 }],
    [{ key: 'k', value: bytes('a') }],
    cluster.nowMs,
  );
  const second = writer.begin(
    'volume-b',
    [{ key: 'k', seq: 0 }],
    [{ key: 'k', value: bytes('b') }],
    cluster.nowMs,
  );
  cluster.deliverAll();
  assert.deepEqual(cluster.events.get('w1'), [
    { type: 'committed', txid: first, fastPath: true },
    { type: 'committed', txid: second, fastPath: true },
  ]);
  for (const replica of cluster.replicas) {
    assert.deepEqual(replica.inspectKey('volume-a', 'k')?.value, bytes('a'));
    assert.deepEqual(replica.inspectKey('volume-b', 'k')?.value, bytes('b'));
    assert.deepEqual(replica.volumeNames().sort(), ['volume-a', 'volume-b']);
  }
});

test('core: six YES votes choose COMMIT without an ACCEPT round (ADR 0015)', () => {
  const cluster = new Cluster();
  const writer = cluster.addWriter('w1', 7);
  const txid = insert(writer, 'k', 'v', cluster.nowMs);
  cluster.deliverAll();
  assert.deepEqual(cluster.events.get('w1'), [{ type: 'committed', txid, fastPath: true }]);
  assert.equal(cluster.sent.get('accept') ?? 0, 0);
  assert.equal(cluster.sent.get('decided'), 6);
  for (const replica of cluster.replicas) assert.equal(replica.inspectKey(VOLUME, 'k')?.seq, 1);
});

test('core: with a replica down, a commit waits a bounded time for the sixth vote, then ACCEPTs; the next ones do not wait for that replica until it is back', () => {
  const cluster = new Cluster();
  const writer = cluster.addWriter('w1', 7);
  cluster.crashReplica(5);
  const first = insert(writer, 'a', '1', cluster.nowMs);
  cluster.deliverAll();
  assert.deepEqual(cluster.events.get('w1'), [], 'four YES votes alone wait for the other two');
  cluster.advance(30);
  assert.deepEqual(cluster.events.get('w1'), [{ type: 'committed', txid: first, fastPath: false }]);
  assert.equal(cluster.sent.get('accept'), 6);
  // The wait ran out: for a while, commits go to ACCEPT as soon as they have 4 YES votes.
  const second = insert(writer, 'b', '2', cluster.nowMs);
  cluster.deliverAll();
  assert.deepEqual(cluster.events.get('w1')?.[1], { type: 'committed', txid: second, fastPath: false });
  // Back up, it is waited for again once its second is over.
  cluster.restartReplica(5);
  cluster.advance(1_000);
  const third = insert(writer, 'c', '3', cluster.nowMs);
  cluster.deliverAll();
  assert.deepEqual(cluster.events.get('w1')?.[2], { type: 'committed', txid: third, fastPath: true });
});

test('core: a NO among the votes sends ACCEPT at once', () => {
  const cluster = new Cluster();
  const holder = cluster.addWriter('w2', 8);
  // Replica 5 alone holds k for w2's transaction, so it votes NO on w1's.
  for (let index = 0; index < 5; index++) cluster.unreachable.add(MEMBERS[index] as string);
  insert(holder, 'k', 'held', cluster.nowMs);
  cluster.deliverAll();
  cluster.unreachable.clear();
  cluster.down.add('w2');
  const writer = cluster.addWriter('w1', 7);
  const txid = insert(writer, 'k', 'v', cluster.nowMs);
  cluster.deliverAll();
  assert.deepEqual(cluster.events.get('w1'), [{ type: 'committed', txid, fastPath: false }]);
});

test('core: replicas recover a fast-path commit whose DECIDED never left its writer, as COMMIT', () => {
  const cluster = new Cluster();
  const writer = cluster.addWriter('w1', 7);
  cluster.down.add('w1'); // the writer's messages go only where this test carries them
  const txid = insert(writer, 'k', 'v', cluster.nowMs);
  const replicaById = new Map(cluster.replicas.map((replica) => [replica.selfId, replica]));
  for (const { to, message } of writer.takeReady().messages) replicaById.get(to)?.step('w1', message, 0);
  for (const replica of cluster.replicas) {
    for (const { message } of replica.takeReady().messages) {
      if (message.type === 'vote') writer.step(replica.selfId, message, 0);
    }
  }
  const { events, messages } = writer.takeReady();
  assert.deepEqual(events, [{ type: 'committed', txid, fastPath: true }]);
  assert.ok(messages.every((envelope) => envelope.message.type === 'decided'));
  // The writer crashed with its DECIDED messages: the replicas find k pending and recover it.
  assert.equal(cluster.pending().length, 6);
  cluster.advance(2_000);
  assert.deepEqual(cluster.pending(), []);
  for (const replica of cluster.replicas) {
    assert.equal(replica.inspectKey(VOLUME, 'k')?.txid, txid, replica.selfId);
    assert.deepEqual(replica.inspectKey(VOLUME, 'k')?.value, bytes('v'));
  }
});

test("core: a crashed writer's pending keys are recovered by the replicas", () => {
  const cluster = new Cluster();
  const writer = cluster.addWriter('w1', 7);
  const txid = writer.begin(
    VOLUME,
    [{ key: 'k', seq: 0 }],
    [{ key: 'k', value: bytes('orphan') }],
    cluster.nowMs,
  );
  // The PROPOSEs reach all six replicas, which vote YES and hold the key; then the writer dies.
  cluster.collect();
  cluster.down.add('w1');
  cluster.deliverAll();
  assert.equal(cluster.pending().length, 6);
  cluster.advance(3 * REPLICA_TIMING.pendingTimeoutMs);
  assert.deepEqual(cluster.pending(), []);
  // Six YES votes form a certificate, so recovery must choose commit.
  for (const replica of cluster.replicas) {
    assert.equal(replica.inspectTransaction(VOLUME, txid)?.decision, 'commit', replica.selfId);
    assert.equal(replica.inspectKey(VOLUME, 'k')?.seq, 1);
  }
});

test('core: a read blocked by a pending transaction resolves it', () => {
  const cluster = new Cluster();
  cluster.replicasTick = false;
  const first = cluster.addWriter('w1', 7);
  const txid = first.begin(
    VOLUME,
    [{ key: 'k', seq: 0 }],
    [{ key: 'k', value: bytes('held') }],
    cluster.nowMs,
  );
  cluster.collect();
  cluster.down.add('w1');
  cluster.deliverAll();
  assert.equal(cluster.pending().length, 6);

  const reader = cluster.addWriter('w2', 8);
  const requestId = reader.read(VOLUME, ['k'], cluster.nowMs);
  cluster.deliverAll();
  assert.deepEqual(cluster.events.get('w2'), [], 'the read waits while the key is pending');
  cluster.advance(3 * WRITER_TIMING.pendingTimeoutMs);
  const read = cluster.events
    .get('w2')
    ?.find((event) => event.type === 'read' && event.requestId === requestId);
  assert.ok(read?.type === 'read', 'the read completes once the reader recovered the transaction');
  assert.deepEqual(read.values[0]?.version, { seq: 1, txid });
  assert.deepEqual(read.values[0]?.value, bytes('held'));
  assert.deepEqual(cluster.pending(), [], "the reader's DECIDED released the key everywhere");
});

test('core: a restarted replica never reuses the recovery ballot of its previous life', () => {
  const cluster = new Cluster();
  const writer = cluster.addWriter('w1', 7);
  writer.begin(VOLUME, [{ key: 'k', seq: 0 }], [{ key: 'k', value: bytes('x') }], cluster.nowMs);
  cluster.collect();
  cluster.down.add('w1');
  cluster.deliverAll();
  // s1 times the transaction out and starts a recovery round; it crashes before anything it sent arrives.
  const timeoutMs = REPLICA_TIMING.pendingTimeoutMs;
  cluster.nowMs += timeoutMs + 10;
  const s1 = cluster.replicas[0] as StorageReplica;
  s1.tick(cluster.nowMs);
  const firstReady = s1.takeReady();
  (cluster.disks[0] as ReplicaRecord[]).push(...firstReady.records);
  const firstBallot = firstReady.messages.find((envelope) => envelope.message.type === 'prepare')?.message;
  assert.ok(firstBallot?.type === 'prepare');
  cluster.crashReplica(0);

  const restarted = cluster.restartReplica(0);
  cluster.nowMs += timeoutMs + 10;
  restarted.tick(cluster.nowMs);
  const secondBallot = restarted
    .takeReady()
    .messages.find((envelope) => envelope.message.type === 'prepare')?.message;
  assert.ok(secondBallot?.type === 'prepare');
  // Two rounds at one ballot could each get a different value accepted at it.
  assert.ok(
    secondBallot.ballot > firstBallot.ballot,
    `ballot ${secondBallot.ballot} after a restart, ${firstBallot.ballot} before`,
  );
});

test('core: replicas recover a transaction whose recovering writer died after its PREPARE', () => {
  const cluster = new Cluster();
  cluster.replicasTick = false;
  const writer = cluster.addWriter('w1', 7);
  const txid = writer.begin(VOLUME, [{ key: 'k', seq: 0 }], [{ key: 'k', value: bytes('x') }], cluster.nowMs);
  // The writer hears nothing back, so it starts its own recovery, whose PREPARE every replica
  // promises; then it dies before sending ACCEPT.
  cluster.unreachable.add('w1');
  cluster.advance(WRITER_TIMING.commitRecoveryAfterMs + 50);
  const writerBallot = recoveryBallot(1, 7);
  for (const replica of cluster.replicas) {
    assert.equal(replica.inspectTransaction(VOLUME, txid)?.promisedBallot, writerBallot, replica.selfId);
  }
  cluster.down.add('w1');
  // Every replica's first round (ballot round 1, ids 1–6) is below the writer's: they must climb.
  cluster.replicasTick = true;
  cluster.advance(10 * REPLICA_TIMING.pendingTimeoutMs);
  assert.deepEqual(cluster.pending(), []);
  const decisions = new Set(
    cluster.replicas.map((replica) => replica.inspectTransaction(VOLUME, txid)?.decision),
  );
  assert.equal(decisions.size, 1);
  assert.ok(
    ballotRound(
      Math.max(...cluster.replicas.map((r) => r.inspectTransaction(VOLUME, txid)?.promisedBallot ?? 0)),
    ) > 1,
  );
});

test('core: a decided transaction is forgotten only once all six know it, and stale messages about it are refused', () => {
  Cluster.replicaTiming = { ...REPLICA_TIMING, decisionConfirmAfterMs: 200 };
  try {
    const cluster = new Cluster();
    const writer = cluster.addWriter('w1', 7);
    // s6 misses the whole commit, DECIDED included: the others must tell it before forgetting.
    cluster.unreachable.add('s6');
    const txid = writer.begin(
      VOLUME,
      [{ key: 'k', seq: 0 }],
      [{ key: 'k', value: bytes('x') }],
      cluster.nowMs,
    );
    cluster.advance(100);
    assert.deepEqual(
      cluster.events.get('w1')?.map((event) => event.type),
      ['committed'],
    );
    cluster.advance(1_000);
    for (const replica of cluster.replicas.slice(0, 5)) {
      assert.equal(replica.isForgotten(VOLUME, txid), false, `${replica.selfId} forgot before s6 knew`);
      assert.equal(replica.inspectTransaction(VOLUME, txid)?.decision, 'commit');
    }
    cluster.unreachable.delete('s6');
    cluster.advance(2_000);
    for (const replica of cluster.replicas) {
      assert.equal(replica.isForgotten(VOLUME, txid), true, `${replica.selfId} still holds the record`);
      assert.equal(replica.inspectKey(VOLUME, 'k')?.seq, 1, `${replica.selfId} did not apply the commit`);
    }
    // A stale coordinator's PREPARE must not collect fresh NO promises for a committed transaction.
    const replica = cluster.replicas[0] as StorageReplica;
    replica.step(
      'w9',
      { type: 'prepare', volume: VOLUME, txid, ballot: recoveryBallot(9, 9) },
      cluster.nowMs,
    );
    const [reply] = replica.takeReady().messages;
    assert.equal(reply?.message.type, 'promise');
    assert.equal(reply?.message.type === 'promise' && reply.message.ok, false);
  } finally {
    Cluster.replicaTiming = REPLICA_TIMING;
  }
});
