// The writer side of the quorum protocol as a pure state machine (DESIGN §4): the commit
// coordinator (PROPOSE → votes → ACCEPT → ACCEPTED → DECIDED, or PROPOSE → six YES votes →
// DECIDED on the fast path of ADR 0015), recovery of transactions whose outcome it cannot see,
// and point reads that resolve pending entries before answering.
//
// A writer keeps nothing durable: if it crashes, the replicas recover its transactions.
// Shape: `begin()`, `read()`, `step()` and `tick()` queue messages and events; the shell takes
// them with `takeReady()`, sends the messages and reports the events to callers.

import { MapHand } from '../../collections/src/index.js';
import { DecisionHolders } from './decision-holders.js';
import type {
  AcceptedMessage,
  Decision,
  Envelope,
  FromReplicaMessage,
  PromiseMessage,
  Proposal,
  ReadEntry,
  ReadMessage,
  ReadReplyMessage,
  ScanReplyMessage,
  TxId,
  Version,
  VoteMessage,
  WriteEntry,
} from './messages.js';
import { ballotRound, decidedMessage, INITIAL_BALLOT, keyHash, recoveryBallot } from './messages.js';
import { QUORUM, REPLICA_COUNT, tallyVotes } from './quorum-table.js';
import { RecoveryRound } from './recovery.js';

export interface WriterTiming {
  /**
   * First resend interval for replicas that have not answered; it doubles on every resend up to
   * `retransmitMsMax`. Links are TCP, so resends only matter after a reconnect or an overload
   * drop; resending fast into a busy replica only makes it busier.
   */
  retransmitMs: number;
  retransmitMsMax: number;
  /** A commit without a decision after this long is recovered by the writer itself. */
  commitRecoveryAfterMs: number;
  /** A commit still undecided after this long is reported with an unknown outcome. */
  commitDeadlineMs: number;
  /** How soon a read blocked by a pending transaction asks again. */
  readRetryMs: number;
  /**
   * Shortest wait before a read round that asked 3 replicas and heard from fewer asks the other
   * 3 (a hedged request). The wait is otherwise a multiple of recent read latency.
   */
  readHedgeMinMs: number;
  /** A read blocked this long by the same pending transaction recovers it. */
  pendingTimeoutMs: number;
  /** A read without an answer after this long fails. */
  readDeadlineMs: number;
}

export const DEFAULT_WRITER_TIMING: WriterTiming = {
  retransmitMs: 500,
  retransmitMsMax: 2_000,
  commitRecoveryAfterMs: 2_000,
  commitDeadlineMs: 10_000,
  readRetryMs: 5,
  readHedgeMinMs: 5,
  pendingTimeoutMs: 1_500,
  readDeadlineMs: 10_000,
};

export interface WriterConfig {
  /** Unique among writers; prefixes transaction ids. */
  writerId: string;
  /** Unique ballot id for recovery, ≥ 7 (1–6 belong to replicas). */
  coordinatorId: number;
  /** Storage node ids of the protection group, in replica-index order. */
  members: readonly string[];
  timing?: Partial<WriterTiming>;
  quorum?: typeof QUORUM;
}

export interface ReadValue {
  key: string;
  version: Version;
  value: Uint8Array | null;
}

export type WriterEvent =
  /** `fastPath`: chosen by six YES votes, without an ACCEPT round (ADR 0015). */
  | { type: 'committed'; txid: TxId; fastPath: boolean }
  | { type: 'aborted'; txid: TxId; reason: string }
  | { type: 'unknown'; txid: TxId; reason: string }
  | { type: 'read'; requestId: number; values: ReadValue[] }
  | { type: 'readFailed'; requestId: number; reason: string }
  | { type: 'scanned'; requestId: number; keys: string[]; nextHash: number };

type CommitPhase = 'voting' | 'accepting' | 'recovering';

interface CommitState {
  volume: string;
  proposal: Proposal;
  phase: CommitPhase;
  votes: Map<number, VoteMessage>;
  acceptances: Set<number>;
  acceptRejections: Set<number>;
  recovery: RecoveryRound | null;
  startedAtMs: number;
  /**
   * Set once 4 YES votes are in while the rest may still all be YES: until then the writer
   * waits for them instead of sending ACCEPT (ADR 0015).
   */
  fastPathUntilMs: number | null;
  sentAtMs: number;
  resendAfterMs: number;
}

