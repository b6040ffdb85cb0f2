// How long a process's event loop was held, for its /health: a node whose loop stalls answers
// nothing meanwhile, and a writer that waits 10 s for four of six storage nodes sees it as a node
// gone. A timer measures how late it runs; once a second the longest delay is folded into
// counters, so the counters say how many seconds held a stall over 100 ms and over 1 s since the
// process started, and the longest ever.
//
// The timer runs every 20 ms while the loop works, and every 100 ms after a second in which it
// was busy less than 2% of the time: at 20 ms it was most of an idle storage node's wakeups (50
// of about 70 a second, some 6 ms of CPU a second). A delay is seen from when the timer was due,
// so a stall is measured up to one interval short: 20 ms while busy, 100 ms when it begins after
// an idle second (a 1.2 s stall then reads 1.1 s or more). The first busy second switches back.
//
// Measured here rather than with perf_hooks' monitorEventLoopDelay: starting its histogram again
// each second (`reset`) also forgets when it last sampled, so the first delay after a reset is not
// recorded, and a stall that began just after a fold went uncounted (a test that held the loop
// right after a fold missed it every time).

/** The sampling while the loop works: a delay shorter than this is not seen. */
const BUSY_RESOLUTION_MS = 20;
/** The sampling after an idle second. */
const IDLE_RESOLUTION_MS = 100;
/** A second in which the loop was busy less than this share of the time is idle. */
const IDLE_UTILIZATION_MAX = 0.02;
const WINDOW_MS = 1_000;

export interface EventLoopStats {
  /** The longest delay since the process started, ms. */
  delayMaxMs: number;
  /** The longest delay in the last whole second, ms. */
  lastSecondDelayMaxMs: number;
  /** Seconds whose longest delay was over 100 ms, and over 1 s, since the process started. */
  secondsOver100Ms: number;
  secondsOver1S: number;
  /** How often the loop is sampled now, ms: 20 while it works, 100 after an idle second. */
  samplingMs: number;
}

export class EventLoopWatch {
  private sampler: NodeJS.Timeout;
  private readonly timer: NodeJS.Timeout;
  private lastSampleAtMs = performance.now();
  /** The longest delay sampled since the last fold, ms. */
  private windowMaxMs = 0;
  /** The loop's busy and idle time at the last fold (for the share of the second it worked). */
  private utilizationAtFold = performance.eventLoopUtilization();
  private readonly folded: EventLoopStats = {
    delayMaxMs: 0,
    lastSecondDelayMaxMs: 0,
    secondsOver100Ms: 0,
    secondsOver1S: 0,
    samplingMs: BUSY_RESOLUTION_MS,
  };

  constructor() {
    this.sampler = this.startSampler();
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
    const delayMs = nowMs - this.lastSampleAtMs - this.folded.samplingMs;
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
    const utilization = performance.eventLoopUtilization();
    const busyShare = performance.eventLoopUtilization(utilization, this.utilizationAtFold).utilization;
    this.utilizationAtFold = utilization;
    const samplingMs = busyShare < IDLE_UTILIZATION_MAX ? IDLE_RESOLUTION_MS : BUSY_RESOLUTION_MS;
    if (samplingMs !== this.folded.samplingMs) {
      clearInterval(this.sampler);
      this.folded.samplingMs = samplingMs;
      this.lastSampleAtMs = performance.now();
      this.sampler = this.startSampler();
    }
  }

  private startSampler(): NodeJS.Timeout {
    const sampler = setInterval(() => this.sample(), this.folded.samplingMs);
    sampler.unref();
    return sampler;
  }
}
