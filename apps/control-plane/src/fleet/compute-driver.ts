// What the fleet manager asks of a platform that runs processes (docs/adr/0006). The `local`
// driver runs child processes; a Kubernetes driver would run pods behind the same interface,
// so nothing here speaks of PIDs, files or ports picked by the operating system.

export type FleetRole = 'storage-node' | 'data-node' | 'proxy';

/** What to run: a role, a stable id, and the role's settings (the driver maps them to flags). */
export type ProcessSpec =
  | {
      role: 'storage-node';
      id: string;
      az: string;
      port: number;
      dataDir: string;
      /** All six members, `s1=host:port,…`. */
      members: string;
    }
  | {
      role: 'data-node';
      id: string;
      /** The storage fleet, `s1=host:port,…`. */
      storage: string;
      coordinatorId: number;
    }
  | { role: 'proxy'; id: string };

/** A running process of the fleet, as the driver knows it. */
export interface FleetInstance {
  role: FleetRole;
  id: string;
  /** Base URL of its HTTP side: health, metrics, lifecycle calls. */
  adminUrl: string;
  /** Random per process start: tells a process from a later one in its place. */
  instanceId: string;
  startedAt: Date;
  /** Where it runs, for people reading the API (`pid 4242`, a pod name). */
  location: string;
}

export type ExitListener = (instance: FleetInstance, reason: string) => void;

export interface ComputeDriver {
  readonly name: string;
  /** Processes of the fleet already running, started earlier (possibly by an earlier control plane). */
  discover(): Promise<FleetInstance[]>;
  /** Starts a process and resolves once it serves its HTTP side; rejects with the reason it did not. */
  start(spec: ProcessSpec): Promise<FleetInstance>;
  /** Stops it (a graceful signal, then a forced one after `graceMs`) and resolves once it is gone. */
  stop(instance: FleetInstance, graceMs: number): Promise<void>;
  /** Called once for every instance, started or discovered, that ends on its own. */
  onExit(listener: ExitListener): void;
  /** Stops watching (not the processes: they outlive the control plane). */
  close(): Promise<void>;
}

export const COMPUTE_DRIVER = Symbol('COMPUTE_DRIVER');

/** The driver of a control plane that runs no fleet (COMPUTE_DRIVER=none): it finds and starts nothing. */
export class NoComputeDriver implements ComputeDriver {
  readonly name = 'none';

  async discover(): Promise<FleetInstance[]> {
    return [];
  }

  async start(spec: ProcessSpec): Promise<FleetInstance> {
    throw new Error(
      `cannot start ${spec.role} ${spec.id}: COMPUTE_DRIVER=none runs no fleet; unset it to use the local driver`,
    );
  }

  async stop(): Promise<void> {}

  onExit(): void {}

  async close(): Promise<void> {}
}
