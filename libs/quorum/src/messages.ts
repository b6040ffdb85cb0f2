// Messages and records of the quorum protocol (DESIGN §4). Plain data only: the same
// objects travel in the simulator's memory and, msgpack-encoded, over TCP.
//
// Keys are strings; callers that need binary-safe keys map bytes 1:1 to 'latin1' strings.
// Values are bytes; `null` in a write deletes the key.

/** Index of a replica in a volume's protection group: 0..5 (two per AZ: 0-1, 2-3, 4-5). */
export type ReplicaIndex = number;
/** Globally unique transaction id, `${writerId}.${counter}`. */
export type TxId = string;
export type Decision = 'commit' | 'abort';
export type VoteValue = 'yes' | 'no';

/** A key's committed version. Absent keys have `seq` 0 and `txid` ''. */
export interface Version {
  seq: number;
  txid: TxId;
}

/** The version a transaction read, for every key it reads or writes. */
export interface ReadEntry {
  key: string;
  seq: number;
  /**
   * A shared read is checked at the vote like any read (NO when the key is newer or pending in
   * another transaction) but is not held until the decision, so transactions that share it do
   * not exclude one another. Only for a key that every transaction reads and rare ones write
   * (a volume's generation); a key the proposal also writes is held all the same (ADR 0004).
   */
  shared?: true;
  /**
   * A blind write (ADR 0016): the writer did not read the key, and `seq` is one it chose, so that
   * the write installs version `seq + 1`. Replicas check it like any read (NO when the key is newer
   * or pending) and, because the writer never saw the value it replaces, also check the guard.
   * Only for a key the proposal writes.
   */
  blind?: BlindGuard;
}

/**
 * What a blind write may replace: an absent key, or a value whose first byte, masked with `mask`,
 * is one of `firstBytes`. A writer whose values of some kinds need work when replaced (the data
 * node's collection headers, whose elements must be reclaimed) keeps those kinds out.
 */
export interface BlindGuard {
  mask: number;
  firstBytes: number[];
}

/** Whether a blind write with `guard` may replace `firstByte` (undefined: an empty value). */
export function blindGuardAllows(guard: BlindGuard, firstByte: number | undefined): boolean {
  return firstByte !== undefined && guard.firstBytes.includes(firstByte & guard.mask);
}

export interface WriteEntry {
  key: string;
  /** `null` deletes the key (it then reads as absent, at the new seq). */
  value: Uint8Array | null;
}

/** What a writer asks the replicas to validate and, once chosen, apply. */
export interface Proposal {
  txid: TxId;
  reads: ReadEntry[];
  writes: WriteEntry[];
  /** The writer's clock when it proposed; replicas refuse proposals that are too old. */
  proposedAtMs: number;
}

// ---- writer (or recovering coordinator) → replica ---------------------------------------

export interface ProposeMessage {
  type: 'propose';
  volume: string;
  proposal: Proposal;
  /**
   * Transactions of this writer's whose decision all six replicas told it they hold (`held` in
   * their votes): each replica may forget their records without asking its peers (ADR 0021).
   */
  heldByAll?: TxId[];
}

export interface AcceptMessage {
  type: 'accept';
  volume: string;
  txid: TxId;
  ballot: number;
  decision: Decision;
  /** Carried so that an acceptor that never saw PROPOSE can still apply or re-propose it. */
  proposal: Proposal | null;
}

export interface PrepareMessage {
  type: 'prepare';
  volume: string;
  txid: TxId;
  ballot: number;
}

export interface DecidedMessage {
  type: 'decided';
  volume: string;
  txid: TxId;
  decision: Decision;
  /** Present for commits: the writes to apply. */
  proposal?: Proposal;
}

export interface ReadMessage {
  type: 'read';
  volume: string;
  requestId: number;
  keys: string[];
  /** Only this many leading bytes of each value (its header), e.g. to list keys cheaply. */
  prefixBytes?: number;
}

/**
 * Key names of a volume in hash order (see `keyHash`), from `fromHash` on: SCAN, KEYS and
 * DBSIZE read them from 3 replicas, then read the keys themselves with a point read.
 */
export interface ScanMessage {
  type: 'scan';
  volume: string;
  requestId: number;
  fromHash: number;
  /** Keys wanted at most; a replica may return more to keep keys of one hash together. */
  limit: number;
}

// ---- replica → writer / coordinator ------------------------------------------------------

export interface VoteMessage {
  type: 'vote';
  volume: string;
  txid: TxId;
  vote: VoteValue;
  /**
   * Why a NO was given: 'pending' (key held by another tx), 'stale', 'guard' (a blind write's
   * guard refused the value it would replace), 'recovering', 'expired', 'invalid'.
   */
  reason?: string;
  /**
   * Transactions whose DECIDED this writer sent and this replica holds the decision of, on disk:
   * the vote leaves only once the replica's log holds every record before it (ADR 0021).
   */
  held?: TxId[];
}

