// The storage replica as a pure state machine (DESIGN §4). One `StorageReplica` serves the
// replicas of many volumes on one storage node.
//
// Shape (etcd raft's Ready/Advance): `step()` and `tick()` change the in-memory state and
// queue records and messages; the shell calls `takeReady()`, makes every record durable
// (one fsync for the batch) and only then sends the messages. Replaying the records with
// `applyRecord()` after a crash rebuilds the same state.

import { present } from '../../invariant/src/index.js';
import { ForgottenTxids, type FrozenForgotten } from './forgotten-txids.js';
import type {
  AcceptMessage,
  DecidedMessage,
  Decision,
  DecisionAckMessage,
  DecisionQueryMessage,
  Envelope,
  FromReplicaMessage,
  PendingInfo,
  PrepareMessage,
  Proposal,
  ProposeMessage,
  QuorumMessage,
  ReadEntry,
  ReadMessage,
  ReadmittedMessage,
  ReadResult,
  RejoinMessage,
  RepairReplyMessage,
  RepairRequestMessage,
  RepairTransaction,
  ScanMessage,
  SyncEntry,
  SyncReplyMessage,
  SyncRequestMessage,
  TxId,
  Version,
  VoteValue,
  WriteEntry,
  WrittenOffMessage,
} from './messages.js';
import {
  ballotRound,
  blindGuardAllows,
  decidedMessage,
  EVERY_VOLUME,
  keyHash,
  recoveryBallot,
} from './messages.js';
import { QUORUM, REPLICA_COUNT } from './quorum-table.js';
import { RecoveryRound } from './recovery.js';
import {
  REPAIR_DECISIONS_PER_REQUEST,
  REPAIR_PAGE_KEYS,
  REPAIR_PEERS_NEEDED,
  REPAIR_RESEND_MS,
  REPAIR_RETRY_MS,
  type RepairStatus,
  ReplicaRepair,
  type VolumeRepair,
} from './repair.js';
import { ScanIndex } from './scan-index.js';
import {
  firstByte,
  ownCopy,
  type StoredValue,
  storedLength,
  storeValue,
  valueBytes,
} from './stored-value.js';

export interface ReplicaTiming {
  /** A key pending longer than this makes the replica recover the transaction itself. */
  pendingTimeoutMs: number;
  /**
   * Proposals older than this get NO: a record that would have answered them (a NO vote, a
   * forgotten decision) may be gone.
   */
  proposalMaxAgeMs: number;
  /**
   * Undecided records that hold no key and accepted nothing (NO votes, bare promises) are
   * dropped this long after they were last touched. Decided records are never dropped by age:
   * only once every replica has confirmed it knows the decision (see `decisionQuery`).
   */
  recordRetentionMs: number;
  /** A decision is confirmed with the peers once it is this old. */
  decisionConfirmAfterMs: number;
  /** How long a forgotten transaction is still recognized, so that stale messages about it are refused. */
  forgottenRetentionMs: number;
  /** How often the replica pulls a chunk of a peer's keys (repair) and asks about old pendings. */
  syncIntervalMs: number;
  /**
   * Repair backs off to this interval while rounds find nothing new, and returns to
   * `syncIntervalMs` as soon as one does or the replica sees that it lags.
   */
  syncIntervalMaxMs: number;
  /** Keys per repair chunk. */
  syncChunkKeys: number;
  /** Resend interval for an unanswered recovery round. */
  retransmitMs: number;
  /**
   * Bytes of memory (estimated: `unconfirmedBytes`) that decisions awaiting a peer's confirmation
   * may keep. Past it, the replica writes off the silent peers the oldest of them wait for (ADR
   * 0022): it forgets what only they have not confirmed, and they settle what they hold and rejoin
   * before they vote YES again. Not a timing, but a bound on what the timings above cannot bound:
   * a peer's outage.
   */
  unconfirmedBytesMax: number;
}

// Replicas wait longer than writers (commitRecoveryAfterMs 2 s) before recovering a pending
// transaction: a live but busy writer should finish its own commit rather than be preempted.
export const DEFAULT_REPLICA_TIMING: ReplicaTiming = {
  pendingTimeoutMs: 3_000,
  proposalMaxAgeMs: 30_000,
  recordRetentionMs: 120_000,
  decisionConfirmAfterMs: 1_000,
  forgottenRetentionMs: 600_000,
  syncIntervalMs: 100,
  syncIntervalMaxMs: 2_000,
  syncChunkKeys: 512,
  retransmitMs: 200,
  unconfirmedBytesMax: 512 * 1024 * 1024,
};

export interface ReplicaConfig {
  /** Node ids of the protection group, in replica-index order (two per AZ). */
  members: readonly string[];
  /** This node's index in `members`. */
  selfIndex: number;
  timing?: Partial<ReplicaTiming>;
  /** Thresholds; replaced only by tests that prove the checkers catch a wrong table. */
  quorum?: typeof QUORUM;
}

/** Durable records, in the order they must be replayed. */
export type ReplicaRecord =
  | { kind: 'vote'; volume: string; txid: TxId; vote: VoteValue; proposal: Proposal | null; atMs: number }
  | { kind: 'promise'; volume: string; txid: TxId; ballot: number; atMs: number }
  | {
      kind: 'accept';
      volume: string;
      txid: TxId;
      ballot: number;
      decision: Decision;
      proposal: Proposal | null;
      atMs: number;
    }
  | {
      kind: 'decide';
      volume: string;
      txid: TxId;
      decision: Decision;
      proposal: Proposal | null;
      atMs: number;
    }
  | { kind: 'adopt'; volume: string; entries: SyncEntry[] }
  /**
   * Decided transactions every replica confirmed: replay drops them too instead of confirming again.
   * `repaired`: transactions a repair found held here but open at no healthy peer (ADR 0009): their
   * keys are released whether or not this replica knows the decision.
   */
  | { kind: 'forget'; volume: string; txids: TxId[]; atMs: number; repaired?: true }
  /**
   * The volume was deleted (its cluster was): its state is dropped and the name is remembered for
   * good, so that nothing about it is answered, logged or repaired here again (`dropVolume`).
   */
  | { kind: 'dropVolume'; volume: string; atMs: number }
  /**
   * ADR 0022: from now on this replica forgets decisions without `peer`'s confirmation, keeps the
   * txids it forgets from expiring, and tells `peer` so in answer to what it sends, until it lifts
   * the write-off (`readmit`). Its `atMs` names it. `volume` is `EVERY_VOLUME`: a write-off is of
   * a peer, not of a volume.
   */
  | { kind: 'writeOff'; volume: string; peer: string; atMs: number }
  /** The write-off of `peer` made at `since` is lifted: the peer settled what it held after hearing of it. */
  | { kind: 'readmit'; volume: string; peer: string; since: number; atMs: number };

export interface Ready {
  records: ReplicaRecord[];
  messages: Envelope[];
}

interface KeyState {
  seq: number;
  txid: TxId;
  /** The bytes as a one-byte string (stored-value.ts): a third of a Uint8Array's memory. */
  value: StoredValue;
  /** The transaction holding this key between its YES vote and its decision. */
  pendingTxid: TxId | null;
}

interface TransactionRecord {
  proposal: Proposal | null;
  vote: VoteValue | null;
  promisedBallot: number;
  accepted: { ballot: number; decision: Decision } | null;
  decision: Decision | null;
  /** Keys this record holds pending (YES vote and no decision yet). */
  holdsKeys: boolean;
  touchedAtMs: number;
}

class VolumeState {
  readonly keys = new Map<string, KeyState>();
  /**
   * Insertion order of keys: the cursor space of repair scans, and what the scan index follows.
   * Keys are never removed.
   */
  readonly keyOrder: string[] = [];
  /** The keys in hash order, for scans; built from `keyOrder` as scans come. */
  readonly scanIndex = new ScanIndex(keyHash);
  readonly transactions = new Map<TxId, TransactionRecord>();
  /** Transactions that hold keys pending: the only ones recovery has to look at. */
  readonly holding = new Set<TxId>();
  /**
   * For a transaction in `holding`: the states of the keys its YES vote holds, by read index (none
   * at a shared read it does not write). Its decision applies its writes through them instead of
   * looking each key up again in `keys`, by then a cold lookup in a large map, the replica's
   * largest single cost under pipelined writes. A key's state is never replaced while its volume
   * lives (keys are never removed; a restore and a drop replace the whole volume). Memory only;
   * without an entry (after a restore) the decision looks the keys up.
   */
  readonly heldStates = new Map<TxId, (KeyState | undefined)[]>();
  readonly recoveries = new Map<TxId, { round: RecoveryRound; startedAtMs: number; sentAtMs: number }>();
  /** Where the next recovery of a transaction starts after being outbid: above the ballot that won. */
  readonly nextRecoveryRound = new Map<TxId, number>();
  /** Decided transactions not yet confirmed by every peer: txid → bitmask of peers that confirmed. */
  readonly unconfirmed = new Map<TxId, number>();
  /** Estimated memory the decisions in `unconfirmed` keep (`unconfirmedBytes`): what ADR 0022 bounds. */
  unconfirmedBytes = 0;
  /** Transactions decided, confirmed by all six and dropped, with when (kept for `forgottenRetentionMs`). */
  readonly forgotten = new ForgottenTxids();
  /**
   * While a snapshot is being read (`beginSnapshot`): the state each key had when it began, for
   * the keys changed since. Null otherwise.
   */
  snapshotPreimages: Map<string, KeyState> | null = null;
  /** The same for transaction records changed or deleted since the snapshot began. */
  transactionPreimages: Map<TxId, TransactionRecord> | null = null;
  /** Repair cursor per peer index. */
  readonly syncCursor: number[] = new Array(REPLICA_COUNT).fill(0);
  /**
   * Per writer, the decisions it sent that this replica holds and has not yet told it about: they
   * ride on the next vote to that writer (ADR 0021). Memory only, and only a shortcut: what never
   * leaves is confirmed between the replicas as before. Bounded by `DECISIONS_HELD_MAX` per writer
   * and `WRITERS_TOLD_MAX` writers.
   */
  private readonly decisionsHeld = new Map<string, TxId[]>();
  constructor(readonly name: string) {}

  noteDecisionHeld(writer: string, txid: TxId): void {
    let held = this.decisionsHeld.get(writer);
    if (held === undefined) {
      // Writers that stopped voting leave their lists behind: start over past the bound.
      if (this.decisionsHeld.size >= WRITERS_TOLD_MAX) this.decisionsHeld.clear();
      held = [];
      this.decisionsHeld.set(writer, held);
    }
    if (held.length < DECISIONS_HELD_MAX) held.push(txid);
  }

  takeDecisionsHeld(writer: string): TxId[] | null {
    const held = this.decisionsHeld.get(writer);
    if (held === undefined) return null;
    this.decisionsHeld.delete(writer);
    return held;
  }
}

/** Decisions held for one writer's next vote at most (ADR 0021); the rest are confirmed between replicas. */
const DECISIONS_HELD_MAX = 1_024;
/** Writers with decisions waiting for their next vote, per volume, at most. */
const WRITERS_TOLD_MAX = 64;

/** Key and value bytes in one repair reply at most (beyond its first entry). */
const SYNC_REPLY_BYTES_MAX = 4 * 1024 * 1024;

/** A scan page holds at most this many keys (plus the rest of the last hash's keys). */
const SCAN_KEYS_MAX = 10_000;

/** What the replica's indexes promise: every key in `keyOrder` has a state, every holding txid a record. */
const KEY_IN_ORDER = 'the state of a key listed in the key order';
const HOLDING_RECORD = 'the record of a transaction holding keys';
/** A record deleted while a snapshot is read keeps a preimage: the snapshot's txids all have one or the other. */
const TRANSACTION_IN_SNAPSHOT = 'the record of a transaction in the snapshot being read';

/** Volume names in one repair reply at most. */
const REPAIR_VOLUMES_MAX = 100_000;

/** Transaction records in one repair reply at most; a peer with more is asked again later. */
const REPAIR_TRANSACTIONS_MAX = 10_000;

/** Decision queries name at most this many transactions per peer per round. */
const DECISION_QUERY_TXIDS_MAX = 2_048;

/** A key's state in a snapshot: the value as bytes, as on the wire and in the log. */
export interface SnapshotKeyState {
  seq: number;
  txid: TxId;
  value: Uint8Array | null;
  pendingTxid: TxId | null;
}

