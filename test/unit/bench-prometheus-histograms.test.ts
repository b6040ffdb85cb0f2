// The fixed-rate bench's reading of a data node's histograms between two scrapes: the p99 of what
// was observed in between, as the upper bound of its bucket.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseHistograms, percentileBetween } from '../../bench/lib/prometheus-histograms.js';

/** Prometheus text of one histogram with cumulative `counts` at bounds 0.001, 0.01, 0.1 and +Inf. */
function text(name: string, counts: [number, number, number, number]): string {
  const [a, b, c, inf] = counts;
  return [
    `# HELP ${name} a test histogram`,
    `# TYPE ${name} histogram`,
    `${name}_bucket{le="0.001"} ${a}`,
    `${name}_bucket{le="0.01"} ${b}`,
    `${name}_bucket{le="0.1"} ${c}`,
    `${name}_bucket{le="+Inf"} ${inf}`,
    `${name}_sum 1.5`,
    `${name}_count ${inf}`,
    'other_total{command="get"} 4',
  ].join('\n');
}

describe('histogram percentiles between two scrapes', () => {
  test('only what was observed in between counts', () => {
    // Before: 1,000 fast observations. In between: 98 under 1 ms, 1 under 10 ms, 1 under 100 ms.
    const before = parseHistograms(text('h', [1_000, 1_000, 1_000, 1_000]));
    const after = parseHistograms(text('h', [1_098, 1_099, 1_100, 1_100]));
    assert.equal(percentileBetween(before, after, 'h', 0.5), 0.001);
    assert.equal(percentileBetween(before, after, 'h', 0.99), 0.01);
    assert.equal(percentileBetween(before, after, 'h', 1), 0.1);
    // Over the whole life of the server the same p99 is in the first bucket.
    assert.equal(percentileBetween(new Map(), after, 'h', 0.99), 0.001);
  });

  test('above every bound, nothing observed, or no such histogram', () => {
    const before = parseHistograms(text('h', [0, 0, 0, 0]));
    assert.equal(
      percentileBetween(before, parseHistograms(text('h', [0, 0, 0, 5])), 'h', 0.99),
      Number.POSITIVE_INFINITY,
    );
    assert.equal(percentileBetween(before, before, 'h', 0.99), null);
    assert.equal(percentileBetween(before, before, 'missing', 0.99), null);
  });
});
