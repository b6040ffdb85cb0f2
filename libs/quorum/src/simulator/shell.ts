// How the simulator runs a replica inside the code that ships around it. By default it drives
// `StorageReplica` itself, persisting each batch's records and then sending its messages at once.
// A `ReplicaShellFactory` replaces that with a shell of the storage node (its event loop, batching,
// persist-then-send, snapshots and repair) bound to a simulated disk whose fsyncs take time and
// fail the way real ones do. The factory lives with the shell it runs (apps/storage-node), so that
// this library stays free of the applications.
import type { Envelope, QuorumMessage } from '../messages.js';
import type { ReplicaRecord, ReplicaTiming, StorageReplica } from '../replica.js';

/** What the simulation offers a running shell: its clock, its events, its network, its checks. */
export interface ShellHost {
  nowMs(): number;
  /** Runs `run` at now + `delayMs` of virtual time, unless the replica has crashed since. */
  schedule(delayMs: number, run: () => void): void;
  /** Messages leaving the replica, in one batch per destination or not. */
  send(envelopes: readonly Envelope[]): void;
  /** Records that became durable, before any message they cover leaves. */
  durable(records: readonly ReplicaRecord[]): void;
  /** The shell stopped itself (a failed fsync, a full disk): the simulation crashes the replica. */
  failStop(reason: string): void;
  /** The replica's repair after a damaged disk completed and is recorded on its disk. */
  repaired(): void;
  /** In [0, 1), from the seed's fault generator: disk latencies and faults. */
  random(): number;
  trace(line: string): void;
}

/** A replica's disk as the simulation sees it across crashes. */
export interface ShellDisk {
  describe(): string;
  /** Records were lost to damage and the replica has not recorded a completed repair since. */
  readonly needsRepair: boolean;
  /**
   * A crash: writes not yet fsynced survive in part (a torn tail) or not at all. The records that
   * survived are durable now, though nobody was told of them.
   */
  crash(random: () => number): { description: string; survivors: ReplicaRecord[] };
  /** Damage found at the next start; `pick(n)` chooses an integer in [0, n). */
  damage(pick: (n: number) => number): string;
}

export interface ReplicaShell {
  /** The replica inside, for the simulation's checks (never stepped by the simulation). */
  readonly replica: StorageReplica;
  receive(from: string, message: QuorumMessage): void;
  /** A writer process connected, naming the volumes whose commits by others it wants to hear of. */
  writerConnected?(writerId: string, notifyVolumes: readonly string[]): void;
  writerDisconnected?(writerId: string): void;
  tick(): void;
  /** The process is gone: nothing it scheduled runs any more. */
  stop(): void;
}

export interface ShellStart {
  index: number;
  members: readonly string[];
  timing: ReplicaTiming;
  disk: ShellDisk;
  host: ShellHost;
}

export interface ReplicaShellFactory {
  /** Named in the simulator's replay command. */
  readonly name: string;
  newDisk(): ShellDisk;
  /** Starts a replica process: replays `disk`, repairs if it must, then serves. */
  start(options: ShellStart): ReplicaShell;
}