/** A snapshot of the replica state; opaque to the shell, which stores it encoded. */
export interface ReplicaSnapshot {
  volumes: {
    name: string;
    keys: [string, SnapshotKeyState][];
    transactions: [TxId, TransactionRecord][];
    unconfirmed: [TxId, number][];
    forgotten: [TxId, number][];
  }[];
  /** Dropped volumes: name → when. Absent in snapshots written before volumes could be dropped. */
  droppedVolumes?: [string, number][];
  /** Peers written off (ADR 0022): node id → when. Absent in snapshots written before write-offs. */
  writtenOff?: [string, number][];
  /** When the last write-off was lifted (ADR 0022); absent or null: never. */
  writeOffsEndedAtMs?: number | null;
}

/**
 * A snapshot's pieces, handed to the replica as its document holds them (`StorageReplica.beginRestore`):
 * each volume's name, then its entries in pages of any size; the fields of the whole in any order
 * around them; then `finish`.
 */
export interface ReplicaRestorer {
  volume(name: string): void;
  keys(entries: Iterable<[string, SnapshotKeyState]>): void;
  transactions(entries: Iterable<[TxId, TransactionRecord]>): void;
  unconfirmed(entries: Iterable<[TxId, number]>): void;
  forgotten(entries: Iterable<[TxId, number]>): void;
  droppedVolumes(entries: Iterable<[string, number]>): void;
  writtenOff(entries: Iterable<[string, number]>): void;
  writeOffsEndedAtMs(atMs: number | null): void;
  finish(): void;
}

/** A volume's part of a snapshot being read, apart from its keys and transaction records. */
export interface SnapshotVolumeHead {
  name: string;
  /** The snapshot's keys: the first `keyCount` of the volume's key order. */
  keyCount: number;
  /** Transaction records in the snapshot (read with `transactions`). */
  transactionCount: number;
  /** Unconfirmed decisions, copied as two arrays: txids, and the peers that confirmed each. */
  unconfirmedTxids: TxId[];
  unconfirmedConfirmedBy: number[];
  forgotten: FrozenForgotten;
}

/** A snapshot of a replica's state as of `beginSnapshot`, read while the replica goes on changing. */
export class ReplicaSnapshotReader {
  readonly volumes: readonly SnapshotVolumeHead[];
  /** Per volume, the txids of its transaction records when the snapshot began. */
  private readonly transactionTxids: readonly TxId[][];
  private closed = false;

  /** @internal `StorageReplica.beginSnapshot` makes readers. */
  constructor(
    private readonly states: readonly VolumeState[],
    readonly droppedVolumes: [string, number][],
    readonly writtenOff: [string, number][],
    readonly writeOffsEndedAtMs: number | null,
    private readonly onClose: () => void,
  ) {
    // Txids and numbers only: no object per entry, however many records a long outage left.
    this.transactionTxids = states.map((volume) => [...volume.transactions.keys()]);
    this.volumes = states.map((volume, index) => ({
      name: volume.name,
      keyCount: volume.keyOrder.length,
      transactionCount: (this.transactionTxids[index] as TxId[]).length,
      unconfirmedTxids: [...volume.unconfirmed.keys()],
      unconfirmedConfirmedBy: [...volume.unconfirmed.values()],
      forgotten: volume.forgotten.frozen(),
    }));
  }

  /** Transaction records `from`..`from + count - 1` of volume `volumeIndex`, as they were. */
  transactions(volumeIndex: number, from: number, count: number): [TxId, TransactionRecord][] {
    const volume = present(this.states[volumeIndex], 'a volume of the snapshot');
    const txids = present(this.transactionTxids[volumeIndex], 'a volume of the snapshot');
    const preimages = volume.transactionPreimages;
    return this.page(from, count, txids.length, (index) => {
      const txid = txids[index] as TxId;
      const record = preimages?.get(txid) ?? present(volume.transactions.get(txid), TRANSACTION_IN_SNAPSHOT);
      return [txid, { ...record }];
    });
  }

  /** Unconfirmed decisions `from`..`from + count - 1` of volume `volumeIndex`. */
  unconfirmed(volumeIndex: number, from: number, count: number): [TxId, number][] {
    const head = present(this.volumes[volumeIndex], 'a volume of the snapshot');
    return this.page(from, count, head.unconfirmedTxids.length, (index) => [
      head.unconfirmedTxids[index] as TxId,
      head.unconfirmedConfirmedBy[index] as number,
    ]);
  }

  /** Keys `from`..`from + count - 1` of volume `volumeIndex` (clamped to its `keyCount`), as they were. */
  keys(volumeIndex: number, from: number, count: number): [string, SnapshotKeyState][] {
    const volume = present(this.states[volumeIndex], 'a volume of the snapshot');
    const head = present(this.volumes[volumeIndex], 'a volume of the snapshot');
    const preimages = volume.snapshotPreimages;
    return this.page(from, count, head.keyCount, (index) => {
      const key = volume.keyOrder[index] as string;
      const state = preimages?.get(key) ?? present(volume.keys.get(key), KEY_IN_ORDER);
      return [
        key,
        { seq: state.seq, txid: state.txid, value: valueBytes(state.value), pendingTxid: state.pendingTxid },
      ];
    });
  }

  /** Entries `from`..`from + count - 1` (clamped to `length`), each made by `entry(index)`. */
  private page<T>(from: number, count: number, length: number, entry: (index: number) => T): T[] {
    if (this.closed) throw new Error('this snapshot reader is closed');
    const end = Math.min(length, from + count);
    const entries: T[] = [];
    for (let index = Math.max(0, from); index < end; index++) entries.push(entry(index));
    return entries;
  }

  /** Ends the reading: the replica keeps no more preimages. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }
}

/** What `dropVolume` found: whether this replica held state for the volume, and how many keys. */
export interface DroppedVolume {
  existed: boolean;
  /** Keys that held a value (deleted keys' versions left out). */
  keys: number;
}

export class StorageReplica {
  readonly members: readonly string[];
  readonly selfIndex: number;
  readonly timing: ReplicaTiming;
  private readonly quorum: typeof QUORUM;
  private readonly volumes = new Map<string, VolumeState>();
  /**
   * Dropped volumes (name → when), kept for good: volume names are never reused (the control
   * plane names a volume after its cluster), and a replica that forgot a drop would rebuild the
   * volume from any peer that still holds it. A name costs tens of bytes.
   */
  private readonly droppedVolumes = new Map<string, number>();
  /** Messages about dropped volumes, ignored: a later writer or a peer that has not dropped yet. */
  private droppedVolumeMessages = 0;
  private ready: Ready = { records: [], messages: [] };
  private lastSyncAtMs = Number.NEGATIVE_INFINITY;
  private syncEveryMs: number;
  private emptySyncReplies = 0;
  private lastConfirmAtMs = Number.NEGATIVE_INFINITY;
  private lastPruneAtMs = 0;
  private lastScanAtMs = Number.NEGATIVE_INFINITY;
  private syncPeerRotation = 0;
  /** Set while this replica rebuilds state it may have lost (`beginRepair`); null when whole. */
  private repair: ReplicaRepair | null = null;
  private lastRepair: { reason: string; startedAtMs: number; completedAtMs: number } | null = null;
  private repairCompletionUnseen = false;
  private openSnapshot: ReplicaSnapshotReader | null = null;
  /**
   * Peers this replica wrote off (ADR 0022), by index: when (the write-off's name). Durable
   * (`writeOff` / `readmit` records), since what the replica forgot because of it is.
   */
  private readonly writtenOff = new Map<number, number>();
  /** When each written-off peer was last told so: at most one notice per `syncIntervalMs`. */
  private readonly writtenOffToldAtMs = new Map<number, number>();
  /**
   * Peers that wrote this replica off (ADR 0022), by index, with the write-off's name and when this
   * replica last asked to rejoin. While any is here, the replica votes NO and settles the keys it
   * holds through its peers; then it asks to rejoin. In memory only: a
   * replica restarted hears of a write-off again in answer to its first message to that peer.
   */
  private readonly writtenOffBy = new Map<number, { since: number; askedAtMs: number }>();
  /** While written off: per held transaction, the peers that neither hold it nor know it decided. */
  private readonly notHeldWhileWrittenOff = new Map<TxId, Set<number>>();
  private lastHoldsAskedAtMs = Number.NEGATIVE_INFINITY;
  /**
   * When the last write-off was lifted with none left (durable through `readmit` records and
   * snapshots). Forgotten txids do not expire while a peer is written off, nor for
   * `forgottenRetentionMs` after: the peer may hold such a transaction open, and a recovery of it
   * (its own, or a reader's that saw the key pending there) must meet refusals, not empty records.
   */
  private writeOffsEndedAtMs = Number.NEGATIVE_INFINITY;
  private readonly writeOffStats = { writtenOff: 0, readmitted: 0, noticesSent: 0 };
  /**
   * When each peer last sent a message only peers send (sync, decision questions and answers,
   * repair): a peer that answers is not absent. Set to the first tick's time for every peer, so
   * that a replica just started hears from them before it judges any absent.
   */
  private readonly lastHeardAtMs: number[] = new Array(REPLICA_COUNT).fill(Number.NaN);
  /** `writtenOff`'s peers as a bitmask by index, kept with it: read for every confirmation. */
  private writtenOffBits = 0;

  constructor(config: ReplicaConfig) {
    if (config.members.length !== REPLICA_COUNT) {
      throw new RangeError(`a protection group has ${REPLICA_COUNT} members, got ${config.members.length}`);
    }
    this.members = config.members;
    this.selfIndex = config.selfIndex;
    this.timing = { ...DEFAULT_REPLICA_TIMING, ...config.timing };
    this.quorum = config.quorum ?? QUORUM;
    this.syncEveryMs = this.timing.syncIntervalMs;
  }

  get selfId(): string {
    return this.members[this.selfIndex] as string;
  }

  /** Records to make durable, then messages to send, since the last call. */
  takeReady(): Ready {
    const ready = this.ready;
    this.ready = { records: [], messages: [] };
    return ready;
  }

  step(from: string, message: QuorumMessage, nowMs: number): void {
    if (BETWEEN_REPLICAS.has(message.type)) this.noteHeard(from, nowMs);
    if (message.type === 'repairRequest') {
      // Answered for dropped volumes too: a repairing peer learns the drop it may have lost.
      // Answered to a written-off peer too: that is how it settles the keys it holds.
      this.onRepairRequest(from, message);
      return;
    }
    if (this.writtenOff.size > 0 || message.type === 'writtenOff' || message.type === 'readmitted') {
      if (this.stepWriteOff(from, message, nowMs)) return;
    }
    if (this.repair !== null && ANSWERED_ONLY_WHEN_WHOLE.has(message.type)) {
      // A replica that may have lost records it acknowledged takes no part in quorums: it is
      // silent, as a crashed replica is, until its repair is complete (ADR 0009).
      this.repair.messagesNotAnswered++;
      return;
    }
    if (this.droppedVolumes.has(message.volume)) {
      // Silent, as a crashed replica would be for this volume: an answer from the empty state
      // (absent keys, fresh votes, promises without memory) could contradict what this replica
      // said before the drop, and a repair reply would bring the volume back.
      this.droppedVolumeMessages++;
      return;
    }
    switch (message.type) {
      case 'propose':
        this.onPropose(from, message, nowMs);
        return;
      case 'accept':
        this.onAccept(from, message, nowMs);
        return;
      case 'prepare':
        this.onPrepare(from, message, nowMs);
        return;
      case 'decided':
        this.onDecided(message, nowMs, from);
        return;
      case 'read':
        this.onRead(from, message);
        return;
      case 'scan':
        this.onScan(from, message);
        return;
      case 'syncRequest':
        this.onSyncRequest(from, message);
        return;
      case 'syncReply':
        this.onSyncReply(from, message, nowMs);
        return;
      case 'decisionQuery':
        this.onDecisionQuery(from, message, nowMs);
        return;
      case 'decisionAck':
        this.onDecisionAck(from, message, nowMs);
        return;
      case 'repairReply':
        this.onRepairReply(from, message, nowMs);
        return;
      case 'promise':
      case 'accepted':
        this.onRecoveryReply(from, message, nowMs);
        return;
      case 'rejoin':
        this.onRejoin(from, message, nowMs);
        return;
      case 'writtenOff':
      case 'readmitted':
        return; // handled above
      case 'vote':
      case 'readReply':
      case 'scanReply':
      case 'applied':
      case 'noticeMark':
        return; // replies to writers; a replica never asked for them
    }
  }

