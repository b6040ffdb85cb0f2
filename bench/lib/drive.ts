// A closed-loop load driver: `concurrency` workers each run one operation at a time, back to
// back, for a warm-up and then a measured window. It knows nothing of the system under test.
import { cpus } from 'node:os';
import { LatencyRecorder, type LatencySummary } from './latency.js';

export interface ClosedLoopOptions {
  /** Operations in flight at any time (one per worker). */
  concurrency: number;
  /** Run but not measured: connections, caches and the server's batching settle first. */
  warmupMs: number;
  /** The measured window that follows the warm-up. */
  durationMs: number;
  /** One operation; resolves when it is complete (e.g. durably committed). `worker` is 0..concurrency-1. */
  operation: (worker: number) => Promise<void>;
  /** Called about every 250 ms with the time elapsed of warm-up plus window. */
  onProgress?: (elapsedMs: number, totalMs: number) => void;
  /** The run stops and rejects once more operations than this have failed (default 100). */
  maxErrors?: number;
}

export interface ClosedLoopResult extends LatencySummary {
  concurrency: number;
  /** Failed operations, warm-up included (each is retried by its worker's next operation). */
  errors: number;
  firstError?: string;
  /** How busy this machine's CPUs were (all processes, all cores) during the measured window, 0-100. */
  cpuBusyPercent: number;
}

/** Busy and total CPU time of all cores so far (ms). */
function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/**
 * Runs the closed loop. Counted are the operations that complete within the measured window,
 * whenever they started; workers start no operation after the window and the ones in flight
 * then are awaited but not counted.
 */
export async function driveClosedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const { concurrency, warmupMs, durationMs, operation, onProgress, maxErrors = 100 } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error('concurrency must be a positive integer');
  if (durationMs <= 0) throw new Error('durationMs must be positive');
  const recorder = new LatencyRecorder();
  const startedAt = performance.now();
  const windowStart = startedAt + warmupMs;
  const windowEnd = windowStart + durationMs;
  let errors = 0;
  let firstError: string | undefined;
  let aborted = false;

  const worker = async (index: number) => {
    while (!aborted) {
      const begin = performance.now();
      if (begin >= windowEnd) return;
      try {
        await operation(index);
      } catch (error) {
        errors += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
        if (errors > maxErrors) aborted = true;
        continue;
      }
      const end = performance.now();
      if (end >= windowStart && end <= windowEnd) recorder.record(end - begin);
    }
  };

  let cpuAtStart = cpuTimes();
  let cpuAtEnd: { busy: number; total: number } | undefined;
  const windowTimers = [
    setTimeout(() => {
      cpuAtStart = cpuTimes();
    }, warmupMs),
    setTimeout(() => {
      cpuAtEnd = cpuTimes();
    }, warmupMs + durationMs),
  ];
  const ticker = onProgress
    ? setInterval(
        () =>
          onProgress(Math.min(performance.now() - startedAt, warmupMs + durationMs), warmupMs + durationMs),
        250,
      )
    : undefined;
  try {
    await Promise.all(Array.from({ length: concurrency }, (_, index) => worker(index)));
  } finally {
    if (ticker) clearInterval(ticker);
    for (const timer of windowTimers) clearTimeout(timer);
  }
  cpuAtEnd ??= cpuTimes();
  if (aborted) throw new Error(`stopped after ${errors} failed operations; the first: ${firstError}`);
  onProgress?.(warmupMs + durationMs, warmupMs + durationMs);
  const cpuTotal = cpuAtEnd.total - cpuAtStart.total;
  const cpuBusyPercent = cpuTotal > 0 ? (100 * (cpuAtEnd.busy - cpuAtStart.busy)) / cpuTotal : 0;
  return { ...recorder.summary(durationMs), concurrency, errors, firstError, cpuBusyPercent };
}
