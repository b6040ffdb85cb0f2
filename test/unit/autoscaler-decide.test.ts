// The autoscaler's pure decision (DESIGN §5) with a fake clock: scale up at once, down only to
// the window's peak once it passes, writers out and in at cuPerWriterMax, pause after the idle
// time and never under MULTI/WATCH, nothing on missing or stale load; and properties over random
// loads (fast-check) against a brute-force desired CU.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type AutoscalerMemory,
  type ClusterView,
  LOAD_REPORT_STALE_MS,
  type LoadSample,
} from '../../apps/control-plane/src/autoscaling/autoscaler-model.js';
import { decide, desiredCu, emptyMemory } from '../../apps/control-plane/src/autoscaling/decide.js';
import { writerLayout } from '../../apps/control-plane/src/compute/writer-plan.js';

const CU_RATE = 100;
const T0 = 1_800_000_000_000;

function view(
  overrides: Partial<ClusterView> = {},
  settings: Partial<ClusterView['settings']> = {},
): ClusterView {
  return {
    clusterId: 'c1',
    mode: 'serverless',
    state: 'available',
    settings: {
      minCu: 0,
      maxCu: 8,
      cuPerWriterMax: 8,
      autoPauseSeconds: 300,
      scaleDownWindowMs: 30_000,
      targetUtilization: 0.7,
      ...settings,
    },
    current: { cu: 0.5, writers: 1 },
    busy: false,
    availableSinceMs: T0,
    cuCommandsPerSecond: CU_RATE,
    ...overrides,
  };
}

function load(nowMs: number, rate: number, overrides: Partial<LoadSample> = {}): LoadSample {
  return {
    atMs: nowMs,
    commandsPerSecond: rate,
    throttledPerSecond: 0,
    proxyCommandsPerSecond: rate,
    lastCommandAtMs: rate > 0 ? nowMs : T0,
    sessionsInTransaction: 0,
    ...overrides,
  };
}

/** Runs ticks every `tickMs` from `fromMs` while the load says `rate(t)`, applying every scale action at once. */
function simulate(
  cluster: ClusterView,
  rate: (t: number) => number,
  fromMs: number,
  toMs: number,
  tickMs = 250,
): {
  cluster: ClusterView;
  memory: AutoscalerMemory;
  history: { atMs: number; cu: number }[];
  paused: boolean;
} {
  let current = cluster;
  let memory = emptyMemory();
  const history: { atMs: number; cu: number }[] = [];
  let lastCommandAtMs = cluster.availableSinceMs;
  for (let now = fromMs; now <= toMs; now += tickMs) {
    const r = rate(now);
    if (r > 0) lastCommandAtMs = now;
    const decision = decide(current, memory, load(now, r, { lastCommandAtMs }), now);
    memory = decision.memory;
    for (const action of decision.actions) {
      if (action.kind === 'scale') {
        current = { ...current, current: { cu: action.toCu, writers: action.toWriters } };
        history.push({ atMs: now, cu: action.toCu });
      }
      if (action.kind === 'pause') return { cluster: current, memory, history, paused: true };
    }
  }
  return { cluster: current, memory, history, paused: false };
}