  /**
   * When `tick` next has periodic work: the earliest of its scan, sync request and decision
   * confirmation. A shell may sleep until then (messages are handled as they come, not at ticks).
   */
  nextTickAtMs(): number {
    return Math.min(
      this.lastScanAtMs + this.timing.retransmitMs,
      this.lastSyncAtMs + this.syncEveryMs,
      this.lastConfirmAtMs + this.timing.syncIntervalMs,
    );
  }

  /** Time passes: recover old pending transactions, resend recovery messages, pull repairs, prune. */
  tick(nowMs: number): void {
    // These scans walk every pending transaction, so they run every `retransmitMs`, not every tick.
    if (nowMs - this.lastScanAtMs >= this.timing.retransmitMs) {
      this.lastScanAtMs = nowMs;
      const pruneDue = nowMs - this.lastPruneAtMs >= this.timing.recordRetentionMs / 8;
      if (pruneDue) this.lastPruneAtMs = nowMs;
      for (const volume of this.volumes.values()) {
        // A repairing replica coordinates no recovery: a ballot it used before losing its records
        // could be used again.
        if (this.repair === null) {
          this.recoverStuckTransactions(volume, nowMs);
          this.resendRecoveries(volume, nowMs);
        }
        if (pruneDue) this.pruneRecords(volume, nowMs);
      }
      if (this.repair !== null) this.driveRepair(this.repair, nowMs);
    }
    if (nowMs - this.lastSyncAtMs >= this.syncEveryMs) {
      this.lastSyncAtMs = nowMs;
      this.requestSync(nowMs);
    }
    if (nowMs - this.lastConfirmAtMs >= this.timing.syncIntervalMs) {
      this.lastConfirmAtMs = nowMs;
      this.writeOffAbsentPeers(nowMs);
      for (const volume of this.volumes.values()) this.requestDecisionConfirmations(volume, nowMs);
      this.settleAndRejoin(nowMs);
    }
  }

  // ---- durable records -------------------------------------------------------------------

  /**
   * Deletes a volume on this replica: its keys, versions, transaction records, recoveries and
   * repair cursors go, and a `dropVolume` record (to be made durable before anyone is told) keeps
   * the name, so that replay drops it again and later messages about it are ignored. Idempotent:
   * dropping a dropped volume changes nothing and logs nothing. A volume this replica never held
   * is dropped too, so that repair cannot bring it here from a peer that still holds it.
   */
  dropVolume(name: string, nowMs: number): DroppedVolume {
    if (this.droppedVolumes.has(name)) return { existed: false, keys: 0 };
    const volume = this.volumes.get(name);
    let keys = 0;
    if (volume !== undefined) for (const state of volume.keys.values()) if (state.value !== null) keys++;
    this.persist({ kind: 'dropVolume', volume: name, atMs: nowMs });
    return { existed: volume !== undefined, keys };
  }

  isDropped(volumeName: string): boolean {
    return this.droppedVolumes.has(volumeName);
  }

  /** Applies one record to the state; used at run time and for replay after a restart. */
  applyRecord(record: ReplicaRecord): void {
    if (record.kind === 'writeOff' || record.kind === 'readmit') {
      const peer = this.members.indexOf(record.peer);
      if (peer < 0 || peer === this.selfIndex) return;
      if (record.kind === 'writeOff') this.writtenOff.set(peer, record.atMs);
      else if (this.writtenOff.get(peer) === record.since) {
        this.writtenOff.delete(peer);
        if (this.writtenOff.size === 0)
          this.writeOffsEndedAtMs = Math.max(this.writeOffsEndedAtMs, record.atMs);
      }
      this.writtenOffBits = bitsOf(this.writtenOff.keys());
      return;
    }
    if (record.kind === 'dropVolume') {
      this.volumes.delete(record.volume);
      if (!this.droppedVolumes.has(record.volume)) this.droppedVolumes.set(record.volume, record.atMs);
      return;
    }
    // Nothing is logged about a volume after its drop; should a record appear anyway, the drop wins.
    if (this.droppedVolumes.has(record.volume)) return;
    const volume = this.volume(record.volume);
    switch (record.kind) {
      case 'vote': {
        const transaction = this.transaction(volume, record.txid, record.atMs);
        transaction.vote = record.vote;
        if (record.proposal !== null) transaction.proposal = record.proposal;
        if (record.vote === 'yes' && transaction.decision === null && record.proposal !== null) {
          // A YES vote holds every key it read but a shared read it does not write, in read order;
          // each state is kept at its read's index.
          const { reads, writes } = record.proposal;
          const states = new Array<KeyState | undefined>(reads.length);
          // A data node's commits have one shared read (the volume's generation), checked against
          // the writes directly; a set of the written keys is built only for a second one.
          let written: Set<string> | null = null;
          let sharedReads = 0;
          for (let index = 0; index < reads.length; index++) {
            const read = reads[index] as ReadEntry;
            if (read.shared === true) {
              sharedReads++;
              if (sharedReads === 2) written = new Set(writes.map((write) => write.key));
              const isWritten =
                written === null ? writes.some((write) => write.key === read.key) : written.has(read.key);
              if (!isWritten) continue;
            }
            const state = this.keyState(volume, read.key);
            state.pendingTxid = record.txid;
            states[index] = state;
          }
          volume.heldStates.set(record.txid, states);
          transaction.holdsKeys = true;
          volume.holding.add(record.txid);
        }
        return;
      }
      case 'promise': {
        const transaction = this.transaction(volume, record.txid, record.atMs);
        transaction.promisedBallot = Math.max(transaction.promisedBallot, record.ballot);
        if (transaction.vote === null) transaction.vote = 'no';
        return;
      }
      case 'accept': {
        const transaction = this.transaction(volume, record.txid, record.atMs);
        transaction.promisedBallot = Math.max(transaction.promisedBallot, record.ballot);
        transaction.accepted = { ballot: record.ballot, decision: record.decision };
        if (record.proposal !== null && transaction.proposal === null) transaction.proposal = record.proposal;
        return;
      }
      case 'decide':
        this.applyDecision(volume, record.txid, record.decision, record.proposal, record.atMs);
        return;
      case 'adopt':
        for (const entry of record.entries) this.adoptVersion(volume, entry);
        return;
      case 'forget':
        for (const txid of record.txids) {
          const transaction = volume.transactions.get(txid);
          if (record.repaired === true) {
            // Given up undecided here: no recovery of it may go on either (one begun before a
            // write-off was heard of could otherwise decide it from peers that forgot it).
            volume.recoveries.delete(txid);
            volume.nextRecoveryRound.delete(txid);
            if (transaction !== undefined) this.releaseKeys(volume, txid, transaction);
          } else if (transaction?.decision == null) continue;
          if (volume.unconfirmed.delete(txid) && transaction !== undefined)
            volume.unconfirmedBytes = Math.max(0, volume.unconfirmedBytes - unconfirmedBytes(transaction));
          if (transaction !== undefined) keepTransactionPreimage(volume, txid, transaction);
          volume.transactions.delete(txid);
          volume.forgotten.add(txid, record.atMs);
        }
        return;
    }
  }

  private persist(record: ReplicaRecord): void {
    this.applyRecord(record);
    this.ready.records.push(record);
  }

  private send(to: string, message: QuorumMessage): void {
    this.ready.messages.push({ to, message });
  }

  // ---- round 1: validate ----------------------------------------------------------------

  private onPropose(from: string, message: ProposeMessage, nowMs: number): void {
    const { proposal } = message;
    const volume = this.volume(message.volume);
    if (message.heldByAll !== undefined) this.forgetHeldByAll(volume, message.heldByAll, nowMs);
    if (volume.forgotten.has(proposal.txid)) {
      // Decided and known to all six: a NO changes nothing, and nothing needs recording.
      this.sendVote(from, volume, proposal.txid, 'no', 'decided');
      return;
    }
    const existing = volume.transactions.get(proposal.txid);
    if (existing?.vote != null) {
      // Votes are irrevocable: a repeated PROPOSE gets the same answer.
      this.sendVote(from, volume, proposal.txid, existing.vote, 'repeated');
      return;
    }
    const reason = this.refusalReason(volume, proposal, existing, nowMs);
    const vote: VoteValue = reason === null ? 'yes' : 'no';
    this.persist({
      kind: 'vote',
      volume: message.volume,
      txid: proposal.txid,
      vote,
      proposal: vote === 'yes' ? proposal : null,
      atMs: nowMs,
    });
    this.sendVote(from, volume, proposal.txid, vote, reason ?? undefined);
  }

  private refusalReason(
    volume: VolumeState,
    proposal: Proposal,
    existing: TransactionRecord | undefined,
    nowMs: number,
  ): string | null {
    if (existing !== undefined && existing.promisedBallot > 0) return 'recovering';
    // A written-off replica takes no new keys: peers that wrote it off would forget the decision
    // without its confirmation, and it is settling the keys it holds before it rejoins (ADR 0022).
    if (this.writtenOffBy.size > 0) return 'rejoining';
    if (existing?.decision != null) return 'decided';
    if (nowMs - proposal.proposedAtMs > this.timing.proposalMaxAgeMs) return 'expired';
    if (!isWellFormed(proposal)) return 'invalid';
    for (const read of proposal.reads) {
      const state = volume.keys.get(read.key);
      if (state === undefined) {
        // A blind write's seq was chosen, not read: it says nothing about this replica lagging.
        if (read.seq > 0 && read.blind === undefined) this.syncFaster();
        continue;
      }
      if (state.pendingTxid !== null && state.pendingTxid !== proposal.txid) return 'pending';
      // Older is fine: this replica lags and will catch up; newer means the read was stale.
      if (state.seq > read.seq) return 'stale';
      if (read.blind !== undefined) {
        // The version this replica holds is the one the write replaces whenever the write can
        // commit (ADR 0016): the guard is checked against it.
        if (state.value !== null && !blindGuardAllows(read.blind, firstByte(state.value))) return 'guard';
        continue;
      }
      if (state.seq < read.seq) this.syncFaster();
    }
    return null;
  }

  private sendVote(to: string, volume: VolumeState, txid: TxId, vote: VoteValue, reason?: string): void {
    const held = volume.takeDecisionsHeld(to);
    this.send(to, {
      type: 'vote',
      volume: volume.name,
      txid,
      vote,
      ...(reason !== undefined ? { reason } : {}),
      ...(held !== null ? { held } : {}),
    });
  }

  // ---- round 2: accept, and recovery's prepare ---------------------------------------------

  private onAccept(from: string, message: AcceptMessage, nowMs: number): void {
    const volume = this.volume(message.volume);
    if (volume.forgotten.has(message.txid)) {
      // A stale coordinator: refuse, so that it can never choose anew for a decided transaction.
      this.send(from, { ...acceptedHeader(message), ok: false, promisedBallot: message.ballot });
      return;
    }
    const transaction = volume.transactions.get(message.txid);
    const promised = transaction?.promisedBallot ?? 0;
    const knownProposal = message.proposal ?? transaction?.proposal ?? null;
    if (message.ballot < promised || (message.decision === 'commit' && knownProposal === null)) {
      this.send(from, { ...acceptedHeader(message), ok: false, promisedBallot: promised });
      return;
    }
    const alreadyAccepted =
      transaction?.accepted?.ballot === message.ballot && transaction.accepted.decision === message.decision;
    if (transaction?.decision == null && !alreadyAccepted) {
      this.persist({
        kind: 'accept',
        volume: message.volume,
        txid: message.txid,
        ballot: message.ballot,
        decision: message.decision,
        // The vote record already holds the proposal when this replica voted YES: log it once.
        proposal: transaction?.proposal == null ? message.proposal : null,
        atMs: nowMs,
      });
    }
    this.send(from, { ...acceptedHeader(message), ok: true, promisedBallot: message.ballot });
  }

  private onPrepare(from: string, message: PrepareMessage, nowMs: number): void {
    const volume = this.volume(message.volume);
    if (volume.forgotten.has(message.txid)) {
      // Without its record this replica would promise a fresh NO: refuse instead.
      this.sendPromise(from, message, null, false);
      return;
    }
    const existing = volume.transactions.get(message.txid);
    const known = existing ?? null;
    if (known?.decision != null) {
      this.sendPromise(from, message, known, true);
      return;
    }
    const promised = known?.promisedBallot ?? 0;
    if (message.ballot < promised) {
      this.sendPromise(from, message, known, false);
      return;
    }
    if (message.ballot === promised) {
      // A resent PREPARE: the promise is already durable.
      this.sendPromise(from, message, known, true);
      return;
    }
    this.persist({
      kind: 'promise',
      volume: message.volume,
      txid: message.txid,
      ballot: message.ballot,
      atMs: nowMs,
    });
    this.sendPromise(from, message, volume.transactions.get(message.txid) ?? null, true);
  }

