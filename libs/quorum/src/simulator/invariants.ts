// Safety invariants of the quorum protocol, checked by the simulator after every step from what
// the actors emit (records handed to the disk, messages handed to the network, writer events) and,
// after a restart, from what a replica rebuilt from its disk. Each method throws an
// `InvariantViolation` at the first breach, naming the invariant and the evidence.
import {
  type BlindGuard,
  blindGuardAllows,
  type Decision,
  type Envelope,
  type Proposal,
  type TxId,
  type Version,
  type VoteValue,
} from '../messages.js';
import type { ReplicaRecord, StorageReplica } from '../replica.js';

export type InvariantName =
  | 'one decision per transaction'
  | 'votes and accepted values survive restarts'
  | 'one committed version per key and seq'
  | 'blind writes replace only what their guard allows'
  | 'acknowledged commits are visible'
  | 'liveness'
  | 'replicas converge'
  | 'register linearizability'
  | 'bank invariant'
  | 'session guarantees';

export class InvariantViolation extends Error {
  constructor(
    readonly invariant: InvariantName,
    readonly detail: string,
  ) {
    super(`${invariant}: ${detail}`);
    this.name = 'InvariantViolation';
  }
}

/** A committed version's first byte (null: a delete, undefined: empty) and its guard if blind. */
interface VersionShape {
  txid: TxId;
  firstByte: number | null | undefined;
  guard: BlindGuard | null;
}

function checkGuard(
  versionKey: string,
  replacedSeq: number,
  replaced: VersionShape,
  seq: number,
  version: VersionShape,
): void {
  if (version.guard === null || replaced.firstByte === null) return;
  if (blindGuardAllows(version.guard, replaced.firstByte)) return;
  throw new InvariantViolation(
    'blind writes replace only what their guard allows',
    `${versionKey} seq ${seq} by ${version.txid} is blind and its guard allows first bytes ${version.guard.firstBytes.join(', ')} (mask ${version.guard.mask}), but it replaced seq ${replacedSeq} by ${replaced.txid}, which starts with ${replaced.firstByte ?? 'nothing'}`,
  );
}

interface RememberedVote {
  volume: string;
  vote: VoteValue;
  atMs: number;
}

interface RememberedAccept {
  volume: string;
  ballot: number;
  decision: Decision;
}

interface ReplicaMemory {
  votes: Map<TxId, RememberedVote>;
  accepted: Map<TxId, RememberedAccept>;
  promised: Map<TxId, { volume: string; ballot: number }>;
  /** Last time a record of the replica touched the transaction: pruning cannot come sooner. */
  touchedAtMs: Map<TxId, number>;
  /** Highest seq the replica applied per key: a restart must not lose it. */
  appliedSeq: Map<string, { volume: string; key: string; seq: number }>;
  /** Proposals the replica logged (vote, accept): a decide record names them only by txid. */
  proposals: Map<TxId, Proposal>;
  /** Decided transactions the replica logged forgetting (all six hold the decision). */
  forgotten: Set<TxId>;
}

export class InvariantChecker {
  private readonly decisions = new Map<TxId, { decision: Decision; source: string }>();
  /** Per `volume/key`: seq → the transaction that committed it. */
  private readonly versions = new Map<string, Map<number, TxId>>();
  /** Per `volume/key`: seq → what the committed value starts with, and its guard if blind. */
  private readonly versionShapes = new Map<string, Map<number, VersionShape>>();
  /** Per `txid@ballot`: the one value any replica accepted at that ballot. */
  private readonly ballotValues = new Map<string, Decision>();
  /** Per `volume/key`: the highest seq of a commit a client has been told about. */
  private readonly acknowledged = new Map<string, { seq: number; txid: TxId; atMs: number }>();
  private readonly replicas: ReplicaMemory[];

  constructor(
    private readonly replicaIds: readonly string[],
    private readonly recordRetentionMs: number,
  ) {
    this.replicas = replicaIds.map(() => ({
      votes: new Map(),
      accepted: new Map(),
      promised: new Map(),
      touchedAtMs: new Map(),
      appliedSeq: new Map(),
      proposals: new Map(),
      forgotten: new Set(),
    }));
  }

  get decidedTransactions(): number {
    return this.decisions.size;
  }

  // ---- (1) one decision per transaction ----------------------------------------------------

