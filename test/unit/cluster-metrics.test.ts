// Load reports in the control plane (pure parts): reports checked field by field, the latest
// load of a cluster merged from its writers and the proxies with stale reports left out, the
// per-second point and its summing up into steps, and the metrics route's query rules.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FORGET_AFTER_MS,
  LoadAggregator,
  parseProxyReport,
  parseWriterReport,
  REPORT_FRESH_MS,
} from '../../apps/control-plane/src/cluster-metrics/load-aggregator.js';
import { metricsRange, POINTS_MAX } from '../../apps/control-plane/src/cluster-metrics/metrics-query.js';
import {
  aggregate,
  parsePoint,
  pointOf,
} from '../../apps/control-plane/src/cluster-metrics/metrics-series.js';

const NOW = 1_800_000_000_000;

function writer(nodeId: string, overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    nodeId,
    clusterId: 'c1',
    state: 'attached',
    cu: 2,
    atMs: NOW,
    intervalMs: 500,
    opsPerSecond: 300,
    commands: 150,
    throttledCommands: 25,
    p50LatencyMs: 1.5,
    p99LatencyMs: 9,
    connections: 4,
    sessionsInTransaction: 0,
    cacheHitRatio: 0.5,
    conflicts: 0,
    retries: 0,
    cpuPercent: 40,
    lastCommandAtMs: NOW - 100,
    ...overrides,
  });
}

function proxy(
  clusters: Record<string, Record<string, number>>,
  overrides: Record<string, unknown> = {},
): string {
  return JSON.stringify({ proxyId: 'p1', atMs: NOW, intervalMs: 1_000, clusters, ...overrides });
}

const activity = {
  connections: 10,
  heldConnections: 2,
  heldBytes: 64,
  commands: 900,
  lastCommandAtMs: NOW - 50,
  sessionsInTransaction: 1,
};

describe('load reports', () => {
  it('refuses reports that do not fit, field by field', () => {
    assert.ok(parseWriterReport(writer('d1')));
    for (const bad of [
      'not json',
      '[]',
      writer('d1', { clusterId: null }),
      writer('d1', { opsPerSecond: 'many' }),
      writer('d1', { intervalMs: 0 }),
      writer('d1', { cu: -1 }),
      writer('x'.repeat(200)),
    ]) {
      assert.equal(parseWriterReport(bad), null, bad.slice(0, 80));
    }
    assert.equal(parseProxyReport(proxy({ c1: activity }))?.clusters.size, 1);
    assert.equal(parseProxyReport(proxy({ c1: activity }, { atMs: 'now' })), null);
    const partlyBad = parseProxyReport(proxy({ c1: activity, c2: { ...activity, commands: Number.NaN } }));
    assert.deepEqual(
      [...(partlyBad?.clusters.keys() ?? [])],
      ['c1'],
      'an entry that does not fit is left out',
    );
  });

  it('merges writers and proxies: served and throttled rates add up, the endpoint’s rate and sessions come from the proxy', () => {
    const aggregator = new LoadAggregator();
    aggregator.addWriterReport(parseWriterReport(writer('d1')) ?? assert.fail());
    aggregator.addWriterReport(
      parseWriterReport(writer('d2', { opsPerSecond: 100, throttledCommands: 0 })) ?? assert.fail(),
    );
    aggregator.addProxyReport(parseProxyReport(proxy({ c1: activity })) ?? assert.fail());
    assert.deepEqual(aggregator.latest('c1', NOW + 10), {
      atMs: NOW,
      commandsPerSecond: 400,
      throttledPerSecond: 50,
      proxyCommandsPerSecond: 900,
      lastCommandAtMs: NOW - 50,
      sessionsInTransaction: 1,
    });
    assert.equal(aggregator.latest('other', NOW), null);
    assert.deepEqual([...aggregator.heldConnections(NOW)], [['c1', 2]]);
  });

  it('leaves out reports older than the freshness bound, and forgets silent clusters', () => {
    const aggregator = new LoadAggregator();
    aggregator.addWriterReport(
      parseWriterReport(writer('old', { atMs: NOW - REPORT_FRESH_MS - 1 })) ?? assert.fail(),
    );
    aggregator.addWriterReport(parseWriterReport(writer('new')) ?? assert.fail());
    assert.equal(aggregator.latest('c1', NOW)?.commandsPerSecond, 300);
    assert.equal(aggregator.latest('c1', NOW + REPORT_FRESH_MS + 1), null, 'nothing fresh: no load');
    assert.deepEqual(aggregator.clusterIds(NOW), ['c1']);
    assert.deepEqual(aggregator.clusterIds(NOW + FORGET_AFTER_MS + 1), []);
  });
});