  private sendPromise(
    to: string,
    message: PrepareMessage,
    record: TransactionRecord | null,
    ok: boolean,
  ): void {
    this.send(to, {
      type: 'promise',
      volume: message.volume,
      txid: message.txid,
      ballot: message.ballot,
      ok,
      promisedBallot: record?.promisedBallot ?? 0,
      vote: record?.vote ?? 'no',
      accepted: record?.accepted ?? null,
      proposal: record?.proposal ?? null,
      decision: record?.decision ?? null,
    });
  }

  // ---- decisions ---------------------------------------------------------------------------

  /** `from`: the sender of a DECIDED that came as a message; absent for decisions learned from peers' replies. */
  private onDecided(message: DecidedMessage, nowMs: number, from?: string): void {
    const volume = this.volume(message.volume);
    const transaction = volume.transactions.get(message.txid);
    if (!volume.forgotten.has(message.txid) && transaction?.decision == null) {
      const proposal = message.proposal ?? transaction?.proposal ?? null;
      if (message.decision === 'commit' && proposal === null) return; // cannot apply; repair will bring it
      this.persist({
        kind: 'decide',
        volume: message.volume,
        txid: message.txid,
        decision: message.decision,
        proposal: message.decision === 'commit' && transaction?.proposal == null ? proposal : null,
        atMs: nowMs,
      });
    }
    // This replica holds the decision now (or held it and forgot it once all six did). A writer
    // that sent it hears so with its next vote, which leaves only once the decision is on disk
    // (ADR 0021); peers learn it through the decision questions instead.
    if (from !== undefined && !this.members.includes(from)) volume.noteDecisionHeld(from, message.txid);
  }

  /**
   * A writer's word that all six replicas hold the decisions of `txids` (ADR 0021): each replica
   * told it so in a vote, and a vote leaves only once the replica's log holds what came before it.
   * That is what five confirmations from the peers establish, so the records can go as they would.
   */
  private forgetHeldByAll(volume: VolumeState, txids: readonly TxId[], nowMs: number): void {
    const forgettable = txids.filter((txid) => volume.unconfirmed.has(txid));
    this.forgetTransactions(volume, forgettable, nowMs);
  }

  /** Applies writes at version (readSeq + 1, txid) and releases keys: only on a decision. */
  private applyDecision(
    volume: VolumeState,
    txid: TxId,
    decision: Decision,
    proposal: Proposal | null,
    atMs: number,
  ): void {
    const transaction = this.transaction(volume, txid, atMs);
    if (transaction.decision !== null) return;
    transaction.decision = decision;
    if (proposal !== null && transaction.proposal === null) transaction.proposal = proposal;
    const applied = transaction.proposal;
    // Whether applying the writes released every key the transaction holds (below).
    let releasedAll = false;
    if (decision === 'commit' && applied !== null) {
      const { reads, writes } = applied;
      const releasing = transaction.holdsKeys;
      // One copy of the txid for all the keys it writes (see ownCopy).
      const keptTxid = ownCopy(txid);
      // Looking keys up in a volume's map is a storage node's largest single cost under pipelined
      // SETs (docs/performance.md, "Fewer key lookups per decision, and a frame copied whole"), so
      // a decision looks up no key its YES vote held: it applies each write through the state the
      // vote kept (`heldStates`). A group of writes reads and writes its keys in the same order,
      // with reads it does not write in between (a data node's commits read the volume's
      // generation first): each write's read is found by walking the reads forward, with no map
      // of them. (A committed proposal is well formed, each key read once: the replicas that voted
      // YES checked it, isWellFormed.)
      const heldStates = releasing ? volume.heldStates.get(txid) : undefined;
      let readSeqs: Map<string, number> | null = null;
      let cursor = 0;
      for (const write of writes) {
        let readIndex = -1;
        if (readSeqs === null) {
          while (cursor < reads.length && (reads[cursor] as ReadEntry).key !== write.key) cursor++;
          if (cursor < reads.length) readIndex = cursor++;
        }
        let readSeq: number;
        let state: KeyState;
        const held = readIndex < 0 ? undefined : heldStates?.[readIndex];
        if (held !== undefined) {
          keepPreimage(volume, write.key, held);
          state = held;
        } else state = this.keyState(volume, write.key);
        if (readIndex >= 0) readSeq = (reads[readIndex] as ReadEntry).seq;
        else {
          // Out of the reads' order: a map of them from here on.
          readSeqs ??= new Map(reads.map((entry) => [entry.key, entry.seq]));
          readSeq = readSeqs.get(write.key) ?? 0;
        }
        adopt(state, readSeq + 1, keptTxid, write.value);
        if (releasing && state.pendingTxid === txid) state.pendingTxid = null;
      }
      // Each read met in order by its own write: every key it holds is released above.
      releasedAll = releasing && reads.length === writes.length && readSeqs === null;
    }
    if (releasedAll) {
      // Every key it read is one it wrote, released above.
      transaction.holdsKeys = false;
      volume.holding.delete(txid);
      volume.heldStates.delete(txid);
    } else this.releaseKeys(volume, txid, transaction);
    volume.recoveries.delete(txid);
    volume.unconfirmed.set(txid, 0);
    volume.unconfirmedBytes += unconfirmedBytes(transaction);
    volume.nextRecoveryRound.delete(txid);
  }

  private releaseKeys(volume: VolumeState, txid: TxId, transaction: TransactionRecord): void {
    if (!transaction.holdsKeys || transaction.proposal === null) return;
    keepTransactionPreimage(volume, txid, transaction);
    // The states its vote held, by read index (`heldStates`): no key looked up again.
    const states = volume.heldStates.get(txid);
    const { reads } = transaction.proposal;
    for (let index = 0; index < reads.length; index++) {
      const key = (reads[index] as ReadEntry).key;
      const state = states === undefined ? volume.keys.get(key) : states[index];
      if (state !== undefined && state.pendingTxid === txid) {
        keepPreimage(volume, key, state);
        state.pendingTxid = null;
      }
    }
    transaction.holdsKeys = false;
    volume.holding.delete(txid);
    volume.heldStates.delete(txid);
  }

  private adoptVersion(volume: VolumeState, entry: SyncEntry): void {
    adopt(this.keyState(volume, entry.key), entry.version.seq, entry.version.txid, entry.value);
  }

  // ---- reads -------------------------------------------------------------------------------

  private onRead(from: string, message: ReadMessage): void {
    const volume = this.volume(message.volume);
    const { prefixBytes } = message;
    const cut = (value: Uint8Array | null): Uint8Array | null =>
      value === null || prefixBytes === undefined ? value : value.subarray(0, prefixBytes);
    const results: ReadResult[] = message.keys.map((key) => {
      const state = volume.keys.get(key);
      if (state === undefined) return { key, version: { seq: 0, txid: '' }, value: null, pending: null };
      const pending = state.pendingTxid === null ? null : pendingInfo(volume, state.pendingTxid, key);
      return {
        key,
        version: { seq: state.seq, txid: state.txid },
        value: valueBytes(state.value, prefixBytes),
        pending: pending === null ? null : { ...pending, value: cut(pending.value) },
      };
    });
    this.send(from, { type: 'readReply', volume: message.volume, requestId: message.requestId, results });
  }

  /**
   * Up to `limit` keys from `fromHash` on, in hash order. Keys that only exist as deleted
   * versions are left out; keys a pending transaction may create are in (the point read that
   * follows resolves them). Keys of one hash are never split across pages.
   */
  private onScan(from: string, message: ScanMessage): void {
    const volume = this.volume(message.volume);
    const limit = Math.max(1, Math.min(message.limit, SCAN_KEYS_MAX));
    const page = volume.scanIndex.page(volume.keyOrder, message.fromHash, limit, (key) => {
      const state = volume.keys.get(key);
      return state !== undefined && (state.value !== null || state.pendingTxid !== null);
    });
    this.send(from, {
      type: 'scanReply',
      volume: message.volume,
      requestId: message.requestId,
      keys: page.keys,
      nextHash: page.nextHash,
    });
  }

  // ---- recovery run by this replica --------------------------------------------------------

  private recoverStuckTransactions(volume: VolumeState, nowMs: number): void {
    for (const txid of volume.holding) {
      const transaction = present(volume.transactions.get(txid), HOLDING_RECORD);
      if (volume.recoveries.has(txid)) continue;
      if (nowMs - transaction.touchedAtMs < this.timing.pendingTimeoutMs) continue;
      this.startRecovery(volume, txid, transaction, volume.nextRecoveryRound.get(txid) ?? 1, nowMs);
    }
  }

  private startRecovery(
    volume: VolumeState,
    txid: TxId,
    transaction: TransactionRecord,
    round: number,
    nowMs: number,
  ): void {
    // Above every ballot this replica promised, its own earlier rounds included: reusing a ballot
    // after a restart could get a second value accepted at it.
    const ballot = recoveryBallot(
      Math.max(round, ballotRound(transaction.promisedBallot) + 1),
      this.selfIndex + 1,
    );
    // Promised durably before the PREPARE leaves, so that a restarted replica sees the ballot as used.
    this.persist({ kind: 'promise', volume: volume.name, txid, ballot, atMs: nowMs });
    const recovery = new RecoveryRound(
      volume.name,
      txid,
      ballot,
      this.members,
      transaction.proposal,
      this.quorum,
    );
    volume.recoveries.set(txid, { round: recovery, startedAtMs: nowMs, sentAtMs: nowMs });
    for (const envelope of recovery.outstanding()) this.ready.messages.push(envelope);
  }

  private onRecoveryReply(from: string, message: FromReplicaMessage, nowMs: number): void {
    if (message.type !== 'promise' && message.type !== 'accepted') return;
    const volume = this.volume(message.volume);
    const entry = volume.recoveries.get(message.txid);
    const fromIndex = this.members.indexOf(from);
    if (entry === undefined || fromIndex < 0) return;
    const { round } = entry;
    if (message.type === 'promise') {
      for (const envelope of round.onPromise(fromIndex, message)) this.ready.messages.push(envelope);
    } else {
      round.onAccepted(fromIndex, message);
    }
    this.afterRecoveryProgress(volume, entry, nowMs);
  }

  private afterRecoveryProgress(
    volume: VolumeState,
    entry: { round: RecoveryRound; startedAtMs: number; sentAtMs: number },
    nowMs: number,
  ): void {
    const { round } = entry;
    if (round.phase === 'chosen' && round.decision !== null) {
      volume.recoveries.delete(round.txid);
      const decided = decidedMessage(volume.name, round.txid, round.decision, round.chosenProposal);
      for (const member of this.members) this.send(member, decided);
    } else if (round.phase === 'outbid') {
      // Someone else recovers it; back off until the pending timeout passes again, then start
      // above the winning ballot: its coordinator may have died, and a lower round never succeeds.
      volume.recoveries.delete(round.txid);
      volume.nextRecoveryRound.set(round.txid, ballotRound(round.highestSeenBallot) + 1);
      const transaction = volume.transactions.get(round.txid);
      if (transaction !== undefined) {
        keepTransactionPreimage(volume, round.txid, transaction);
        transaction.touchedAtMs = nowMs;
      }
    }
  }

  private resendRecoveries(volume: VolumeState, nowMs: number): void {
    for (const [txid, entry] of volume.recoveries) {
      if (nowMs - entry.sentAtMs < this.timing.retransmitMs) continue;
      if (nowMs - entry.startedAtMs > this.timing.pendingTimeoutMs * 4) {
        // Not enough replicas answered: start over with a higher ballot later.
        volume.recoveries.delete(txid);
        const transaction = volume.transactions.get(txid);
        if (transaction !== undefined) {
          const round =
            Math.max(ballotRound(entry.round.ballot), ballotRound(entry.round.highestSeenBallot)) + 1;
          this.startRecovery(volume, txid, transaction, round, nowMs);
        }
        continue;
      }
      entry.sentAtMs = nowMs;
      for (const envelope of entry.round.outstanding()) this.ready.messages.push(envelope);
    }
  }

  // ---- repair: pull peers' versions and decisions ------------------------------------------

