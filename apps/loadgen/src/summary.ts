// What a run comes to, for people (a text summary, a progress line) and for programs (JSON).
// Pure: the numbers come in, text and a plain object go out.
import type { LoadResult, Progress, Workload } from './load-generator.js';
import type { PatternName } from './patterns.js';

export interface SummaryJson
  extends Pick<
    LoadResult,
    | 'startedAtMs'
    | 'durationSeconds'
    | 'ops'
    | 'failed'
    | 'errorsByKind'
    | 'shortfall'
    | 'connections'
    | 'perSecond'
  > {
  pattern: PatternName;
  workload: Workload;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  counters?: NonNullable<LoadResult['counters']>;
}

const ms = (micros: number) => Math.round(micros) / 1_000;

export function summaryJson(pattern: PatternName, workload: Workload, result: LoadResult): SummaryJson {
  const { histogram } = result;
  const percentile = (p: number) => (histogram.count > 0 ? ms(histogram.percentile(p)) : 0);
  return {
    pattern,
    workload,
    startedAtMs: result.startedAtMs,
    durationSeconds: result.durationSeconds,
    ops: result.ops,
    failed: result.failed,
    errorsByKind: result.errorsByKind,
    shortfall: result.shortfall,
    latencyMs: {
      p50: percentile(50),
      p90: percentile(90),
      p99: percentile(99),
      p999: percentile(99.9),
      max: histogram.count > 0 ? ms(histogram.max) : 0,
    },
    connections: result.connections,
    perSecond: result.perSecond,
    ...(result.counters === null ? {} : { counters: result.counters }),
  };
}

export function summaryText(summary: SummaryJson): string {
  const lines = [
    `load generator: ${summary.pattern} pattern, ${summary.workload} workload, ${summary.durationSeconds.toFixed(1)} s`,
    `  commands     ${summary.ops.toLocaleString('en-US')} answered (${Math.round(summary.ops / Math.max(summary.durationSeconds, 0.001)).toLocaleString('en-US')}/s on average)`,
    `  failed       ${summary.failed.toLocaleString('en-US')}${failedKinds(summary.errorsByKind)}`,
    `  shortfall    ${summary.shortfall.toLocaleString('en-US')} not sent (every connection at its in-flight bound)`,
    `  latency ms   p50 ${summary.latencyMs.p50}  p90 ${summary.latencyMs.p90}  p99 ${summary.latencyMs.p99}  p99.9 ${summary.latencyMs.p999}  max ${summary.latencyMs.max}`,
    `  connections  ${summary.connections.opened} opened, ${summary.connections.dropped} dropped`,
  ];
  if (summary.counters !== undefined) {
    const total = (counts: Record<string, number>) =>
      Object.values(counts).reduce((sum, count) => sum + count, 0);
    lines.push(
      `  counters     ${total(summary.counters.acknowledged).toLocaleString('en-US')} INCR acknowledged, ${total(summary.counters.unknown).toLocaleString('en-US')} of unknown outcome`,
    );
  }
  return lines.join('\n');
}

function failedKinds(kinds: Record<string, number>): string {
  const entries = Object.entries(kinds).sort(([, a], [, b]) => b - a);
  return entries.length === 0 ? '' : ` (${entries.map(([kind, count]) => `${kind} ${count}`).join(', ')})`;
}

/** One line: a bar of elapsed time, then ops/s, p50, p99 and failures. */
export function progressLine(progress: Progress, width = 20): string {
  const fraction = Math.min(1, progress.elapsedSeconds / Math.max(progress.durationSeconds, 0.001));
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${progress.elapsedSeconds}/${Math.ceil(progress.durationSeconds)} s  ${Math.round(progress.opsPerSecond).toLocaleString('en-US')} ops/s  p50 ${progress.p50Ms.toFixed(2)} ms  p99 ${progress.p99Ms.toFixed(2)} ms  failed ${progress.failed}`;
}
