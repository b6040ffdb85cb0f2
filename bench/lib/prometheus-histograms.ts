// Percentiles of Prometheus histograms between two scrapes of a server's /metrics: what the
// server itself measured over one run, to set beside what the client saw. A percentile is the
// upper bound of the bucket it falls in, so it is as coarse as the buckets.

/** Cumulative bucket counts of each histogram, by name, then by upper bound (`+Inf` included). */
export type HistogramScrape = Map<string, Map<number, number>>;

const BUCKET_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)_bucket\{le="([^"]+)"\} (\S+)$/;

/** The `_bucket` series of every histogram in Prometheus text (histograms without other labels). */
export function parseHistograms(text: string): HistogramScrape {
  const histograms: HistogramScrape = new Map();
  for (const line of text.split('\n')) {
    const match = BUCKET_LINE.exec(line);
    if (match === null) continue;
    const [, name, le, count] = match as unknown as [string, string, string, string];
    let buckets = histograms.get(name);
    if (buckets === undefined) {
      buckets = new Map();
      histograms.set(name, buckets);
    }
    buckets.set(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), Number(count));
  }
  return histograms;
}

/**
 * The upper bound of the bucket holding the `fraction` percentile of what `name` observed between
 * `before` and `after` (Infinity when it lies above every bound); null when nothing was observed.
 */
export function percentileBetween(
  before: HistogramScrape,
  after: HistogramScrape,
  name: string,
  fraction: number,
): number | null {
  const later = after.get(name);
  if (later === undefined) return null;
  const earlier = before.get(name);
  const bounds = [...later.keys()].sort((a, b) => a - b);
  const inRun = (bound: number) => (later.get(bound) ?? 0) - (earlier?.get(bound) ?? 0);
  const total = inRun(Number.POSITIVE_INFINITY);
  if (total <= 0) return null;
  const wanted = Math.max(1, Math.ceil(total * fraction));
  for (const bound of bounds) if (inRun(bound) >= wanted) return bound;
  return Number.POSITIVE_INFINITY;
}