  private requestSync(nowMs: number): void {
    if (this.volumes.size === 0) return;
    this.syncPeerRotation = (this.syncPeerRotation + 1) % (REPLICA_COUNT - 1);
    const peerIndex = (this.selfIndex + 1 + this.syncPeerRotation) % REPLICA_COUNT;
    for (const volume of this.volumes.values()) {
      const pendingTxids: TxId[] = [];
      for (const txid of volume.holding) {
        const transaction = present(volume.transactions.get(txid), HOLDING_RECORD);
        if (nowMs - transaction.touchedAtMs >= this.timing.pendingTimeoutMs / 2) {
          pendingTxids.push(txid);
          if (pendingTxids.length >= 64) break;
        }
      }
      this.send(this.members[peerIndex] as string, {
        type: 'syncRequest',
        volume: volume.name,
        fromIndex: volume.syncCursor[peerIndex] ?? 0,
        limit: this.timing.syncChunkKeys,
        pendingTxids,
      });
    }
  }

  private onSyncRequest(from: string, message: SyncRequestMessage): void {
    const volume = this.volume(message.volume);
    const page = keyPage(volume, message.fromIndex, message.limit);
    this.send(from, {
      type: 'syncReply',
      volume: message.volume,
      entries: page.entries,
      decisions: knownDecisions(volume, message.pendingTxids.slice(0, 64)),
      nextIndex: page.nextIndex,
    });
  }

  private onSyncReply(from: string, message: SyncReplyMessage, nowMs: number): void {
    const volume = this.volume(message.volume);
    const peerIndex = this.members.indexOf(from);
    if (peerIndex >= 0) volume.syncCursor[peerIndex] = message.nextIndex;
    const newer = message.entries.filter(
      (entry) => entry.version.seq > (volume.keys.get(entry.key)?.seq ?? 0),
    );
    if (newer.length > 0) this.persist({ kind: 'adopt', volume: message.volume, entries: newer });
    if (newer.length > 0 || message.decisions.length > 0) {
      this.syncFaster();
    } else if (++this.emptySyncReplies >= REPLICA_COUNT - 1) {
      // A whole round over the peers found nothing: ask less often.
      this.emptySyncReplies = 0;
      this.syncEveryMs = Math.min(this.syncEveryMs * 2, this.timing.syncIntervalMaxMs);
    }
    for (const known of message.decisions) {
      this.onDecided(decidedMessage(message.volume, known.txid, known.decision, known.proposal), nowMs);
    }
  }

  private syncFaster(): void {
    this.emptySyncReplies = 0;
    this.syncEveryMs = this.timing.syncIntervalMs;
  }

  // ---- repair after lost records (ADR 0009) -------------------------------------------------

  /**
   * Starts a repair: this replica may lack records it acknowledged (its log was damaged), so from
   * now on it answers no vote, accept, prepare, read or scan until it has read the whole state of
   * `REPAIR_PEERS_NEEDED` healthy peers, after a quiet period in which every message sent before
   * the damage has arrived or never will, and has seen every transaction they held open decided.
   */
  beginRepair(reason: string, nowMs: number): void {
    const quietMs = this.timing.proposalMaxAgeMs + 4 * this.timing.pendingTimeoutMs + REPAIR_RESEND_MS;
    this.repair = new ReplicaRepair(reason, nowMs, nowMs + quietMs);
    for (const name of this.volumes.keys()) this.repair.include(name);
  }

  get isRepairing(): boolean {
    return this.repair !== null;
  }

  repairStatus(): RepairStatus | null {
    return this.repair?.status() ?? null;
  }

  /** The last repair that completed, if any. */
  completedRepair(): { reason: string; startedAtMs: number; completedAtMs: number } | null {
    return this.lastRepair;
  }

  /** True once after a repair completes: the shell then records that its state is whole again. */
  takeRepairCompletion(): boolean {
    const unseen = this.repairCompletionUnseen;
    this.repairCompletionUnseen = false;
    return unseen;
  }

  private driveRepair(repair: ReplicaRepair, nowMs: number): void {
    if (nowMs < repair.quietUntilMs) return;
    // A volume that appears while repairing (a writer or peer names it) is repaired too.
    for (const name of this.volumes.keys()) repair.include(name);
    for (let peer = 0; peer < REPLICA_COUNT; peer++) {
      if (peer === this.selfIndex || repair.listedBy.size >= REPAIR_PEERS_NEEDED) continue;
      if (repair.listedBy.has(peer) || (repair.listRetryAfterMs.get(peer) ?? 0) > nowMs) continue;
      const asked = repair.listPasses.get(peer);
      if (asked !== undefined && nowMs - asked.sentAtMs < REPAIR_RESEND_MS) continue;
      const pass = repair.nextPass();
      repair.listPasses.set(peer, { pass, sentAtMs: nowMs });
      this.sendRepairRequest(peer, EVERY_VOLUME, pass, 0, 0, []);
    }
    for (const [name, volumeRepair] of repair.volumes) {
      if (this.droppedVolumes.has(name)) {
        repair.volumes.delete(name);
        continue;
      }
      const volume = this.volumes.get(name);
      for (const txid of volumeRepair.open) {
        if (volume === undefined) break;
        if (volume.transactions.get(txid)?.decision != null || volume.forgotten.has(txid)) {
          volumeRepair.open.delete(txid);
        }
      }
      if (volumeRepair.passesDone) {
        volumeRepair.passes.clear();
        if (!volumeRepair.staleReleased && volume !== undefined) {
          volumeRepair.staleReleased = true;
          this.releaseStaleHolds(volume, volumeRepair, nowMs);
        }
        this.askRepairDecisions(name, volumeRepair, nowMs);
        continue;
      }
      for (let peer = 0; peer < REPLICA_COUNT; peer++) {
        if (peer === this.selfIndex || volumeRepair.completedBy.has(peer)) continue;
        if ((volumeRepair.retryAfterMs.get(peer) ?? 0) > nowMs) continue;
        const pass = volumeRepair.passes.get(peer);
        if (pass === undefined) {
          const started = { pass: repair.nextPass(), nextIndex: 0, sentAtMs: nowMs, counts: true };
          volumeRepair.passes.set(peer, started);
          this.sendRepairRequest(peer, name, started.pass, 0, REPAIR_PAGE_KEYS, []);
        } else if (nowMs - pass.sentAtMs >= REPAIR_RESEND_MS) {
          pass.sentAtMs = nowMs;
          this.sendRepairRequest(peer, name, pass.pass, pass.nextIndex, REPAIR_PAGE_KEYS, []);
        }
      }
    }
    if (repair.complete) {
      this.repair = null;
      this.lastRepair = { reason: repair.reason, startedAtMs: repair.startedAtMs, completedAtMs: nowMs };
      this.repairCompletionUnseen = true;
    }
  }

  /**
   * Transactions this replica holds keys for (from the records it kept) that no healthy peer
   * listed as open or decided: each either committed long enough ago that every replica forgot it
   * (its writes came with the peers' keys) or can never commit (a commit has four YES voters, and
   * three healthy peers include one that would still hold it). Waiting for a decision nobody
   * remembers would hold the keys for good, so they are released.
   */
  private releaseStaleHolds(volume: VolumeState, volumeRepair: VolumeRepair, nowMs: number): void {
    const stale: TxId[] = [];
    for (const txid of volume.holding) {
      if (volumeRepair.open.has(txid) || volume.transactions.get(txid)?.decision != null) continue;
      stale.push(txid);
    }
    if (stale.length > 0) {
      this.persist({ kind: 'forget', volume: volume.name, txids: stale, atMs: nowMs, repaired: true });
    }
  }

  /** Asks every peer for the decisions of the transactions still open here. */
  private askRepairDecisions(volume: string, volumeRepair: VolumeRepair, nowMs: number): void {
    if (volumeRepair.open.size === 0 || nowMs - volumeRepair.decisionsAskedAtMs < REPAIR_RESEND_MS) return;
    volumeRepair.decisionsAskedAtMs = nowMs;
    const txids = [...volumeRepair.open].slice(0, REPAIR_DECISIONS_PER_REQUEST);
    for (let peer = 0; peer < REPLICA_COUNT; peer++) {
      if (peer !== this.selfIndex) this.sendRepairRequest(peer, volume, 0, 0, 0, txids);
    }
  }

  /**
   * A transaction open at a peer's pass that three healthy peers now neither hold nor know decided
   * can never commit (a commit keeps its four YES voters holding it until the decision, and three
   * healthy peers include one of them), so nothing waits on it any longer: its only holders gave
   * it up undecided, as a repair does with a transaction nobody else holds.
   */
  private noteNotHeld(volumeName: string, peer: number, notHeld: readonly TxId[], nowMs: number): void {
    const volumeRepair = this.repair?.volumes.get(volumeName);
    if (volumeRepair === undefined) return;
    const givenUp: TxId[] = [];
    for (const txid of notHeld) {
      if (!volumeRepair.open.has(txid)) continue;
      if (heldByNoneOfThree(volumeRepair.notHeldBy, txid, peer)) {
        volumeRepair.open.delete(txid);
        volumeRepair.notHeldBy.delete(txid);
        givenUp.push(txid);
      }
    }
    // Keys this replica still holds for it from before the damage go too, as stale holds do: a
    // recovery of its own could otherwise run at a ballot it used before and no longer remembers.
    const volume = this.volumes.get(volumeName);
    const held = givenUp.filter((txid) => volume?.holding.has(txid) === true);
    if (held.length > 0)
      this.persist({ kind: 'forget', volume: volumeName, txids: held, atMs: nowMs, repaired: true });
  }

  private sendRepairRequest(
    peer: number,
    volume: string,
    pass: number,
    fromIndex: number,
    limit: number,
    decisionsOf: TxId[],
  ): void {
    this.send(this.members[peer] as string, {
      type: 'repairRequest',
      volume,
      pass,
      fromIndex,
      limit,
      decisionsOf,
    });
  }

  private onRepairRequest(from: string, message: RepairRequestMessage): void {
    const reply: RepairReplyMessage = {
      type: 'repairReply',
      volume: message.volume,
      pass: message.pass,
      repairing: this.repair !== null,
      dropped: false,
      volumes: [],
      droppedVolumes: [],
      entries: [],
      nextIndex: 0,
      transactions: [],
      transactionsTruncated: false,
      decisions: [],
      notHeld: [],
    };
    if (message.volume === EVERY_VOLUME) {
      reply.volumes = [...this.volumes.keys()].slice(0, REPAIR_VOLUMES_MAX);
      reply.droppedVolumes = [...this.droppedVolumes.keys()].slice(0, REPAIR_VOLUMES_MAX);
    } else if (this.droppedVolumes.has(message.volume)) {
      reply.dropped = true;
    } else {
      // A volume unknown here is answered as empty, without creating it: a healthy replica that
      // never heard of it acknowledged nothing in it.
      const volume = this.volumes.get(message.volume);
      if (volume !== undefined) {
        if (message.limit > 0) {
          const page = keyPage(volume, message.fromIndex, message.limit);
          reply.entries = page.entries;
          reply.nextIndex = page.nextIndex;
          if (message.fromIndex === 0) this.listRepairTransactions(volume, reply);
        }
        const asked = message.decisionsOf.slice(0, REPAIR_DECISIONS_PER_REQUEST);
        reply.decisions = knownDecisions(volume, asked);
        reply.forgotten = asked.filter((txid) => volume.forgotten.has(txid));
        reply.notHeld = asked.filter((txid) => {
          // Forgotten means decided and known to all six, or to all but peers written off (ADR
          // 0022): not a transaction given up.
          if (volume.forgotten.has(txid)) return false;
          const record = volume.transactions.get(txid);
          return record === undefined || (record.decision === null && !record.holdsKeys);
        });
      } else {
        reply.notHeld = message.decisionsOf.slice(0, REPAIR_DECISIONS_PER_REQUEST);
      }
    }
    this.send(from, reply);
  }

  /** Decided records not yet forgotten, and records holding keys undecided. */
  private listRepairTransactions(volume: VolumeState, reply: RepairReplyMessage): void {
    const transactions: RepairTransaction[] = [];
    let bytes = 0;
    for (const [txid, record] of volume.transactions) {
      if (record.decision === null && !record.holdsKeys) continue;
      const proposal = record.decision === 'abort' ? null : record.proposal;
      bytes += txid.length + proposalBytes(proposal);
      if (transactions.length >= REPAIR_TRANSACTIONS_MAX || bytes > SYNC_REPLY_BYTES_MAX) {
        reply.transactionsTruncated = true;
        break;
      }
      transactions.push({ txid, decision: record.decision, proposal });
    }
    reply.transactions = transactions;
  }

