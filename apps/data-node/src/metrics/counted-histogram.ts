// A Prometheus histogram without labels, counted in a fixed array and read out on scrape.
//
// prom-client's Histogram builds a labels object, validates and hashes it and walks its bounds on
// every `observe`: about 2% of a data node's CPU under pipelined GETs, where every command is
// observed (docs/performance.md, "Command metrics counted in place"). This one counts a command
// with a walk over a dozen bounds and two additions, and hands prom-client's registry the same
// exposition (test/unit/counted-histogram.test.ts compares the two) when it is scraped.
import type { Metric, Registry } from 'prom-client';

interface HistogramValue {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
  /** Buckets carry one in prom-client's own values (none here): kept for the same JSON. */
  exemplar?: null;
}

export class CountedHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: readonly number[];
  /** Observations per bound (not cumulative); the last slot holds those above every bound. */
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(options: {
    name: string;
    help: string;
    buckets: readonly number[];
    registers: readonly Registry[];
  }) {
    this.name = options.name;
    this.help = options.help;
    this.bounds = [...options.buckets].sort((a, b) => a - b);
    this.counts = new Float64Array(this.bounds.length + 1);
    // The registry reads any object with a name, a help, a type and `get()`; its type names only
    // its own classes.
    for (const registry of options.registers) registry.registerMetric(this as unknown as Metric);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let index = 0;
    while (index < bounds.length && value > (bounds[index] as number)) index++;
    this.counts[index] = (this.counts[index] as number) + 1;
    this.sum += value;
    this.count++;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  /** What prom-client's registry formats: cumulative buckets, then +Inf, the sum and the count. */
  async get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: HistogramValue[];
  }> {
    const bucketName = `${this.name}_bucket`;
    const values: HistogramValue[] = [];
    let cumulative = 0;
    this.bounds.forEach((bound, index) => {
      cumulative += this.counts[index] as number;
      values.push({ value: cumulative, labels: { le: bound }, metricName: bucketName, exemplar: null });
    });
    values.push(
      { value: this.count, labels: { le: '+Inf' }, metricName: bucketName, exemplar: null },
      { value: this.sum, labels: {}, metricName: `${this.name}_sum` },
      { value: this.count, labels: {}, metricName: `${this.name}_count` },
    );
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
