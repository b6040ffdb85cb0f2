// Load patterns as pure functions of time: the rate a pattern asks for at `t` seconds into the
// run, and how many commands it asks for up to `t` (what the scheduler issues). Also the parsing
// of durations and of a custom pattern's steps, with errors that say what to write instead.

export type PatternName = 'step' | 'ramp' | 'spike' | 'idle' | 'custom';
export const PATTERN_NAMES: readonly PatternName[] = ['step', 'ramp', 'spike', 'idle', 'custom'];

export interface Step {
  seconds: number;
  rate: number;
}

export interface Pattern {
  name: PatternName;
  /** Peak rate, commands per second. */
  rate: number;
  durationSeconds: number;
  /** `custom` only: the steps, in order. */
  steps: readonly Step[];
}

/** Longest run the generator accepts (a load test must stop by itself). */
export const DURATION_MAX_SECONDS = 24 * 3_600;
const STEPS_MAX = 1_000;
const RATE_MAX = 10_000_000;

export class UsageError extends Error {}

/** `500ms`, `30s`, `2m`, `1h` or a bare number of seconds. */
export function parseDuration(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) {
    throw new UsageError(
      `${option} ${JSON.stringify(text)} is not a duration: write e.g. 500ms, 30s, 2m or 45`,
    );
  }
  const scale = { ms: 0.001, s: 1, m: 60, h: 3_600 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  const seconds = Number(match[1]) * scale;
  if (seconds <= 0 || seconds > DURATION_MAX_SECONDS) {
    throw new UsageError(`${option} must be above 0 and at most ${DURATION_MAX_SECONDS / 3_600} h`);
  }
  return seconds;
}

export function parseRate(text: string, option: string): number {
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !Number.isFinite(value) || value > RATE_MAX) {
    throw new UsageError(
      `${option} ${JSON.stringify(text)} is not a rate: write commands per second, 0 to ${RATE_MAX}`,
    );
  }
  return value;
}

/** `SECONDS:RATE,SECONDS:RATE,…`, e.g. `5:0,10:400,5:100` (seconds may carry a unit: `500ms:200`). */
export function parseSteps(text: string): Step[] {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.length === 0 || parts.length > STEPS_MAX || parts.some((part) => part === '')) {
    throw new UsageError(
      `--steps must be 1 to ${STEPS_MAX} SECONDS:RATE pairs separated by commas, e.g. 5:0,10:400`,
    );
  }
  return parts.map((part) => {
    const [duration, rate, ...rest] = part.split(':');
    if (duration === undefined || rate === undefined || rest.length > 0) {
      throw new UsageError(`--steps: ${JSON.stringify(part)} is not SECONDS:RATE (e.g. 10:400)`);
    }
    return { seconds: parseDuration(duration, '--steps'), rate: parseRate(rate, '--steps') };
  });
}

export function totalSeconds(steps: readonly Step[]): number {
  return steps.reduce((sum, step) => sum + step.seconds, 0);
}

/** The rate the pattern asks for at `t` seconds into the run (0 outside it). */
export function rateAt(pattern: Pattern, t: number): number {
  const { rate, durationSeconds: duration } = pattern;
  if (t < 0 || t >= duration) return 0;
  switch (pattern.name) {
    case 'idle':
      return 0;
    case 'step':
      return t >= duration / 4 ? rate : 0;
    case 'ramp':
      return (rate * t) / duration;
    case 'spike':
      return t >= duration * 0.4 && t < duration * 0.6 ? rate : rate / 10;
    case 'custom': {
      let start = 0;
      for (const step of pattern.steps) {
        if (t < start + step.seconds) return step.rate;
        start += step.seconds;
      }
      return 0;
    }
  }
}

/** Commands the pattern asks for in [0, t): the integral of `rateAt`. */
export function scheduledBy(pattern: Pattern, t: number): number {
  const { rate, durationSeconds: duration } = pattern;
  const end = Math.min(Math.max(t, 0), duration);
  switch (pattern.name) {
    case 'idle':
      return 0;
    case 'step':
      return Math.max(0, end - duration / 4) * rate;
    case 'ramp':
      return (rate * end * end) / (2 * duration);
    case 'spike': {
      const low = rate / 10;
      const spikeStart = duration * 0.4;
      const spikeEnd = duration * 0.6;
      const inSpike = Math.max(0, Math.min(end, spikeEnd) - spikeStart);
      return low * (end - inSpike) + rate * inSpike;
    }
    case 'custom': {
      let start = 0;
      let total = 0;
      for (const step of pattern.steps) {
        if (end <= start) break;
        total += Math.min(end - start, step.seconds) * step.rate;
        start += step.seconds;
      }
      return total;
    }
  }
}