  private onRepairReply(from: string, message: RepairReplyMessage, nowMs: number): void {
    const peer = this.members.indexOf(from);
    if (peer < 0 || peer === this.selfIndex) return;
    if (
      message.decisions.length > 0 &&
      message.volume !== EVERY_VOLUME &&
      !this.droppedVolumes.has(message.volume)
    ) {
      for (const known of message.decisions) {
        this.onDecided(decidedMessage(message.volume, known.txid, known.decision, known.proposal), nowMs);
      }
    }
    const repair = this.repair;
    if (repair === null) {
      if (message.pass === 0 && this.writtenOffBy.size > 0)
        this.settleWrittenOffHolds(message.volume, peer, message, nowMs);
      return;
    }
    if (message.pass === 0) {
      if (!message.repairing) this.noteNotHeld(message.volume, peer, message.notHeld, nowMs);
      return;
    }
    if (message.volume === EVERY_VOLUME) {
      if (repair.listPasses.get(peer)?.pass !== message.pass) return;
      repair.listPasses.delete(peer);
      if (message.repairing) {
        repair.listRetryAfterMs.set(peer, nowMs + REPAIR_RETRY_MS);
        return;
      }
      for (const name of message.droppedVolumes) {
        this.dropVolume(name, nowMs);
        repair.volumes.delete(name);
      }
      for (const name of message.volumes) if (!this.droppedVolumes.has(name)) repair.include(name);
      repair.listedBy.add(peer);
      return;
    }
    const volumeRepair = repair.volumes.get(message.volume);
    const pass = volumeRepair?.passes.get(peer);
    if (volumeRepair === undefined || pass === undefined || pass.pass !== message.pass) return;
    if (message.dropped) {
      this.dropVolume(message.volume, nowMs);
      repair.volumes.delete(message.volume);
      return;
    }
    if (message.repairing) {
      volumeRepair.passes.delete(peer);
      volumeRepair.retryAfterMs.set(peer, nowMs + REPAIR_RETRY_MS);
      return;
    }
    if (pass.nextIndex === 0) {
      if (message.transactionsTruncated) pass.counts = false;
      for (const transaction of message.transactions) {
        if (transaction.decision !== null) {
          this.onDecided(
            decidedMessage(message.volume, transaction.txid, transaction.decision, transaction.proposal),
            nowMs,
          );
        } else {
          volumeRepair.open.add(transaction.txid);
        }
      }
    }
    if (message.entries.length > 0) {
      const volume = this.volume(message.volume);
      const newer = message.entries.filter(
        (entry) => entry.version.seq > (volume.keys.get(entry.key)?.seq ?? 0),
      );
      if (newer.length > 0) this.persist({ kind: 'adopt', volume: message.volume, entries: newer });
    }
    if (message.nextIndex === 0) {
      volumeRepair.passes.delete(peer);
      if (pass.counts) volumeRepair.completedBy.add(peer);
      else volumeRepair.retryAfterMs.set(peer, nowMs + REPAIR_RETRY_MS);
      return;
    }
    pass.nextIndex = message.nextIndex;
    pass.sentAtMs = nowMs;
    this.sendRepairRequest(peer, message.volume, pass.pass, pass.nextIndex, REPAIR_PAGE_KEYS, []);
  }

  // ---- bookkeeping -------------------------------------------------------------------------

  /**
   * Drops, by age, only records that can be answered the same way without them: a NO vote or a
   * bare promise (a replica without a record promises a NO). Decided records go through
   * confirmation instead, and records with an accepted value stay until decided.
   */
  private pruneRecords(volume: VolumeState, nowMs: number): void {
    for (const [txid, transaction] of volume.transactions) {
      if (transaction.holdsKeys || transaction.decision !== null || transaction.accepted !== null) continue;
      if (transaction.vote === 'yes' || volume.recoveries.has(txid)) continue;
      if (nowMs - transaction.touchedAtMs > this.timing.recordRetentionMs) {
        keepTransactionPreimage(volume, txid, transaction);
        volume.transactions.delete(txid);
      }
    }
    const retention = this.timing.forgottenRetentionMs;
    if (this.writtenOff.size === 0 && nowMs - this.writeOffsEndedAtMs > retention)
      volume.forgotten.expire(nowMs, retention);
  }

  // ---- forgetting decided transactions once all six know the decision ----------------------

  private requestDecisionConfirmations(volume: VolumeState, nowMs: number): void {
    if (volume.unconfirmed.size === 0) return;
    const allPeers = this.peerMask();
    // Peers written off confirm nothing: their part is waived (ADR 0022), and they are not asked.
    const waived = this.writtenOffBits;
    const perPeer: TxId[][] = Array.from({ length: REPLICA_COUNT }, () => []);
    const confirmed: TxId[] = [];
    let scanned = 0;
    for (const [txid, confirmedBy] of volume.unconfirmed) {
      const record = volume.transactions.get(txid);
      // Oldest first: stop at the first decision too young to ask about.
      if (record !== undefined && nowMs - record.touchedAtMs < this.timing.decisionConfirmAfterMs) break;
      if (++scanned > DECISION_QUERY_TXIDS_MAX * 4) break;
      for (let peer = 0; peer < REPLICA_COUNT; peer++) {
        if (peer === this.selfIndex || ((confirmedBy | waived) & (1 << peer)) !== 0) continue;
        const list = perPeer[peer] as TxId[];
        if (list.length < DECISION_QUERY_TXIDS_MAX) list.push(txid);
      }
      if ((confirmedBy | waived) === allPeers) confirmed.push(txid);
    }
    this.forgetTransactions(volume, confirmed, nowMs);
    perPeer.forEach((txids, peer) => {
      if (txids.length > 0) {
        this.send(this.members[peer] as string, { type: 'decisionQuery', volume: volume.name, txids });
      }
    });
  }

  private onDecisionQuery(from: string, message: DecisionQueryMessage, nowMs: number): void {
    const volume = this.volume(message.volume);
    const peer = this.members.indexOf(from);
    // A peer asks only about decisions it holds, and durably: its messages leave only once its log
    // holds every record appended before them. So the question confirms the asker knows each
    // decision, as its answer to our own question would, and for a decision we know too we need
    // not ask it in turn: one exchange per pair of replicas instead of two.
    const asker = peer >= 0 && peer !== this.selfIndex ? 1 << peer : 0;
    const known: TxId[] = [];
    const unknown: TxId[] = [];
    const confirmed: TxId[] = [];
    for (const txid of message.txids) {
      if (volume.transactions.get(txid)?.decision != null || volume.forgotten.has(txid)) known.push(txid);
      else unknown.push(txid);
      if (asker !== 0 && this.recordConfirmation(volume, txid, asker)) confirmed.push(txid);
    }
    this.forgetTransactions(volume, confirmed, nowMs);
    this.send(from, { type: 'decisionAck', volume: message.volume, known, unknown });
  }

  private onDecisionAck(from: string, message: DecisionAckMessage, nowMs: number): void {
    const volume = this.volume(message.volume);
    const peer = this.members.indexOf(from);
    if (peer < 0 || peer === this.selfIndex) return;
    const confirmed: TxId[] = [];
    for (const txid of message.known) {
      if (this.recordConfirmation(volume, txid, 1 << peer)) confirmed.push(txid);
    }
    this.forgetTransactions(volume, confirmed, nowMs);
    for (const txid of message.unknown) {
      // The peer missed the decision: tell it, and ask again next round.
      const record = volume.transactions.get(txid);
      if (record?.decision == null) continue;
      this.send(from, decidedMessage(volume.name, txid, record.decision, record.proposal));
    }
  }

  /**
   * Records that the peer of `peerBit` holds the decision of `txid`, awaiting confirmation here:
   * whether all five peers now do.
   */
  private recordConfirmation(volume: VolumeState, txid: TxId, peerBit: number): boolean {
    const confirmedBy = volume.unconfirmed.get(txid);
    if (confirmedBy === undefined) return false;
    const now = confirmedBy | peerBit;
    volume.unconfirmed.set(txid, now);
    return (now | this.writtenOffBits) === this.peerMask();
  }

  private forgetTransactions(volume: VolumeState, txids: TxId[], nowMs: number): void {
    if (txids.length > 0) this.persist({ kind: 'forget', volume: volume.name, txids, atMs: nowMs });
  }

  private peerMask(): number {
    return ((1 << REPLICA_COUNT) - 1) & ~(1 << this.selfIndex);
  }

  // ---- peers written off, and rejoining (ADR 0022) -------------------------------------------

  /**
   * Past `unconfirmedBytesMax`, writes off the peers the oldest decision of some volume still waits
   * for, if they have been silent while asked about it. What only they have not confirmed is then
   * forgotten (the confirmations waive them), and they hear of it in answer to anything they send,
   * until they settled what they hold and rejoined.
   */
  private writeOffAbsentPeers(nowMs: number): void {
    for (let peer = 0; peer < REPLICA_COUNT; peer++) {
      if (Number.isNaN(this.lastHeardAtMs[peer])) this.lastHeardAtMs[peer] = nowMs;
    }
    if (this.repair !== null || this.writtenOffBy.size > 0) return;
    if (this.unconfirmedBytesTotal() <= this.timing.unconfirmedBytesMax) return;
    // Silent for twice the age at which decisions are asked about, while asked every sync interval.
    const silentSinceMs = nowMs - 2 * this.timing.decisionConfirmAfterMs;
    let silent = 0;
    for (let peer = 0; peer < REPLICA_COUNT; peer++) {
      if (peer !== this.selfIndex && (this.lastHeardAtMs[peer] as number) < silentSinceMs)
        silent |= 1 << peer;
    }
    // Only from the side of a write quorum: with this replica, at least three peers that answer. A
    // replica cut off with fewer commits nothing, so its decisions do not grow, and a minority
    // writing off the majority would only make the majority vote NO until it rejoined.
    if (REPLICA_COUNT - 1 - popCount(silent) < this.quorum.commitVotes - 1) return;
    let absent = 0;
    for (const volume of this.volumes.values()) {
      const oldest = volume.unconfirmed.entries().next();
      if (oldest.done === true) continue;
      const [txid, confirmedBy] = oldest.value;
      const record = volume.transactions.get(txid);
      // Asked about for a while already: a slow answer is not an outage.
      if (record !== undefined && nowMs - record.touchedAtMs < 2 * this.timing.decisionConfirmAfterMs)
        continue;
      absent |= this.peerMask() & ~confirmedBy;
    }
    absent &= silent & ~this.writtenOffBits;
    for (let peer = 0; peer < REPLICA_COUNT; peer++) {
      if ((absent & (1 << peer)) === 0) continue;
      // With more peers away than a commit can spare, nothing commits and decisions stop growing:
      // waiting for them is safe, and a written-off peer settles on the word of three.
      if (this.writtenOff.size >= REPLICA_COUNT - this.quorum.commitVotes) break;
      this.persist({
        kind: 'writeOff',
        volume: EVERY_VOLUME,
        peer: this.members[peer] as string,
        atMs: nowMs,
      });
      this.writeOffStats.writtenOff++;
    }
  }

  /**
   * Write-off messages: true when handled here. A written-off peer hears `writtenOff` in answer to
   * anything it sends (at most once per `syncIntervalMs`); what it sends is handled as any peer's.
   * What it may hold open and this replica forgot is refused by the forgotten txids, which do not
   * expire while it is written off (`writeOffsEndedAtMs`).
   */
  private stepWriteOff(from: string, message: QuorumMessage, nowMs: number): boolean {
    const peer = this.members.indexOf(from);
    if (peer < 0 || peer === this.selfIndex)
      return message.type === 'writtenOff' || message.type === 'readmitted';
    if (message.type === 'writtenOff') {
      this.onWrittenOff(peer, message);
      return true;
    }
    if (message.type === 'readmitted') {
      if (this.writtenOffBy.get(peer)?.since === message.since) this.writtenOffBy.delete(peer);
      if (this.writtenOffBy.size === 0) this.notHeldWhileWrittenOff.clear();
      return true;
    }
    if (message.type !== 'rejoin' && this.writtenOff.has(peer)) this.tellWrittenOff(peer, nowMs);
    return false;
  }

  /** The estimated memory of the decisions awaiting confirmation, over every volume. */
  private unconfirmedBytesTotal(): number {
    let bytes = 0;
    for (const volume of this.volumes.values()) bytes += volume.unconfirmedBytes;
    return bytes;
  }