interface ReadState {
  volume: string;
  keys: string[];
  prefixBytes: number | undefined;
  /** Wire id of the current round; replies to older rounds are ignored. */
  roundId: number;
  replies: Map<number, ReadReplyMessage>;
  /** Replica indexes the current round has asked: 3 at first, all 6 once hedged or resent. */
  asked: Set<number>;
  startedAtMs: number;
  sentAtMs: number;
  /** When the read is blocked, the time of its next round. */
  retryAtMs: number | null;
  blockedSinceMs: Map<TxId, number>;
  /**
   * Undecided transactions pending in the first quorum of replies: the only ones the read must
   * wait for (null until that first quorum). A transaction acknowledged before the read began
   * has 4 YES voters, so any 3 replies show it applied or pending; one first seen later may be
   * ordered after the read. Without this bound, a key that other writers keep writing would
   * show a new pending transaction at every retry and starve the read.
   */
  mustResolve: Set<TxId> | null;
  /** The newest committed version of each key seen in any round so far. */
  committedSeen: Map<string, ReadValue>;
}

interface ScanState {
  volume: string;
  fromHash: number;
  limit: number;
  replies: Map<number, ScanReplyMessage>;
  startedAtMs: number;
  sentAtMs: number;
}

const DECISION_CACHE_MAX = 100_000;
const ALL_REPLICAS = { has: (_index: number) => false };
/** Where beaten recoveries of other writers' transactions restart; oldest hints go first. */
const FOREIGN_ROUND_HINTS_MAX = 10_000;
/** A commit this many times slower than the recent average is recovered (but never sooner than configured). */
const RECOVERY_LATENCY_FACTOR = 8;
/**
 * How long a commit with 4 YES votes waits for the other two before it sends ACCEPT: as long as
 * the 4 took, within these bounds. An ACCEPT round costs about as much as the vote round (a
 * message to every replica and an fsync on each), so waiting that long for the fast path at
 * worst trades one round for another. The floor is the storage client's tick: on 2 cores shared
 * by six storage nodes, 1 ms let 11% of commits miss the fast path under redis-benchmark, 5 ms 5%.
 */
const FAST_PATH_WAIT_MIN_MS = 5;
const FAST_PATH_WAIT_MAX_MS = 20;
/**
 * A replica whose vote a wait ran out on is not waited for again until it votes in time (among a
 * commit's first votes) or for this long: one that is down would otherwise cost every commit the
 * wait, while one merely slow for a moment should not end the fast path for everyone.
 */
const LATE_REPLICA_SKIP_MS = 1_000;
/**
 * A read round asks 3 replicas and, when they have not all answered after this many times the
 * recent read latency (never sooner than `readHedgeMinMs`, never later than a resend), the other
 * 3. Asking 3 rather than 6 halves a read's messages, on the writer and across the storage
 * nodes; a multiple of the mean stands in for a high percentile, after which a hedged request
 * costs little ("The Tail at Scale", Dean and Barroso, 2013).
 */
const READ_HEDGE_LATENCY_FACTOR = 3;
/** Weight of one read round in the moving average of read latency. */
const READ_LATENCY_WEIGHT = 1 / 16;

export class WriterCoordinator {
  readonly writerId: string;
  readonly timing: WriterTiming;
  private readonly quorum: typeof QUORUM;
  private readonly members: readonly string[];
  private readonly coordinatorId: number;
  private transactionCounter = 0;
  private requestCounter = 0;
  private roundCounter = 0;
  private readonly commits = new Map<TxId, CommitState>();
  private readonly reads = new Map<number, ReadState>();
  private readonly scans = new Map<number, ScanState>();
  private readonly readByRound = new Map<number, number>();
  /** Recoveries of other writers' transactions that block our reads. */
  private readonly foreignRecoveries = new Map<
    TxId,
    { volume: string; round: RecoveryRound; sentAtMs: number }
  >();
  /** Where a beaten foreign recovery starts again. Entries go when the transaction is decided. */
  private readonly foreignNextRound = new Map<TxId, number>();
  /** Decisions learned, oldest first (bounded). */
  private readonly decisions = new Map<TxId, Decision>();
  private readonly oldestDecision = new MapHand(this.decisions);
  /** Which replicas hold the decisions sent, and what all six hold, for the next PROPOSE (ADR 0021). */
  private readonly decisionHolders = new DecisionHolders();
  private ready: { messages: Envelope[]; events: WriterEvent[] } = { messages: [], events: [] };
  /** Moving average of commit latency, from PROPOSE to the decision. */
  private commitLatencyAverageMs = 0;
  /** Per replica: until when commits do not wait for its vote (it lately missed a wait). */
  private readonly lateUntilMs: number[] = new Array(REPLICA_COUNT).fill(0);
  /** Moving average of the time a read round takes to hear from 3 replicas. */
  private readLatencyAverageMs = 0;
  /**
   * Per replica: until when read rounds do not ask it first (a hedge lately ran out on it). An
   * answer to any read clears it; one that is down costs a hedge's wait once per period.
   */
  private readonly readSlowUntilMs: number[] = new Array(REPLICA_COUNT).fill(0);
  /** Read rounds started, and those of them that asked all six replicas after a wait (hedged). */
  readonly readRoundCounters = { rounds: 0, hedged: 0 };
  /**
   * Where read rounds start choosing replicas. It moves on by one each millisecond in which a
   * round starts: reads spread over all six, while the rounds started together (under load, many
   * per millisecond) ask the same three, so that the shell's batch of them is one socket write to
   * each of three nodes, not six.
   */
  private readCursor = REPLICA_COUNT - 1;
  private readCursorMs = Number.NEGATIVE_INFINITY;

