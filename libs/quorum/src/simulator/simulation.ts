// The deterministic simulator: six storage replicas and three writers running the real protocol
// code (`StorageReplica`, `WriterCoordinator`) in one process, over a simulated network and
// simulated disks, driven by a virtual clock and one seeded random generator. Every message is an
// event at a virtual time; faults (loss, duplication, reordering, partitions, crashes, snapshots)
// come from the seed's fault profile. Safety invariants are checked after every step; at the end,
// liveness (everything drains once faults stop), convergence, and the histories' checkers.
import {
  type BankInput,
  type BankOutput,
  checkBank,
  checkRegisterLinearizability,
  checkSessionGuarantees,
  describeOperation,
  HistoryRecorder,
  type RegisterInput,
  type RegisterOutput,
  type SessionInput,
  type SessionOutput,
} from '../../../history/src/index.js';
import type {
  Envelope,
  FromReplicaMessage,
  Proposal,
  QuorumMessage,
  ReadEntry,
  TxId,
  WriteEntry,
} from '../messages.js';
import { QUORUM, zoneOf } from '../quorum-table.js';
import {
  DEFAULT_REPLICA_TIMING,
  type ReplicaRecord,
  type ReplicaTiming,
  StorageReplica,
} from '../replica.js';
import { WriterCoordinator, type WriterEvent, type WriterTiming } from '../writer.js';
import { SimulatedDisk } from './disk.js';
import { EventQueue } from './event-queue.js';
import { formatMs, InvariantChecker, type InvariantName, InvariantViolation } from './invariants.js';
import { Prng } from './prng.js';
import { FAULT_PROFILES, type FaultProfile, type PartitionKind, profileForSeed } from './profiles.js';
import {
  COUNTER_KEYS,
  ConnectionLost,
  counterKeys,
  RedisBankClient,
  type RedisClient,
  RedisCounterClient,
  RedisRegisterClient,
  type RedisWorkloadHost,
} from './redis-workload.js';
import type { ReplicaShell, ReplicaShellFactory, ShellDisk, ShellHost } from './shell.js';
import {
  BANK_ACCOUNTS,
  BANK_TOTAL,
  BANK_VOLUME,
  BankClient,
  type Client,
  decodeText,
  INITIAL_BALANCE,
  REGISTER_KEYS,
  REGISTER_VOLUME,
  RegisterClient,
  type WorkloadHost,
} from './workload.js';
import type { SimConnection, WriterShell, WriterShellFactory, WriterShellHost } from './writer-shell.js';

export const MEMBERS: readonly string[] = ['s1', 's2', 's3', 's4', 's5', 's6'];
export const WRITER_COUNT = 3;
/** Writers take recovery ballot ids from here up; 1–6 belong to the replicas. */
const FIRST_COORDINATOR_ID = 7;

/**
 * Timeouts far shorter than production's, so that a few virtual seconds exercise every path; each
 * seed draws its own within these ranges, so that races between writers' and replicas' recoveries
 * come in every order. Production keeps replicas slower than writers; seeds may invert that.
 */
export function simulatedTimings(rng: Prng): {
  replica: Partial<ReplicaTiming>;
  writer: Partial<WriterTiming>;
} {
  const writerRetransmitMs = rng.between(20, 80);
  return {
    replica: {
      pendingTimeoutMs: rng.between(200, 800),
      retransmitMs: rng.between(40, 120),
      syncIntervalMs: rng.between(40, 120),
    },
    writer: {
      retransmitMs: writerRetransmitMs,
      retransmitMsMax: writerRetransmitMs * 4,
      commitRecoveryAfterMs: rng.between(150, 600),
      // Sometimes shorter than a partition, so that commits also end with an unknown outcome.
      commitDeadlineMs: rng.between(800, 3_000),
      readRetryMs: 5,
      pendingTimeoutMs: rng.between(150, 600),
      readDeadlineMs: rng.between(800, 3_000),
    },
  };
}

export const DEFAULT_DURATION_MS = 4_000;
/** After faults stop, everything must have drained within this much virtual time. */
export const LIVENESS_BOUND_MS = 20_000;
/** Virtual time for repair to spread the last versions once nothing is pending. */
const CONVERGENCE_WINDOW_MS = 1_500;
const LIVENESS_CHECK_EVERY_MS = 25;
const TICK_EVERY_MS: readonly [number, number] = [5, 20];
const DEFAULT_MAX_EVENTS = 3_000_000;

/** Any numbers in the quorum table's shape (the real one is typed with its exact values). */
export type QuorumTable = { readonly [K in keyof typeof QUORUM]: number };

export interface SimulationOptions {
  seed: number;
  /** A name from FAULT_PROFILES; by default the seed picks one. */
  profile?: string;
  /** Virtual time of the workload under faults. */
  durationMs?: number;
  /** Inject the profile's faults (default true); false runs a reliable network without crashes. */
  faults?: boolean;
  /** After the fault phase, heal everything and require the system to drain (default true). */
  liveness?: boolean;
  /** Thresholds for replicas and writers; only for tests that prove the checkers catch a bad table. */
  quorumOverride?: QuorumTable;
  /** Collect a line per event (returned in `trace`, or passed to `onTrace`). */
  trace?: boolean;
  onTrace?: (line: string) => void;
  /** A bound on processed events, so that a livelock cannot run forever. */
  maxEvents?: number;
  /** Replaces timings the seed drew (for experiments, such as a short record retention). */
  timing?: { replica?: Partial<ReplicaTiming>; writer?: Partial<WriterTiming> };
  /**
   * Runs each replica inside this shell (the storage node's event loop over a simulated disk)
   * instead of driving `StorageReplica` directly.
   */
  shell?: ReplicaShellFactory;
  /**
   * Runs each writer as this whole writer process (storage client, transaction engine, cache,
   * sessions) with clients speaking Redis commands, instead of the bare `WriterCoordinator`.
   * Such a run is asynchronous: `runSimulationAsync`.
   */
  writer?: WriterShellFactory;
  /**
   * With writer processes: a read of a counter must see every increment acknowledged this long
   * before it (the other writers' `applied` notices keep caches that close). By default 250 ms of
   * virtual time on a reliable network (`faults: false`); under faults, the profile's bound where
   * it gives one, else unchecked (a partition may cut a writer off from every notice while its
   * cache still serves).
   */
  stalenessBoundMs?: number;
}

export interface SimulationStats {
  virtualMs: number;
  events: number;
  messagesSent: number;
  messagesDropped: number;
  messagesDuplicated: number;
  commits: number;
  aborts: number;
  unknownOutcomes: number;
  /** Operations in the histories whose outcome stayed unknown (writer deadlines and crashes). */
  openOperations: number;
  /** PREPARE messages sent by replicas and by writers: how often recovery ran. */
  replicaPrepares: number;
  writerPrepares: number;
  reads: number;
  readsFailed: number;
  replicaCrashes: number;
  tornCrashes: number;
  /** Replica crashes after which the disk was damaged, and repairs that completed. */
  damagedDisks: number;
  repairs: number;
  /** Shells that stopped themselves (a failed fsync, a full disk). */
  failStops: number;
  writerCrashes: number;
  snapshots: number;
  partitions: number;
  decidedTransactions: number;
  /** Transaction records the fullest replica still held at the end: fewer than decided ones if it pruned. */
  retainedTransactions: number;
  registerOperations: number;
  bankOperations: number;
  /** Virtual time from the end of faults until nothing was pending. */
  drainMs: number;
  /** The linearizability search ran out of budget on some key (inconclusive, not a failure). */
  linearizabilityInconclusive: boolean;
  /** Counter operations (INCR, GET in instance consistency) checked for the session guarantees. */
  counterOperations: number;
}