  private noteHeard(from: string, nowMs: number): void {
    const peer = this.members.indexOf(from);
    if (peer >= 0) this.lastHeardAtMs[peer] = nowMs;
  }

  private tellWrittenOff(peer: number, nowMs: number): void {
    const since = this.writtenOff.get(peer);
    if (since === undefined) return;
    const toldAtMs = this.writtenOffToldAtMs.get(peer) ?? Number.NEGATIVE_INFINITY;
    if (nowMs - toldAtMs < this.timing.syncIntervalMs) return;
    this.writtenOffToldAtMs.set(peer, nowMs);
    this.writeOffStats.noticesSent++;
    const notice: WrittenOffMessage = { type: 'writtenOff', volume: EVERY_VOLUME, since };
    this.send(this.members[peer] as string, notice);
  }

  /** A peer wrote this replica off: from now on it votes NO until taken back. */
  private onWrittenOff(peer: number, message: WrittenOffMessage): void {
    if (this.writtenOffBy.get(peer)?.since === message.since) return;
    this.writtenOffBy.set(peer, { since: message.since, askedAtMs: Number.NEGATIVE_INFINITY });
  }

  /**
   * While written off: settles every transaction it holds keys for through its peers (their
   * decisions, or that it is forgotten or held nowhere), then asks to rejoin, again until taken back.
   */
  private settleAndRejoin(nowMs: number): void {
    if (this.writtenOffBy.size === 0 || this.repair !== null) return;
    let holds = 0;
    for (const volume of this.volumes.values()) holds += volume.holding.size;
    if (holds > 0) {
      if (nowMs - this.lastHoldsAskedAtMs < REPAIR_RESEND_MS) return;
      this.lastHoldsAskedAtMs = nowMs;
      for (const volume of this.volumes.values()) {
        if (volume.holding.size === 0) continue;
        const txids = [...volume.holding].slice(0, REPAIR_DECISIONS_PER_REQUEST);
        for (let peer = 0; peer < REPLICA_COUNT; peer++) {
          if (peer !== this.selfIndex) this.sendRepairRequest(peer, volume.name, 0, 0, 0, txids);
        }
      }
      return;
    }
    for (const [peer, writeOff] of this.writtenOffBy) {
      if (nowMs - writeOff.askedAtMs < REPAIR_RESEND_MS) continue;
      writeOff.askedAtMs = nowMs;
      const rejoin: RejoinMessage = { type: 'rejoin', volume: EVERY_VOLUME, since: writeOff.since };
      this.send(this.members[peer] as string, rejoin);
    }
  }

  /**
   * A peer's answer about the transactions a written-off replica holds: one the peer forgot was
   * decided and known to every replica it had not written off; one that three peers (not repairing)
   * neither hold nor know decided can never commit (a commit keeps four YES voters holding it). The
   * keys go either way, with no decision taken here: a commit's writes come with the peers' keys.
   */
  private settleWrittenOffHolds(
    volumeName: string,
    peer: number,
    reply: RepairReplyMessage,
    nowMs: number,
  ): void {
    const volume = this.volumes.get(volumeName);
    if (volume === undefined || reply.repairing) return;
    const settled = new Set<TxId>();
    for (const txid of reply.forgotten ?? []) if (volume.holding.has(txid)) settled.add(txid);
    // Held nowhere counts only once no YES vote can come any more: PROPOSEs that old get NO
    // everywhere, and a recovery's ACCEPTs stop (the repair's quiet period, ADR 0009).
    const votesEndedBeforeMs =
      nowMs - (this.timing.proposalMaxAgeMs + 4 * this.timing.pendingTimeoutMs + REPAIR_RESEND_MS);
    for (const txid of reply.notHeld) {
      if (!volume.holding.has(txid)) continue;
      const proposedAtMs = volume.transactions.get(txid)?.proposal?.proposedAtMs ?? Number.POSITIVE_INFINITY;
      if (proposedAtMs > votesEndedBeforeMs) continue;
      if (heldByNoneOfThree(this.notHeldWhileWrittenOff, txid, peer)) settled.add(txid);
    }
    if (settled.size === 0) return;
    for (const txid of settled) this.notHeldWhileWrittenOff.delete(txid);
    this.persist({ kind: 'forget', volume: volumeName, txids: [...settled], atMs: nowMs, repaired: true });
  }

  /**
   * A written-off peer settled the keys it held after it heard of the write-off `since`: the
   * write-off is lifted once that is durable (the answer leaves after the record). A stale `since`
   * hears of the current write-off instead; a peer no longer written off is told so again.
   */
  private onRejoin(from: string, message: RejoinMessage, nowMs: number): void {
    const peer = this.members.indexOf(from);
    if (peer < 0 || peer === this.selfIndex) return;
    const since = this.writtenOff.get(peer);
    if (since !== undefined && since !== message.since) {
      this.writtenOffToldAtMs.delete(peer);
      this.tellWrittenOff(peer, nowMs);
      return;
    }
    if (since !== undefined) {
      this.persist({ kind: 'readmit', volume: EVERY_VOLUME, peer: from, since, atMs: nowMs });
      this.writtenOffToldAtMs.delete(peer);
      this.writeOffStats.readmitted++;
    }
    const readmitted: ReadmittedMessage = { type: 'readmitted', volume: EVERY_VOLUME, since: message.since };
    this.send(from, readmitted);
  }

  private volume(name: string): VolumeState {
    let volume = this.volumes.get(name);
    if (volume === undefined) {
      volume = new VolumeState(name);
      this.volumes.set(name, volume);
    }
    return volume;
  }

  /** A key's state, to be changed by the caller: created if new, its preimage kept if a snapshot is being read. */
  private keyState(volume: VolumeState, key: string): KeyState {
    let state = volume.keys.get(key);
    if (state !== undefined) keepPreimage(volume, key, state);
    else {
      state = { seq: 0, txid: '', value: null, pendingTxid: null };
      // Kept for good: a copy of its own, not a view into the message it came in (see ownCopy).
      const keptKey = ownCopy(key);
      volume.keys.set(keptKey, state);
      volume.keyOrder.push(keptKey);
    }
    return state;
  }

  /** A transaction's record, to be changed by the caller: created if new, its preimage kept if a snapshot is being read. */
  private transaction(volume: VolumeState, txid: TxId, atMs: number): TransactionRecord {
    let record = volume.transactions.get(txid);
    if (record !== undefined) keepTransactionPreimage(volume, txid, record);
    if (record === undefined) {
      record = {
        proposal: null,
        vote: null,
        promisedBallot: 0,
        accepted: null,
        decision: null,
        holdsKeys: false,
        touchedAtMs: atMs,
      };
      volume.transactions.set(txid, record);
    } else {
      record.touchedAtMs = Math.max(record.touchedAtMs, atMs);
    }
    return record;
  }

  // ---- snapshots and inspection ------------------------------------------------------------

  /** The whole state at once (tests, benchmarks, the simulator's compaction); nodes read it in pages. */
  snapshot(): ReplicaSnapshot {
    const reader = this.beginSnapshot();
    try {
      return {
        volumes: reader.volumes.map((volume, index) => ({
          name: volume.name,
          keys: reader.keys(index, 0, volume.keyCount),
          transactions: reader.transactions(index, 0, volume.transactionCount),
          unconfirmed: reader.unconfirmed(index, 0, volume.unconfirmedTxids.length),
          forgotten: volume.forgotten.all(),
        })),
        droppedVolumes: reader.droppedVolumes,
        writtenOff: reader.writtenOff,
        writeOffsEndedAtMs: reader.writeOffsEndedAtMs,
      };
    } finally {
      reader.close();
    }
  }

  /**
   * Starts reading a snapshot of the state as it is now, to be read a page of keys at a time while
   * the replica goes on changing (a storage node encodes and writes one over many turns of its
   * event loop). What is cheap to copy is copied now: unconfirmed decisions as two arrays, forgotten
   * txids as runs, the txids of the transaction records. Keys and records are not: each volume's key
   * order only grows, so the first `keyCount` keys are the snapshot's, and a key or record changed
   * (or a record deleted) before the reader got to it keeps its state of now as a preimage
   * (`keepPreimage`, `keepTransactionPreimage`). One reader at a time; `close` it when done.
   */
  beginSnapshot(): ReplicaSnapshotReader {
    if (this.openSnapshot !== null) throw new Error('a snapshot is already being read; close it first');
    const volumes = [...this.volumes.values()];
    const writtenOff = [...this.writtenOff].map(([peer, since]): [string, number] => [
      this.members[peer] as string,
      since,
    ]);
    const endedAtMs = Number.isFinite(this.writeOffsEndedAtMs) ? this.writeOffsEndedAtMs : null;
    const reader = new ReplicaSnapshotReader(volumes, [...this.droppedVolumes], writtenOff, endedAtMs, () => {
      for (const volume of volumes) {
        volume.snapshotPreimages = null;
        volume.transactionPreimages = null;
      }
      this.openSnapshot = null;
    });
    for (const volume of volumes) {
      volume.snapshotPreimages = new Map();
      volume.transactionPreimages = new Map();
    }
    this.openSnapshot = reader;
    return reader;
  }

  /** Replaces the whole state with `snapshot`'s (`beginRestore`, fed the snapshot at once). */
  restore(snapshot: ReplicaSnapshot): void {
    const restorer = this.beginRestore();
    for (const saved of snapshot.volumes) {
      restorer.volume(saved.name);
      restorer.keys(saved.keys);
      restorer.transactions(saved.transactions);
      restorer.unconfirmed(saved.unconfirmed ?? []);
      restorer.forgotten(saved.forgotten ?? []);
    }
    restorer.droppedVolumes(snapshot.droppedVolumes ?? []);
    restorer.writtenOff(snapshot.writtenOff ?? []);
    restorer.writeOffsEndedAtMs(snapshot.writeOffsEndedAtMs ?? null);
    restorer.finish();
  }

  /**
   * Replaces the whole state with a snapshot handed over in pieces, in the order its document holds
   * them, so that a storage node restores a snapshot of a million keys as it decodes it, a page of
   * entries at a time: what it decoded is garbage once restored, instead of a copy of the whole
   * state alive at once. Nothing depends on the pieces' order but that a volume's entries follow
   * its `volume` call; `finish` applies what must see the whole (dropped volumes, the bytes estimate).
   */
  beginRestore(): ReplicaRestorer {
    this.volumes.clear();
    this.droppedVolumes.clear();
    this.writtenOff.clear();
    this.writtenOffBits = 0;
    this.writeOffsEndedAtMs = Number.NEGATIVE_INFINITY;
    let volume: VolumeState | null = null;
    // Keys and txids copied out of the decoded snapshot's strings (see ownCopy); a txid once per volume.
    let keptTxids = new Map<TxId, TxId>();
    const current = (): VolumeState => {
      if (volume === null) throw new Error('a snapshot lists entries before the volume they belong to');
      return volume;
    };
    return {
      volume: (name) => {
        volume = this.volume(name);
        keptTxids = new Map();
      },
      keys: (entries) => {
        const into = current();
        for (const [key, state] of entries) {
          let txid = keptTxids.get(state.txid);
          if (txid === undefined) {
            txid = ownCopy(state.txid);
            keptTxids.set(txid, txid);
          }
          const keptKey = ownCopy(key);
          into.keys.set(keptKey, { ...state, txid, value: storeValue(state.value) });
          into.keyOrder.push(keptKey);
        }
      },
      transactions: (entries) => {
        const into = current();
        for (const [txid, record] of entries) {
          into.transactions.set(txid, { ...record });
          if (record.holdsKeys) into.holding.add(txid);
        }
      },
      unconfirmed: (entries) => {
        const into = current();
        for (const [txid, confirmedBy] of entries) into.unconfirmed.set(txid, confirmedBy);
      },
      forgotten: (entries) => {
        const into = current();
        for (const [txid, forgottenAtMs] of entries) into.forgotten.add(txid, forgottenAtMs);
      },
      droppedVolumes: (entries) => {
        for (const [name, droppedAtMs] of entries) this.droppedVolumes.set(name, droppedAtMs);
      },
      writtenOff: (entries) => {
        for (const [peer, since] of entries) {
          const index = this.members.indexOf(peer);
          if (index >= 0 && index !== this.selfIndex) this.writtenOff.set(index, since);
        }
      },
      writeOffsEndedAtMs: (atMs) => {
        this.writeOffsEndedAtMs = atMs ?? Number.NEGATIVE_INFINITY;
      },
      finish: () => {
        for (const name of this.droppedVolumes.keys()) this.volumes.delete(name);
        this.writtenOffBits = bitsOf(this.writtenOff.keys());
        for (const restored of this.volumes.values()) {
          for (const txid of restored.unconfirmed.keys()) {
            const record = restored.transactions.get(txid);
            if (record !== undefined) restored.unconfirmedBytes += unconfirmedBytes(record);
          }
        }
      },
    };
  }

