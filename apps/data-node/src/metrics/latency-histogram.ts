// Log-bucketed latency histogram (~5% resolution from 10 µs to 100 s): fixed memory, O(1) to
// record, percentiles by a walk over the buckets. One per reporting interval.

const BUCKET_GROWTH = 1.05;
const SMALLEST_MICROS = 10;
const BUCKET_COUNT = Math.ceil(Math.log(1e8 / SMALLEST_MICROS) / Math.log(BUCKET_GROWTH)) + 1;

export class LatencyHistogram {
  private readonly buckets = new Float64Array(BUCKET_COUNT);
  private total = 0;

  record(micros: number): void {
    const index =
      micros <= SMALLEST_MICROS
        ? 0
        : Math.min(BUCKET_COUNT - 1, Math.ceil(Math.log(micros / SMALLEST_MICROS) / Math.log(BUCKET_GROWTH)));
    this.buckets[index] = (this.buckets[index] ?? 0) + 1;
    this.total++;
  }

  get count(): number {
    return this.total;
  }

  /** The latency (µs, upper bucket bound) under which `fraction` of the samples fall; 0 if empty. */
  percentileMicros(fraction: number): number {
    if (this.total === 0) return 0;
    const wanted = Math.max(1, Math.ceil(this.total * fraction));
    let seen = 0;
    for (let index = 0; index < BUCKET_COUNT; index++) {
      seen += this.buckets[index] ?? 0;
      if (seen >= wanted) return SMALLEST_MICROS * BUCKET_GROWTH ** index;
    }
    return SMALLEST_MICROS * BUCKET_GROWTH ** (BUCKET_COUNT - 1);
  }

  reset(): void {
    this.buckets.fill(0);
    this.total = 0;
  }
}