export interface SimulationViolation {
  invariant: InvariantName | 'exception';
  message: string;
  atMs: number;
  event: number;
}

export interface SimulationResult {
  ok: boolean;
  seed: number;
  profile: string;
  violation?: SimulationViolation;
  /** The command that replays this run with a trace. */
  replay: string;
  /** A one-paragraph report: the violation, the seed and the replay command. */
  summary: string;
  stats: SimulationStats;
  trace?: string[];
}

type SimEvent =
  | { kind: 'deliver'; from: string; to: string; message: QuorumMessage }
  | { kind: 'tick'; role: 'replica' | 'writer'; index: number; incarnation: number }
  | { kind: 'wake'; client: Client; token: number }
  | { kind: 'fault' }
  | { kind: 'heal'; partition: number }
  | { kind: 'restartReplica'; index: number; incarnation: number }
  | { kind: 'restartWriter'; slot: number; incarnation: number }
  | { kind: 'snapshot' }
  | { kind: 'endFaults' }
  | { kind: 'livenessCheck' }
  | { kind: 'convergenceCheck' }
  | { kind: 'shell'; index: number; incarnation: number; run: () => void }
  | { kind: 'writerShell'; slot: number; incarnation: number; run: () => void }
  | { kind: 'call'; run: () => void };

interface ReplicaNode {
  index: number;
  id: string;
  replica: StorageReplica | null;
  disk: SimulatedDisk;
  /** With a shell factory: the running shell (null while down) and its disk. */
  shell: ReplicaShell | null;
  shellDisk: ShellDisk | null;
  damagedSinceCrash: boolean;
  /** Records a crash made durable (a torn tail's survivors), told to the checker at the restart. */
  unreportedSurvivors: { records: ReplicaRecord[]; atMs: number };
  incarnation: number;
  /** Crash right after the next batch is fsynced, before its messages leave. */
  crashAfterFsync: boolean;
}

interface CommitOwner {
  client: Client;
  volume: string;
  proposal: Proposal;
}

interface WriterNode {
  slot: number;
  /** Where the writer sits, for partitions: `w1` is in AZ 0, `w2` in AZ 1, `w3` in AZ 2. */
  location: string;
  writer: WriterCoordinator | null;
  /** With a writer factory: the running process (null while down). */
  shell: WriterShell | null;
  /** Commands in flight on its connections: each fails with `ConnectionLost` if it crashes. */
  pendingCommands: Set<(error: Error) => void>;
  writerId: string;
  incarnation: number;
  restarts: number;
  clients: Client[];
  reads: Map<number, Client>;
  commits: Map<TxId, CommitOwner>;
}

export function runSimulation(options: SimulationOptions): SimulationResult {
  if (options.writer !== undefined)
    throw new Error('a run with writer processes is asynchronous: runSimulationAsync');
  return new Simulation(options).run();
}

/** Any run; the one way to run writer processes, whose code awaits promises between events. */
export function runSimulationAsync(options: SimulationOptions): Promise<SimulationResult> {
  return new Simulation(options).runAsync();
}

/** The command line that replays a run. */
export function replayCommand(
  seed: number,
  profile: string,
  durationMs: number,
  shell?: string,
  writer?: string,
  faults = true,
): string {
  const defaultMs = FAULT_PROFILES[profile]?.durationMs ?? DEFAULT_DURATION_MS;
  const duration = durationMs === defaultMs ? '' : ` --duration ${durationMs}`;
  const code = ` --shell ${shell ?? 'none'} --writer ${writer ?? 'none'}`;
  const reliable = faults ? '' : ' --no-faults';
  return `npm run sim -- --seed ${seed} --profile ${profile}${duration}${code}${reliable} --trace`;
}

/** Every volume key the workloads touch, by volume. */
const WORKLOAD_KEYS: readonly (readonly [string, readonly string[]])[] = [
  [REGISTER_VOLUME, REGISTER_KEYS],
  [BANK_VOLUME, BANK_ACCOUNTS],
];

class Simulation implements WorkloadHost, RedisWorkloadHost {
  nowMs = 0;
  readonly checker: InvariantChecker;
  readonly registerHistory = new HistoryRecorder<RegisterInput, RegisterOutput>();
  readonly bankHistory = new HistoryRecorder<BankInput, BankOutput>();
  readonly counterHistory = new HistoryRecorder<SessionInput, SessionOutput>();
  acceptingOperations = true;

  private readonly seed: number;
  private readonly profileName: string;
  private readonly profile: FaultProfile;
  private readonly durationMs: number;
  private readonly faults: boolean;
  private readonly liveness: boolean;
  private readonly quorum: typeof QUORUM;
  private readonly maxEvents: number;
  private readonly traceLines: string[] | null;
  private readonly onTrace: ((line: string) => void) | null;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly networkRng: Prng;
  private readonly faultRng: Prng;
  private readonly tickRng: Prng;
  private readonly replicaTiming: ReplicaTiming;
  private readonly writerTiming: Partial<WriterTiming>;
  private readonly replicas: ReplicaNode[];
  private readonly writers: WriterNode[] = [];
  private readonly shellFactory: ReplicaShellFactory | null;
  private readonly writerFactory: WriterShellFactory | null;
  private readonly stalenessBoundMs: number | undefined;
  readonly counterKeys: readonly string[];
  private readonly clients: Client[] = [];
  private readonly redisClients: RedisClient[] = [];
  /** A violation or an exception raised inside a promise chain, thrown by the loop after the event. */
  private deferredFailure: { error: unknown } | null = null;
  /** Location (replica id or writer location) → partition group; null when fully connected. */
  private partition: Map<string, number> | null = null;
  private partitionCounter = 0;
  private faultsActive: boolean;
  private faultsEndedAtMs = 0;
  private drained = false;
  private stopped = false;
  private processCounter = 0;
  private valueCounter = 0;
  private coordinatorCounter = FIRST_COORDINATOR_ID;
  private readonly stats: SimulationStats = {
    virtualMs: 0,
    events: 0,
    messagesSent: 0,
    messagesDropped: 0,
    messagesDuplicated: 0,
    commits: 0,
    aborts: 0,
    unknownOutcomes: 0,
    openOperations: 0,
    replicaPrepares: 0,
    writerPrepares: 0,
    reads: 0,
    readsFailed: 0,
    replicaCrashes: 0,
    tornCrashes: 0,
    damagedDisks: 0,
    repairs: 0,
    failStops: 0,
    writerCrashes: 0,
    snapshots: 0,
    partitions: 0,
    decidedTransactions: 0,
    retainedTransactions: 0,
    registerOperations: 0,
    bankOperations: 0,
    drainMs: 0,
    linearizabilityInconclusive: false,
    counterOperations: 0,
  };