  constructor(config: WriterConfig) {
    if (config.members.length !== REPLICA_COUNT) {
      throw new RangeError(`a protection group has ${REPLICA_COUNT} members, got ${config.members.length}`);
    }
    recoveryBallot(1, config.coordinatorId); // validates the id
    this.writerId = config.writerId;
    this.coordinatorId = config.coordinatorId;
    this.members = config.members;
    this.timing = { ...DEFAULT_WRITER_TIMING, ...config.timing };
    this.quorum = config.quorum ?? QUORUM;
  }

  takeReady(): { messages: Envelope[]; events: WriterEvent[] } {
    const ready = this.ready;
    this.ready = { messages: [], events: [] };
    return ready;
  }

  /**
   * Whether `tick` has nothing to do now and until the next call or message: no commit, read,
   * scan or recovery in flight, no decision bookkeeping waiting on time, nothing ready to take.
   */
  get idle(): boolean {
    return (
      this.commits.size === 0 &&
      this.reads.size === 0 &&
      this.scans.size === 0 &&
      this.foreignRecoveries.size === 0 &&
      this.decisionHolders.empty &&
      this.ready.messages.length === 0 &&
      this.ready.events.length === 0
    );
  }

  get inFlightCommits(): number {
    return this.commits.size;
  }

  get inFlightReads(): number {
    return this.reads.size;
  }

  /** Starts a commit. `reads` must hold the version read for every key read or written. */
  begin(volume: string, reads: ReadEntry[], writes: WriteEntry[], nowMs: number): TxId {
    const txid = `${this.writerId}.${++this.transactionCounter}`;
    const proposal: Proposal = { txid, reads, writes, proposedAtMs: nowMs };
    this.commits.set(txid, {
      volume,
      proposal,
      phase: 'voting',
      votes: new Map(),
      acceptances: new Set(),
      acceptRejections: new Set(),
      recovery: null,
      startedAtMs: nowMs,
      fastPathUntilMs: null,
      sentAtMs: nowMs,
      resendAfterMs: this.timing.retransmitMs,
    });
    const heldByAll = this.decisionHolders.take(volume);
    this.broadcast({ type: 'propose', volume, proposal, ...(heldByAll !== null ? { heldByAll } : {}) });
    return txid;
  }

  /**
   * Starts a point read of `keys`; answered by a `read` or `readFailed` event. With
   * `prefixBytes`, values come back cut to that many leading bytes.
   */
  read(volume: string, keys: string[], nowMs: number, prefixBytes?: number): number {
    const requestId = ++this.requestCounter;
    const state: ReadState = {
      volume,
      keys,
      prefixBytes,
      roundId: 0,
      replies: new Map(),
      asked: new Set(),
      startedAtMs: nowMs,
      sentAtMs: nowMs,
      retryAtMs: null,
      blockedSinceMs: new Map(),
      mustResolve: null,
      committedSeen: new Map(),
    };
    this.reads.set(requestId, state);
    this.startReadRound(requestId, state, nowMs);
    return requestId;
  }