describe('metrics series', () => {
  it('makes one point a second from the latest reports', () => {
    const aggregator = new LoadAggregator();
    aggregator.addWriterReport(parseWriterReport(writer('d1')) ?? assert.fail());
    aggregator.addWriterReport(
      parseWriterReport(writer('d2', { cu: 1, p99LatencyMs: 20, opsPerSecond: 100, cacheHitRatio: 1 })) ??
        assert.fail(),
    );
    aggregator.addProxyReport(parseProxyReport(proxy({ c1: activity })) ?? assert.fail());
    const point = pointOf(aggregator, 'c1', NOW, NOW);
    assert.deepEqual(point, {
      t: NOW,
      commandsPerSecond: 400,
      throttledPerSecond: 100,
      proxyCommandsPerSecond: 900,
      p50LatencyMs: 1.5,
      p99LatencyMs: 20,
      connections: 10,
      heldConnections: 2,
      sessionsInTransaction: 1,
      cacheHitRatio: 0.625,
      cpuPercent: 40,
      cu: 3,
      writers: 2,
    });
    assert.deepEqual(parsePoint(JSON.stringify(point)), point);
    assert.equal(parsePoint('{"t":1}'), null);
  });

  it('sums points up into steps: rates averaged, peaks kept, capacity last', () => {
    const base = (t: number, commandsPerSecond: number, p99LatencyMs: number, cu: number) => ({
      t,
      commandsPerSecond,
      throttledPerSecond: 0,
      proxyCommandsPerSecond: commandsPerSecond,
      p50LatencyMs: 1,
      p99LatencyMs,
      connections: 3,
      heldConnections: 0,
      sessionsInTransaction: 0,
      cacheHitRatio: 0.5,
      cpuPercent: 10,
      cu,
      writers: 1,
    });
    const steps = aggregate(
      [base(NOW, 100, 5, 1), base(NOW + 1_000, 300, 9, 2), base(NOW + 5_000, 50, 1, 0.5)],
      NOW,
      5_000,
    );
    assert.deepEqual(
      steps.map((step) => [step.t - NOW, step.commandsPerSecond, step.p99LatencyMs, step.cu]),
      [
        [0, 200, 9, 2],
        [5_000, 50, 1, 0.5],
      ],
    );
  });
});

describe('metrics query', () => {
  it('defaults to the last 15 minutes at a step giving at most 900 points', () => {
    assert.deepEqual(metricsRange({}, NOW), { ok: true, fromMs: NOW - 900_000, toMs: NOW, stepMs: 1_000 });
    assert.deepEqual(metricsRange({ from: String(NOW - 3_600_000), to: String(NOW) }, NOW), {
      ok: true,
      fromMs: NOW - 3_600_000,
      toMs: NOW,
      stepMs: 4_000,
    });
    const iso = metricsRange({ from: '2027-01-15T08:00:00Z', to: '2027-01-15T08:01:00Z', step: '10' }, NOW);
    assert.deepEqual(iso, {
      ok: true,
      fromMs: Date.parse('2027-01-15T08:00:00Z'),
      toMs: Date.parse('2027-01-15T08:01:00Z'),
      stepMs: 10_000,
    });
  });

  it('says what to send instead of a bad range or step', () => {
    const problem = (query: Record<string, string>) => {
      const range = metricsRange(query, NOW);
      return range.ok ? null : range.problems.map((p) => `${p.field}: ${p.problems.join('; ')}`).join(' | ');
    };
    assert.match(problem({ from: 'yesterday' }) ?? '', /^from: from must be an ISO 8601 time/);
    assert.match(problem({ step: '0' }) ?? '', /^step: step must be whole seconds from 1 to 3600/);
    assert.match(problem({ step: '1.5' }) ?? '', /^step:/);
    assert.match(problem({ from: String(NOW), to: String(NOW - 1) }) ?? '', /from must be before to/);
    assert.match(
      problem({ from: String(NOW - 7_200_000), step: '1' }) ?? '',
      new RegExp(`at most ${POINTS_MAX}: use a step of at least 2 s`),
    );
    assert.match(problem({ from: '0' }) ?? '', /at most one day/);
  });
});