  constructor(options: SimulationOptions) {
    this.seed = options.seed;
    this.profileName = options.profile ?? profileForSeed(options.seed);
    const profile = FAULT_PROFILES[this.profileName];
    if (profile === undefined) {
      throw new RangeError(`unknown fault profile ${JSON.stringify(this.profileName)}`);
    }
    this.profile = profile;
    this.durationMs = options.durationMs ?? profile.durationMs ?? DEFAULT_DURATION_MS;
    this.faults = options.faults ?? true;
    this.faultsActive = this.faults;
    this.liveness = options.liveness ?? true;
    // The core types its table by the exact thresholds; an override is a deliberately wrong one.
    this.quorum = (options.quorumOverride as typeof QUORUM | undefined) ?? QUORUM;
    this.maxEvents = options.maxEvents ?? DEFAULT_MAX_EVENTS;
    const tracing = options.trace === true;
    this.onTrace = tracing ? (options.onTrace ?? null) : null;
    this.traceLines = tracing && this.onTrace === null ? [] : null;

    const root = new Prng(options.seed);
    this.networkRng = root.fork();
    this.faultRng = root.fork();
    this.tickRng = root.fork();
    const workloadRng = root.fork();
    const timings = simulatedTimings(root.fork());
    this.replicaTiming = {
      ...DEFAULT_REPLICA_TIMING,
      ...timings.replica,
      ...profile.recordRetention,
      ...(profile.unconfirmedBytesMax !== undefined
        ? { unconfirmedBytesMax: profile.unconfirmedBytesMax }
        : {}),
      ...options.timing?.replica,
    };
    this.writerTiming = { ...timings.writer, ...options.timing?.writer };
    this.checker = new InvariantChecker(MEMBERS, this.replicaTiming.recordRetentionMs);

    this.shellFactory = options.shell ?? null;
    this.writerFactory = options.writer ?? null;
    this.stalenessBoundMs = options.stalenessBoundMs ?? (this.faults ? profile.stalenessBoundMs : 250);
    this.counterKeys = profile.counterKeys === undefined ? COUNTER_KEYS : counterKeys(profile.counterKeys);
    const factory = this.shellFactory;
    this.replicas = MEMBERS.map((id, index) => ({
      index,
      id,
      replica: factory === null ? this.newReplica(index) : null,
      disk: new SimulatedDisk(),
      shell: null,
      shellDisk: factory === null ? null : factory.newDisk(),
      damagedSinceCrash: false,
      unreportedSurvivors: { records: [], atMs: 0 },
      incarnation: 0,
      crashAfterFsync: false,
    }));
    if (factory !== null) for (const node of this.replicas) this.startShell(node, factory);
    for (let slot = 0; slot < WRITER_COUNT; slot++) {
      const node: WriterNode = {
        slot,
        location: `w${slot + 1}`,
        writer: null,
        shell: null,
        pendingCommands: new Set(),
        writerId: '',
        incarnation: 0,
        restarts: -1,
        clients: [],
        reads: new Map(),
        commits: new Map(),
      };
      this.writers.push(node);
      this.startWriter(node);
      if (this.writerFactory !== null) {
        // A register, a counter and a bank connection per writer process.
        const rng = workloadRng.fork();
        const at = `@w${slot + 1}`;
        this.redisClients.push(
          new RedisRegisterClient(`reg${slot}${at}`, slot, this, rng.fork(), REGISTER_VOLUME, 'cluster'),
          new RedisCounterClient(`count${slot}${at}`, slot, this, rng.fork(), REGISTER_VOLUME, 'instance'),
          new RedisBankClient(`bank${slot}${at}`, slot, this, rng.fork(), BANK_VOLUME, 'cluster'),
        );
        // Further counter clients after the first three, so that a profile without them draws
        // the same numbers as before.
        for (let index = 1; index < (profile.counterClients ?? 1); index++) {
          this.redisClients.push(
            new RedisCounterClient(
              `count${slot}.${index}${at}`,
              slot,
              this,
              rng.fork(),
              REGISTER_VOLUME,
              'instance',
            ),
          );
        }
        continue;
      }
      // Two register clients and one bank client per writer: enough to conflict on hot keys.
      for (const make of [RegisterClient, RegisterClient, BankClient]) {
        const client = new make(
          `${make === BankClient ? 'bank' : 'reg'}${this.clients.length}@w${slot + 1}`,
          slot,
          this,
          workloadRng.fork(),
        );
        node.clients.push(client);
        this.clients.push(client);
      }
    }
  }

  // ---- the run ------------------------------------------------------------------------------

  run(): SimulationResult {
    let violation: SimulationViolation | undefined;
    try {
      this.schedule();
      this.loop();
      this.finish();
    } catch (error) {
      violation = this.violationOf(error);
    }
    return this.result(violation);
  }

  async runAsync(): Promise<SimulationResult> {
    let violation: SimulationViolation | undefined;
    try {
      this.schedule();
      await this.loopAsync();
      this.finish();
    } catch (error) {
      violation = this.violationOf(error);
    }
    return this.result(violation);
  }

  private violationOf(error: unknown): SimulationViolation {
    let violation: SimulationViolation;
    if (error instanceof InvariantViolation) {
      violation = {
        invariant: error.invariant,
        message: error.detail,
        atMs: this.nowMs,
        event: this.stats.events,
      };
    } else {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      violation = { invariant: 'exception', message, atMs: this.nowMs, event: this.stats.events };
    }
    this.trace(`VIOLATION ${violation.invariant}: ${violation.message}`);
    return violation;
  }

  private result(violation: SimulationViolation | undefined): SimulationResult {
    this.stats.virtualMs = this.nowMs;
    this.stats.decidedTransactions = this.checker.decidedTransactions;
    for (const node of this.replicas) {
      const held = node.replica?.stats().transactions ?? 0;
      this.stats.retainedTransactions = Math.max(this.stats.retainedTransactions, held);
    }
    const replay = replayCommand(
      this.seed,
      this.profileName,
      this.durationMs,
      this.shellFactory?.name,
      this.writerFactory?.name,
      this.faults,
    );
    const summary =
      violation === undefined
        ? `seed ${this.seed} (${this.profileName}) passed`
        : `seed ${this.seed} (${this.profileName}) violated "${violation.invariant}" at ${formatMs(violation.atMs)} (event ${violation.event}): ${violation.message}\nreplay: ${replay}`;
    return {
      ok: violation === undefined,
      seed: this.seed,
      profile: this.profileName,
      ...(violation !== undefined ? { violation } : {}),
      replay,
      summary,
      stats: this.stats,
      ...(this.traceLines !== null ? { trace: this.traceLines } : {}),
    };
  }

  private schedule(): void {
    for (const node of this.replicas) this.scheduleTick('replica', node.index, node.incarnation);
    for (const client of this.clients) this.wakeLater(client, this.tickRng.between(0, 20));
    for (const client of this.redisClients) {
      client.run().catch((error: unknown) => {
        this.deferredFailure ??= { error };
      });
    }
    if (this.faults) {
      this.queue.push(this.faultRng.between(...this.profile.faultEveryMs), { kind: 'fault' });
      if (this.profile.snapshotEveryMs !== null) {
        this.queue.push(this.faultRng.between(...this.profile.snapshotEveryMs), { kind: 'snapshot' });
      }
    }
    this.queue.push(this.durationMs, { kind: 'endFaults' });
  }

  private loop(): void {
    while (!this.stopped) this.step();
  }

  /** The loop for writer processes: after each event that may resolve their promises, they run. */
  private async loopAsync(): Promise<void> {
    while (!this.stopped) {
      const event = this.step();
      if (this.writerFactory !== null && this.touchesWriters(event)) await this.writerFactory.settle();
      if (this.deferredFailure !== null) throw this.deferredFailure.error;
    }
  }

  /** Takes the next event off the agenda, moves the clock to it and handles it; returns it. */
  private step(): SimEvent {
    const next = this.queue.pop();
    if (next === undefined) throw new Error('the agenda ran empty');
    this.nowMs = next.atMs;
    if (++this.stats.events > this.maxEvents) {
      throw new InvariantViolation('liveness', `more than ${this.maxEvents} events: the run does not settle`);
    }
    this.handle(next.item);
    return next.item;
  }

