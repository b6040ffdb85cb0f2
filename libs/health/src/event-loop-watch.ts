// How long a process's event loop was held, for its /health: a node whose loop stalls answers
// nothing meanwhile, and a writer that waits 10 s for four of six storage nodes sees it as a node
// gone. A timer every 20 ms measures how late it runs; once a second the longest delay is folded
// into counters, so the counters say how many seconds held a stall over 100 ms and over 1 s since
// the process started, and the longest ever.
//
// Measured here rather than with perf_hooks' monitorEventLoopDelay: starting its histogram again
// each second (`reset`) also forgets when it last sampled, so the first delay after a reset is not
// recorded, and a stall that began just after a fold went uncounted (a test that held the loop
// right after a fold missed it every time).

/** The sampling: a delay shorter than this is not seen. */
const RESOLUTION_MS = 20;
const WINDOW_MS = 1_000;

export interface EventLoopStats {
  /** The longest delay since the process started, ms. */
  delayMaxMs: number;
  /** The longest delay in the last whole second, ms. */
  lastSecondDelayMaxMs: number;
  /** Seconds whose longest delay was over 100 ms, and over 1 s, since the process started. */
  secondsOver100Ms: number;
  secondsOver1S: number;
}

export class EventLoopWatch {
  private readonly sampler: NodeJS.Timeout;
  private readonly timer: NodeJS.Timeout;
  private lastSampleAtMs = performance.now();
  /** The longest delay sampled since the last fold, ms. */
  private windowMaxMs = 0;
  private readonly folded: EventLoopStats = {
    delayMaxMs: 0,
    lastSecondDelayMaxMs: 0,
    secondsOver100Ms: 0,
    secondsOver1S: 0,
  };

  constructor() {
    this.sampler = setInterval(() => this.sample(), RESOLUTION_MS);
    this.sampler.unref();
    this.timer = setInterval(() => this.fold(), WINDOW_MS);
    this.timer.unref();
  }

  stats(): EventLoopStats {
    // What the current second holds so far counts towards the longest ever.
    return { ...this.folded, delayMaxMs: Math.max(this.folded.delayMaxMs, Math.round(this.windowMaxMs)) };
  }

  stop(): void {
    clearInterval(this.sampler);
    clearInterval(this.timer);
  }

  /** How late the sampler runs against its interval: how long the loop was held before it. */
  private sample(): void {
    const nowMs = performance.now();
    const delayMs = nowMs - this.lastSampleAtMs - RESOLUTION_MS;
    this.lastSampleAtMs = nowMs;
    if (delayMs > this.windowMaxMs) this.windowMaxMs = delayMs;
  }

  private fold(): void {
    // A stall that just ended may be in this same pass of timers before the sampler's turn: sample it now.
    this.sample();
    const longestMs = Math.round(this.windowMaxMs);
    this.windowMaxMs = 0;
    this.folded.lastSecondDelayMaxMs = longestMs;
    this.folded.delayMaxMs = Math.max(this.folded.delayMaxMs, longestMs);
    if (longestMs > 100) this.folded.secondsOver100Ms++;
    if (longestMs > 1_000) this.folded.secondsOver1S++;
  }
}
