// Latency samples of one measured run: count, throughput and percentiles.

export interface LatencySummary {
  /** Operations recorded. */
  count: number;
  /** Length of the measured window the operations completed in. */
  durationMs: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

/** Collects latencies (in milliseconds) and summarizes them; keeps every sample, 8 bytes each. */
export class LatencyRecorder {
  private samples = new Float64Array(1024);
  private size = 0;
  private sorted = true;

  record(latencyMs: number): void {
    if (this.size === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.size] = latencyMs;
    this.size += 1;
    this.sorted = false;
  }

  get count(): number {
    return this.size;
  }

  /** The nearest-rank percentile, `p` in [0, 100]; 0 when nothing was recorded. */
  percentile(p: number): number {
    if (this.size === 0) return 0;
    const values = this.sortedSamples();
    const rank = Math.ceil((Math.min(Math.max(p, 0), 100) / 100) * this.size);
    return values[Math.max(rank, 1) - 1] ?? 0;
  }

  /** Summary for operations that completed within a window of `durationMs`. */
  summary(durationMs: number): LatencySummary {
    const values = this.sortedSamples();
    let total = 0;
    for (const value of values) total += value;
    return {
      count: this.size,
      durationMs,
      opsPerSec: durationMs > 0 ? (this.size * 1000) / durationMs : 0,
      p50Ms: this.percentile(50),
      p99Ms: this.percentile(99),
      meanMs: this.size > 0 ? total / this.size : 0,
      maxMs: this.size > 0 ? (values[this.size - 1] ?? 0) : 0,
    };
  }

  private sortedSamples(): Float64Array {
    const values = this.samples.subarray(0, this.size);
    if (!this.sorted) {
      values.sort();
      this.sorted = true;
    }
    return values;
  }
}