  /** Events of replicas alone leave every writer's promises as they were. */
  private touchesWriters(event: SimEvent): boolean {
    switch (event.kind) {
      case 'deliver':
        return !MEMBERS.includes(event.to);
      case 'tick':
        return event.role === 'writer';
      case 'shell':
        return false;
      default:
        return true;
    }
  }

  private handle(event: SimEvent): void {
    switch (event.kind) {
      case 'deliver':
        this.deliver(event.from, event.to, event.message);
        break;
      case 'tick':
        this.onTick(event.role, event.index, event.incarnation);
        break;
      case 'wake':
        if (event.token !== event.client.wakeToken) break;
        event.client.wake();
        this.flushWriter(this.writers[event.client.writerSlot] as WriterNode);
        break;
      case 'fault':
        this.injectFault();
        break;
      case 'heal':
        if (this.partition !== null && event.partition === this.partitionCounter) this.heal();
        break;
      case 'restartReplica': {
        const node = this.replicas[event.index] as ReplicaNode;
        if (node.replica === null && node.incarnation === event.incarnation) this.restartReplica(node);
        break;
      }
      case 'restartWriter': {
        const node = this.writers[event.slot] as WriterNode;
        if (node.writer === null && node.shell === null && node.incarnation === event.incarnation)
          this.startWriter(node);
        break;
      }
      case 'snapshot':
        this.takeSnapshot();
        break;
      case 'endFaults':
        this.endFaults();
        break;
      case 'livenessCheck':
        this.checkLiveness();
        break;
      case 'convergenceCheck':
        this.checkConvergence();
        this.stopped = true;
        break;
      case 'shell': {
        const node = this.replicas[event.index] as ReplicaNode;
        if (node.shell !== null && node.incarnation === event.incarnation) event.run();
        break;
      }
      case 'writerShell': {
        const node = this.writers[event.slot] as WriterNode;
        if (node.shell !== null && node.incarnation === event.incarnation) event.run();
        break;
      }
      case 'call':
        event.run();
        break;
    }
  }

  // ---- network ------------------------------------------------------------------------------

  private send(from: string, envelope: Envelope): void {
    this.stats.messagesSent++;
    if (envelope.message.type === 'prepare') {
      if (from.startsWith('s')) this.stats.replicaPrepares++;
      else this.stats.writerPrepares++;
    }
    const network = this.profile.network;
    if (this.faultsActive && this.networkRng.chance(network.dropRate)) {
      this.stats.messagesDropped++;
      if (this.onTrace !== null || this.traceLines !== null) {
        this.trace(`drop ${from} → ${envelope.to} ${describeMessage(envelope.message)}`);
      }
      return;
    }
    const copies = this.faultsActive && this.networkRng.chance(network.duplicateRate) ? 2 : 1;
    if (copies === 2) this.stats.messagesDuplicated++;
    for (let copy = 0; copy < copies; copy++) {
      const spike = this.faultsActive && this.networkRng.chance(network.spikeRate);
      const delay = this.networkRng.between(
        network.minDelayMs,
        spike ? network.spikeMaxDelayMs : network.maxDelayMs,
      );
      this.queue.push(this.nowMs + delay, {
        kind: 'deliver',
        from,
        to: envelope.to,
        message: envelope.message,
      });
    }
  }

  private locationOf(address: string): string {
    if (address.startsWith('s')) return address;
    // Writer ids are `w<slot>-r<restart>`: the location is the slot.
    const dash = address.indexOf('-');
    return dash < 0 ? address : address.slice(0, dash);
  }

  private connected(from: string, to: string): boolean {
    if (this.partition === null || from === to) return true;
    const partition = this.partition;
    return (partition.get(this.locationOf(from)) ?? 0) === (partition.get(this.locationOf(to)) ?? 0);
  }

  private deliver(from: string, to: string, message: QuorumMessage): void {
    const tracing = this.onTrace !== null || this.traceLines !== null;
    if (!this.connected(from, to)) {
      this.stats.messagesDropped++;
      if (tracing) this.trace(`cut ${from} → ${to} ${describeMessage(message)}`);
      return;
    }
    const replicaIndex = MEMBERS.indexOf(to);
    if (replicaIndex >= 0) {
      const node = this.replicas[replicaIndex] as ReplicaNode;
      if (node.replica === null) return;
      if (tracing) this.trace(`${from} → ${to} ${describeMessage(message)}`);
      if (node.shell !== null) {
        node.shell.receive(from, message);
        return;
      }
      node.replica.step(from, message, this.nowMs);
      this.flushReplica(node);
      return;
    }
    const node = this.writers.find((writer) => writer.writerId === to);
    if (node?.shell != null) {
      if (tracing) this.trace(`${from} → ${to} ${describeMessage(message)}`);
      node.shell.receive(from, message);
      return;
    }
    if (node === undefined || node.writer === null) return;
    if (!isFromReplica(message)) return;
    if (tracing) this.trace(`${from} → ${to} ${describeMessage(message)}`);
    node.writer.step(from, message, this.nowMs);
    this.flushWriter(node);
  }

  // ---- actors: the shell rule (fsync the batch, then send) -----------------------------------

  private flushReplica(node: ReplicaNode): void {
    const replica = node.replica as StorageReplica;
    const ready = replica.takeReady();
    if (ready.records.length > 0) {
      this.checker.onReplicaRecords(node.index, ready.records, this.nowMs);
      node.disk.append(ready.records);
    }
    if (node.crashAfterFsync) {
      this.stats.tornCrashes++;
      this.trace(`${node.id} crashes after fsync, before sending ${ready.messages.length} messages`);
      this.crashReplica(node);
      return;
    }
    if (ready.messages.length === 0) return;
    this.checker.onReplicaMessages(node.index, ready.messages, this.nowMs);
    for (const envelope of ready.messages) this.send(node.id, envelope);
  }

  private flushWriter(node: WriterNode): void {
    // Events make clients issue more reads and commits: bounded, each round settles some.
    for (let round = 0; round < 1_000; round++) {
      const writer = node.writer;
      if (writer === null) return;
      const ready = writer.takeReady();
      if (ready.messages.length === 0 && ready.events.length === 0) return;
      this.checker.onWriterMessages(writer.writerId, ready.messages);
      for (const envelope of ready.messages) this.send(writer.writerId, envelope);
      for (const event of ready.events) this.onWriterEvent(node, event);
    }
    throw new Error(`writer ${node.writerId} kept producing work without settling`);
  }

  private onWriterEvent(node: WriterNode, event: WriterEvent): void {
    switch (event.type) {
      case 'committed': {
        const owner = this.takeCommitOwner(node, event.txid);
        this.stats.commits++;
        this.checker.onCommitAcknowledged(owner.volume, owner.proposal, this.nowMs);
        this.trace(`${node.writerId} committed ${event.txid} for ${owner.client.name}`);
        owner.client.onCommitted();
        return;
      }
      case 'aborted': {
        const owner = this.takeCommitOwner(node, event.txid);
        this.stats.aborts++;
        this.checker.recordDecision(event.txid, 'abort', `${node.writerId} reported it aborted`);
        owner.client.onAborted(event.reason);
        return;
      }
      case 'unknown': {
        const owner = this.takeCommitOwner(node, event.txid);
        this.stats.unknownOutcomes++;
        this.trace(`${node.writerId} gave up on ${event.txid}: ${event.reason}`);
        owner.client.onUnknown();
        return;
      }
      case 'read': {
        const client = this.takeReadOwner(node, event.requestId);
        this.stats.reads++;
        if (this.onTrace !== null || this.traceLines !== null) {
          const values = event.values.map(
            (value) => `${value.key}@${value.version.seq}=${decodeText(value.value)}`,
          );
          this.trace(`${node.writerId} read for ${client.name}: ${values.join(' ')}`);
        }
        client.onRead(event.values);
        return;
      }
      case 'readFailed': {
        const client = this.takeReadOwner(node, event.requestId);
        this.stats.readsFailed++;
        client.onReadFailed();
        return;
      }
    }
  }