  /**
   * Starts a scan page: key names from 3 replicas, merged. Answered by a `scanned` event (names
   * only: the caller point-reads them to learn which exist) or `readFailed`.
   */
  scan(volume: string, fromHash: number, limit: number, nowMs: number): number {
    const requestId = ++this.requestCounter;
    this.scans.set(requestId, {
      volume,
      fromHash,
      limit,
      replies: new Map(),
      startedAtMs: nowMs,
      sentAtMs: nowMs,
    });
    this.broadcast({ type: 'scan', volume, requestId, fromHash, limit });
    return requestId;
  }

  step(from: string, message: FromReplicaMessage, nowMs: number): void {
    const fromIndex = this.members.indexOf(from);
    if (fromIndex < 0) return;
    switch (message.type) {
      case 'vote':
        this.onVote(fromIndex, message, nowMs);
        return;
      case 'accepted':
        this.onAccepted(fromIndex, message, nowMs);
        return;
      case 'promise':
        this.onPromise(fromIndex, message, nowMs);
        return;
      case 'readReply':
        this.onReadReply(fromIndex, message, nowMs);
        return;
      case 'scanReply':
        this.onScanReply(fromIndex, message);
        return;
      case 'applied':
      case 'noticeMark':
        return; // for the shell's cache, not for the protocol
    }
  }

  tick(nowMs: number): void {
    this.decisionHolders.expire(nowMs);
    for (const [txid, state] of this.commits) this.tickCommit(txid, state, nowMs);
    for (const [requestId, state] of this.reads) this.tickRead(requestId, state, nowMs);
    for (const [requestId, state] of this.scans) this.tickScan(requestId, state, nowMs);
    for (const [txid, entry] of this.foreignRecoveries) {
      if (nowMs - entry.sentAtMs < this.timing.retransmitMs) continue;
      entry.sentAtMs = nowMs;
      if (entry.round.phase === 'outbid') {
        // Start over above the ballot that beat us: its coordinator may have died.
        this.foreignRecoveries.delete(txid);
        this.foreignNextRound.set(txid, ballotRound(entry.round.highestSeenBallot) + 1);
        if (this.foreignNextRound.size > FOREIGN_ROUND_HINTS_MAX) {
          this.foreignNextRound.delete(this.foreignNextRound.keys().next().value as TxId);
        }
        continue;
      }
      this.sendAll(entry.round.outstanding());
    }
  }

  // ---- commits -----------------------------------------------------------------------------

  private onVote(fromIndex: number, message: VoteMessage, nowMs: number): void {
    if (message.held !== undefined) this.decisionHolders.heard(fromIndex, message.held, nowMs);
    const state = this.commits.get(message.txid);
    if (state === undefined || state.phase !== 'voting') return;
    state.votes.set(fromIndex, message);
    this.lateUntilMs[fromIndex] = 0; // it answers in time again
    let yes = 0;
    let no = 0;
    for (const vote of state.votes.values()) vote.vote === 'yes' ? yes++ : no++;
    const tally = tallyVotes(yes, no, this.quorum);
    if (tally === 'lost') {
      this.finish(message.txid, state, nowMs, 'abort', `conflict (${describeNoVotes(state.votes)})`);
      return;
    }
    if (tally !== 'won') return;
    if (yes >= this.quorum.fastCommitVotes) {
      // Every recovery would hear 4 YES among its promises and choose COMMIT: it is settled.
      this.finishCommit(message.txid, state, nowMs, true);
      return;
    }
    if (this.mayStillBeFast(state, yes, nowMs)) {
      if (state.fastPathUntilMs === null) {
        const waitMs = Math.min(
          FAST_PATH_WAIT_MAX_MS,
          Math.max(FAST_PATH_WAIT_MIN_MS, nowMs - state.startedAtMs),
        );
        state.fastPathUntilMs = nowMs + waitMs;
      }
      return;
    }
    this.startAccept(state, nowMs);
  }

  /** Whether the missing votes could still make six YES, from replicas not lately too slow. */
  private mayStillBeFast(state: CommitState, yes: number, nowMs: number): boolean {
    if (yes + (REPLICA_COUNT - state.votes.size) < this.quorum.fastCommitVotes) return false;
    for (let index = 0; index < REPLICA_COUNT; index++) {
      if (!state.votes.has(index) && nowMs < (this.lateUntilMs[index] as number)) return false;
    }
    return true;
  }

  private startAccept(state: CommitState, nowMs: number): void {
    state.phase = 'accepting';
    state.sentAtMs = nowMs;
    state.resendAfterMs = this.timing.retransmitMs;
    this.sendAccept(state, ALL_REPLICAS);
  }

