// How the simulator runs a writer inside the code that ships around it. By default a writer is the
// bare `WriterCoordinator`, driven by clients that speak the quorum protocol's reads and commits.
// A `WriterShellFactory` replaces it with a whole writer process: the storage client, the data
// node's transaction engine and cache, and the sessions the RESP server hands commands to, bound
// to the simulation's network and virtual clock. Clients then speak Redis commands to it. The
// factory lives with the code it runs (apps/data-node), so that this library stays free of the
// applications.
import type { Envelope, Proposal, QuorumMessage } from '../messages.js';
import type { QUORUM } from '../quorum-table.js';
import type { ReadValue, WriterTiming } from '../writer.js';

/** A Redis reply, as a simulated client reads it. */
export type SimReply = string | number | null | { error: string } | SimReply[];

/** What the simulation offers a running writer process. */
export interface WriterShellHost {
  nowMs(): number;
  /** Runs `run` at now + `delayMs` of virtual time, unless the process has crashed since. */
  schedule(delayMs: number, run: () => void): void;
  /** Messages leaving the process. */
  send(envelopes: readonly Envelope[]): void;
  /**
   * DECIDED messages as the writer makes them, which its storage client may hold a while before
   * they leave (ADR 0018): the writer's own reads already use the decisions.
   */
  decided(envelopes: readonly Envelope[]): void;
  /** A read of `keys` starts: returns the check its values must pass when they arrive. */
  readStarted(volume: string, keys: readonly string[]): (values: readonly ReadValue[]) => void;
  /** The storage client ended a commit: what it told the engine. */
  commitEnded(volume: string, proposal: Proposal, outcome: 'committed' | 'aborted' | 'unknown'): void;
  /** In [0, 1), from the seed: the engine's and the client's jitter. */
  random(): number;
  trace(line: string): void;
}

export interface WriterShellStart {
  writerId: string;
  coordinatorId: number;
  members: readonly string[];
  timing: Partial<WriterTiming>;
  /** Volumes the process serves, each through its own engine and cache. */
  volumes: readonly string[];
  quorum?: typeof QUORUM;
  host: WriterShellHost;
}

/** A client connection to the process: one session. */
export interface SimConnection {
  /** Runs one command as the RESP server hands it over; resolves with its reply. */
  command(args: readonly string[]): Promise<SimReply>;
}

export interface WriterShell {
  receive(from: string, message: QuorumMessage): void;
  /** Opens a connection whose session reads with `consistency` by default. */
  connect(volume: string, consistency: 'instance' | 'cluster'): SimConnection;
  /** Storage calls in flight: none once everything has drained. */
  readonly inFlight: number;
  /** The process is gone: nothing it scheduled runs any more. */
  stop(): void;
}

export interface WriterShellFactory {
  /** Named in the simulator's replay command. */
  readonly name: string;
  start(options: WriterShellStart): WriterShell;
  /** The volume key a Redis key is stored under (the keys of the run are never flushed). */
  volumeKey(key: string): string;
  /** A stored value as a string, or null for none (for the final state's checks). */
  decodeValue(bytes: Uint8Array | null): string | null;
  /**
   * Resolves once every promise chain that the last event resolved has run to its end, so that
   * the next event meets the processes as they settled. (Here, not in the simulator: this library
   * takes no timers.)
   */
  settle(): Promise<void>;
}
