// The load generator's pure parts: durations, rates and custom steps parsed with errors that
// say what to write; each pattern's rate over time, and the count of commands it asks for being
// the integral of that rate (fast-check); the summary and progress line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { errorKind } from '../../apps/loadgen/src/load-generator.js';
import {
  type Pattern,
  parseDuration,
  parseSteps,
  rateAt,
  scheduledBy,
  totalSeconds,
  UsageError,
} from '../../apps/loadgen/src/patterns.js';
import { progressLine, summaryText } from '../../apps/loadgen/src/summary.js';

const pattern = (
  name: Pattern['name'],
  durationSeconds = 20,
  rate = 100,
  steps: Pattern['steps'] = [],
): Pattern => ({
  name,
  rate,
  durationSeconds,
  steps,
});

describe('load generator options', () => {
  it('parses durations with units and refuses the rest with a hint', () => {
    assert.equal(parseDuration('500ms', '--duration'), 0.5);
    assert.equal(parseDuration('30s', '--duration'), 30);
    assert.equal(parseDuration('2m', '--duration'), 120);
    assert.equal(parseDuration('45', '--duration'), 45);
    assert.throws(
      () => parseDuration('soon', '--duration'),
      (error: Error) => error instanceof UsageError && /write e\.g\. 500ms, 30s, 2m/.test(error.message),
    );
    assert.throws(() => parseDuration('0', '--duration'), /above 0/);
    assert.throws(() => parseDuration('100h', '--duration'), /at most 24 h/);
  });

  it('parses custom steps, and names the part it cannot read', () => {
    assert.deepEqual(parseSteps('5:0, 10:400,500ms:20'), [
      { seconds: 5, rate: 0 },
      { seconds: 10, rate: 400 },
      { seconds: 0.5, rate: 20 },
    ]);
    assert.throws(() => parseSteps('5:0,,10:4'), /SECONDS:RATE pairs/);
    assert.throws(() => parseSteps('5-400'), /"5-400" is not SECONDS:RATE/);
    assert.throws(() => parseSteps('5:lots'), /not a rate/);
  });

  it('names the kind of a failed command', () => {
    assert.equal(
      errorKind(new Error('TRYAGAIN cluster orders did not resume within 30 s; retry')),
      'TRYAGAIN',
    );
    assert.equal(errorKind(new Error('UNKNOWN the writer failed')), 'UNKNOWN');
    assert.equal(errorKind(new Error('Command timed out')), 'timeout');
    assert.equal(errorKind(new Error('Connection is closed.')), 'connection');
    assert.equal(
      errorKind(new Error("Stream isn't writeable and enableOfflineQueue options is false")),
      'connection',
    );
  });
});

describe('load patterns', () => {
  it('shapes the rate over time as documented', () => {
    assert.deepEqual(
      [0, 4.9, 5, 19.9, 20].map((t) => rateAt(pattern('step'), t)),
      [0, 0, 100, 100, 0],
    );
    assert.deepEqual(
      [0, 10, 19].map((t) => rateAt(pattern('ramp'), t)),
      [0, 50, 95],
    );
    assert.deepEqual(
      [0, 8, 11.9, 12, 19].map((t) => rateAt(pattern('spike'), t)),
      [10, 100, 100, 10, 10],
    );
    assert.deepEqual(
      [0, 10].map((t) => rateAt(pattern('idle'), t)),
      [0, 0],
    );
    const custom = pattern('custom', 6, 0, parseSteps('1:0,2:300,3:50'));
    assert.deepEqual(
      [0.5, 1, 2.9, 3, 5.9, 6].map((t) => rateAt(custom, t)),
      [0, 300, 300, 50, 50, 0],
    );
    assert.equal(scheduledBy(custom, 6), 750);
    assert.equal(totalSeconds(custom.steps), 6);
  });

  it('asks for as many commands as the integral of its rate, never a negative rate nor one above the peak', () => {
    const stepsArbitrary = fc.array(
      fc.record({ seconds: fc.integer({ min: 1, max: 20 }), rate: fc.integer({ min: 0, max: 5_000 }) }),
      { minLength: 1, maxLength: 8 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom<Pattern['name']>('step', 'ramp', 'spike', 'idle', 'custom'),
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 0, max: 5_000 }),
        stepsArbitrary,
        (name, duration, rate, steps) => {
          const shape =
            name === 'custom'
              ? pattern('custom', totalSeconds(steps), Math.max(...steps.map((step) => step.rate)), steps)
              : pattern(name, duration, rate);
          // A midpoint sum over small slices: the rate is piecewise linear, so it is exact up to rounding.
          const slices = 2_000;
          const width = shape.durationSeconds / slices;
          let integral = 0;
          let previous = 0;
          for (let slice = 0; slice < slices; slice++) {
            const t = (slice + 0.5) * width;
            const r = rateAt(shape, t);
            assert.ok(r >= 0 && r <= shape.rate + 1e-9);
            integral += r * width;
            const scheduled = scheduledBy(shape, (slice + 1) * width);
            assert.ok(scheduled >= previous - 1e-6, 'the count never goes back');
            previous = scheduled;
          }
          const total = scheduledBy(shape, shape.durationSeconds);
          const peakSlice = shape.rate * width;
          assert.ok(Math.abs(total - integral) <= peakSlice * 2 + 1e-6, `${total} vs ${integral}`);
          if (name === 'custom')
            assert.ok(
              Math.abs(total - steps.reduce((sum, step) => sum + step.seconds * step.rate, 0)) < 1e-6,
            );
        },
      ),
    );
  });
});

describe('load generator output', () => {
  it('summarises failures by kind, latency and connections', () => {
    const text = summaryText({
      pattern: 'step',
      workload: 'counter',
      startedAtMs: 0,
      durationSeconds: 10,
      ops: 12_345,
      failed: 3,
      errorsByKind: { timeout: 1, TRYAGAIN: 2 },
      shortfall: 0,
      latencyMs: { p50: 1.2, p90: 2, p99: 5.5, p999: 9, max: 12 },
      connections: { opened: 16, dropped: 1 },
      perSecond: [],
      counters: { acknowledged: { a: 10, b: 5 }, unknown: { a: 1 } },
    });
    assert.match(text, /12,345 answered \(1,235\/s on average\)/);
    assert.match(text, /failed {7}3 \(TRYAGAIN 2, timeout 1\)/);
    assert.match(text, /p50 1\.2 {2}p90 2 {2}p99 5\.5/);
    assert.match(text, /16 opened, 1 dropped/);
    assert.match(text, /15 INCR acknowledged, 1 of unknown outcome/);
    assert.equal(
      progressLine({
        elapsedSeconds: 5,
        durationSeconds: 10,
        opsPerSecond: 1234.4,
        p50Ms: 1,
        p99Ms: 7.25,
        failed: 2,
      }),
      '[##########..........] 5/10 s  1,234 ops/s  p50 1.00 ms  p99 7.25 ms  failed 2',
    );
  });
});
