// The event-loop watch behind a storage node's /health: a turn that holds the loop for over a
// second is counted as such, and the longest delay is kept, whether it began while the loop was
// busy (sampled every 20 ms) or after an idle second (every 100 ms).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type EventLoopStats, EventLoopWatch } from '../../libs/health/src/index.js';
import { waitUntil } from '../support/wait.js';

function holdTheLoop(ms: number): void {
  const heldUntil = performance.now() + ms;
  while (performance.now() < heldUntil) {
    // Holding the loop, as a long synchronous turn does.
  }
}

/** Holds the loop for 1.2 s, waits until the watch counts it as its `count`th second over 1 s, and gives its stats. */
async function stallCounted(watch: EventLoopWatch, count: number): Promise<EventLoopStats> {
  holdTheLoop(1_200);
  await waitUntil(
    () => `second number ${count} over 1 s (${JSON.stringify(watch.stats())})`,
    10_000,
    () => watch.stats().secondsOver1S >= count,
  );
  const stats = watch.stats();
  assert.equal(stats.secondsOver1S, count);
  return stats;
}

test('a turn that holds the loop for 1.2 s is counted in the seconds over 1 s and over 100 ms, also one right after a fold', async () => {
  const watch = new EventLoopWatch();
  try {
    assert.equal(watch.stats().secondsOver1S, 0);
    const stats = await stallCounted(watch, 1);
    assert.ok(stats.secondsOver100Ms >= 1, JSON.stringify(stats));
    assert.ok(stats.delayMaxMs >= 1_100, JSON.stringify(stats));
    // The count just moved, so a fold has just run: a stall now begins right after one, where a
    // histogram started again each second lost it.
    await stallCounted(watch, 2);
  } finally {
    watch.stop();
  }
});

test('after an idle second the loop is sampled every 100 ms, and a 1.2 s stall is still counted; the busy second switches back to 20 ms', async () => {
  const watch = new EventLoopWatch();
  try {
    assert.equal(watch.stats().samplingMs, 20);
    await waitUntil(
      () => `sampling every 100 ms once idle (${JSON.stringify(watch.stats())})`,
      10_000,
      () => watch.stats().samplingMs === 100,
    );
    // Seen from when the sampler was due: at most one idle interval short.
    const stats = await stallCounted(watch, 1);
    assert.ok(stats.delayMaxMs >= 1_100, JSON.stringify(stats));
    await waitUntil(
      () => `sampling every 20 ms after the busy second (${JSON.stringify(watch.stats())})`,
      10_000,
      () => watch.stats().samplingMs === 20,
    );
  } finally {
    watch.stop();
  }
});