  private takeCommitOwner(node: WriterNode, txid: TxId): CommitOwner {
    const owner = node.commits.get(txid);
    if (owner === undefined) throw new Error(`${node.writerId} reported ${txid}, which no client started`);
    node.commits.delete(txid);
    return owner;
  }

  private takeReadOwner(node: WriterNode, requestId: number): Client {
    const client = node.reads.get(requestId);
    if (client === undefined)
      throw new Error(`${node.writerId} answered read ${requestId}, which no client started`);
    node.reads.delete(requestId);
    return client;
  }

  private onTick(role: 'replica' | 'writer', index: number, incarnation: number): void {
    if (role === 'replica') {
      const node = this.replicas[index] as ReplicaNode;
      if (node.replica === null || node.incarnation !== incarnation) return;
      if (node.shell !== null) {
        node.shell.tick();
        this.scheduleTick(role, index, incarnation);
        return;
      }
      node.replica.tick(this.nowMs);
      this.flushReplica(node);
      // The records the repair wrote are on the simulated disk already: the marker can go.
      if (node.replica?.takeRepairCompletion() === true) {
        node.disk.needsRepair = false;
        this.stats.repairs++;
        this.trace(`${node.id} repaired`);
      }
    } else {
      const node = this.writers[index] as WriterNode;
      if (node.writer === null || node.incarnation !== incarnation) return;
      node.writer.tick(this.nowMs);
      this.flushWriter(node);
    }
    this.scheduleTick(role, index, incarnation);
  }

  private scheduleTick(role: 'replica' | 'writer', index: number, incarnation: number): void {
    this.queue.push(this.nowMs + this.tickRng.between(...TICK_EVERY_MS), {
      kind: 'tick',
      role,
      index,
      incarnation,
    });
  }

  // ---- WorkloadHost -------------------------------------------------------------------------

  read(client: Client, volume: string, keys: string[]): boolean {
    const node = this.writers[client.writerSlot] as WriterNode;
    if (node.writer === null) return false;
    node.reads.set(node.writer.read(volume, keys, this.nowMs), client);
    return true;
  }

  begin(client: Client, volume: string, reads: ReadEntry[], writes: WriteEntry[]): TxId | null {
    const node = this.writers[client.writerSlot] as WriterNode;
    if (node.writer === null) return null;
    const txid = node.writer.begin(volume, reads, writes, this.nowMs);
    node.commits.set(txid, { client, volume, proposal: { txid, reads, writes, proposedAtMs: this.nowMs } });
    this.trace(
      `${client.name} begins ${txid} on ${volume}: reads ${reads.map((read) => `${read.key}@${read.seq}`).join(',')}`,
    );
    return txid;
  }

  wakeLater(client: Client, delayMs: number): void {
    this.queue.push(this.nowMs + delayMs, { kind: 'wake', client, token: ++client.wakeToken });
  }