  private finishCommit(txid: TxId, state: CommitState, nowMs: number, fastPath: boolean): void {
    this.commitLatencyAverageMs += 0.05 * (nowMs - state.startedAtMs - this.commitLatencyAverageMs);
    this.finish(txid, state, nowMs, 'commit', '', fastPath);
  }

  private onAccepted(fromIndex: number, message: AcceptedMessage, nowMs: number): void {
    const state = this.commits.get(message.txid);
    if (state !== undefined && state.phase === 'accepting' && message.ballot === INITIAL_BALLOT) {
      if (message.ok) {
        state.acceptances.add(fromIndex);
        if (state.acceptances.size >= this.quorum.acceptances) {
          this.finishCommit(message.txid, state, nowMs, false);
        }
      } else {
        state.acceptRejections.add(fromIndex);
        // A recovery outbid our ballot: only a recovery of our own can tell what was chosen.
        if (REPLICA_COUNT - state.acceptRejections.size < this.quorum.acceptances) {
          this.startOwnRecovery(state, nowMs);
        }
      }
      return;
    }
    if (state?.phase === 'recovering' && state.recovery !== null) {
      state.recovery.onAccepted(fromIndex, message);
      this.afterOwnRecoveryProgress(message.txid, state, nowMs);
      return;
    }
    const foreign = this.foreignRecoveries.get(message.txid);
    if (foreign !== undefined) {
      foreign.round.onAccepted(fromIndex, message);
      this.afterForeignRecoveryProgress(message.txid, foreign);
    }
  }

  private onPromise(fromIndex: number, message: PromiseMessage, nowMs: number): void {
    const state = this.commits.get(message.txid);
    if (state?.phase === 'recovering' && state.recovery !== null) {
      this.sendAll(state.recovery.onPromise(fromIndex, message));
      this.afterOwnRecoveryProgress(message.txid, state, nowMs);
      return;
    }
    const foreign = this.foreignRecoveries.get(message.txid);
    if (foreign !== undefined) {
      this.sendAll(foreign.round.onPromise(fromIndex, message));
      this.afterForeignRecoveryProgress(message.txid, foreign);
    }
  }

  private tickCommit(txid: TxId, state: CommitState, nowMs: number): void {
    if (nowMs - state.startedAtMs >= this.timing.commitDeadlineMs) {
      this.commits.delete(txid);
      this.ready.events.push({
        type: 'unknown',
        txid,
        reason: `no decision within ${this.timing.commitDeadlineMs} ms: fewer than ${this.quorum.commitVotes} storage replicas answered`,
      });
      return;
    }
    // Under load every commit is slow: recovering them all at once would only add load.
    const recoveryAfterMs = Math.max(
      this.timing.commitRecoveryAfterMs,
      RECOVERY_LATENCY_FACTOR * this.commitLatencyAverageMs,
    );
    if (state.phase !== 'recovering' && nowMs - state.startedAtMs >= recoveryAfterMs) {
      this.startOwnRecovery(state, nowMs);
      return;
    }
    if (state.phase === 'voting' && state.fastPathUntilMs !== null && nowMs >= state.fastPathUntilMs) {
      for (let index = 0; index < REPLICA_COUNT; index++) {
        if (!state.votes.has(index)) this.lateUntilMs[index] = nowMs + LATE_REPLICA_SKIP_MS;
      }
      this.startAccept(state, nowMs);
      return;
    }
    if (nowMs - state.sentAtMs < state.resendAfterMs) return;
    state.sentAtMs = nowMs;
    state.resendAfterMs = Math.min(state.resendAfterMs * 2, this.timing.retransmitMsMax);
    if (state.phase === 'voting') {
      this.sendToMissing(state.votes, { type: 'propose', volume: state.volume, proposal: state.proposal });
    } else if (state.phase === 'accepting') {
      this.sendAccept(state, state.acceptances);
    } else if (state.recovery !== null) {
      if (state.recovery.phase === 'outbid') {
        this.startOwnRecovery(state, nowMs);
      } else {
        this.sendAll(state.recovery.outstanding());
      }
    }
  }

  private startOwnRecovery(state: CommitState, nowMs: number): void {
    const previous = state.recovery;
    const round =
      previous === null
        ? 1
        : Math.max(ballotRound(previous.ballot), ballotRound(previous.highestSeenBallot)) + 1;
    state.phase = 'recovering';
    state.sentAtMs = nowMs;
    state.resendAfterMs = this.timing.retransmitMs;
    state.recovery = new RecoveryRound(
      state.volume,
      state.proposal.txid,
      recoveryBallot(round, this.coordinatorId),
      this.members,
      state.proposal,
      this.quorum,
    );
    this.sendAll(state.recovery.outstanding());
  }

