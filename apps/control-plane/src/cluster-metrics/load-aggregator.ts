// The latest load of every cluster, merged from its writers' interval reports and the proxies'
// activity reports (DESIGN §5). Pure: reports and the time come in, a `LoadSample` per cluster
// comes out; the service around it does the Redis I/O. Reports are checked field by field (one
// that does not fit is refused, never half used), and memory is bounded: a report older than
// `REPORT_FRESH_MS` no longer counts, and a cluster silent for `FORGET_AFTER_MS` is forgotten.
import type {
  DataNodeIntervalReport,
  ProxyActivityReport,
  ProxyClusterActivity as WireProxyClusterActivity,
} from '../../../../libs/routes/src/index.js';
import type { LoadSample } from '../autoscaling/autoscaler-model.js';

/** A report older than this no longer counts toward a cluster's load. */
export const REPORT_FRESH_MS = 3_000;
/** A cluster with no report for this long is forgotten. */
export const FORGET_AFTER_MS = 60_000;
/** Bounds on what one report may carry (a malformed or hostile one must not grow memory). */
const ID_MAX = 128;
const CLUSTERS_PER_PROXY_REPORT_MAX = 10_000;

/** The numbers of a data node's interval report that the autoscaler uses. */
const WRITER_NUMBERS = [
  'atMs',
  'intervalMs',
  'cu',
  'opsPerSecond',
  'throttledCommands',
  'p50LatencyMs',
  'p99LatencyMs',
  'connections',
  'sessionsInTransaction',
  'cacheHitRatio',
  'cpuPercent',
  'lastCommandAtMs',
] as const satisfies readonly (keyof DataNodeIntervalReport)[];

/** A writer's interval report, as far as the autoscaler reads it: a writer of a cluster. */
export type WriterReport = Pick<DataNodeIntervalReport, 'nodeId' | (typeof WRITER_NUMBERS)[number]> & {
  clusterId: string;
};

/** A proxy's activity for one cluster, as far as the autoscaler reads it. */
export type ProxyClusterActivity = Omit<WireProxyClusterActivity, 'heldBytes'>;