  connect(slot: number, volume: string, consistency: 'instance' | 'cluster'): SimConnection | null {
    const node = this.writers[slot] as WriterNode;
    const shell = node.shell;
    if (shell === null) return null;
    const incarnation = node.incarnation;
    const inner = shell.connect(volume, consistency);
    return {
      command: (args) =>
        new Promise((resolve, reject) => {
          if (node.incarnation !== incarnation) {
            reject(new ConnectionLost(`${node.writerId} is gone`));
            return;
          }
          const lose = (error: Error) => reject(error);
          node.pendingCommands.add(lose);
          inner.command(args).then(
            (reply) => {
              node.pendingCommands.delete(lose);
              resolve(reply);
            },
            (error: unknown) => {
              node.pendingCommands.delete(lose);
              reject(error);
            },
          );
        }),
    };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.queue.push(this.nowMs + ms, { kind: 'call', run: resolve }));
  }

  nextProcessId(): number {
    return this.processCounter++;
  }

  nextValueId(): number {
    return ++this.valueCounter;
  }

  get tracing(): boolean {
    return this.onTrace !== null || this.traceLines !== null;
  }

  trace(line: string): void {
    if (this.onTrace === null && this.traceLines === null) return;
    const stamped = `${this.nowMs.toFixed(2).padStart(10)}  ${line}`;
    if (this.onTrace !== null) this.onTrace(stamped);
    else this.traceLines?.push(stamped);
  }

  // ---- crashes, restarts, snapshots ------------------------------------------------------------

  private newReplica(index: number): StorageReplica {
    return new StorageReplica({
      members: MEMBERS,
      selfIndex: index,
      timing: this.replicaTiming,
      quorum: this.quorum,
    });
  }

  private crashReplica(node: ReplicaNode): void {
    node.replica = null;
    node.shell?.stop();
    node.shell = null;
    node.incarnation++;
    node.crashAfterFsync = false;
    this.stats.replicaCrashes++;
    const disk = node.shellDisk ?? node.disk;
    this.trace(`${node.id} crashed (disk: ${disk.describe()})`);
    if (node.shellDisk !== null) {
      const torn = node.shellDisk.crash(() => this.faultRng.next());
      if (torn.description !== '') this.trace(`${node.id}: ${torn.description}`);
      // Durable now, though the replica told nobody: what it will say after the restart. Told to the
      // checker at the restart, after the rest of an fsync that completed as the node crashed
      // (reported as it completes, and written before these).
      node.unreportedSurvivors = { records: torn.survivors, atMs: this.nowMs };
    }
    const profile = this.profile;
    const damaged = this.replicas.filter((other) => (other.shellDisk ?? other.disk).needsRepair).length;
    if (
      this.faultsActive &&
      !disk.needsRepair &&
      damaged < (profile.maxDamaged ?? 0) &&
      this.faultRng.chance(profile.damagedDiskRate ?? 0)
    ) {
      const what = disk.damage((n) => this.faultRng.int(0, n - 1));
      this.stats.damagedDisks++;
      // A shell's fsync that completed as it crashed may still report records after this point:
      // its damage counts from the restart.
      if (node.shellDisk === null) this.checker.onReplicaDamaged(node.index);
      else node.damagedSinceCrash = true;
      this.trace(`${node.id}'s disk is damaged: ${what}`);
    }
    const downtime = this.faultsActive ? this.faultRng.between(...this.profile.downtimeMs) : 0;
    this.queue.push(this.nowMs + downtime, {
      kind: 'restartReplica',
      index: node.index,
      incarnation: node.incarnation,
    });
  }

  /** A restart is a new process: the snapshot, then every later record, replayed before it answers. */
  private restartReplica(node: ReplicaNode): void {
    if (this.shellFactory !== null) {
      const survivors = node.unreportedSurvivors;
      if (survivors.records.length > 0) {
        this.checker.onReplicaRecords(node.index, survivors.records, survivors.atMs);
        node.unreportedSurvivors = { records: [], atMs: 0 };
      }
      if (node.damagedSinceCrash) this.checker.onReplicaDamaged(node.index);
      node.damagedSinceCrash = false;
      this.startShell(node, this.shellFactory);
      this.trace(`${node.id} restarted from ${(node.shellDisk as ShellDisk).describe()}`);
      this.checker.onReplicaRestart(node.index, node.replica as StorageReplica, this.nowMs);
      this.scheduleTick('replica', node.index, node.incarnation);
      return;
    }
    const replica = this.newReplica(node.index);
    const { snapshot, records } = node.disk.read();
    if (snapshot !== null) replica.restore(snapshot);
    for (const record of records) replica.applyRecord(record);
    const leftover = replica.takeReady();
    if (leftover.records.length > 0 || leftover.messages.length > 0) {
      throw new Error(`${node.id} produced work while replaying its disk`);
    }
    node.replica = replica;
    this.trace(`${node.id} restarted from ${node.disk.describe()}`);
    this.checker.onReplicaRestart(node.index, replica, this.nowMs);
    if (node.disk.needsRepair) {
      replica.beginRepair('simulated disk damage', this.nowMs);
      this.trace(`${node.id} repairs from its peers`);
    }
    this.scheduleTick('replica', node.index, node.incarnation);
  }

  /** Starts a replica process inside the shell, bound to this simulation as its host. */
  private startShell(node: ReplicaNode, factory: ReplicaShellFactory): void {
    const incarnation = node.incarnation;
    const live = () => node.incarnation === incarnation && node.shell !== null;
    const host: ShellHost = {
      nowMs: () => this.nowMs,
      schedule: (delayMs, run) =>
        this.queue.push(this.nowMs + delayMs, { kind: 'shell', index: node.index, incarnation, run }),
      send: (envelopes) => {
        if (!live() || envelopes.length === 0) return;
        if (node.crashAfterFsync) {
          this.stats.tornCrashes++;
          this.trace(`${node.id} crashes after fsync, before sending ${envelopes.length} messages`);
          this.crashReplica(node);
          return;
        }
        this.checker.onReplicaMessages(node.index, envelopes, this.nowMs);
        for (const envelope of envelopes) this.send(node.id, envelope);
      },
      // Reported even when the replica crashed a moment ago: the rest of the fsync that completed
      // as it crashed is on its disk all the same (later events of a crashed shell never run).
      durable: (records) => this.checker.onReplicaRecords(node.index, records, this.nowMs),
      failStop: (reason) => {
        if (!live()) return;
        this.stats.failStops++;
        this.trace(`${node.id} stops: ${reason}`);
        this.crashReplica(node);
      },
      repaired: () => {
        if (!live()) return;
        this.stats.repairs++;
        this.trace(`${node.id} repaired`);
      },
      random: () => this.faultRng.next(),
      trace: (line) => this.trace(`${node.id}: ${line}`),
    };
    node.shell = null;
    node.shell = factory.start({
      index: node.index,
      members: MEMBERS,
      timing: this.replicaTiming,
      disk: node.shellDisk as ShellDisk,
      host,
    });
    node.replica = node.shell.replica;
    // The writer processes connect to the new process and say hello again.
    for (const writer of this.writers) {
      if (writer.shell !== null)
        node.shell.writerConnected?.(writer.writerId, [REGISTER_VOLUME, BANK_VOLUME]);
    }
  }

  /** Starts a writer process: fresh ids every time, since a writer keeps nothing durable. */
  private startWriter(node: WriterNode): void {
    node.restarts++;
    node.writerId = `${node.location}-r${node.restarts}`;
    if (this.writerFactory !== null) {
      this.startWriterShell(node, this.writerFactory);
      if (node.restarts > 0) this.trace(`${node.writerId} started`);
      return;
    }
    node.writer = new WriterCoordinator({
      writerId: node.writerId,
      coordinatorId: this.coordinatorCounter++,
      members: MEMBERS,
      timing: this.writerTiming,
      quorum: this.quorum,
    });
    if (node.restarts > 0) this.trace(`${node.writerId} started`);
    this.scheduleTick('writer', node.slot, node.incarnation);
    for (const client of node.clients) if (!client.busy) this.wakeLater(client, this.tickRng.between(0, 10));
  }

  /** Starts a writer process, bound to this simulation as its host; it says hello to every replica. */
  private startWriterShell(node: WriterNode, factory: WriterShellFactory): void {
    const incarnation = node.incarnation;
    const writerId = node.writerId;
    const live = () => node.incarnation === incarnation && node.shell !== null;
    const failLater = (error: unknown) => {
      this.deferredFailure ??= { error };
    };
    const host: WriterShellHost = {
      nowMs: () => this.nowMs,
      schedule: (delayMs, run) =>
        this.queue.push(this.nowMs + delayMs, { kind: 'writerShell', slot: node.slot, incarnation, run }),
      send: (envelopes) => {
        if (!live() || envelopes.length === 0) return;
        try {
          this.checker.onWriterMessages(writerId, envelopes);
        } catch (error) {
          failLater(error);
        }
        for (const envelope of envelopes) this.send(writerId, envelope);
      },
      decided: (envelopes) => {
        if (!live()) return;
        try {
          this.checker.onWriterMessages(writerId, envelopes);
        } catch (error) {
          failLater(error);
        }
      },
      readStarted: (volume, keys) => {
        const floors = keys.map((key) => this.checker.readFloor(volume, key));
        return (values) => {
          this.stats.reads++;
          try {
            values.forEach((value, index) => {
              this.checker.checkRead(volume, value.key, value.version, floors[index] ?? 0, writerId);
            });
          } catch (error) {
            failLater(error);
          }
        };
      },
      commitEnded: (volume, proposal, outcome) => {
        try {
          if (outcome === 'committed') {
            this.stats.commits++;
            this.checker.onCommitAcknowledged(volume, proposal, this.nowMs);
          } else if (outcome === 'aborted') {
            this.stats.aborts++;
            this.checker.recordDecision(proposal.txid, 'abort', `${writerId} reported it aborted`);
          } else {
            this.stats.unknownOutcomes++;
          }
        } catch (error) {
          failLater(error);
        }
        this.trace(`${writerId}: ${proposal.txid} ${outcome}`);
      },
      random: () => this.tickRng.next(),
      trace: (line) => this.trace(`${writerId}: ${line}`),
    };
    node.shell = factory.start({
      writerId,
      coordinatorId: this.coordinatorCounter++,
      members: MEMBERS,
      timing: this.writerTiming,
      volumes: [REGISTER_VOLUME, BANK_VOLUME],
      ...(this.quorum !== QUORUM ? { quorum: this.quorum } : {}),
      host,
    });
    for (const replica of this.replicas)
      replica.shell?.writerConnected?.(writerId, [REGISTER_VOLUME, BANK_VOLUME]);
  }

  private crashWriter(node: WriterNode): void {
    if (node.shell !== null) {
      node.shell.stop();
      node.shell = null;
      for (const replica of this.replicas) replica.shell?.writerDisconnected?.(node.writerId);
      const lost = [...node.pendingCommands];
      node.pendingCommands.clear();
      for (const lose of lost) lose(new ConnectionLost(`${node.writerId} crashed`));
    }
    node.writer = null;
    node.incarnation++;
    node.reads.clear();
    node.commits.clear();
    this.stats.writerCrashes++;
    this.trace(`${node.writerId} crashed`);
    for (const client of node.clients) client.onWriterCrash();
    const downtime = this.faultsActive ? this.faultRng.between(...this.profile.downtimeMs) : 0;
    this.queue.push(this.nowMs + downtime, {
      kind: 'restartWriter',
      slot: node.slot,
      incarnation: node.incarnation,
    });
  }

  private takeSnapshot(): void {
    // A shell takes its own snapshots, by record count, as the storage node does.
    if (!this.faultsActive || this.profile.snapshotEveryMs === null || this.shellFactory !== null) return;
    const live = this.replicas.filter((node) => node.replica !== null && !node.crashAfterFsync);
    if (live.length > 0) {
      const node = this.faultRng.pick(live);
      node.disk.compact((node.replica as StorageReplica).snapshot());
      this.stats.snapshots++;
      this.trace(`${node.id} compacted its disk into a snapshot`);
    }
    this.queue.push(this.nowMs + this.faultRng.between(...this.profile.snapshotEveryMs), {
      kind: 'snapshot',
    });
  }

  // ---- faults -------------------------------------------------------------------------------

  private injectFault(): void {
    if (!this.faultsActive) return;
    const profile = this.profile;
    const choices: (() => void)[] = [];
    if (profile.partitions.length > 0 && this.partition === null) {
      choices.push(() => this.startPartition(this.faultRng.pick(profile.partitions)));
    }
    const down = this.replicas.filter((node) => node.replica === null || node.crashAfterFsync).length;
    const writerUp = (node: WriterNode) => node.writer !== null || node.shell !== null;
    if (profile.replicaCrashes && down < profile.maxReplicasDown) {
      choices.push(() => {
        const node = this.faultRng.pick(
          this.replicas.filter((candidate) => candidate.replica !== null && !candidate.crashAfterFsync),
        );
        if (this.faultRng.chance(profile.tornCrashRate)) node.crashAfterFsync = true;
        else this.crashReplica(node);
      });
    }
    if (profile.writerCrashes) {
      const up = this.writers.filter(writerUp);
      if (up.length > 0) choices.push(() => this.crashWriter(this.faultRng.pick(up)));
    }
    if (choices.length > 0) this.faultRng.pick(choices)();
    this.queue.push(this.nowMs + this.faultRng.between(...profile.faultEveryMs), { kind: 'fault' });
  }

  private startPartition(kind: PartitionKind): void {
    const groups = new Map<string, number>();
    const zone = this.faultRng.int(0, 2);
    const inZone = [0, 1, 2, 3, 4, 5].filter((index) => zoneOf(index) === zone);
    const others = [0, 1, 2, 3, 4, 5].filter((index) => zoneOf(index) !== zone);
    if (kind === 'az') {
      for (const index of inZone) groups.set(MEMBERS[index] as string, 1);
      groups.set(`w${zone + 1}`, 1);
    } else if (kind === 'split') {
      // Any three replicas against the other three; each writer lands on one side.
      const shuffled = [0, 1, 2, 3, 4, 5];
      for (let index = shuffled.length - 1; index > 0; index--) {
        const other = this.faultRng.int(0, index);
        [shuffled[index], shuffled[other]] = [shuffled[other] as number, shuffled[index] as number];
      }
      for (const index of shuffled.slice(0, 3)) groups.set(MEMBERS[index] as string, 1);
      for (const writer of this.writers) groups.set(writer.location, this.faultRng.int(0, 1));
    } else if (kind === 'writer') {
      groups.set(`w${this.faultRng.int(1, this.writers.length)}`, 1);
    } else {
      // The AZ and one more replica are unreachable, even from each other: as if down.
      const isolated = [...inZone, this.faultRng.pick(others)];
      for (const [position, index] of isolated.entries()) groups.set(MEMBERS[index] as string, position + 1);
      groups.set(`w${zone + 1}`, 9);
    }
    this.partition = groups;
    this.partitionCounter++;
    this.stats.partitions++;
    this.trace(
      `partition ${kind}: ${[...groups].map(([location, group]) => `${location}:${group}`).join(' ')}`,
    );
    const length = this.faultRng.between(...this.profile.partitionLengthMs);
    this.queue.push(this.nowMs + length, { kind: 'heal', partition: this.partitionCounter });
  }

  private heal(): void {
    this.partition = null;
    this.trace('partition healed');
  }

  // ---- the end: liveness, convergence, histories ----------------------------------------------

  private endFaults(): void {
    this.faultsActive = false;
    this.faultsEndedAtMs = this.nowMs;
    this.acceptingOperations = false;
    this.trace('faults stop: healing, restarting everything, no new operations');
    if (!this.liveness) {
      this.stopped = true;
      return;
    }
    if (this.partition !== null) this.heal();
    for (const node of this.replicas) {
      if (node.crashAfterFsync) node.crashAfterFsync = false;
      if (node.replica === null) this.restartReplica(node);
    }
    for (const node of this.writers) if (node.writer === null && node.shell === null) this.startWriter(node);
    this.queue.push(this.nowMs, { kind: 'livenessCheck' });
  }

  private checkLiveness(): void {
    const stuck = this.describeUnfinished();
    if (stuck === null) {
      this.drained = true;
      this.stats.drainMs = this.nowMs - this.faultsEndedAtMs;
      this.trace(`drained after ${formatMs(this.stats.drainMs)}`);
      this.queue.push(this.nowMs + CONVERGENCE_WINDOW_MS, { kind: 'convergenceCheck' });
      return;
    }
    if (this.nowMs - this.faultsEndedAtMs > LIVENESS_BOUND_MS) {
      throw new InvariantViolation(
        'liveness',
        `${formatMs(LIVENESS_BOUND_MS)} after faults stopped, work is still pending: ${stuck}`,
      );
    }
    this.queue.push(this.nowMs + LIVENESS_CHECK_EVERY_MS, { kind: 'livenessCheck' });
  }

  private describeUnfinished(): string | null {
    const unfinished: string[] = [];
    for (const node of this.replicas) {
      const replica = node.replica as StorageReplica;
      const repair = replica.repairStatus();
      if (repair !== null) {
        unfinished.push(
          `${node.id} is still repairing its damaged disk (volume lists from ${repair.volumeListsRead} peers, ` +
            `${repair.volumesRepaired}/${repair.volumes} volumes repaired, waiting on ${repair.waitingOn.join(', ') || 'nothing'})`,
        );
      }
      const { writeOffs } = replica.stats();
      if (writeOffs.by.length > 0)
        unfinished.push(`${node.id} is not yet taken back by ${writeOffs.by.join(', ')}`);
      if (writeOffs.peers.length > 0)
        unfinished.push(`${node.id} still writes off ${writeOffs.peers.join(', ')}`);
      for (const volume of [REGISTER_VOLUME, BANK_VOLUME]) {
        const pending = replica.pendingTransactions(volume);
        if (pending.length > 0) unfinished.push(`${node.id} holds ${volume} keys for ${pending.join(', ')}`);
      }
    }
    for (const node of this.writers) {
      if (node.shell !== null) {
        if (node.shell.inFlight > 0)
          unfinished.push(`${node.writerId} has ${node.shell.inFlight} calls in flight`);
        continue;
      }
      const writer = node.writer as WriterCoordinator;
      if (writer.inFlightCommits > 0 || writer.inFlightReads > 0) {
        unfinished.push(
          `${node.writerId} has ${writer.inFlightCommits} commits and ${writer.inFlightReads} reads in flight`,
        );
      }
    }
    for (const client of [...this.clients, ...this.redisClients]) {
      if (client.busy) unfinished.push(`${client.name} is ${client.phase}`);
    }
    return unfinished.length === 0 ? null : unfinished.join('; ');
  }

  /** Once nothing is pending and repair had time to run, every replica holds the same versions. */
  private checkConvergence(): void {
    for (const [volume, volumeKeys] of this.workloadKeys()) {
      for (const key of volumeKeys) {
        const versions = this.replicas.map((node) => {
          const state = (node.replica as StorageReplica).inspectKey(volume, key);
          return `${state?.seq ?? 0}:${state?.txid ?? ''}`;
        });
        if (new Set(versions).size > 1) {
          throw new InvariantViolation(
            'replicas converge',
            `${formatMs(CONVERGENCE_WINDOW_MS)} after draining, ${volume}/${key} differs: ${versions.map((version, index) => `${MEMBERS[index]}=${version}`).join(' ')}`,
          );
        }
      }
    }
    // The final state itself must satisfy the bank invariant, not only the snapshots taken.
    const replica = this.replicas[0]?.replica as StorageReplica;
    const factory = this.writerFactory;
    const balances = BANK_ACCOUNTS.map((account) => {
      const state = replica.inspectKey(BANK_VOLUME, factory === null ? account : factory.volumeKey(account));
      const value = state === null ? null : (factory?.decodeValue(state.value) ?? decodeText(state.value));
      return value === null ? INITIAL_BALANCE : Number(value);
    });
    const total = balances.reduce((sum, balance) => sum + balance, 0);
    if (total !== BANK_TOTAL || balances.some((balance) => balance < 0)) {
      throw new InvariantViolation(
        'bank invariant',
        `final balances ${balances.join(', ')} (total ${total}, expected ${BANK_TOTAL})`,
      );
    }
  }

  /** The volume keys the workloads touch, by volume: Redis keys as a writer process stores them. */
  private workloadKeys(): (readonly [string, readonly string[]])[] {
    const factory = this.writerFactory;
    if (factory === null) return [...WORKLOAD_KEYS];
    return [
      [REGISTER_VOLUME, [...REGISTER_KEYS, ...this.counterKeys].map((key) => factory.volumeKey(key))],
      [BANK_VOLUME, BANK_ACCOUNTS.map((key) => factory.volumeKey(key))],
    ];
  }

  private finish(): void {
    for (const client of this.clients) client.abandon();
    for (const client of this.redisClients) client.abandon();
    if (this.liveness && !this.drained)
      throw new InvariantViolation('liveness', 'the run ended before draining');
    const registerOperations = this.registerHistory.operations();
    const bankOperations = this.bankHistory.operations();
    this.stats.registerOperations = registerOperations.length;
    this.stats.bankOperations = bankOperations.length;
    this.stats.openOperations = [...registerOperations, ...bankOperations].filter(
      (operation) => operation.return === Number.POSITIVE_INFINITY,
    ).length;
    const linearizable = checkRegisterLinearizability(registerOperations, { maxStatesPerKey: 200_000 });
    if (linearizable.ok === false) {
      const around = linearizable.operations
        .map((operation) => `  ${describeOperation(operation)}`)
        .join('\n');
      throw new InvariantViolation(
        'register linearizability',
        `${REGISTER_VOLUME}/${linearizable.key}: ${linearizable.reason}\n${around}`,
      );
    }
    if (linearizable.ok === 'unknown') this.stats.linearizabilityInconclusive = true;
    const bank = checkBank(bankOperations, { accounts: BANK_ACCOUNTS, total: BANK_TOTAL });
    if (!bank.ok) throw new InvariantViolation('bank invariant', bank.reason);
    const counterOperations = this.counterHistory.operations();
    this.stats.counterOperations = counterOperations.length;
    const sessions = checkSessionGuarantees(counterOperations, {
      maxAnomalies: 5,
      ...(this.stalenessBoundMs !== undefined ? { maxStalenessMs: this.stalenessBoundMs } : {}),
    });
    if (!sessions.valid) {
      throw new InvariantViolation(
        'session guarantees',
        sessions.anomalies.map((anomaly) => `${anomaly.kind}: ${anomaly.message}`).join('\n'),
      );
    }
  }
}

