// The bookkeeping of a replica's repair after it lost records it may have acknowledged
// (docs/adr/0009-replica-repair.md). Pure data: the replica feeds it what peers answer and asks it
// which pass to run next and whether the repair is complete.
import type { TxId } from './messages.js';

/** Healthy peers (not repairing themselves) whose whole state a repair must have read. */
export const REPAIR_PEERS_NEEDED = 3;
/** A page of a pass unanswered this long is asked for again. */
export const REPAIR_RESEND_MS = 1_000;
/** A peer that answered as repairing, or with more transactions than a reply holds, is asked again after this. */
export const REPAIR_RETRY_MS = 2_000;
/** Keys per repair page (the most `repairRequest` serves). */
export const REPAIR_PAGE_KEYS = 4_096;
/** Open transactions named per decision request. */
export const REPAIR_DECISIONS_PER_REQUEST = 256;

interface PeerPass {
  pass: number;
  nextIndex: number;
  sentAtMs: number;
  /** False once the pass saw something that keeps it from counting (truncated transactions). */
  counts: boolean;
}

export class VolumeRepair {
  /** Peers whose whole pass (keys and transactions, started after the quiet period) was read. */
  readonly completedBy = new Set<number>();
  /** Transactions open (holding keys) at a peer when its pass read them, not yet decided here. */
  readonly open = new Set<TxId>();
  readonly passes = new Map<number, PeerPass>();
  readonly retryAfterMs = new Map<number, number>();
  /** Open transaction → healthy peers that said they neither hold it nor know its decision. */
  readonly notHeldBy = new Map<TxId, Set<number>>();
  decisionsAskedAtMs = Number.NEGATIVE_INFINITY;
  /** Holds left from before the damage that no healthy peer knows of were released. */
  staleReleased = false;

  get passesDone(): boolean {
    return this.completedBy.size >= REPAIR_PEERS_NEEDED;
  }
}

export interface RepairStatus {
  reason: string;
  startedAtMs: number;
  /** No pass starts before this: every message sent before the damage has arrived or never will. */
  quietUntilMs: number;
  /** Healthy peers that listed their volumes (of `REPAIR_PEERS_NEEDED`). */
  volumeListsRead: number;
  volumes: number;
  volumesRepaired: number;
  /** Transactions this replica waits to see decided before it takes part again. */
  openTransactions: number;
  /** The first few of them, `volume/txid`, to say what a repair waits on. */
  waitingOn: string[];
  /** Quorum messages left unanswered while repairing (votes, accepts, promises, reads, scans). */
  messagesNotAnswered: number;
}

export class ReplicaRepair {
  readonly volumes = new Map<string, VolumeRepair>();
  readonly listedBy = new Set<number>();
  readonly listPasses = new Map<number, { pass: number; sentAtMs: number }>();
  readonly listRetryAfterMs = new Map<number, number>();
  messagesNotAnswered = 0;
  private lastPass = 0;

  constructor(
    readonly reason: string,
    readonly startedAtMs: number,
    readonly quietUntilMs: number,
  ) {}

  nextPass(): number {
    return ++this.lastPass;
  }

  include(volume: string): VolumeRepair {
    let repair = this.volumes.get(volume);
    if (repair === undefined) {
      repair = new VolumeRepair();
      this.volumes.set(volume, repair);
    }
    return repair;
  }

  /** Complete: healthy peers listed their volumes, and every volume was read whole and has nothing open. */
  get complete(): boolean {
    if (this.listedBy.size < REPAIR_PEERS_NEEDED) return false;
    for (const volume of this.volumes.values()) if (!volume.passesDone || volume.open.size > 0) return false;
    return true;
  }

  status(): RepairStatus {
    let volumesRepaired = 0;
    let openTransactions = 0;
    const waitingOn: string[] = [];
    for (const [name, volume] of this.volumes) {
      if (volume.passesDone && volume.open.size === 0) volumesRepaired++;
      openTransactions += volume.open.size;
      for (const txid of volume.open) if (waitingOn.length < 8) waitingOn.push(`${name}/${txid}`);
    }
    return {
      reason: this.reason,
      startedAtMs: this.startedAtMs,
      quietUntilMs: this.quietUntilMs,
      volumeListsRead: this.listedBy.size,
      volumes: this.volumes.size,
      volumesRepaired,
      openTransactions,
      waitingOn,
      messagesNotAnswered: this.messagesNotAnswered,
    };
  }
}
