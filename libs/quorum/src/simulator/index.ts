// The deterministic simulator of the quorum protocol (DESIGN §11.2).

export { InvariantChecker, type InvariantName, InvariantViolation } from './invariants.js';
export { Prng } from './prng.js';
export {
  FAULT_PROFILES,
  type FaultProfile,
  type PartitionKind,
  PROFILE_NAMES,
  profileForSeed,
} from './profiles.js';
export { COUNTER_KEYS, ConnectionLost } from './redis-workload.js';
export type { ReplicaShell, ReplicaShellFactory, ShellDisk, ShellHost, ShellStart } from './shell.js';
export {
  DEFAULT_DURATION_MS,
  describeMessage,
  LIVENESS_BOUND_MS,
  MEMBERS,
  type QuorumTable,
  replayCommand,
  runSimulation,
  runSimulationAsync,
  type SimulationOptions,
  type SimulationResult,
  type SimulationStats,
  type SimulationViolation,
  simulatedTimings,
} from './simulation.js';
export type {
  SimConnection,
  SimReply,
  WriterShell,
  WriterShellFactory,
  WriterShellHost,
  WriterShellStart,
} from './writer-shell.js';
