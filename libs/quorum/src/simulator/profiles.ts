// Fault profiles: which faults a run injects and how hard. A seed picks its profile unless one is
// named, so a plain sweep over seeds covers all of them.

/**
 * - `az`: one availability zone (both its replicas and the writer placed there) cut off;
 * - `split`: three replicas against three (an AZ and one node of the next against the rest);
 * - `az-plus-one`: an AZ and one more replica cut off, leaving three: reads work, writes cannot;
 * - `writer`: one writer cut off from every replica and every other writer.
 */
export type PartitionKind = 'az' | 'split' | 'az-plus-one' | 'writer';

export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** Share of messages held back much longer, so that old messages overtake new ones. */
  spikeRate: number;
  spikeMaxDelayMs: number;
}

export interface FaultProfile {
  name: string;
  description: string;
  network: NetworkFaults;
  partitions: readonly PartitionKind[];
  partitionLengthMs: readonly [number, number];
  replicaCrashes: boolean;
  writerCrashes: boolean;
  /** Replicas down at the same time, at most. */
  maxReplicasDown: number;
  downtimeMs: readonly [number, number];
  /** Share of replica crashes that happen after a batch's fsync but before its messages leave. */
  tornCrashRate: number;
  /**
   * Share of replica crashes after which the disk turns out damaged (records or the snapshot
   * unreadable): the replica restarts from what is left and repairs from its peers.
   */
  damagedDiskRate?: number;
  /** Replicas with damaged disks not yet repaired, at most (a repair needs three healthy peers). */
  maxDamaged?: number;
  /** How often some replica compacts its disk into a snapshot; null: never. */
  snapshotEveryMs: readonly [number, number] | null;
  /** Pause between two injected faults. */
  faultEveryMs: readonly [number, number];
  /** Virtual time under faults, when the profile needs longer than the default. */
  durationMs?: number;
  /**
   * Replica record retention for this profile. Short, so that runs prune NO votes by age; outages
   * may outlast it, since decided records are forgotten only once every replica confirmed them.
   */
  recordRetention?: { recordRetentionMs: number; proposalMaxAgeMs: number; forgottenRetentionMs?: number };
  /**
   * The replicas' bound on memory kept by decisions awaiting a peer (ADR 0022): small, so that an
   * outage of a few seconds makes the others write the absent replica off.
   */
  unconfirmedBytesMax?: number;
  /** Counters the counter clients share (default 2); more keys leave each key quiet for longer. */
  counterKeys?: number;
  /**
   * Counter clients per writer process (default 1). A client waits out a write that cannot
   * commit; with more than one, others read meanwhile.
   */
  counterClients?: number;
  /**
   * With writer processes: how stale a counter read may be under this profile's faults (the
   * session checker's bound). Unchecked under faults unless given.
   */
  stalenessBoundMs?: number;
}

const calmNetwork: NetworkFaults = {
  dropRate: 0.02,
  duplicateRate: 0.02,
  minDelayMs: 0.5,
  maxDelayMs: 15,
  spikeRate: 0.01,
  spikeMaxDelayMs: 120,
};