describe('autoscaler decide: scaling', () => {
  it('scales up at once on the first tick that sees the load', () => {
    const decision = decide(view(), emptyMemory(), load(T0, 450), T0);
    assert.deepEqual(decision.actions, [
      {
        kind: 'scale',
        toCu: 6.5,
        toWriters: 1,
        reason: 'demand 450 commands/s needs 6.5 CU at 70% of 100 commands/s per CU',
      },
    ]);
    assert.equal(decision.explanation.demandCu, 6.5);
  });

  it('counts throttled commands as demand without endpoint traffic, and the endpoint’s rate with it', () => {
    const throttled = decide(
      view(),
      emptyMemory(),
      load(T0, 50, { throttledPerSecond: 230, proxyCommandsPerSecond: 0 }),
      T0,
    );
    assert.equal(throttled.explanation.demandPerSecond, 280);
    assert.equal(throttled.explanation.demandCu, 4);
    const atProxy = decide(view(), emptyMemory(), load(T0, 50, { proxyCommandsPerSecond: 700 }), T0);
    assert.equal(atProxy.explanation.demandCu, 8, 'capped at maxCu');
    assert.ok(atProxy.explanation.holders.includes('maximum'));
  });

  it('with endpoint traffic, demand is what arrives there: a draining queue is not more demand', () => {
    // 200/s arrive; the writers serve 300/s while they work off a queue, most of it throttled.
    const draining = decide(
      view(),
      emptyMemory(),
      load(T0, 300, { throttledPerSecond: 290, proxyCommandsPerSecond: 200 }),
      T0,
    );
    assert.equal(draining.explanation.demandPerSecond, 200);
    assert.equal(draining.explanation.demandCu, 3);
  });

  it('steps down only after the window, to the window’s peak', () => {
    const start = view(
      { current: { cu: 0.5, writers: 1 } },
      { scaleDownWindowMs: 10_000, minCu: 0.5, autoPauseSeconds: null },
    );
    // 20 s at 450/s, then 20 s at 140/s (2 CU), then nothing.
    const rate = (t: number) => (t < T0 + 20_000 ? 450 : t < T0 + 40_000 ? 140 : 0);
    const { history } = simulate(start, rate, T0, T0 + 70_000);
    assert.deepEqual(
      history.map((step) => [Math.round((step.atMs - T0) / 250) * 250, step.cu]),
      [
        [0, 6.5],
        [30_000, 2],
        [50_000, 0.5],
      ],
      'up at once; down to 2 CU ten seconds after the load fell; down to the floor ten seconds after it stopped',
    );
  });

  it('keeps the size while the window holds a higher need, and says for how long', () => {
    let memory = emptyMemory();
    let cluster = view({ current: { cu: 0.5, writers: 1 } }, { scaleDownWindowMs: 30_000 });
    const up = decide(cluster, memory, load(T0, 450), T0);
    memory = up.memory;
    cluster = { ...cluster, current: { cu: 6.5, writers: 1 } };
    const later = decide(cluster, memory, load(T0 + 12_000, 10), T0 + 12_000);
    assert.deepEqual(
      later.actions.map((action) => action.kind),
      ['wait'],
    );
    assert.ok(later.explanation.holders.includes('window'));
    assert.equal(later.explanation.windowPeakCu, 6.5);
    assert.match(later.explanation.summary, /within the last 30 s, so it stays at 6\.5 CU for 18 s more/);
  });

  it('a cluster seen for the first time keeps its size for a whole window', () => {
    const restarted = view({ current: { cu: 4, writers: 1 } }, { scaleDownWindowMs: 30_000 });
    const first = decide(restarted, emptyMemory(), load(T0, 0), T0);
    assert.deepEqual(
      first.actions.filter((action) => action.kind === 'scale'),
      [],
    );
    const after = decide(
      restarted,
      first.memory,
      load(T0 + 31_000, 0, { lastCommandAtMs: T0 + 31_000 }),
      T0 + 31_000,
    );
    assert.deepEqual(after.actions[0], {
      kind: 'scale',
      toCu: 0.5,
      toWriters: 1,
      reason: 'the most any moment of the last 30 s needed is 0.5 CU (demand now 0 commands/s)',
    });
  });

  it('adds writers above cuPerWriterMax and removes them below it', () => {
    const wide = view({}, { cuPerWriterMax: 1, scaleDownWindowMs: 1_000 });
    const out = decide(wide, emptyMemory(), load(T0, 200), T0);
    assert.deepEqual(out.actions[0], {
      kind: 'scale',
      toCu: 3,
      toWriters: 3,
      reason: 'demand 200 commands/s needs 3 CU at 70% of 100 commands/s per CU',
    });
    const settled = { ...wide, current: { cu: 3, writers: 3 } };
    const back = decide(settled, out.memory, load(T0 + 2_000, 20), T0 + 2_000);
    assert.deepEqual(
      back.actions.map((action) => (action.kind === 'scale' ? [action.toCu, action.toWriters] : action.kind)),
      [[0.5, 1]],
    );
    // A changed cuPerWriterMax alone re-lays the same capacity.
    const relaid = decide(
      { ...settled, settings: { ...settled.settings, cuPerWriterMax: 8 } },
      out.memory,
      load(T0 + 500, 200),
      T0 + 500,
    );
    assert.deepEqual(
      relaid.actions.map((action) =>
        action.kind === 'scale' ? [action.toCu, action.toWriters] : action.kind,
      ),
      [[3, 1]],
    );
  });

  it('does nothing while an earlier action runs, but remembers the demand', () => {
    const decision = decide(view({ busy: true }), emptyMemory(), load(T0, 450), T0);
    assert.deepEqual(decision.actions, []);
    assert.ok(decision.explanation.holders.includes('busy'));
    assert.equal(Math.max(...decision.memory.window.map((sample) => sample.cu)), 6.5);
  });

  it('never scales down or pauses on a missing or stale load report', () => {
    const big = view(
      { current: { cu: 4, writers: 1 }, availableSinceMs: T0 - 3_600_000 },
      { autoPauseSeconds: 1 },
    );
    for (const sample of [
      null,
      load(T0 - LOAD_REPORT_STALE_MS - 1, 0, { lastCommandAtMs: T0 - 3_600_000 }),
    ]) {
      const decision = decide(big, { window: [{ atMs: T0 - 60_000, cu: 0.5 }] }, sample, T0);
      assert.deepEqual(decision.actions, []);
      assert.deepEqual(decision.explanation.holders, ['no-load-report']);
      assert.match(decision.explanation.summary, /No fresh load report/);
    }
  });

  it('leaves provisioned and unavailable clusters alone, and says why', () => {
    const provisioned = decide(view({ mode: 'provisioned' }), emptyMemory(), load(T0, 10_000), T0);
    assert.deepEqual(provisioned.actions, []);
    assert.deepEqual(provisioned.explanation.holders, ['provisioned']);
    assert.match(provisioned.explanation.summary, /convert it to serverless/);
    const paused = decide(
      view({ state: 'paused', current: { cu: 0, writers: 0 } }),
      emptyMemory(),
      load(T0, 10),
      T0,
    );
    assert.deepEqual(paused.actions, []);
    assert.deepEqual(paused.explanation.holders, ['not-available']);
  });
});

