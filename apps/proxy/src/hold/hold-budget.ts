// What the proxy may hold for clusters without a writer (paused, pausing, or every writer down):
// connections with at least one held command, and the bytes of held commands, per cluster and in
// all. A command that would go past a limit is refused (TRYAGAIN, naming the limit) and the
// others stay held. Idle connections hold nothing and count for nothing. Pure bookkeeping.

export interface HoldLimits {
  connectionsPerCluster: number;
  bytesPerCluster: number;
  connectionsMax: number;
  bytesMax: number;
}

/** The environment variable that sets each limit: what an overflow error names. */
export const HOLD_LIMIT_NAMES: Readonly<Record<keyof HoldLimits, string>> = {
  connectionsPerCluster: 'PROXY_HOLD_CONNECTIONS_PER_CLUSTER',
  bytesPerCluster: 'PROXY_HOLD_BYTES_PER_CLUSTER',
  connectionsMax: 'PROXY_HOLD_CONNECTIONS_MAX',
  bytesMax: 'PROXY_HOLD_BYTES_MAX',
};

/** What one connection holds. */
export interface HoldTally {
  commands: number;
  bytes: number;
}

export interface HoldTotals {
  connections: number;
  bytes: number;
}

export class HoldBudget {
  private readonly total: HoldTotals = { connections: 0, bytes: 0 };
  private readonly clusters = new Map<string, HoldTotals>();

  constructor(readonly limits: HoldLimits) {}

  get totals(): Readonly<HoldTotals> {
    return this.total;
  }

  of(clusterId: string): Readonly<HoldTotals> {
    return this.clusters.get(clusterId) ?? { connections: 0, bytes: 0 };
  }

  /** Holds a command of `bytes` for `tally`'s connection; null, or the limit it would break. */
  tryHold(clusterId: string, tally: HoldTally, bytes: number): keyof HoldLimits | null {
    const cluster = this.clusters.get(clusterId) ?? { connections: 0, bytes: 0 };
    const newConnection = tally.commands === 0 ? 1 : 0;
    const { limits } = this;
    if (cluster.connections + newConnection > limits.connectionsPerCluster) return 'connectionsPerCluster';
    if (this.total.connections + newConnection > limits.connectionsMax) return 'connectionsMax';
    if (cluster.bytes + bytes > limits.bytesPerCluster) return 'bytesPerCluster';
    if (this.total.bytes + bytes > limits.bytesMax) return 'bytesMax';
    cluster.connections += newConnection;
    cluster.bytes += bytes;
    this.clusters.set(clusterId, cluster);
    this.total.connections += newConnection;
    this.total.bytes += bytes;
    tally.commands++;
    tally.bytes += bytes;
    return null;
  }

  /** A held command of `bytes` was sent or answered. */
  release(clusterId: string, tally: HoldTally, bytes: number): void {
    const cluster = this.clusters.get(clusterId);
    if (cluster === undefined || tally.commands === 0) return;
    tally.commands--;
    tally.bytes -= bytes;
    const leftConnection = tally.commands === 0 ? 1 : 0;
    cluster.connections -= leftConnection;
    cluster.bytes -= bytes;
    this.total.connections -= leftConnection;
    this.total.bytes -= bytes;
    if (cluster.connections === 0 && cluster.bytes === 0) this.clusters.delete(clusterId);
  }
}

/** The TRYAGAIN error for a command past `limit`, naming the limit and its setting. */
export function holdRefusal(limit: keyof HoldLimits, limits: HoldLimits, clusterName: string): string {
  const setting = `${HOLD_LIMIT_NAMES[limit]}=${limits[limit]}`;
  switch (limit) {
    case 'connectionsPerCluster':
      return `TRYAGAIN cluster ${clusterName} is resuming and already holds commands of the most connections it may (${setting}); retry`;
    case 'bytesPerCluster':
      return `TRYAGAIN cluster ${clusterName} is resuming and already holds the most bytes of commands it may (${setting}); retry`;
    case 'connectionsMax':
      return `TRYAGAIN this endpoint already holds commands of the most connections it may for resuming clusters (${setting}); retry`;
    default:
      return `TRYAGAIN this endpoint already holds the most bytes of commands it may for resuming clusters (${setting}); retry`;
  }
}