export const FAULT_PROFILES: Readonly<Record<string, FaultProfile>> = {
  lossy: {
    name: 'lossy',
    description: 'heavy loss, duplication and reordering; no partitions or crashes',
    network: {
      dropRate: 0.15,
      duplicateRate: 0.1,
      minDelayMs: 0.5,
      maxDelayMs: 40,
      spikeRate: 0.03,
      spikeMaxDelayMs: 400,
    },
    partitions: [],
    partitionLengthMs: [0, 0],
    replicaCrashes: false,
    writerCrashes: false,
    maxReplicasDown: 0,
    downtimeMs: [0, 0],
    tornCrashRate: 0,
    snapshotEveryMs: [150, 600],
    faultEveryMs: [1_000, 1_000],
  },
  az: {
    name: 'az',
    description: 'one AZ isolated at a time (its writer with it), light loss',
    network: calmNetwork,
    partitions: ['az'],
    partitionLengthMs: [150, 1_600],
    replicaCrashes: false,
    writerCrashes: false,
    maxReplicasDown: 0,
    downtimeMs: [0, 0],
    tornCrashRate: 0,
    snapshotEveryMs: [300, 900],
    faultEveryMs: [100, 500],
  },
  split: {
    name: 'split',
    description: 'the replicas split three against three, light loss',
    network: calmNetwork,
    partitions: ['split'],
    partitionLengthMs: [150, 1_600],
    replicaCrashes: false,
    writerCrashes: false,
    maxReplicasDown: 0,
    downtimeMs: [0, 0],
    tornCrashRate: 0,
    snapshotEveryMs: [300, 900],
    faultEveryMs: [100, 500],
  },
  'az-plus-one': {
    name: 'az-plus-one',
    description: 'an AZ plus one more replica isolated, light loss',
    network: calmNetwork,
    partitions: ['az-plus-one'],
    partitionLengthMs: [150, 1_600],
    replicaCrashes: false,
    writerCrashes: false,
    maxReplicasDown: 0,
    downtimeMs: [0, 0],
    tornCrashRate: 0,
    snapshotEveryMs: [300, 900],
    faultEveryMs: [100, 500],
  },
  crash: {
    name: 'crash',
    description:
      'replicas and writers crash and restart (some crashes between fsync and send), frequent snapshots',
    network: calmNetwork,
    partitions: [],
    partitionLengthMs: [0, 0],
    replicaCrashes: true,
    writerCrashes: true,
    maxReplicasDown: 2,
    downtimeMs: [20, 900],
    tornCrashRate: 0.3,
    snapshotEveryMs: [80, 400],
    faultEveryMs: [60, 350],
  },
  mixed: {
    name: 'mixed',
    description: 'every fault: loss, all partition kinds, crashes of up to three replicas and of writers',
    network: {
      dropRate: 0.06,
      duplicateRate: 0.05,
      minDelayMs: 0.5,
      maxDelayMs: 30,
      spikeRate: 0.02,
      spikeMaxDelayMs: 300,
    },
    partitions: ['az', 'split', 'az-plus-one'],
    partitionLengthMs: [100, 1_000],
    replicaCrashes: true,
    writerCrashes: true,
    maxReplicasDown: 3,
    downtimeMs: [20, 1_000],
    tornCrashRate: 0.2,
    snapshotEveryMs: [100, 500],
    faultEveryMs: [80, 400],
  },
  prune: {
    name: 'prune',
    description:
      'short retention and AZ outages longer than it, so that records are pruned and forgotten mid-run; crashes and light loss',
    network: calmNetwork,
    partitions: ['az'],
    partitionLengthMs: [500, 3_000],
    replicaCrashes: true,
    writerCrashes: true,
    maxReplicasDown: 2,
    downtimeMs: [20, 500],
    tornCrashRate: 0.2,
    snapshotEveryMs: [150, 600],
    faultEveryMs: [150, 500],
    durationMs: 7_000,
    recordRetention: { recordRetentionMs: 2_500, proposalMaxAgeMs: 1_200 },
  },
  damage: {
    name: 'damage',
    description:
      'replicas crash and some restart with damaged disks (records or snapshot lost), repairing from their peers; writers crash; light loss',
    network: calmNetwork,
    partitions: [],
    partitionLengthMs: [0, 0],
    replicaCrashes: true,
    writerCrashes: true,
    maxReplicasDown: 2,
    downtimeMs: [20, 500],
    tornCrashRate: 0.2,
    damagedDiskRate: 0.5,
    maxDamaged: 2,
    snapshotEveryMs: [150, 600],
    faultEveryMs: [150, 500],
    durationMs: 6_000,
    // A short proposal age keeps the repair's quiet period (age + 4 pending timeouts) inside a run.
    recordRetention: { recordRetentionMs: 2_500, proposalMaxAgeMs: 1_200 },
  },
  'write-off': {
    name: 'write-off',
    description:
      'replicas down or cut off for seconds while the others commit past a small bound on undecided memory, so that they write the absent one off and it settles what it holds before it rejoins; writers crash; light loss',
    network: calmNetwork,
    partitions: ['az'],
    partitionLengthMs: [2_000, 7_000],
    replicaCrashes: true,
    writerCrashes: true,
    maxReplicasDown: 2,
    downtimeMs: [1_000, 7_000],
    tornCrashRate: 0.2,
    snapshotEveryMs: [150, 600],
    faultEveryMs: [300, 900],
    durationMs: 12_000,
    // A short proposal age lets a written-off replica settle what it holds inside a run, and a
    // forgotten txid is remembered for 3 s (longer than a writer keeps at a commit, 3 s at most):
    // an absent replica often comes back after the others forgot the decisions it held.
    recordRetention: { recordRetentionMs: 2_500, proposalMaxAgeMs: 1_200, forgottenRetentionMs: 3_000 },
    // A few dozen decisions of the simulated workloads: a peer away for about 3 s or more is
    // written off (the oldest decision must wait 2 s first), one that answers is not.
    unconfirmedBytesMax: 16_000,
  },
  'cut-off-writer': {
    name: 'cut-off-writer',
    description:
      "one writer at a time cut off from everything, some for longer than its notice streams' silence window; light loss",
    network: calmNetwork,
    partitions: ['writer'],
    partitionLengthMs: [400, 3_000],
    replicaCrashes: false,
    writerCrashes: false,
    maxReplicasDown: 0,
    downtimeMs: [0, 0],
    tornCrashRate: 0,
    snapshotEveryMs: [300, 900],
    faultEveryMs: [100, 500],
    durationMs: 6_000,
    // Eight counters, so that a key the cut-off writer holds in its cache may go a while without
    // a newer commit (two keys are written every few milliseconds, and each write's notice
    // refreshes every cache whatever the streams say).
    counterKeys: 8,
    // Three counter clients per writer: while one waits out an INCR the cut cannot commit, the
    // others read from the cut-off writer's cache.
    counterClients: 3,
    // A cut-off writer keeps serving entries its notice streams covered until the streams have
    // been silent for 1.5 s (STREAM_SILENT_MS, ADR 0020); after that, and after the cut heals
    // with notices lost, only entries younger than the cache's age bound (300 ms in the
    // simulated writer). So reads are stale by at most 1.5 s plus the network's longest delay
    // (120 ms) and the age bound's own lag: checked at 1.8 s. A writer that took restarted or
    // silent streams as whole would serve entries as old as the cut.
    stalenessBoundMs: 1_800,
  },
};

export const PROFILE_NAMES: readonly string[] = Object.keys(FAULT_PROFILES);

/** The profile a seed runs under when none is named: seeds cycle through all of them. */
export function profileForSeed(seed: number): string {
  return PROFILE_NAMES[Math.abs(seed) % PROFILE_NAMES.length] as string;
}