describe('autoscaler decide: auto-pause', () => {
  const pausing = view({}, { autoPauseSeconds: 5 });

  it('pauses after exactly autoPauseSeconds without a command', () => {
    const lastCommandAtMs = T0 + 1_000;
    const before = decide(pausing, emptyMemory(), load(T0 + 5_999, 0, { lastCommandAtMs }), T0 + 5_999);
    assert.deepEqual(before.actions, [
      { kind: 'wait', untilMs: T0 + 6_000, reason: '5 s without a command' },
    ]);
    assert.equal(before.explanation.secondsToPause, 1);
    assert.ok(before.explanation.holders.includes('recent-command'));
    const at = decide(pausing, emptyMemory(), load(T0 + 6_000, 0, { lastCommandAtMs }), T0 + 6_000);
    assert.equal(at.actions[0]?.kind, 'pause');
    assert.match(at.actions[0]?.kind === 'pause' ? at.actions[0].reason : '', /no command for 5 s/);
    assert.deepEqual(at.explanation.desired, { cu: 0, writers: 0 });
  });

  it('counts idle time from when the cluster became available at the latest', () => {
    const resumed = { ...pausing, availableSinceMs: T0 + 10_000 };
    const decision = decide(
      resumed,
      emptyMemory(),
      load(T0 + 12_000, 0, { lastCommandAtMs: T0 }),
      T0 + 12_000,
    );
    assert.equal(decision.explanation.secondsToPause, 3);
  });

  it('never pauses under a session inside MULTI or holding a WATCH, and says so', () => {
    const decision = decide(
      pausing,
      emptyMemory(),
      load(T0 + 3_600_000, 0, { lastCommandAtMs: T0, sessionsInTransaction: 2 }),
      T0 + 3_600_000,
    );
    assert.deepEqual(decision.actions, []);
    assert.ok(decision.explanation.holders.includes('transaction'));
    assert.match(decision.explanation.summary, /2 sessions are inside MULTI or hold a WATCH/);
  });

  it('never pauses with a minimum above 0 or auto-pause off', () => {
    for (const [settings, holder] of [
      [{ minCu: 1, autoPauseSeconds: null }, 'minimum'],
      [{ autoPauseSeconds: null }, 'auto-pause-off'],
    ] as const) {
      const decision = decide(
        view({ current: { cu: 1, writers: 1 } }, settings),
        emptyMemory(),
        load(T0 + 3_600_000, 0),
        T0 + 3_600_000,
      );
      assert.ok(!decision.actions.some((action) => action.kind === 'pause'));
      assert.ok(decision.explanation.holders.includes(holder), JSON.stringify(decision.explanation.holders));
    }
  });
});