  recordDecision(txid: TxId, decision: Decision, source: string): void {
    const known = this.decisions.get(txid);
    if (known === undefined) {
      this.decisions.set(txid, { decision, source });
      return;
    }
    if (known.decision !== decision) {
      throw new InvariantViolation(
        'one decision per transaction',
        `${txid} is ${known.decision} (${known.source}) and ${decision} (${source})`,
      );
    }
  }

  // ---- (3) one committed version per (key, seq) --------------------------------------------

  private recordVersion(
    volume: string,
    key: string,
    seq: number,
    txid: TxId,
    value: Uint8Array | null,
    guard: BlindGuard | null,
    source: string,
  ): void {
    const versionKey = `${volume}/${key}`;
    let bySeq = this.versions.get(versionKey);
    if (bySeq === undefined) {
      bySeq = new Map();
      this.versions.set(versionKey, bySeq);
    }
    const existing = bySeq.get(seq);
    if (existing === undefined) {
      bySeq.set(seq, txid);
      this.recordShape(versionKey, seq, txid, value, guard);
    } else if (existing === txid && guard !== null) {
      this.recordShape(versionKey, seq, txid, value, guard);
    } else if (existing !== txid) {
      throw new InvariantViolation(
        'one committed version per key and seq',
        `${volume}/${key} seq ${seq} was committed by ${existing} and by ${txid} (${source})`,
      );
    }
    if (this.decisions.get(txid)?.decision !== 'commit') {
      throw new InvariantViolation(
        'one committed version per key and seq',
        `${volume}/${key} seq ${seq} is written by ${txid}, which is not committed (${source})`,
      );
    }
  }

  private recordCommit(volume: string, proposal: Proposal, source: string): void {
    this.recordDecision(proposal.txid, 'commit', source);
    for (const write of proposal.writes) {
      const read = proposal.reads.find((entry) => entry.key === write.key);
      const seq = (read?.seq ?? 0) + 1;
      this.recordVersion(volume, write.key, seq, proposal.txid, write.value, read?.blind ?? null, source);
    }
  }

  // ---- (3b) a blind write replaces only a value its guard allows (ADR 0016) ----------------

  /**
   * Checks a version against its neighbours in seq order among the committed versions known.
   * Every commit below a committed blind write is known before it: the blind write's four YES
   * voters include one of that commit's, which had it decided (else the key was pending there,
   * or the blind write's seq would be stale). So the predecessor seen here is the real one.
   */
  private recordShape(
    versionKey: string,
    seq: number,
    txid: TxId,
    value: Uint8Array | null,
    guard: BlindGuard | null,
  ): void {
    let shapes = this.versionShapes.get(versionKey);
    if (shapes === undefined) {
      shapes = new Map();
      this.versionShapes.set(versionKey, shapes);
    }
    const known = shapes.get(seq);
    if (known !== undefined && (known.guard !== null || guard === null)) return;
    const shape: VersionShape = { txid, firstByte: value === null ? null : value[0], guard };
    shapes.set(seq, shape);
    let below: [number, VersionShape] | null = null;
    let above: [number, VersionShape] | null = null;
    for (const entry of shapes) {
      if (entry[0] < seq && (below === null || entry[0] > below[0])) below = entry;
      if (entry[0] > seq && (above === null || entry[0] < above[0])) above = entry;
    }
    if (below !== null) checkGuard(versionKey, below[0], below[1], seq, shape);
    if (above !== null) checkGuard(versionKey, seq, shape, above[0], above[1]);
  }

  // ---- what replicas emit ------------------------------------------------------------------

