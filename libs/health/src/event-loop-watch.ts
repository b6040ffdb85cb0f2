// How long a process's event loop was held, for its /health: a node whose loop stalls answers
// nothing meanwhile, and a writer that waits 10 s for four of six storage nodes sees it as a node
// gone. perf_hooks' event-loop delay histogram records the delays; once a second this folds its
// longest into counters and starts it again, so the counters say how many seconds held a stall
// over 100 ms and over 1 s since the process started, and the longest ever.
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** The histogram's sampling: a delay shorter than this is not seen. */
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
  private readonly histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private readonly timer: NodeJS.Timeout;
  private readonly folded: EventLoopStats = {
    delayMaxMs: 0,
    lastSecondDelayMaxMs: 0,
    secondsOver100Ms: 0,
    secondsOver1S: 0,
  };

  constructor() {
    this.histogram.enable();
    this.timer = setInterval(() => this.fold(), WINDOW_MS);
    this.timer.unref();
  }

  stats(): EventLoopStats {
    // What the current second holds so far counts towards the longest ever.
    const currentMs = this.currentMaxMs();
    return { ...this.folded, delayMaxMs: Math.max(this.folded.delayMaxMs, currentMs) };
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }

  private fold(): void {
    const longestMs = this.currentMaxMs();
    this.histogram.reset();
    this.folded.lastSecondDelayMaxMs = longestMs;
    this.folded.delayMaxMs = Math.max(this.folded.delayMaxMs, longestMs);
    if (longestMs > 100) this.folded.secondsOver100Ms++;
    if (longestMs > 1_000) this.folded.secondsOver1S++;
  }

  /** The histogram's longest delay, in ms (0 before its first sample: it reports a huge minimum then). */
  private currentMaxMs(): number {
    return this.histogram.count === 0 ? 0 : Math.round(this.histogram.max / 1e6);
  }
}