export interface ProxyReport extends Omit<ProxyActivityReport, 'clusters'> {
  clusters: Map<string, ProxyClusterActivity>;
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= ID_MAX;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function object(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** A data node's interval report, or null when it is not one (or belongs to no cluster). */
export function parseWriterReport(text: string): WriterReport | null {
  const value = object(text);
  if (value === null || !isId(value.nodeId) || !isId(value.clusterId)) return null;
  for (const field of WRITER_NUMBERS) if (!isCount(value[field])) return null;
  if ((value.intervalMs as number) <= 0) return null;
  return {
    nodeId: value.nodeId,
    clusterId: value.clusterId,
    ...(Object.fromEntries(WRITER_NUMBERS.map((field) => [field, value[field]])) as Record<
      (typeof WRITER_NUMBERS)[number],
      number
    >),
  };
}

/** A proxy's activity report, or null when it is not one; clusters whose entry does not fit are left out. */
export function parseProxyReport(text: string): ProxyReport | null {
  const value = object(text);
  if (value === null || !isId(value.proxyId) || !isCount(value.atMs) || !isCount(value.intervalMs))
    return null;
  if (value.intervalMs <= 0 || typeof value.clusters !== 'object' || value.clusters === null) return null;
  const entries = Object.entries(value.clusters as Record<string, unknown>);
  if (entries.length > CLUSTERS_PER_PROXY_REPORT_MAX) return null;
  const clusters = new Map<string, ProxyClusterActivity>();
  for (const [clusterId, raw] of entries) {
    if (!isId(clusterId) || typeof raw !== 'object' || raw === null) continue;
    const activity = raw as Record<string, unknown>;
    const { connections, heldConnections, commands, lastCommandAtMs, sessionsInTransaction } = activity;
    if (
      isCount(connections) &&
      isCount(heldConnections) &&
      isCount(commands) &&
      isCount(lastCommandAtMs) &&
      isCount(sessionsInTransaction)
    ) {
      clusters.set(clusterId, {
        connections,
        heldConnections,
        commands,
        lastCommandAtMs,
        sessionsInTransaction,
      });
    }
  }
  return { proxyId: value.proxyId, atMs: value.atMs, intervalMs: value.intervalMs, clusters };
}

interface ClusterReports {
  writers: Map<string, WriterReport>;
  proxies: Map<string, { atMs: number; intervalMs: number; activity: ProxyClusterActivity }>;
  lastReportAtMs: number;
}

export class LoadAggregator {
  private readonly clusters = new Map<string, ClusterReports>();

  private of(clusterId: string): ClusterReports {
    let reports = this.clusters.get(clusterId);
    if (reports === undefined) {
      reports = { writers: new Map(), proxies: new Map(), lastReportAtMs: 0 };
      this.clusters.set(clusterId, reports);
    }
    return reports;
  }

  addWriterReport(report: WriterReport): void {
    const reports = this.of(report.clusterId);
    reports.writers.set(report.nodeId, report);
    reports.lastReportAtMs = Math.max(reports.lastReportAtMs, report.atMs);
  }

  addProxyReport(report: ProxyReport): void {
    for (const [clusterId, activity] of report.clusters) {
      const reports = this.of(clusterId);
      reports.proxies.set(report.proxyId, { atMs: report.atMs, intervalMs: report.intervalMs, activity });
      reports.lastReportAtMs = Math.max(reports.lastReportAtMs, report.atMs);
    }
  }

  /** The cluster's load from its fresh reports, or null when it has none. */
  latest(clusterId: string, nowMs: number): LoadSample | null {
    const reports = this.clusters.get(clusterId);
    if (reports === undefined) return null;
    const freshAfter = nowMs - REPORT_FRESH_MS;
    let atMs = 0;
    let commandsPerSecond = 0;
    let throttledPerSecond = 0;
    let proxyCommandsPerSecond = 0;
    let lastCommandAtMs = 0;
    let writerSessions = 0;
    let proxySessions = 0;
    let fresh = false;
    for (const writer of reports.writers.values()) {
      if (writer.atMs < freshAfter) continue;
      fresh = true;
      atMs = Math.max(atMs, writer.atMs);
      commandsPerSecond += writer.opsPerSecond;
      throttledPerSecond += writer.throttledCommands / (writer.intervalMs / 1_000);
      lastCommandAtMs = Math.max(lastCommandAtMs, writer.lastCommandAtMs);
      writerSessions += writer.sessionsInTransaction;
    }
    for (const proxy of reports.proxies.values()) {
      if (proxy.atMs < freshAfter) continue;
      fresh = true;
      atMs = Math.max(atMs, proxy.atMs);
      proxyCommandsPerSecond += proxy.activity.commands / (proxy.intervalMs / 1_000);
      lastCommandAtMs = Math.max(lastCommandAtMs, proxy.activity.lastCommandAtMs);
      proxySessions += proxy.activity.sessionsInTransaction;
    }
    if (!fresh) return null;
    return {
      atMs,
      commandsPerSecond,
      throttledPerSecond,
      proxyCommandsPerSecond,
      lastCommandAtMs,
      sessionsInTransaction: Math.max(writerSessions, proxySessions),
    };
  }

  /** Fresh writer reports of a cluster (for the per-second series). */
  freshWriters(clusterId: string, nowMs: number): WriterReport[] {
    const reports = this.clusters.get(clusterId);
    if (reports === undefined) return [];
    return [...reports.writers.values()].filter((writer) => writer.atMs >= nowMs - REPORT_FRESH_MS);
  }

  /** Fresh proxy activity of a cluster, summed over proxies. */
  proxyActivity(clusterId: string, nowMs: number): { connections: number; heldConnections: number } | null {
    const reports = this.clusters.get(clusterId);
    if (reports === undefined) return null;
    let found = false;
    let connections = 0;
    let heldConnections = 0;
    for (const proxy of reports.proxies.values()) {
      if (proxy.atMs < nowMs - REPORT_FRESH_MS) continue;
      found = true;
      connections += proxy.activity.connections;
      heldConnections += proxy.activity.heldConnections;
    }
    return found ? { connections, heldConnections } : null;
  }

  /** Held connections per cluster, from fresh proxy reports. */
  heldConnections(nowMs: number): Map<string, number> {
    const held = new Map<string, number>();
    for (const clusterId of this.clusters.keys()) {
      const activity = this.proxyActivity(clusterId, nowMs);
      if (activity !== null) held.set(clusterId, activity.heldConnections);
    }
    return held;
  }

  /** Clusters with a report within the last `FORGET_AFTER_MS`; the others are forgotten. */
  clusterIds(nowMs: number): string[] {
    for (const [clusterId, reports] of this.clusters) {
      if (reports.lastReportAtMs < nowMs - FORGET_AFTER_MS) this.clusters.delete(clusterId);
      else {
        for (const [nodeId, writer] of reports.writers)
          if (writer.atMs < nowMs - FORGET_AFTER_MS) reports.writers.delete(nodeId);
        for (const [proxyId, proxy] of reports.proxies)
          if (proxy.atMs < nowMs - FORGET_AFTER_MS) reports.proxies.delete(proxyId);
      }
    }
    return [...this.clusters.keys()];
  }
}
