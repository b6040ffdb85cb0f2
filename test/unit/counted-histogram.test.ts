import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { CountedHistogram } from '../../apps/data-node/src/metrics/counted-histogram.js';

const BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Both histograms, each in a registry of its own, fed the same values. */
function fedPair(values: readonly number[]): { counted: Registry; reference: Registry } {
  const counted = new Registry();
  const reference = new Registry();
  const config = { name: 'command_seconds', help: 'Time per command', buckets: BUCKETS };
  const ours = new CountedHistogram({ ...config, registers: [counted] });
  const theirs = new Histogram({ ...config, registers: [reference] });
  for (const value of values) {
    ours.observe(value);
    theirs.observe(value);
  }
  return { counted, reference };
}

describe('counted histogram', () => {
  it("exposes what prom-client's own Histogram exposes for the same observations", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(fc.double({ min: 0, max: 10, noNaN: true }), fc.constantFrom(...BUCKETS), fc.constant(0)),
          { maxLength: 200 },
        ),
        async (values) => {
          const { counted, reference } = fedPair(values);
          assert.equal(await counted.metrics(), await reference.metrics());
          // As any reader of the JSON sees it (prom-client leaves some fields undefined).
          const json = async (registry: Registry): Promise<unknown> =>
            JSON.parse(JSON.stringify(await registry.getMetricsAsJSON()));
          assert.deepEqual(await json(counted), await json(reference));
        },
      ),
    );
  });

  it('counts a value equal to a bound in that bound, as Prometheus does (le)', async () => {
    const { counted } = fedPair([0.001, 0.0010001]);
    const text = await counted.metrics();
    assert.match(text, /command_seconds_bucket\{le="0.001"\} 1\n/);
    assert.match(text, /command_seconds_bucket\{le="0.002"\} 2\n/);
    assert.match(text, /command_seconds_count 2\n/);
  });

  it('starts again from zero when its registry is reset', async () => {
    const { counted } = fedPair([0.3, 7]);
    counted.resetMetrics();
    assert.match(await counted.metrics(), /command_seconds_bucket\{le="\+Inf"\} 0\n/);
  });
});