  private afterOwnRecoveryProgress(txid: TxId, state: CommitState, nowMs: number): void {
    const recovery = state.recovery;
    if (recovery === null) return;
    if (recovery.phase === 'chosen' && recovery.decision !== null) {
      this.finish(
        txid,
        state,
        nowMs,
        recovery.decision,
        'recovery chose abort (the commit did not reach a quorum in time)',
      );
    } else if (recovery.phase === 'outbid' && nowMs - state.sentAtMs >= this.timing.retransmitMs) {
      this.startOwnRecovery(state, nowMs);
    }
  }

  private finish(
    txid: TxId,
    state: CommitState,
    nowMs: number,
    decision: Decision,
    abortReason: string,
    fastPath = false,
  ): void {
    this.commits.delete(txid);
    this.learn(txid, decision);
    const bare = decidedMessage(state.volume, txid, decision, null);
    // One shared object where the two are the same, so that it is encoded once.
    const full = decision === 'commit' ? decidedMessage(state.volume, txid, decision, state.proposal) : bare;
    this.sendByVote(state, ALL_REPLICAS, bare, full);
    this.decisionHolders.sent(state.volume, txid, nowMs);
    this.ready.events.push(
      decision === 'commit'
        ? { type: 'committed', txid, fastPath }
        : { type: 'aborted', txid, reason: abortReason },
    );
  }

  // ---- reads -------------------------------------------------------------------------------

  private startReadRound(requestId: number, state: ReadState, nowMs: number): void {
    if (state.roundId !== 0) this.readByRound.delete(state.roundId);
    state.roundId = ++this.roundCounter;
    state.replies.clear();
    state.sentAtMs = nowMs;
    state.retryAtMs = null;
    this.readByRound.set(state.roundId, requestId);
    this.chooseReadReplicas(state.asked, nowMs);
    this.readRoundCounters.rounds++;
    const message = readMessage(state);
    for (const index of state.asked) this.ready.messages.push({ to: this.members[index] as string, message });
  }

  /**
   * Fills `asked` with the first `quorum.reads` replicas from the cursor that no hedge lately ran
   * out on, or with all six when too few are left.
   */
  private chooseReadReplicas(asked: Set<number>, nowMs: number): void {
    asked.clear();
    const ms = Math.floor(nowMs);
    if (ms !== this.readCursorMs) {
      this.readCursorMs = ms;
      this.readCursor = (this.readCursor + 1) % REPLICA_COUNT;
    }
    const start = this.readCursor;
    for (let offset = 0; offset < REPLICA_COUNT && asked.size < this.quorum.reads; offset++) {
      const index = (start + offset) % REPLICA_COUNT;
      if ((this.readSlowUntilMs[index] as number) <= nowMs) asked.add(index);
    }
    if (asked.size < this.quorum.reads) addEveryReplica(asked);
  }

  private onReadReply(fromIndex: number, message: ReadReplyMessage, nowMs: number): void {
    this.readSlowUntilMs[fromIndex] = 0;
    const requestId = this.readByRound.get(message.requestId);
    if (requestId === undefined) return;
    const state = this.reads.get(requestId);
    if (state === undefined || state.retryAtMs !== null) return;
    state.replies.set(fromIndex, message);
    if (state.replies.size >= this.quorum.reads) {
      const tookMs = nowMs - state.sentAtMs;
      this.readLatencyAverageMs += (tookMs - this.readLatencyAverageMs) * READ_LATENCY_WEIGHT;
      this.resolveRead(requestId, state, nowMs);
    }
  }

