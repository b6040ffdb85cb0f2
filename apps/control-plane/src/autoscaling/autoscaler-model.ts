// The autoscaler's vocabulary (DESIGN §5): what `decide` is given about one cluster on each tick,
// what it remembers between ticks, and what it answers. Plain data, no I/O, so that the decision
// itself (`decide.ts`) is a pure function tested with a fake clock.

/** The capacity a cluster runs: the sum of its writers' CU, and how many writers. */
export interface Capacity {
  cu: number;
  writers: number;
}

/** A serverless cluster's autoscaling settings, as stored (defaults already applied). */
export interface AutoscalingSettings {
  /** Lowest capacity; 0 lets the cluster pause (an awake cluster still runs at least 0.5 CU). */
  minCu: number;
  maxCu: number;
  /** Above this much capacity per writer the cluster runs more writers (1 to 8). */
  cuPerWriterMax: number;
  /** Seconds without a command before the cluster pauses; null: never. Applies only with minCu 0. */
  autoPauseSeconds: number | null;
  /** Scale-down goes to the highest desired CU seen in this window. */
  scaleDownWindowMs: number;
  /** Fraction of a CU's command rate the autoscaler aims to use (0.7 by default). */
  targetUtilization: number;
}

/** What the control plane knows of one cluster when it ticks. */
export interface ClusterView {
  clusterId: string;
  mode: 'serverless' | 'provisioned';
  /** The cluster's state (`available`, `paused`, …); only an available cluster is scaled or paused. */
  state: string;
  settings: AutoscalingSettings;
  current: Capacity;
  /** An earlier action on this cluster is still being carried out. */
  busy: boolean;
  /** When the cluster last became available (ms since the epoch): idle time counts from here at the latest. */
  availableSinceMs: number;
  /** Commands per second one CU serves (platform setting; 2,000 by default). */
  cuCommandsPerSecond: number;
}

/** The latest load of one cluster, merged from its writers' and the proxy's reports. */
export interface LoadSample {
  /** When the newest report that went into this sample was made. */
  atMs: number;
  /** Commands per second the writers served. */
  commandsPerSecond: number;
  /** Commands per second delayed by the writers' capacity budget (demand without endpoint traffic). */
  throttledPerSecond: number;
  /** Commands per second clients sent to the endpoint (the demand, each command counted once). */
  proxyCommandsPerSecond: number;
  /** When the last command arrived anywhere (ms since the epoch); 0 if none was seen. */
  lastCommandAtMs: number;
  /** Sessions inside MULTI or holding a WATCH. */
  sessionsInTransaction: number;
}

/** What the autoscaler remembers of a cluster between ticks. */
export interface AutoscalerMemory {
  /** Desired CU within the scale-down window that can still be its peak (a sliding-window maximum), oldest first. */
  window: ReadonlyArray<{ atMs: number; cu: number }>;
}

export type AutoscalerAction =
  /** Change capacity to `toCu` over `toWriters` writers (up, down, out or in). */
  | { kind: 'scale'; toCu: number; toWriters: number; reason: string }
  /** Pause the cluster (scale to zero). */
  | { kind: 'pause'; reason: string }
  /** Nothing to do before `untilMs` unless the load changes. */
  | { kind: 'wait'; untilMs: number; reason: string };

/** What keeps a cluster from being smaller or paused. */
export type Holder =
  | 'provisioned'
  | 'not-available'
  | 'busy'
  | 'no-load-report'
  | 'demand'
  | 'minimum'
  | 'maximum'
  | 'window'
  | 'transaction'
  | 'recent-command'
  | 'auto-pause-off';

/** The answer to "why is this cluster this size, and not smaller or paused?". */
export interface Explanation {
  current: Capacity;
  desired: Capacity;
  /** Demand behind the decision, commands per second (null without a fresh report). */
  demandPerSecond: number | null;
  /** Desired CU for this demand alone, before the window and the range. */
  demandCu: number | null;
  /** Highest desired CU within the scale-down window. */
  windowPeakCu: number;
  /** Seconds since the last command (or since it became available). */
  idleSeconds: number | null;
  /** Seconds until it pauses if no command arrives; null when it will not pause. */
  secondsToPause: number | null;
  holders: Holder[];
  /** One plain sentence for a person. */
  summary: string;
}

export interface Decision {
  actions: AutoscalerAction[];
  memory: AutoscalerMemory;
  explanation: Explanation;
}

/** A load report older than this is not trusted: no scaling down or pausing on it. */
export const LOAD_REPORT_STALE_MS = 3_000;

export const autoscalingDefaults = {
  cuPerWriterMax: 8,
  scaleDownWindowSeconds: 30,
  targetUtilization: 0.7,
} as const;