  /** Records a replica handed to its disk in one batch, checked before they are durable. */
  onReplicaRecords(index: number, records: readonly ReplicaRecord[], nowMs: number): void {
    const memory = this.replicas[index] as ReplicaMemory;
    const replicaId = this.replicaIds[index] as string;
    for (const record of records) {
      if (record.kind === 'adopt') {
        for (const entry of record.entries) {
          this.recordVersion(
            record.volume,
            entry.key,
            entry.version.seq,
            entry.version.txid,
            entry.value,
            null,
            `${replicaId} adopted it`,
          );
          this.noteApplied(memory, record.volume, entry.key, entry.version.seq);
        }
        continue;
      }
      if (record.kind === 'forget') {
        for (const txid of record.txids) {
          memory.proposals.delete(txid);
          if (record.repaired !== true) memory.forgotten.add(txid);
        }
        continue;
      }
      // The simulated workloads never delete their volumes (test/unit/quorum-drop-volume.test.ts
      // covers dropping): nothing to remember about a live volume here.
      if (record.kind === 'dropVolume') continue;
      // A write-off changes no transaction: what it lets the replica forget comes as `forget`.
      if (record.kind === 'writeOff' || record.kind === 'readmit') continue;
      if ((record.kind === 'vote' || record.kind === 'accept') && record.proposal !== null) {
        memory.proposals.set(record.txid, record.proposal);
      }
      if (this.mayHavePruned(memory, record.txid, nowMs)) {
        // Retention passed: the replica may have dropped the record and started a fresh one.
        this.forget(memory, record.txid);
      }
      memory.touchedAtMs.set(record.txid, Math.max(memory.touchedAtMs.get(record.txid) ?? 0, record.atMs));
      switch (record.kind) {
        case 'vote':
          this.rememberVote(index, record.volume, record.txid, record.vote, nowMs);
          break;
        case 'promise': {
          const promised = memory.promised.get(record.txid)?.ballot ?? 0;
          memory.promised.set(record.txid, {
            volume: record.volume,
            ballot: Math.max(promised, record.ballot),
          });
          break;
        }
        case 'accept':
          this.rememberAccept(index, record.volume, record.txid, record.ballot, record.decision);
          break;
        case 'decide': {
          const proposal = record.proposal ?? memory.proposals.get(record.txid) ?? null;
          if (record.decision === 'commit' && proposal !== null) {
            this.recordCommit(record.volume, proposal, `${replicaId} applied it`);
            const readSeqs = new Map(proposal.reads.map((read) => [read.key, read.seq]));
            for (const write of proposal.writes) {
              this.noteApplied(memory, record.volume, write.key, (readSeqs.get(write.key) ?? 0) + 1);
            }
          } else {
            this.recordDecision(record.txid, record.decision, `${replicaId} recorded it`);
          }
          break;
        }
      }
    }
  }

  /** Messages a replica handed to the network (after its records were durable). */
  onReplicaMessages(index: number, envelopes: readonly Envelope[], nowMs: number): void {
    const memory = this.replicas[index] as ReplicaMemory;
    const replicaId = this.replicaIds[index] as string;
    for (const { message } of envelopes) {
      switch (message.type) {
        case 'vote':
          // A PROPOSE that comes again after the replica forgot the decided transaction gets NO:
          // the decision is fixed and all six hold it, so that NO can decide nothing.
          if (
            message.reason === 'decided' &&
            memory.forgotten.has(message.txid) &&
            this.decisions.has(message.txid)
          ) {
            break;
          }
          this.rememberVote(index, message.volume, message.txid, message.vote, nowMs);
          break;
        case 'promise': {
          // A refused promise reports 'no' for a replica that never voted without recording it.
          if (!message.ok || message.decision !== null) break;
          this.rememberVote(index, message.volume, message.txid, message.vote, nowMs);
          const accepted = memory.accepted.get(message.txid);
          if (accepted !== undefined && !this.mayHavePruned(memory, message.txid, nowMs)) {
            if (
              message.accepted?.ballot !== accepted.ballot ||
              message.accepted.decision !== accepted.decision
            ) {
              throw new InvariantViolation(
                'votes and accepted values survive restarts',
                `${replicaId} promised ${message.txid} reporting accepted ${describeAccepted(message.accepted)}, but it accepted ${describeAccepted(accepted)}`,
              );
            }
          }
          break;
        }
        case 'decided':
          if (message.decision === 'commit' && message.proposal !== undefined) {
            this.recordCommit(message.volume, message.proposal, `DECIDED from ${replicaId}`);
          } else {
            this.recordDecision(message.txid, message.decision, `DECIDED from ${replicaId}`);
          }
          break;
        case 'syncReply':
          for (const known of message.decisions) {
            this.recordDecision(known.txid, known.decision, `sync reply from ${replicaId}`);
          }
          break;
        default:
          break;
      }
    }
  }

  onWriterMessages(writerId: string, envelopes: readonly Envelope[]): void {
    // A writer broadcasts each DECIDED to all six replicas: look at one copy per transaction.
    let lastTxid: TxId | null = null;
    for (const { message } of envelopes) {
      if (message.type !== 'decided' || message.txid === lastTxid) continue;
      lastTxid = message.txid;
      if (message.decision === 'commit' && message.proposal !== undefined) {
        this.recordCommit(message.volume, message.proposal, `DECIDED from ${writerId}`);
      } else {
        this.recordDecision(message.txid, message.decision, `DECIDED from ${writerId}`);
      }
    }
  }

  // ---- (2) votes, promises and accepted values are durable and never change ----------------

