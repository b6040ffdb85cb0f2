// The durable log's account of slow fdatasyncs (its /health `log.longestFsyncMs` and
// `log.slowFsyncs`): each threshold counts the syncs at or above it, and the longest is kept.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FsyncLatencies } from '../../apps/storage-node/src/storage/durable-log.js';

describe('FsyncLatencies', () => {
  it('counts a sync at a threshold as slow, one just under it as not', () => {
    const latencies = new FsyncLatencies();
    for (const ms of [9.99, 10, 49.99, 50, 199.99, 200]) latencies.record(ms);
    assert.deepEqual(latencies.slow, { atLeast10Ms: 5, atLeast50Ms: 3, atLeast200Ms: 1 });
    assert.equal(latencies.longestMs, 200);
  });

  it('agrees with counting the recorded syncs directly, for any sequence', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 2_000, noNaN: true }), { maxLength: 200 }), (syncs) => {
        const latencies = new FsyncLatencies();
        for (const ms of syncs) latencies.record(ms);
        const atLeast = (limit: number) => syncs.filter((ms) => ms >= limit).length;
        assert.deepEqual(latencies.slow, {
          atLeast10Ms: atLeast(10),
          atLeast50Ms: atLeast(50),
          atLeast200Ms: atLeast(200),
        });
        assert.equal(latencies.longestMs, Math.max(0, ...syncs));
      }),
    );
  });
});
