// The event-loop watch behind a storage node's /health: a turn that holds the loop for over a
// second is counted as such, and the longest delay is kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventLoopWatch } from '../../libs/health/src/index.js';
import { waitUntil } from '../support/wait.js';

test('a turn that holds the loop for 1.2 s is counted in the seconds over 1 s and over 100 ms', async () => {
  const watch = new EventLoopWatch();
  try {
    // Its histogram records from its timer's second firing on: wait for a whole second's fold.
    await waitUntil('a second folded', 10_000, () => watch.stats().lastSecondDelayMaxMs > 0);
    assert.equal(watch.stats().secondsOver1S, 0);
    const heldUntil = performance.now() + 1_200;
    while (performance.now() < heldUntil) {
      // Holding the loop, as a long synchronous turn does.
    }
    await waitUntil(
      () => `a second over 1 s (${JSON.stringify(watch.stats())})`,
      10_000,
      () => watch.stats().secondsOver1S >= 1,
    );
    const stats = watch.stats();
    assert.equal(stats.secondsOver1S, 1);
    assert.ok(stats.secondsOver100Ms >= 1, JSON.stringify(stats));
    assert.ok(stats.delayMaxMs >= 1_100, JSON.stringify(stats));
  } finally {
    watch.stop();
  }
});
