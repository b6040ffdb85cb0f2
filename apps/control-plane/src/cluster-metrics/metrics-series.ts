// A cluster's load over time, one point per second (docs/adr/0010): what a point holds, how the
// per-second point is made from the latest reports, and how points are summed up into steps for
// `GET /v1/clusters/:id/metrics`. Pure.
import type { LoadAggregator } from './load-aggregator.js';

export interface MetricsPoint {
  /** Start of the second (ms since the epoch), or of the step in an answer. */
  t: number;
  commandsPerSecond: number;
  throttledPerSecond: number;
  proxyCommandsPerSecond: number;
  p50LatencyMs: number;
  p99LatencyMs: number;
  connections: number;
  heldConnections: number;
  sessionsInTransaction: number;
  cacheHitRatio: number;
  cpuPercent: number;
  cu: number;
  writers: number;
}

/** Kept this long (then trimmed). */
export const SERIES_RETENTION_MS = 3_600_000;

/** The point of second `t` for a cluster, or null when it has no fresh report. */
export function pointOf(
  aggregator: LoadAggregator,
  clusterId: string,
  t: number,
  nowMs: number,
): MetricsPoint | null {
  const load = aggregator.latest(clusterId, nowMs);
  if (load === null) return null;
  const writers = aggregator.freshWriters(clusterId, nowMs);
  const proxy = aggregator.proxyActivity(clusterId, nowMs);
  const max = (pick: (writer: (typeof writers)[number]) => number) =>
    writers.reduce((best, writer) => Math.max(best, pick(writer)), 0);
  const hitWeight = writers.reduce((sum, writer) => sum + writer.opsPerSecond, 0);
  return {
    t,
    commandsPerSecond: round(load.commandsPerSecond),
    throttledPerSecond: round(load.throttledPerSecond),
    proxyCommandsPerSecond: round(load.proxyCommandsPerSecond),
    p50LatencyMs: round(max((writer) => writer.p50LatencyMs)),
    p99LatencyMs: round(max((writer) => writer.p99LatencyMs)),
    connections: proxy?.connections ?? writers.reduce((sum, writer) => sum + writer.connections, 0),
    heldConnections: proxy?.heldConnections ?? 0,
    sessionsInTransaction: load.sessionsInTransaction,
    cacheHitRatio:
      hitWeight > 0
        ? round(
            writers.reduce((sum, writer) => sum + writer.cacheHitRatio * writer.opsPerSecond, 0) / hitWeight,
            1000,
          )
        : 0,
    cpuPercent: round(max((writer) => writer.cpuPercent)),
    cu: writers.reduce((sum, writer) => sum + writer.cu, 0),
    writers: writers.length,
  };
}

/**
 * Points summed up into steps of `stepMs` starting at `fromMs`: rates are averaged over the
 * seconds present, latencies, connections and sessions take the step's highest, capacity its last.
 */
export function aggregate(points: readonly MetricsPoint[], fromMs: number, stepMs: number): MetricsPoint[] {
  const steps = new Map<number, MetricsPoint[]>();
  for (const point of points) {
    const start = fromMs + Math.floor((point.t - fromMs) / stepMs) * stepMs;
    const bucket = steps.get(start);
    if (bucket === undefined) steps.set(start, [point]);
    else bucket.push(point);
  }
  return [...steps.entries()]
    .sort(([a], [b]) => a - b)
    .map(([t, bucket]) => {
      const mean = (pick: (point: MetricsPoint) => number) =>
        round(bucket.reduce((sum, point) => sum + pick(point), 0) / bucket.length);
      const max = (pick: (point: MetricsPoint) => number) =>
        bucket.reduce((best, point) => Math.max(best, pick(point)), 0);
      const last = bucket.reduce((latest, point) => (point.t >= latest.t ? point : latest));
      return {
        t,
        commandsPerSecond: mean((point) => point.commandsPerSecond),
        throttledPerSecond: mean((point) => point.throttledPerSecond),
        proxyCommandsPerSecond: mean((point) => point.proxyCommandsPerSecond),
        p50LatencyMs: max((point) => point.p50LatencyMs),
        p99LatencyMs: max((point) => point.p99LatencyMs),
        connections: max((point) => point.connections),
        heldConnections: max((point) => point.heldConnections),
        sessionsInTransaction: max((point) => point.sessionsInTransaction),
        cacheHitRatio: round(
          bucket.reduce((sum, point) => sum + point.cacheHitRatio, 0) / bucket.length,
          1000,
        ),
        cpuPercent: max((point) => point.cpuPercent),
        cu: last.cu,
        writers: last.writers,
      };
    });
}

/** A stored point, or null when the text is not one (a foreign or damaged member). */
export function parsePoint(text: string): MetricsPoint | null {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    const fields: (keyof MetricsPoint)[] = [
      't',
      'commandsPerSecond',
      'throttledPerSecond',
      'proxyCommandsPerSecond',
      'p50LatencyMs',
      'p99LatencyMs',
      'connections',
      'heldConnections',
      'sessionsInTransaction',
      'cacheHitRatio',
      'cpuPercent',
      'cu',
      'writers',
    ];
    for (const field of fields)
      if (typeof value[field] !== 'number' || !Number.isFinite(value[field])) return null;
    return value as unknown as MetricsPoint;
  } catch {
    return null;
  }
}

function round(value: number, scale = 10): number {
  return Math.round(value * scale) / scale;
}