  private rememberVote(index: number, volume: string, txid: TxId, vote: VoteValue, nowMs: number): void {
    const memory = this.replicas[index] as ReplicaMemory;
    const previous = memory.votes.get(txid);
    if (previous === undefined) {
      memory.votes.set(txid, { volume, vote, atMs: nowMs });
      memory.touchedAtMs.set(txid, Math.max(memory.touchedAtMs.get(txid) ?? 0, nowMs));
      return;
    }
    if (previous.vote === vote) return;
    if (this.mayHavePruned(memory, txid, nowMs)) {
      memory.votes.set(txid, { volume, vote, atMs: nowMs });
      return;
    }
    throw new InvariantViolation(
      'votes and accepted values survive restarts',
      `${this.replicaIds[index]} voted ${previous.vote} on ${txid} at ${formatMs(previous.atMs)} and ${vote} at ${formatMs(nowMs)}`,
    );
  }

  private rememberAccept(
    index: number,
    volume: string,
    txid: TxId,
    ballot: number,
    decision: Decision,
  ): void {
    const memory = this.replicas[index] as ReplicaMemory;
    const replicaId = this.replicaIds[index] as string;
    const ballotKey = `${txid}@${ballot}`;
    const valueAtBallot = this.ballotValues.get(ballotKey);
    if (valueAtBallot === undefined) {
      this.ballotValues.set(ballotKey, decision);
    } else if (valueAtBallot !== decision) {
      throw new InvariantViolation(
        'votes and accepted values survive restarts',
        `ballot ${ballot} of ${txid} carries two values: ${valueAtBallot} and ${decision} (accepted by ${replicaId})`,
      );
    }
    const promised = memory.promised.get(txid)?.ballot ?? 0;
    if (ballot < promised) {
      throw new InvariantViolation(
        'votes and accepted values survive restarts',
        `${replicaId} accepted ${txid} at ballot ${ballot} after promising ballot ${promised}`,
      );
    }
    const previous = memory.accepted.get(txid);
    if (
      previous !== undefined &&
      (ballot < previous.ballot || (ballot === previous.ballot && decision !== previous.decision))
    ) {
      throw new InvariantViolation(
        'votes and accepted values survive restarts',
        `${replicaId} accepted ${txid} as ${describeAccepted({ ballot, decision })} after ${describeAccepted(previous)}`,
      );
    }
    memory.accepted.set(txid, { volume, ballot, decision });
    memory.promised.set(txid, { volume, ballot: Math.max(promised, ballot) });
  }

  private noteApplied(memory: ReplicaMemory, volume: string, key: string, seq: number): void {
    const versionKey = `${volume}/${key}`;
    const known = memory.appliedSeq.get(versionKey);
    if (known === undefined || seq > known.seq) memory.appliedSeq.set(versionKey, { volume, key, seq });
  }

  private mayHavePruned(memory: ReplicaMemory, txid: TxId, nowMs: number): boolean {
    const touchedAtMs = memory.touchedAtMs.get(txid);
    return touchedAtMs !== undefined && nowMs - touchedAtMs > this.recordRetentionMs;
  }

  private forget(memory: ReplicaMemory, txid: TxId): void {
    memory.votes.delete(txid);
    memory.accepted.delete(txid);
    memory.promised.delete(txid);
    memory.touchedAtMs.delete(txid);
  }

  /**
   * The replica's disk lost records (damage found at its restart): it may have forgotten what it
   * told others, so what it said before is no longer held against it. It repairs from its peers
   * before it answers again (ADR 0009); the checks that matter to clients (one decision per
   * transaction, acknowledged commits visible, linearizable histories, convergence) still hold.
   */
  onReplicaDamaged(index: number): void {
    const memory = this.replicas[index] as ReplicaMemory;
    memory.votes.clear();
    memory.accepted.clear();
    memory.promised.clear();
    memory.touchedAtMs.clear();
    memory.appliedSeq.clear();
  }