  /**
   * The highest committed version among ≥ 3 replies, after resolving pending entries: any 3
   * replicas include one of a commit's 4 YES voters, which shows the key pending or applied.
   */
  private resolveRead(requestId: number, state: ReadState, nowMs: number): void {
    // Committed versions seen in earlier rounds stay candidates: a later round may hear from
    // replicas that lag behind them.
    const best = state.committedSeen;
    const blockers = new Set<TxId>();
    for (const reply of state.replies.values()) {
      for (const result of reply.results) {
        // A result is a ReadValue already (its `pending` rides along unread): no copy per reply.
        consider(best, result);
        const pending = result.pending;
        if (pending === null) continue;
        const decision = this.decisions.get(pending.txid);
        if (decision === undefined) {
          blockers.add(pending.txid);
        } else if (decision === 'commit' && pending.writes) {
          consider(best, {
            key: result.key,
            version: { seq: pending.readSeq + 1, txid: pending.txid },
            value: pending.value,
          });
        }
      }
    }
    if (state.mustResolve === null) state.mustResolve = new Set(blockers);
    for (const txid of blockers) if (!state.mustResolve.has(txid)) blockers.delete(txid);
    if (blockers.size === 0) {
      this.finishRead(requestId, state);
      this.ready.events.push({
        type: 'read',
        requestId,
        values: state.keys.map((key) => best.get(key) ?? { key, version: { seq: 0, txid: '' }, value: null }),
      });
      return;
    }
    state.retryAtMs = nowMs + this.timing.readRetryMs;
    for (const txid of blockers) {
      const since = state.blockedSinceMs.get(txid) ?? nowMs;
      state.blockedSinceMs.set(txid, since);
      if (nowMs - since >= this.timing.pendingTimeoutMs) this.recoverForeign(state.volume, txid, nowMs);
    }
  }

  private tickRead(requestId: number, state: ReadState, nowMs: number): void {
    if (nowMs - state.startedAtMs >= this.timing.readDeadlineMs) {
      this.finishRead(requestId, state);
      this.ready.events.push({
        type: 'readFailed',
        requestId,
        reason: `no answer within ${this.timing.readDeadlineMs} ms: fewer than ${this.quorum.reads} storage replicas answered, or a pending transaction could not be resolved`,
      });
      return;
    }
    if (state.retryAtMs !== null) {
      if (nowMs >= state.retryAtMs) this.startReadRound(requestId, state, nowMs);
      return;
    }
    if (state.asked.size < REPLICA_COUNT && nowMs - state.sentAtMs >= this.readHedgeAfterMs()) {
      // Hedge: the replicas asked first have not all answered; ask the others too.
      this.readRoundCounters.hedged++;
      for (const index of state.asked) {
        if (!state.replies.has(index)) this.readSlowUntilMs[index] = nowMs + LATE_REPLICA_SKIP_MS;
      }
      this.sendToMissing(state.asked, readMessage(state));
      addEveryReplica(state.asked);
      return;
    }
    if (nowMs - state.sentAtMs >= this.timing.retransmitMs) {
      state.sentAtMs = nowMs;
      addEveryReplica(state.asked);
      this.sendToMissing(state.replies, readMessage(state));
    }
  }

  private readHedgeAfterMs(): number {
    return Math.min(
      this.timing.retransmitMs,
      Math.max(this.timing.readHedgeMinMs, this.readLatencyAverageMs * READ_HEDGE_LATENCY_FACTOR),
    );
  }

  private finishRead(requestId: number, state: ReadState): void {
    this.reads.delete(requestId);
    this.readByRound.delete(state.roundId);
  }

  // ---- scans -------------------------------------------------------------------------------

  private onScanReply(fromIndex: number, message: ScanReplyMessage): void {
    const state = this.scans.get(message.requestId);
    if (state === undefined) return;
    state.replies.set(fromIndex, message);
    if (state.replies.size < this.quorum.reads) return;
    // A replica that cut its page short has not shown what lies past its cut: keep only keys
    // below the lowest cut, where all replies are complete. Any 3 replicas include one that
    // holds each committed key (as a value or pending), so the union misses none.
    let bound = Number.POSITIVE_INFINITY;
    for (const reply of state.replies.values())
      if (reply.nextHash !== 0) bound = Math.min(bound, reply.nextHash);
    // Each key hashed once: a page holds thousands, and a sort compares each about log n times.
    const hashes = new Map<string, number>();
    for (const reply of state.replies.values()) {
      for (const key of reply.keys) {
        if (hashes.has(key)) continue;
        const hash = keyHash(key);
        if (hash < bound) hashes.set(key, hash);
      }
    }
    this.scans.delete(message.requestId);
    this.ready.events.push({
      type: 'scanned',
      requestId: message.requestId,
      keys: [...hashes].sort((a, b) => a[1] - b[1]).map(([key]) => key),
      nextHash: bound === Number.POSITIVE_INFINITY ? 0 : bound,
    });
  }