function isFromReplica(message: QuorumMessage): message is FromReplicaMessage {
  return (
    message.type === 'vote' ||
    message.type === 'accepted' ||
    message.type === 'promise' ||
    message.type === 'readReply'
  );
}

/** One line per message for traces. */
export function describeMessage(message: QuorumMessage): string {
  switch (message.type) {
    case 'propose': {
      const { proposal } = message;
      const reads = proposal.reads.map((read) => `${read.key}@${read.seq}`).join(',');
      const writes = proposal.writes.map((write) => write.key).join(',');
      return `PROPOSE ${proposal.txid} reads ${reads} writes ${writes || '-'}`;
    }
    case 'vote':
      return `VOTE ${message.txid} ${message.vote}${message.reason !== undefined ? ` (${message.reason})` : ''}`;
    case 'accept':
      return `ACCEPT ${message.txid} b${message.ballot} ${message.decision}`;
    case 'accepted':
      return `ACCEPTED ${message.txid} b${message.ballot} ${message.ok ? 'ok' : `refused (promised b${message.promisedBallot})`}`;
    case 'prepare':
      return `PREPARE ${message.txid} b${message.ballot}`;
    case 'promise': {
      const accepted =
        message.accepted === null ? '-' : `${message.accepted.decision}@b${message.accepted.ballot}`;
      return `PROMISE ${message.txid} b${message.ballot} ${message.ok ? 'ok' : 'refused'} vote ${message.vote} accepted ${accepted}${message.decision !== null ? ` decided ${message.decision}` : ''}`;
    }
    case 'decided':
      return `DECIDED ${message.txid} ${message.decision}`;
    case 'read':
      return `READ #${message.requestId} ${message.keys.join(',')}`;
    case 'scan':
      return `SCAN #${message.requestId} from ${message.fromHash} limit ${message.limit}`;
    case 'scanReply':
      return `SCAN-REPLY #${message.requestId} ${message.keys.length} keys next ${message.nextHash}`;
    case 'applied':
      return `APPLIED #${message.stream}.${message.n} ${message.txid} ${message.changes.map((change) => `${change.key}@${change.seq}`).join(',')}`;
    case 'noticeMark':
      return `NOTICE-MARK #${message.stream}.${message.n}`;
    case 'readReply':
      return `READ-REPLY #${message.requestId} ${message.results
        .map(
          (result) =>
            `${result.key}@${result.version.seq}${result.pending !== null ? `(pending ${result.pending.txid})` : ''}`,
        )
        .join(' ')}`;
    case 'syncRequest':
      return `SYNC? ${message.volume} from ${message.fromIndex}${message.pendingTxids.length > 0 ? ` asking ${message.pendingTxids.join(',')}` : ''}`;
    case 'syncReply':
      return `SYNC ${message.volume} ${message.entries.length} keys${message.decisions.length > 0 ? `, decisions ${message.decisions.map((known) => `${known.txid}=${known.decision}`).join(',')}` : ''}`;
    case 'decisionQuery':
      return `DECIDED? ${message.txids.join(',')}`;
    case 'decisionAck':
      return `DECIDED-ACK known ${message.known.join(',') || '-'} unknown ${message.unknown.join(',') || '-'}`;
    case 'repairRequest':
      return `REPAIR? ${message.volume} pass ${message.pass} from ${message.fromIndex}`;
    case 'repairReply':
      return `REPAIR ${message.volume} pass ${message.pass} ${message.entries.length} keys ${message.transactions.length} txs${message.repairing ? ' (repairing)' : ''}`;
    case 'writtenOff':
      return `WRITTEN-OFF since ${message.since}`;
    case 'rejoin':
      return `REJOIN since ${message.since}`;
    case 'readmitted':
      return `READMITTED since ${message.since}`;
  }
}
