// The query of `GET /v1/clusters/:id/metrics`: its fields as text (the DTO), and the pure rule
// that turns them into a time range and a step, or says what to send instead.
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import type { FieldProblem } from '../common/error-body.js';
import { IsOptionalNotNull } from '../common/validation.js';
import { SERIES_RETENTION_MS } from './metrics-series.js';

export const POINTS_MAX = 3_600;
const DEFAULT_SPAN_MS = 15 * 60_000;
const DEFAULT_POINTS = 900;
const STEP_SECONDS_MAX = 3_600;

export class MetricsQuery {
  @ApiPropertyOptional({
    description:
      'Start of the range: an ISO 8601 time or milliseconds since the epoch. Default: 15 minutes before `to`.',
    example: '2026-12-03T10:00:00Z',
  })
  @IsOptionalNotNull()
  @MaxLength(64, { message: 'from is too long: send an ISO 8601 time or milliseconds since the epoch' })
  @IsString({ message: 'from must be an ISO 8601 time or milliseconds since the epoch' })
  from?: string;

  @ApiPropertyOptional({
    description:
      'End of the range (excluded): an ISO 8601 time or milliseconds since the epoch. Default: now.',
  })
  @IsOptionalNotNull()
  @MaxLength(64, { message: 'to is too long: send an ISO 8601 time or milliseconds since the epoch' })
  @IsString({ message: 'to must be an ISO 8601 time or milliseconds since the epoch' })
  to?: string;

  @ApiPropertyOptional({
    description: `Seconds per point, 1 to ${STEP_SECONDS_MAX}. Default: the smallest that gives at most ${DEFAULT_POINTS} points.`,
    example: 1,
  })
  @IsOptionalNotNull()
  @MaxLength(16, { message: 'step is too long: send whole seconds, 1 to 3600' })
  @IsString({ message: 'step must be whole seconds, 1 to 3600' })
  step?: string;
}

export type MetricsRange =
  | { ok: true; fromMs: number; toMs: number; stepMs: number }
  | { ok: false; problems: FieldProblem[] };

/** A time as ISO 8601 or epoch milliseconds, or null. */
function parseTime(text: string): number | null {
  if (/^\d{1,15}$/.test(text)) return Number(text);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

export function metricsRange(query: MetricsQuery, nowMs: number): MetricsRange {
  const problems: FieldProblem[] = [];
  const time = (field: 'from' | 'to'): number | null => {
    const text = query[field];
    if (text === undefined) return null;
    const ms = parseTime(text);
    if (ms === null)
      problems.push({
        field,
        problems: [
          `${field} must be an ISO 8601 time such as 2026-12-03T10:00:00Z or milliseconds since the epoch`,
        ],
      });
    return ms;
  };
  const to = time('to') ?? nowMs;
  const from = time('from') ?? to - DEFAULT_SPAN_MS;
  let stepSeconds: number | null = null;
  if (query.step !== undefined) {
    if (!/^\d{1,5}$/.test(query.step) || Number(query.step) < 1 || Number(query.step) > STEP_SECONDS_MAX) {
      problems.push({
        field: 'step',
        problems: [`step must be whole seconds from 1 to ${STEP_SECONDS_MAX}`],
      });
    } else stepSeconds = Number(query.step);
  }
  if (problems.length > 0) return { ok: false, problems };
  if (from >= to) return { ok: false, problems: [{ field: 'from', problems: ['from must be before to'] }] };
  const spanMs = to - from;
  if (spanMs > SERIES_RETENTION_MS * 24) {
    return {
      ok: false,
      problems: [
        { field: 'from', problems: ['the range may span at most one day; points are kept for one hour'] },
      ],
    };
  }
  const stepMs = (stepSeconds ?? Math.max(1, Math.ceil(spanMs / 1_000 / DEFAULT_POINTS))) * 1_000;
  if (spanMs / stepMs > POINTS_MAX) {
    return {
      ok: false,
      problems: [
        {
          field: 'step',
          problems: [
            `that range at step ${stepMs / 1_000} s is ${Math.ceil(spanMs / stepMs)} points; at most ${POINTS_MAX}: use a step of at least ${Math.ceil(spanMs / 1_000 / POINTS_MAX)} s`,
          ],
        },
      ],
    };
  }
  return { ok: true, fromMs: from, toMs: to, stepMs };
}