  private tickScan(requestId: number, state: ScanState, nowMs: number): void {
    if (nowMs - state.startedAtMs >= this.timing.readDeadlineMs) {
      this.scans.delete(requestId);
      this.ready.events.push({
        type: 'readFailed',
        requestId,
        reason: `no scan answer within ${this.timing.readDeadlineMs} ms: fewer than ${this.quorum.reads} storage replicas answered`,
      });
      return;
    }
    if (nowMs - state.sentAtMs >= this.timing.retransmitMs) {
      state.sentAtMs = nowMs;
      const { volume, fromHash, limit } = state;
      this.sendToMissing(state.replies, { type: 'scan', volume, requestId, fromHash, limit });
    }
  }

  private recoverForeign(volume: string, txid: TxId, nowMs: number): void {
    if (this.foreignRecoveries.has(txid) || this.commits.has(txid)) return;
    const ballot = recoveryBallot(this.foreignNextRound.get(txid) ?? 1, this.coordinatorId);
    const round = new RecoveryRound(volume, txid, ballot, this.members, null, this.quorum);
    this.foreignRecoveries.set(txid, { volume, round, sentAtMs: nowMs });
    this.sendAll(round.outstanding());
  }

  private afterForeignRecoveryProgress(
    txid: TxId,
    entry: { volume: string; round: RecoveryRound; sentAtMs: number },
  ): void {
    const { round } = entry;
    if (round.phase !== 'chosen' || round.decision === null) return;
    this.foreignRecoveries.delete(txid);
    this.foreignNextRound.delete(txid);
    this.learn(txid, round.decision);
    this.broadcast(decidedMessage(entry.volume, txid, round.decision, round.chosenProposal));
  }

  // ---- helpers -----------------------------------------------------------------------------

  private learn(txid: TxId, decision: Decision): void {
    this.decisions.set(txid, decision);
    if (this.decisions.size > DECISION_CACHE_MAX) this.oldestDecision.dropOldest();
  }

  /** ACCEPT to the replicas not in `answered`; those that voted YES logged the proposal already. */
  private sendAccept(state: CommitState, answered: { has(index: number): boolean }): void {
    const accept = {
      type: 'accept' as const,
      volume: state.volume,
      txid: state.proposal.txid,
      ballot: INITIAL_BALLOT,
      decision: 'commit' as const,
      proposal: null,
    };
    this.sendByVote(state, answered, accept, { ...accept, proposal: state.proposal });
  }

  /**
   * Sends `withoutProposal` to YES voters and `withProposal` to the others, skipping replicas in
   * `skip`: the proposal travels (and is logged) once per replica, not three times.
   */
  private sendByVote(
    state: CommitState,
    skip: { has(index: number): boolean },
    withoutProposal: Envelope['message'],
    withProposal: Envelope['message'],
  ): void {
    for (let index = 0; index < REPLICA_COUNT; index++) {
      if (skip.has(index)) continue;
      const votedYes = state.votes.get(index)?.vote === 'yes';
      this.ready.messages.push({
        to: this.members[index] as string,
        message: votedYes ? withoutProposal : withProposal,
      });
    }
  }

  private broadcast(message: Envelope['message']): void {
    for (const to of this.members) this.ready.messages.push({ to, message });
  }

  private sendToMissing(answered: { has(index: number): boolean }, message: Envelope['message']): void {
    for (let index = 0; index < REPLICA_COUNT; index++) {
      if (!answered.has(index)) this.ready.messages.push({ to: this.members[index] as string, message });
    }
  }

  private sendAll(envelopes: Envelope[]): void {
    for (const envelope of envelopes) this.ready.messages.push(envelope);
  }
}

function readMessage(state: ReadState): ReadMessage {
  const message: ReadMessage = {
    type: 'read',
    volume: state.volume,
    requestId: state.roundId,
    keys: state.keys,
  };
  if (state.prefixBytes !== undefined) message.prefixBytes = state.prefixBytes;
  return message;
}

function addEveryReplica(indexes: Set<number>): void {
  for (let index = 0; index < REPLICA_COUNT; index++) indexes.add(index);
}

function consider(best: Map<string, ReadValue>, candidate: ReadValue): void {
  const current = best.get(candidate.key);
  if (current === undefined || candidate.version.seq > current.version.seq)
    best.set(candidate.key, candidate);
}

function describeNoVotes(votes: Map<number, VoteMessage>): string {
  const reasons = new Map<string, number>();
  for (const vote of votes.values()) {
    if (vote.vote !== 'no') continue;
    const reason = vote.reason ?? 'no';
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  return [...reasons].map(([reason, count]) => `${count}× ${reason}`).join(', ');
}
