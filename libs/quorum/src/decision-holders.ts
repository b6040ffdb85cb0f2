// Which replicas hold the decisions a writer sent (ADR 0021). Each replica says so in its next
// vote to the writer (`held`), which leaves only once its log holds the decision. Once all six
// have, the writer names the transaction in its next PROPOSE on the volume (`heldByAll`), and
// every replica forgets the record without asking its five peers: one list each way instead of
// the peers' questions and answers. Pure bookkeeping, bounded; what it misses (a lost DECIDED, a
// writer that stops proposing) the replicas still confirm between themselves after a second.
import { MapHand } from '../../collections/src/index.js';
import type { TxId } from './messages.js';
import { REPLICA_COUNT } from './quorum-table.js';

/** Every replica's bit. */
const ALL_HOLD = (1 << REPLICA_COUNT) - 1;

/**
 * A decision not held by all six within this long is left to the replicas' own confirmations,
 * which start once it is a second old (`decisionConfirmAfterMs`); so are lists no PROPOSE took.
 */
export const DECISION_HOLDERS_WAIT_MS = 1_000;
/** Decisions waiting to hear from all six at most; the oldest go first. */
export const DECISIONS_AWAITED_MAX = 65_536;
/** Transactions named in one PROPOSE at most; more wait for the next. */
export const HELD_BY_ALL_PER_PROPOSE_MAX = 1_024;
/** Transactions waiting for a PROPOSE on their volume at most; more are left to the replicas. */
const HELD_BY_ALL_WAITING_MAX = 16_384;

interface Awaited {
  volume: string;
  /** Bit i: replica i said it holds the decision. */
  holders: number;
  sinceMs: number;
}

export class DecisionHolders {
  private readonly awaited = new Map<TxId, Awaited>();
  private readonly oldestAwaited = new MapHand(this.awaited);
  /** Per volume: transactions all six hold, for the next PROPOSE, and since when the list waits. */
  private readonly heldByAll = new Map<string, { txids: TxId[]; sinceMs: number }>();

  /** The writer sent DECIDED of `txid` to every replica. */
  sent(volume: string, txid: TxId, nowMs: number): void {
    // A txid is decided once, so this finds nothing; were it sent again, its entry would move to
    // the back (MapHand's contract: an entry is replaced only by deleting and setting it).
    this.awaited.delete(txid);
    if (this.awaited.size >= DECISIONS_AWAITED_MAX) this.oldestAwaited.dropOldest();
    this.awaited.set(txid, { volume, holders: 0, sinceMs: nowMs });
  }

  /** Replica `index` said, in a vote, that it holds the decisions of `txids`. */
  heard(index: number, txids: readonly TxId[], nowMs: number): void {
    for (const txid of txids) {
      const entry = this.awaited.get(txid);
      if (entry === undefined) continue;
      entry.holders |= 1 << index;
      if (entry.holders !== ALL_HOLD) continue;
      this.awaited.delete(txid);
      let list = this.heldByAll.get(entry.volume);
      if (list === undefined) {
        list = { txids: [], sinceMs: nowMs };
        this.heldByAll.set(entry.volume, list);
      }
      if (list.txids.length < HELD_BY_ALL_WAITING_MAX) list.txids.push(txid);
    }
  }

  /** The transactions of `volume` to name in a PROPOSE, now taken from the list; null if none. */
  take(volume: string): TxId[] | null {
    const list = this.heldByAll.get(volume);
    if (list === undefined) return null;
    if (list.txids.length <= HELD_BY_ALL_PER_PROPOSE_MAX) {
      this.heldByAll.delete(volume);
      return list.txids;
    }
    return list.txids.splice(0, HELD_BY_ALL_PER_PROPOSE_MAX);
  }

  /** Drops what waited longer than `DECISION_HOLDERS_WAIT_MS`: the replicas confirm it themselves. */
  expire(nowMs: number): void {
    // Oldest first (sent in time order): stop at the first that may still hear.
    for (
      let oldest = this.oldestAwaited.oldest();
      oldest !== undefined && nowMs - oldest[1].sinceMs >= DECISION_HOLDERS_WAIT_MS;
      oldest = this.oldestAwaited.oldest()
    ) {
      this.oldestAwaited.dropOldest();
    }
    for (const [volume, list] of this.heldByAll) {
      if (nowMs - list.sinceMs >= DECISION_HOLDERS_WAIT_MS) this.heldByAll.delete(volume);
    }
  }

  /** Nothing waits: no decision to hear about, no list for a PROPOSE (`expire` has nothing to do). */
  get empty(): boolean {
    return this.awaited.size === 0 && this.heldByAll.size === 0;
  }

  /** Decisions still waiting to hear from all six. */
  get awaitedCount(): number {
    return this.awaited.size;
  }
}