describe('autoscaler decide: properties', () => {
  const settingsArbitrary = fc.record({
    minCu: fc.integer({ min: 0, max: 8 }).map((steps) => steps * 0.5),
    extra: fc.integer({ min: 0, max: 32 }).map((steps) => steps * 0.5),
    cuPerWriterMax: fc.integer({ min: 1, max: 16 }).map((steps) => steps * 0.5),
    targetUtilization: fc.double({ min: 0.1, max: 1, noNaN: true }),
  });

  it('desiredCu is the smallest step of 0.5 that serves the demand at the target utilization, within the range', () => {
    fc.assert(
      fc.property(
        settingsArbitrary,
        fc.double({ min: 0, max: 1e5, noNaN: true }),
        fc.integer({ min: 1, max: 5_000 }),
        (s, demand, perCu) => {
          const settings = {
            minCu: s.minCu,
            maxCu: Math.max(0.5, s.minCu + s.extra),
            targetUtilization: s.targetUtilization,
          };
          // The smallest step that serves the demand, searched up to the maximum (past it, the maximum).
          let bruteForce = 0.5;
          while (
            bruteForce * s.targetUtilization * perCu < demand * (1 - 1e-9) &&
            bruteForce < settings.maxCu
          )
            bruteForce += 0.5;
          const expected = Math.min(Math.max(bruteForce, settings.minCu, 0.5), settings.maxCu);
          assert.equal(desiredCu(demand, settings, perCu), expected);
        },
      ),
    );
  });

  it('writerLayout sums to the capacity with writers of at most cuPerWriterMax, as few as hold it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 512 }), fc.integer({ min: 1, max: 16 }), (steps, maxSteps) => {
        const total = steps * 0.5;
        const max = maxSteps * 0.5;
        const layout = writerLayout(total, max);
        assert.equal(
          layout.reduce((sum, cu) => sum + cu, 0),
          total,
        );
        assert.equal(layout.length, Math.ceil(total / max));
        for (const cu of layout) {
          assert.ok(cu >= 0.5 && cu <= max && Number.isInteger(cu * 2), `${cu} in ${layout}`);
        }
        assert.ok(Math.max(...layout) - Math.min(...layout) <= 0.5, 'as equal as steps allow');
      }),
    );
  });

  it('over random loads: capacity stays in range, never shrinks within the window after a higher need, never both pauses and scales', () => {
    fc.assert(
      fc.property(
        settingsArbitrary,
        fc.array(
          fc.record({
            gapMs: fc.integer({ min: 50, max: 5_000 }),
            rate: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3_000 })),
            sessions: fc.integer({ min: 0, max: 1 }),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        fc.integer({ min: 1, max: 20 }).map((seconds) => seconds * 1_000),
        (s, ticks, windowMs) => {
          const settings = {
            minCu: s.minCu,
            maxCu: Math.max(0.5, s.minCu + s.extra),
            cuPerWriterMax: s.cuPerWriterMax,
            autoPauseSeconds: s.minCu === 0 ? 5 : null,
            scaleDownWindowMs: windowMs,
            targetUtilization: s.targetUtilization,
          };
          const floor = Math.min(Math.max(settings.minCu, 0.5), settings.maxCu);
          let cluster = view(
            { current: { cu: floor, writers: writerLayout(floor, settings.cuPerWriterMax).length } },
            settings,
          );
          let memory = emptyMemory();
          let now = T0;
          let lastCommandAtMs = T0;
          const needs: { atMs: number; cu: number }[] = [];
          for (const tick of ticks) {
            now += tick.gapMs;
            if (tick.rate > 0) lastCommandAtMs = now;
            const decision = decide(
              cluster,
              memory,
              load(now, tick.rate, { lastCommandAtMs, sessionsInTransaction: tick.sessions }),
              now,
            );
            memory = decision.memory;
            const kinds = decision.actions.map((action) => action.kind);
            assert.ok(!(kinds.includes('pause') && kinds.includes('scale')));
            assert.ok(kinds.length <= 1);
            if (kinds.includes('pause')) {
              assert.equal(tick.sessions, 0, 'no pause under MULTI/WATCH');
              assert.ok(now - lastCommandAtMs >= 5_000);
              break;
            }
            needs.push({ atMs: now, cu: decision.explanation.demandCu ?? 0 });
            for (const action of decision.actions) {
              if (action.kind !== 'scale') continue;
              assert.ok(
                action.toCu >= floor && action.toCu <= settings.maxCu,
                `${action.toCu} within [${floor}, ${settings.maxCu}]`,
              );
              assert.ok(Number.isInteger(action.toCu * 2));
              assert.equal(action.toWriters, writerLayout(action.toCu, settings.cuPerWriterMax).length);
              const recentNeed = Math.max(
                ...needs.filter((need) => need.atMs >= now - windowMs).map((need) => need.cu),
              );
              assert.ok(
                action.toCu >= Math.min(recentNeed, settings.maxCu),
                'never below a need seen within the window',
              );
              cluster = { ...cluster, current: { cu: action.toCu, writers: action.toWriters } };
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
