// One recovery round for one transaction (DESIGN §4, "Recovery"): a Paxos instance over the
// transaction's decision, run by a writer or by a replica that finds a key pending too long.
//
// PREPARE(b) → 4 promises → value = the accepted value with the highest ballot, else COMMIT
// only with a certificate of 4 YES votes, else ABORT → ACCEPT(b) → 4 ACCEPTED → chosen.
// A replica that had not voted records a permanent NO when it promises, so a late PROPOSE
// cannot complete a certificate behind the round's back.
import type { AcceptedMessage, Decision, Envelope, PromiseMessage, Proposal, TxId } from './messages.js';
import { QUORUM, REPLICA_COUNT } from './quorum-table.js';

export type RecoveryPhase = 'preparing' | 'accepting' | 'chosen' | 'outbid';

export class RecoveryRound {
  phase: RecoveryPhase = 'preparing';
  decision: Decision | null = null;
  /** Highest ballot a replica reported promising; the next round must exceed it. */
  highestSeenBallot = 0;
  private proposal: Proposal | null;
  private readonly promises = new Map<number, PromiseMessage>();
  private readonly acceptances = new Set<number>();
  private readonly rejections = new Set<number>();

  constructor(
    readonly volume: string,
    readonly txid: TxId,
    readonly ballot: number,
    private readonly members: readonly string[],
    knownProposal: Proposal | null,
    private readonly quorum: typeof QUORUM = QUORUM,
  ) {
    this.proposal = knownProposal;
  }

  get chosenProposal(): Proposal | null {
    return this.proposal;
  }

  /** Messages for replicas that have not answered the current phase (first send and resends). */
  outstanding(): Envelope[] {
    const envelopes: Envelope[] = [];
    for (let index = 0; index < REPLICA_COUNT; index++) {
      const to = this.members[index] as string;
      if (this.phase === 'preparing' && !this.promises.has(index) && !this.rejections.has(index)) {
        envelopes.push({
          to,
          message: { type: 'prepare', volume: this.volume, txid: this.txid, ballot: this.ballot },
        });
      } else if (this.phase === 'accepting' && !this.acceptances.has(index) && !this.rejections.has(index)) {
        envelopes.push({
          to,
          message: {
            type: 'accept',
            volume: this.volume,
            txid: this.txid,
            ballot: this.ballot,
            decision: this.decision as Decision,
            proposal: this.decision === 'commit' ? this.proposal : null,
          },
        });
      }
    }
    return envelopes;
  }

  /** Returns the ACCEPT messages to send when this promise completes the prepare phase. */
  onPromise(fromIndex: number, message: PromiseMessage): Envelope[] {
    if (this.phase !== 'preparing' || message.ballot !== this.ballot) return [];
    if (message.proposal !== null && this.proposal === null) this.proposal = message.proposal;
    if (message.decision !== null) {
      // Someone already learned the chosen value: adopt it instead of choosing again.
      this.decision = message.decision;
      this.phase = 'chosen';
      return [];
    }
    if (!message.ok) {
      this.reject(fromIndex, message.promisedBallot);
      return [];
    }
    this.promises.set(fromIndex, message);
    if (this.promises.size < this.quorum.promises) return [];
    this.decision = this.chooseValue();
    this.phase = 'accepting';
    return this.outstanding();
  }

  onAccepted(fromIndex: number, message: AcceptedMessage): void {
    if (this.phase !== 'accepting' || message.ballot !== this.ballot) return;
    if (!message.ok) {
      this.reject(fromIndex, message.promisedBallot);
      return;
    }
    this.acceptances.add(fromIndex);
    if (this.acceptances.size >= this.quorum.acceptances) this.phase = 'chosen';
  }

  private chooseValue(): Decision {
    let highest: { ballot: number; decision: Decision } | null = null;
    let yesVotes = 0;
    for (const promise of this.promises.values()) {
      if (promise.accepted !== null && (highest === null || promise.accepted.ballot > highest.ballot)) {
        highest = promise.accepted;
      }
      if (promise.vote === 'yes') yesVotes++;
    }
    if (highest !== null) return highest.decision;
    // A commit needs the proposal to apply; a certificate always comes with it (YES voters hold it).
    if (yesVotes >= this.quorum.commitVotes && this.proposal !== null) return 'commit';
    return 'abort';
  }

  private reject(fromIndex: number, promisedBallot: number): void {
    this.rejections.add(fromIndex);
    this.highestSeenBallot = Math.max(this.highestSeenBallot, promisedBallot);
    const needed = this.phase === 'preparing' ? this.quorum.promises : this.quorum.acceptances;
    if (REPLICA_COUNT - this.rejections.size < needed) this.phase = 'outbid';
  }
}