  /** Read-only views for invariant checks and stats. */
  inspectKey(
    volumeName: string,
    key: string,
  ): (Version & { value: Uint8Array | null; pendingTxid: TxId | null }) | null {
    const state = this.volumes.get(volumeName)?.keys.get(key);
    return state === undefined ? null : { ...state, value: valueBytes(state.value) };
  }

  inspectTransaction(
    volumeName: string,
    txid: TxId,
  ): Readonly<
    Pick<TransactionRecord, 'proposal' | 'vote' | 'accepted' | 'decision' | 'promisedBallot'>
  > | null {
    const record = this.volumes.get(volumeName)?.transactions.get(txid);
    return record === undefined ? null : record;
  }

  /** Whether the replica dropped the transaction's record after every replica confirmed its decision. */
  isForgotten(volumeName: string, txid: TxId): boolean {
    return this.volumes.get(volumeName)?.forgotten.has(txid) ?? false;
  }

  /** Transactions holding keys pending, per volume. */
  pendingTransactions(volumeName: string): TxId[] {
    const volume = this.volumes.get(volumeName);
    if (volume === undefined) return [];
    return [...volume.holding];
  }

  stats(): {
    volumes: number;
    keys: number;
    transactions: number;
    pendingTransactions: number;
    unconfirmedDecisions: number;
    forgottenTransactions: number;
    droppedVolumes: number;
    droppedVolumeMessages: number;
    unconfirmedBytes: number;
    /** The bound past which silent peers are written off (ADR 0022). */
    unconfirmedBytesMax: number;
    writeOffs: {
      /** Peers this replica wrote off and has not taken back (ADR 0022). */
      peers: string[];
      /** Peers that wrote this replica off and have not taken it back, as far as it heard. */
      by: string[];
      writtenOff: number;
      readmitted: number;
      noticesSent: number;
    };
  } {
    let keys = 0;
    let transactions = 0;
    let pendingTransactions = 0;
    let unconfirmedDecisions = 0;
    let forgottenTransactions = 0;
    for (const volume of this.volumes.values()) {
      keys += volume.keys.size;
      transactions += volume.transactions.size;
      pendingTransactions += volume.holding.size;
      unconfirmedDecisions += volume.unconfirmed.size;
      forgottenTransactions += volume.forgotten.size;
    }
    return {
      volumes: this.volumes.size,
      keys,
      transactions,
      pendingTransactions,
      unconfirmedDecisions,
      forgottenTransactions,
      droppedVolumes: this.droppedVolumes.size,
      droppedVolumeMessages: this.droppedVolumeMessages,
      unconfirmedBytes: this.unconfirmedBytesTotal(),
      unconfirmedBytesMax: this.timing.unconfirmedBytesMax,
      writeOffs: {
        peers: [...this.writtenOff.keys()].map((peer) => this.members[peer] as string),
        by: [...this.writtenOffBy.keys()].map((peer) => this.members[peer] as string),
        ...this.writeOffStats,
      },
    };
  }

  volumeNames(): string[] {
    return [...this.volumes.keys()];
  }
}

/** Messages a repairing replica leaves unanswered: every part it takes in a quorum. */
const ANSWERED_ONLY_WHEN_WHOLE: ReadonlySet<QuorumMessage['type']> = new Set([
  'propose',
  'accept',
  'prepare',
  'read',
  'scan',
]);

/**
 * Up to `limit` (at most 4,096) versions of the volume's keys in its key order from `fromIndex`,
 * and where the next page starts (0 at the end).
 */
function keyPage(
  volume: VolumeState,
  fromIndex: number,
  limit: number,
): { entries: SyncEntry[]; nextIndex: number } {
  const start = Math.max(0, Math.min(fromIndex, volume.keyOrder.length));
  const entries: SyncEntry[] = [];
  // Bounded in bytes as well as keys: a chunk of large values must still fit one frame, or
  // it would be dropped on every round and repair would never get past it.
  let entryBytes = 0;
  let next = Math.min(start + Math.max(1, Math.min(limit, REPAIR_PAGE_KEYS)), volume.keyOrder.length);
  for (let index = start; index < next; index++) {
    const key = volume.keyOrder[index] as string;
    const state = present(volume.keys.get(key), KEY_IN_ORDER);
    if (state.seq === 0) continue;
    const bytes = key.length + storedLength(state.value);
    if (entries.length > 0 && entryBytes + bytes > SYNC_REPLY_BYTES_MAX) {
      next = index;
      break;
    }
    entryBytes += bytes;
    entries.push({ key, version: { seq: state.seq, txid: state.txid }, value: valueBytes(state.value) });
  }
  return { entries, nextIndex: next >= volume.keyOrder.length ? 0 : next };
}

/** The decisions this replica knows of `txids`, with the writes of commits. */
function knownDecisions(volume: VolumeState, txids: readonly TxId[]): SyncReplyMessage['decisions'] {
  const decisions: SyncReplyMessage['decisions'] = [];
  for (const txid of txids) {
    const transaction = volume.transactions.get(txid);
    if (transaction?.decision == null) continue;
    decisions.push({
      txid,
      decision: transaction.decision,
      proposal: transaction.decision === 'commit' ? transaction.proposal : null,
    });
  }
  return decisions;
}

/** Bytes of a proposal's keys and values, to bound a repair reply. */
function proposalBytes(proposal: Proposal | null): number {
  if (proposal === null) return 0;
  let bytes = 64;
  for (const read of proposal.reads) bytes += read.key.length + 16;
  for (const write of proposal.writes) bytes += write.key.length + (write.value?.byteLength ?? 0) + 16;
  return bytes;
}

function acceptedHeader(message: AcceptMessage): {
  type: 'accepted';
  volume: string;
  txid: TxId;
  ballot: number;
} {
  return { type: 'accepted', volume: message.volume, txid: message.txid, ballot: message.ballot };
}

function pendingInfo(volume: VolumeState, txid: TxId, key: string): PendingInfo {
  const proposal = volume.transactions.get(txid)?.proposal ?? null;
  const readSeq = proposal?.reads.find((read) => read.key === key)?.seq ?? 0;
  const write = proposal?.writes.find((entry) => entry.key === key);
  return { txid, readSeq, writes: write !== undefined, value: write?.value ?? null };
}

/**
 * Every change to a key's state in place goes through here first (`keyState` or by name): while a
 * snapshot is being read, the state the key had when it began is kept for it, once.
 */
function keepPreimage(volume: VolumeState, key: string, state: KeyState): void {
  const preimages = volume.snapshotPreimages;
  if (preimages !== null && !preimages.has(key)) preimages.set(key, { ...state });
}

/** As `keepPreimage`, for a transaction record about to change in place or be deleted. */
function keepTransactionPreimage(volume: VolumeState, txid: TxId, record: TransactionRecord): void {
  const preimages = volume.transactionPreimages;
  if (preimages !== null && !preimages.has(txid)) preimages.set(txid, { ...record });
}

/** A key takes a version only if it is newer than the one it holds. */
function adopt(state: KeyState, seq: number, txid: TxId, value: Uint8Array | null): void {
  if (seq <= state.seq) return;
  state.seq = seq;
  state.txid = txid;
  state.value = storeValue(value);
}

/** Writes only keys it read, each key once, sequence numbers non-negative integers. */
export function isWellFormed(proposal: Proposal): boolean {
  const { reads, writes } = proposal;
  if (reads.length > WELL_FORMED_PAIRWISE_MAX) return isWellFormedBySets(proposal);
  // A proposal is most often a group of a few SETs: comparing its keys pair by pair builds no
  // sets, which were most of what a vote allocated.
  for (let index = 0; index < reads.length; index++) {
    const read = reads[index] as ReadEntry;
    if (typeof read.key !== 'string' || !Number.isSafeInteger(read.seq) || read.seq < 0) return false;
    for (let before = 0; before < index; before++)
      if ((reads[before] as ReadEntry).key === read.key) return false;
    // The version a blind write installs must stay a safe integer.
    if (read.blind !== undefined && (read.shared === true || read.seq >= Number.MAX_SAFE_INTEGER))
      return false;
  }
  for (let index = 0; index < writes.length; index++) {
    const key = (writes[index] as WriteEntry).key;
    if (!readsKey(reads, key)) return false;
    for (let before = 0; before < index; before++)
      if ((writes[before] as WriteEntry).key === key) return false;
  }
  // A blind entry is a write's, never a read's: the writer saw no value there.
  for (const read of reads) if (read.blind !== undefined && !writesKey(writes, read.key)) return false;
  return true;
}

/** Reads up to this many are checked pair by pair (`isWellFormed`); more, with sets. */
const WELL_FORMED_PAIRWISE_MAX = 16;

function readsKey(reads: readonly ReadEntry[], key: string): boolean {
  for (const read of reads) if (read.key === key) return true;
  return false;
}

function writesKey(writes: readonly WriteEntry[], key: string): boolean {
  for (const write of writes) if (write.key === key) return true;
  return false;
}

/** `isWellFormed` for a large proposal: the same rules, in time linear in its keys. */
function isWellFormedBySets(proposal: Proposal): boolean {
  const readKeys = new Set<string>();
  const blindKeys: string[] = [];
  for (const read of proposal.reads) {
    if (typeof read.key !== 'string' || !Number.isSafeInteger(read.seq) || read.seq < 0) return false;
    if (readKeys.has(read.key)) return false;
    readKeys.add(read.key);
    if (read.blind !== undefined) {
      if (read.shared === true || read.seq >= Number.MAX_SAFE_INTEGER) return false;
      blindKeys.push(read.key);
    }
  }
  const written = new Set<string>();
  for (const write of proposal.writes) {
    if (!readKeys.has(write.key) || written.has(write.key)) return false;
    written.add(write.key);
  }
  return blindKeys.every((key) => written.has(key));
}

/** Per decision awaiting confirmation: its record, its map entries, its txid (`unconfirmedBytes`). */
const UNCONFIRMED_RECORD_BYTES = 320;
/** Per key its proposal reads or writes: the entry object and the key string's header. */
const UNCONFIRMED_KEY_BYTES = 160;

/**
 * Memory a decision awaiting confirmation keeps, estimated from its proposal's keys and values: what
 * `unconfirmedBytesMax` bounds. An estimate on purpose: counting the heap exactly per record would
 * cost more than the record.
 */
function unconfirmedBytes(record: TransactionRecord): number {
  let bytes = UNCONFIRMED_RECORD_BYTES;
  const proposal = record.proposal;
  if (proposal === null) return bytes;
  for (const read of proposal.reads) bytes += UNCONFIRMED_KEY_BYTES + read.key.length;
  for (const write of proposal.writes) {
    bytes += UNCONFIRMED_KEY_BYTES + write.key.length + (write.value?.length ?? 0);
  }
  return bytes;
}

/** Message types only replicas send one another: hearing one says the sender is up and reachable. */
const BETWEEN_REPLICAS: ReadonlySet<QuorumMessage['type']> = new Set([
  'syncRequest',
  'syncReply',
  'decisionQuery',
  'decisionAck',
  'repairRequest',
  'repairReply',
  'writtenOff',
  'rejoin',
  'readmitted',
]);

/**
 * Notes that `peer` neither holds `txid` open nor knows it decided (a repair's or a written-off
 * replica's question): whether three peers now say so, which rules out a commit it holds open.
 */
function heldByNoneOfThree(notHeldBy: Map<TxId, Set<number>>, txid: TxId, peer: number): boolean {
  let peers = notHeldBy.get(txid);
  if (peers === undefined) {
    peers = new Set();
    notHeldBy.set(txid, peers);
  }
  peers.add(peer);
  return peers.size >= REPAIR_PEERS_NEEDED;
}

function popCount(bits: number): number {
  let count = 0;
  for (let rest = bits; rest !== 0; rest &= rest - 1) count++;
  return count;
}

function bitsOf(indexes: Iterable<number>): number {
  let bits = 0;
  for (const index of indexes) bits |= 1 << index;
  return bits;
}