export interface AcceptedMessage {
  type: 'accepted';
  volume: string;
  txid: TxId;
  ballot: number;
  ok: boolean;
  /** The highest ballot this replica has promised for the txid. */
  promisedBallot: number;
}

export interface PromiseMessage {
  type: 'promise';
  volume: string;
  txid: TxId;
  ballot: number;
  ok: boolean;
  promisedBallot: number;
  /** The replica's vote; 'no' when it had not voted (PREPARE records a permanent NO). */
  vote: VoteValue;
  accepted: { ballot: number; decision: Decision } | null;
  /** The proposal, if the replica has seen it. */
  proposal: Proposal | null;
  /** Set when the replica already knows the decision. */
  decision: Decision | null;
}

export interface PendingInfo {
  txid: TxId;
  /** The seq the pending transaction read for this key. */
  readSeq: number;
  /** Whether it writes the key, and the value it writes. */
  writes: boolean;
  value: Uint8Array | null;
}

export interface ReadResult {
  key: string;
  version: Version;
  value: Uint8Array | null;
  pending: PendingInfo | null;
}

export interface ReadReplyMessage {
  type: 'readReply';
  volume: string;
  requestId: number;
  results: ReadResult[];
}

export interface ScanReplyMessage {
  type: 'scanReply';
  volume: string;
  requestId: number;
  /** Keys with a value or a pending write here, with `keyHash(key) ≥ fromHash`, in hash order. */
  keys: string[];
  /** Where the next page starts; 0 when no key with a higher hash is left here. */
  nextHash: number;
}

/**
 * Sent by a storage node to the other writers subscribed to a volume when it applies a commit:
 * they drop cached versions older than `seq` (DESIGN §4, writers' caches). Numbered per
 * subscription (`stream`, `n`), so that a writer knows when one went missing (ADR 0020).
 */
export interface AppliedMessage {
  type: 'applied';
  volume: string;
  txid: TxId;
  changes: { key: string; seq: number }[];
  /** The subscription this notice belongs to: a new one (a new connection, a restart) starts over. */
  stream: number;
  /** This notice's place in its stream: 1, 2, 3, ... */
  n: number;
}

/**
 * Sent by a storage node to each subscribed writer every `NOTICE_MARK_INTERVAL_MS`: the last
 * notice number of the stream. A writer that hears none for a while, or hears a number it did
 * not see, knows its notices from this node may be incomplete (ADR 0020).
 */
export interface NoticeMarkMessage {
  type: 'noticeMark';
  volume: string;
  stream: number;
  /** The `n` of the last notice sent in this stream; 0 when none was. */
  n: number;
}

/** How often a storage node sends each subscribed writer a `noticeMark`. */
export const NOTICE_MARK_INTERVAL_MS = 500;

// ---- replica ↔ replica (gossip and repair) ----------------------------------------------

export interface SyncRequestMessage {
  type: 'syncRequest';
  volume: string;
  /** Position in the peer's key order to continue from (0 = from the start). */
  fromIndex: number;
  limit: number;
  /** Transactions pending here for a while: the peer answers with their decisions if it knows them. */
  pendingTxids: TxId[];
}

export interface SyncEntry {
  key: string;
  version: Version;
  value: Uint8Array | null;
}

export interface SyncReplyMessage {
  type: 'syncReply';
  volume: string;
  entries: SyncEntry[];
  /** Decisions the sender knows for the requested pending transactions. */
  decisions: { txid: TxId; decision: Decision; proposal: Proposal | null }[];
  /** Where the next request continues; 0 once the scan reached the end of the key order. */
  nextIndex: number;
}

/**
 * Which of `txids` has the peer decided? Asked before a decided record is forgotten, and only about
 * decisions the asker holds durably: the question itself confirms them to the peer.
 */
export interface DecisionQueryMessage {
  type: 'decisionQuery';
  volume: string;
  txids: TxId[];
}

export interface DecisionAckMessage {
  type: 'decisionAck';
  volume: string;
  /** Decided here (or already forgotten here, which needed every replica's confirmation). */
  known: TxId[];
  /** Not decided here: the asker sends the decision. */
  unknown: TxId[];
}

/** The volume named by a repair request that asks for the list of volumes (not a volume name). */
export const EVERY_VOLUME = '*';

/**
 * A replica that lost records it may have acknowledged rebuilds its state from its peers before
 * it takes part in quorums again (docs/adr/0009-replica-repair.md): a full pass over one peer's
 * keys and open transactions, page by page, or (volume `EVERY_VOLUME`) the peer's volume list.
 */
export interface RepairRequestMessage {
  type: 'repairRequest';
  volume: string;
  /** Echoed in the reply, so that a reply to an abandoned pass is recognized. */
  pass: number;
  /** Position in the peer's key order (the cursor of `syncRequest`); 0 also asks for transactions. */
  fromIndex: number;
  limit: number;
  /** Transactions the asker waits on: the peer answers with the decisions it knows. */
  decisionsOf: TxId[];
}