  /** After a restart, the replica rebuilt from its disk must know everything it ever told anyone. */
  onReplicaRestart(index: number, replica: StorageReplica, nowMs: number): void {
    const memory = this.replicas[index] as ReplicaMemory;
    const replicaId = this.replicaIds[index] as string;
    const lost = (what: string): never => {
      throw new InvariantViolation(
        'votes and accepted values survive restarts',
        `${replicaId} restarted and ${what}`,
      );
    };
    for (const [txid, remembered] of memory.votes) {
      const record = replica.inspectTransaction(remembered.volume, txid);
      if (record === null) {
        if (!this.mayHavePruned(memory, txid, nowMs) && !replica.isForgotten(remembered.volume, txid))
          lost(`no longer knows its ${remembered.vote} vote on ${txid}`);
      } else if (effectiveVote(record) !== remembered.vote) {
        lost(`reports vote ${effectiveVote(record)} on ${txid}, but it voted ${remembered.vote}`);
      }
    }
    for (const [txid, remembered] of memory.accepted) {
      const record = replica.inspectTransaction(remembered.volume, txid);
      if (record === null) {
        if (!this.mayHavePruned(memory, txid, nowMs) && !replica.isForgotten(remembered.volume, txid))
          lost(`no longer knows it accepted ${txid}`);
      } else if (record.decision === null) {
        // Only the accepted value of an undecided transaction still matters to recovery.
        const accepted = record.accepted;
        if (
          accepted === null ||
          accepted.ballot !== remembered.ballot ||
          accepted.decision !== remembered.decision
        ) {
          lost(
            `reports ${txid} accepted ${describeAccepted(accepted)}, but it accepted ${describeAccepted(remembered)}`,
          );
        }
      }
    }
    for (const [txid, remembered] of memory.promised) {
      const record = replica.inspectTransaction(remembered.volume, txid);
      if (record === null) {
        if (!this.mayHavePruned(memory, txid, nowMs) && !replica.isForgotten(remembered.volume, txid))
          lost(`no longer knows its promise on ${txid}`);
      } else if (record.promisedBallot < remembered.ballot) {
        lost(`reports promise ${record.promisedBallot} on ${txid}, but it promised ${remembered.ballot}`);
      }
    }
    for (const { volume, key, seq } of memory.appliedSeq.values()) {
      const state = replica.inspectKey(volume, key);
      if ((state?.seq ?? 0) < seq)
        lost(`has ${volume}/${key} at seq ${state?.seq ?? 0}, but it had applied seq ${seq}`);
    }
  }

  // ---- (4) an acknowledged commit is visible to every later read ---------------------------

  onCommitAcknowledged(volume: string, proposal: Proposal, nowMs: number): void {
    this.recordCommit(volume, proposal, `acknowledged to the client at ${formatMs(nowMs)}`);
    for (const write of proposal.writes) {
      const seq = (proposal.reads.find((read) => read.key === write.key)?.seq ?? 0) + 1;
      const versionKey = `${volume}/${write.key}`;
      const known = this.acknowledged.get(versionKey);
      if (known === undefined || seq > known.seq) {
        this.acknowledged.set(versionKey, { seq, txid: proposal.txid, atMs: nowMs });
      }
    }
  }

  /** What a read invoked now must see at least: the newest commit acknowledged so far. */
  readFloor(volume: string, key: string): number {
    return this.acknowledged.get(`${volume}/${key}`)?.seq ?? 0;
  }

  checkRead(volume: string, key: string, version: Version, floor: number, reader: string): void {
    if (version.seq < floor) {
      const acknowledged = this.acknowledged.get(`${volume}/${key}`);
      throw new InvariantViolation(
        'acknowledged commits are visible',
        `${reader} read ${volume}/${key} at seq ${version.seq}, but seq ${floor} had been acknowledged before the read began (${acknowledged?.txid ?? '?'} at ${formatMs(acknowledged?.atMs ?? 0)})`,
      );
    }
    if (version.seq === 0) return;
    const committedBy = this.versions.get(`${volume}/${key}`)?.get(version.seq);
    if (committedBy !== version.txid) {
      throw new InvariantViolation(
        'one committed version per key and seq',
        `${reader} read ${volume}/${key} at seq ${version.seq} written by ${version.txid}, but that seq was committed by ${committedBy ?? 'nobody'}`,
      );
    }
  }
}

/**
 * A replica that never voted but has promised or accepted a ballot, or learned the decision,
 * refuses every later PROPOSE and reports NO in its promises: that is a NO vote, durable through
 * the promise, accept or decide record.
 */
function effectiveVote(record: {
  vote: VoteValue | null;
  promisedBallot: number;
  decision: Decision | null;
}): VoteValue | null {
  if (record.vote !== null) return record.vote;
  return record.promisedBallot > 0 || record.decision !== null ? 'no' : null;
}

function describeAccepted(accepted: { ballot: number; decision: Decision } | null): string {
  return accepted === null ? 'nothing' : `${accepted.decision}@${accepted.ballot}`;
}

export function formatMs(ms: number): string {
  return `${ms.toFixed(1)}ms`;
}
