// Six pure replicas and one writer in memory, for unit tests of the replica's protocol: a message
// pump that can keep members down or cut single links, virtual time in ticks, and each replica's
// records kept as its disk so that replay (whole or a prefix) can be checked.
import assert from 'node:assert/strict';
import {
  type Envelope,
  type FromReplicaMessage,
  type ProposeMessage,
  type QuorumMessage,
  type ReplicaRecord,
  type ReplicaTiming,
  StorageReplica,
  type VoteMessage,
  WriterCoordinator,
  type WriterEvent,
} from '../../libs/quorum/src/index.js';

export const MEMBERS = ['s1', 's2', 's3', 's4', 's5', 's6'];
export const TICK_MS = 10;

/** Steps one PROPOSE into `replica` and answers the one vote it sends back. */
export function voteOn(
  replica: StorageReplica,
  from: string,
  propose: ProposeMessage,
  nowMs: number,
): VoteMessage {
  replica.step(from, propose, nowMs);
  const votes = replica
    .takeReady()
    .messages.map((envelope) => envelope.message)
    .filter((message) => message.type === 'vote');
  assert.equal(votes.length, 1);
  return votes[0] as VoteMessage;
}

export class ReplicaGroup {
  readonly replicas: StorageReplica[];
  readonly writer = new WriterCoordinator({
    writerId: 'w',
    coordinatorId: 7,
    members: MEMBERS,
    timing: { commitDeadlineMs: 1_000, readDeadlineMs: 1_000 },
  });
  /** Each replica's records, in the order it would have logged them. */
  readonly disks: ReplicaRecord[][] = MEMBERS.map(() => []);
  /** Every message a replica sent. */
  readonly sent: { from: string; message: QuorumMessage }[] = [];
  readonly events: WriterEvent[] = [];
  /** Members that are down: they neither tick nor receive, and nothing leaves them. */
  readonly down = new Set<string>();
  /** Links cut one way: `from>to`. */
  readonly cut = new Set<string>();
  nowMs = 1_000;

  constructor(readonly timing: Partial<ReplicaTiming>) {
    this.replicas = MEMBERS.map((_, selfIndex) => this.newReplica(selfIndex));
  }

  newReplica(selfIndex: number): StorageReplica {
    return new StorageReplica({ members: MEMBERS, selfIndex, timing: this.timing });
  }

  pump(): void {
    for (let round = 0; round < 10_000; round++) {
      const envelopes: { from: string; envelope: Envelope }[] = [];
      const fromWriter = this.writer.takeReady();
      this.events.push(...fromWriter.events);
      for (const envelope of fromWriter.messages) envelopes.push({ from: 'w', envelope });
      this.replicas.forEach((replica, index) => {
        const from = MEMBERS[index] as string;
        const ready = replica.takeReady();
        (this.disks[index] as ReplicaRecord[]).push(...ready.records);
        for (const envelope of ready.messages) {
          envelopes.push({ from, envelope });
          this.sent.push({ from, message: envelope.message });
        }
      });
      if (envelopes.length === 0) return;
      for (const { from, envelope } of envelopes) {
        if (this.down.has(from) || this.down.has(envelope.to) || this.cut.has(`${from}>${envelope.to}`))
          continue;
        if (envelope.to === 'w') {
          this.writer.step(from, envelope.message as FromReplicaMessage, this.nowMs);
          continue;
        }
        this.replicas[MEMBERS.indexOf(envelope.to)]?.step(from, envelope.message, this.nowMs);
      }
    }
    throw new Error('messages kept flowing');
  }

  /** Lets `ms` of virtual time pass: ticks (repair, confirmations, recovery) and deliveries. */
  run(ms: number): void {
    for (let elapsed = 0; elapsed < ms; elapsed += TICK_MS) {
      this.nowMs += TICK_MS;
      this.replicas.forEach((replica, index) => {
        if (!this.down.has(MEMBERS[index] as string)) replica.tick(this.nowMs);
      });
      this.writer.tick(this.nowMs);
      this.pump();
    }
  }

  /** Blind writes of fresh keys (read version 0, value `<key>!`), each its own committed transaction. */
  write(volume: string, keys: string[]): void {
    for (const key of keys) {
      const txid = this.writer.begin(
        volume,
        [{ key, seq: 0 }],
        [{ key, value: Buffer.from(`${key}!`) }],
        this.nowMs,
      );
      this.pump();
      const outcome = () =>
        this.events.find(
          (event) => (event.type === 'committed' || event.type === 'aborted') && event.txid === txid,
        );
      // With a member down, a commit waits a few ms for six votes before its ACCEPT round
      // (ADR 0015): only the writer's clock moves, so the replicas' state stays the test's.
      for (let waitedMs = 0; outcome() === undefined && waitedMs < 1_000; waitedMs += TICK_MS) {
        this.nowMs += TICK_MS;
        this.writer.tick(this.nowMs);
        this.pump();
      }
      assert.equal(outcome()?.type, 'committed', `${volume}/${key}`);
    }
  }

  /** What a fresh replica rebuilds from the first `keep` records of replica `index`'s disk (all by default). */
  replay(index: number, keep?: number): StorageReplica {
    const replica = this.newReplica(index);
    for (const record of (this.disks[index] as ReplicaRecord[]).slice(0, keep)) replica.applyRecord(record);
    return replica;
  }
}