/** A transaction record sent to a repairing replica: decided (with the writes of a commit) or open. */
export interface RepairTransaction {
  txid: TxId;
  /** null while the transaction holds keys undecided at the sender. */
  decision: Decision | null;
  proposal: Proposal | null;
}

export interface RepairReplyMessage {
  type: 'repairReply';
  volume: string;
  pass: number;
  /** The sender is repairing too: it may lack records, so its pass counts for nothing. */
  repairing: boolean;
  /** The sender dropped the volume (its cluster was deleted). */
  dropped: boolean;
  /** For `EVERY_VOLUME`: the volumes the sender holds, and those it dropped. */
  volumes: string[];
  droppedVolumes: string[];
  entries: SyncEntry[];
  /** Where the next page starts; 0 once the pass reached the end of the sender's key order. */
  nextIndex: number;
  /** On the first page only: the sender's decided (not yet forgotten) and open transactions. */
  transactions: RepairTransaction[];
  /** The transactions did not fit one reply: the pass cannot count, and is tried again later. */
  transactionsTruncated: boolean;
  /** Decisions the sender knows of the requested `decisionsOf`. */
  decisions: { txid: TxId; decision: Decision; proposal: Proposal | null }[];
  /** Of the requested `decisionsOf`, those the sender neither holds open nor knows decided. */
  notHeld: TxId[];
  /**
   * Of the requested `decisionsOf`, those the sender decided and forgot (every replica it had not
   * written off held the decision, ADR 0022). Absent from senders that predate write-offs.
   */
  forgotten?: TxId[];
}

/**
 * To a peer this replica wrote off (ADR 0022), in answer to what it sends: this replica forgets
 * decisions without that peer's confirmation until the peer has settled the keys it holds and
 * rejoined. `since` names the write-off (when it was logged), and comes back in the peer's `rejoin`.
 */
export interface WrittenOffMessage {
  type: 'writtenOff';
  /** `EVERY_VOLUME`: a write-off is of the peer, not of one volume. */
  volume: string;
  since: number;
}

/** From a written-off replica that settled the keys it held after it heard so: take me back (ADR 0022). */
export interface RejoinMessage {
  type: 'rejoin';
  volume: string;
  since: number;
}

/** The answer to `rejoin`: the write-off of `since` is lifted, durably. */
export interface ReadmittedMessage {
  type: 'readmitted';
  volume: string;
  since: number;
}

export type ToReplicaMessage =
  | ProposeMessage
  | AcceptMessage
  | PrepareMessage
  | DecidedMessage
  | ReadMessage
  | ScanMessage
  | SyncRequestMessage
  | SyncReplyMessage
  | DecisionQueryMessage
  | DecisionAckMessage
  | RepairRequestMessage
  | RepairReplyMessage
  | WrittenOffMessage
  | RejoinMessage
  | ReadmittedMessage;

export type FromReplicaMessage =
  | VoteMessage
  | AcceptedMessage
  | PromiseMessage
  | ReadReplyMessage
  | ScanReplyMessage
  | AppliedMessage
  | NoticeMarkMessage;

export type QuorumMessage = ToReplicaMessage | FromReplicaMessage;

/** DECIDED for `txid`: a commit carries its proposal when one is given, so that the receiver can apply it. */
export function decidedMessage(
  volume: string,
  txid: TxId,
  decision: Decision,
  proposal: Proposal | null,
): DecidedMessage {
  return decision === 'commit' && proposal !== null
    ? { type: 'decided', volume, txid, decision, proposal }
    : { type: 'decided', volume, txid, decision };
}

/** A message and its destination: a storage node id or a writer id. */
export interface Envelope {
  to: string;
  message: QuorumMessage;
}

/** The writer's ballot for its fast path (ACCEPT after 4 YES). Recovery ballots are larger. */
export const INITIAL_BALLOT = 1;
const COORDINATOR_ID_LIMIT = 2 ** 20;

/**
 * A recovery ballot, unique per coordinator: `round · 2^20 + coordinatorId`. Replicas use ids
 * 1–6 (their index + 1); writers must be given distinct ids from 7 up.
 */
export function recoveryBallot(round: number, coordinatorId: number): number {
  if (!Number.isInteger(coordinatorId) || coordinatorId < 1 || coordinatorId >= COORDINATOR_ID_LIMIT) {
    throw new RangeError(`coordinatorId must be an integer in [1, ${COORDINATOR_ID_LIMIT})`);
  }
  return round * COORDINATOR_ID_LIMIT + coordinatorId;
}

/** The round of a ballot, so that a coordinator can outbid it. */
export function ballotRound(ballot: number): number {
  return Math.floor(ballot / COORDINATOR_ID_LIMIT);
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * FNV-1a over the key's UTF-16 code units (the bytes, for latin1 keys), in [0, 2^32). Scans walk
 * keys in this order so that a cursor is one number, valid on every replica and every writer.
 */
export function keyHash(key: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}
