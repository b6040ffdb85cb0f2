// The autoscaling read routes on a real control plane (no fleet: COMPUTE_DRIVER=none) over a
// real PostgreSQL and Redis: load reports published on the platform's Redis channels in the
// data nodes' and the proxy's formats (the control plane's input) come back as points of
// GET /v1/clusters/:id/metrics, kept across a restart of the control plane; scaling events are
// paged newest first; /autoscaling explains; and every route refuses bad input with a 4xx.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ScalingEventsRepository } from '../../apps/control-plane/src/compute/scaling-events.repository.js';
import { platformRedisNames } from '../../libs/routes/src/index.js';
import {
  type RunningControlPlane,
  startControlPlane,
  startIsolatedControlPlane,
  testConfig,
} from '../support/control-plane.js';
import { testEnvironment } from '../support/environment.js';
import type { ApiClient } from '../support/http-client.js';
import { waitUntil } from '../support/wait.js';

type Running = Awaited<ReturnType<typeof startIsolatedControlPlane>>;

describe('autoscaling routes: metrics, events, explain', () => {
  let running: Running;
  let restarted: RunningControlPlane | null = null;
  let api: ApiClient;
  let redis: Redis;
  let serverlessId: string;
  let provisionedId: string;
  const prefix = `borealis-test-autoscaling-${process.pid}`;
  const names = platformRedisNames(prefix);

  before(async () => {
    running = await startIsolatedControlPlane({ redisPrefix: prefix });
    api = running.admin;
    serverlessId = (await api.post('/v1/clusters', { name: 'busy', mode: 'serverless', maxCu: 8 })).body.id;
    provisionedId = (await api.post('/v1/clusters', { name: 'fixed', mode: 'provisioned' })).body.id;
    redis = new Redis(testEnvironment.redisUrl());
  });

  after(async () => {
    await redis?.del(`${prefix}:metrics-series:${serverlessId}`);
    redis?.disconnect();
    await restarted?.close();
    await running?.close();
  });

  const publishLoad = async (atMs: number) => {
    const writer = {
      nodeId: 'd7',
      clusterId: serverlessId,
      state: 'attached',
      cu: 2,
      atMs,
      intervalMs: 500,
      opsPerSecond: 700,
      commands: 350,
      throttledCommands: 50,
      p50LatencyMs: 2,
      p99LatencyMs: 11,
      connections: 5,
      sessionsInTransaction: 0,
      cacheHitRatio: 0.25,
      conflicts: 0,
      retries: 0,
      cpuPercent: 35,
      lastCommandAtMs: atMs,
    };
    const proxy = {
      proxyId: 'p1',
      atMs,
      intervalMs: 1_000,
      clusters: {
        [serverlessId]: {
          connections: 12,
          heldConnections: 0,
          heldBytes: 0,
          commands: 800,
          lastCommandAtMs: atMs,
          sessionsInTransaction: 1,
        },
      },
    };
    await redis.publish(names.dataNodeMetricsChannel, JSON.stringify(writer));
    await redis.publish(names.proxyActivityChannel, JSON.stringify(proxy));
    // What no report must do: be half used.
    await redis.publish(
      names.dataNodeMetricsChannel,
      '{"nodeId":"d8","clusterId":"x","opsPerSecond":"lots"}',
    );
  };

  it('serves the load reports it hears as points of the metrics series, kept across a restart', async () => {
    let points: {
      t: number;
      commandsPerSecond: number;
      throttledPerSecond: number;
      proxyCommandsPerSecond: number;
      connections: number;
      sessionsInTransaction: number;
      cu: number;
      writers: number;
    }[] = [];
    await waitUntil('points in the metrics series', 15_000, async () => {
      await publishLoad(Date.now());
      const response = await api.get(`/v1/clusters/${serverlessId}/metrics?step=1`);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      points = response.body.points;
      return points.length >= 2;
    });
    const point = points.at(-1);
    assert.deepEqual(
      point && [
        point.commandsPerSecond,
        point.throttledPerSecond,
        point.proxyCommandsPerSecond,
        point.connections,
        point.sessionsInTransaction,
        point.cu,
        point.writers,
      ],
      [700, 100, 800, 12, 1, 2, 1],
    );
    const metrics = await (await fetch(`${running.baseUrl}/metrics`)).text();
    assert.match(metrics, /^borealis_load_reports_total\{source="data-node",outcome="refused"\} [1-9]/m);

    // A new control plane over the same Redis serves the points the first one stored.
    const firstPointAt = points[0]?.t as number;
    await running.app.close();
    restarted = await startControlPlane(testConfig(running.database.url, { redisPrefix: prefix }));
    const after = await restarted.admin.get(
      `/v1/clusters/${serverlessId}/metrics?from=${firstPointAt}&step=1`,
    );
    assert.equal(after.status, 200, JSON.stringify(after.body));
    assert.ok(
      after.body.points.some((p: { t: number }) => p.t === firstPointAt),
      'points survive the restart',
    );
    api = restarted.admin;
  });

  it('explains a cluster: provisioned ones are not autoscaled; one with no writers says why', async () => {
    const provisioned = await api.get(`/v1/clusters/${provisionedId}/autoscaling`);
    assert.equal(provisioned.status, 200, JSON.stringify(provisioned.body));
    assert.deepEqual(provisioned.body.holders, ['provisioned']);
    assert.match(provisioned.body.summary, /convert it to serverless/);
    const serverless = await api.get(`/v1/clusters/${serverlessId}/autoscaling`);
    assert.equal(serverless.status, 200);
    assert.equal(serverless.body.state, 'creating');
    assert.deepEqual(serverless.body.holders, ['not-available']);
    assert.equal(serverless.body.cuCommandsPerSecond, 2_000);
    assert.equal(serverless.body.targetUtilization, 0.7);
  });

  it('pages scaling events newest first, with decision and effect times', async () => {
    const events = (restarted ?? running).app.get(ScalingEventsRepository);
    const base = Date.now() - 100_000;
    // Recorded all at once, as fast as the database takes them: many fall within one millisecond,
    // and each must still be listed after the one recorded before it.
    const recorded: Promise<void>[] = [];
    for (let index = 0; index < 25; index++) {
      recorded.push(
        events.record({
          clusterId: serverlessId,
          kind: 'scale-up',
          from: { cu: index * 0.5, writers: 1 },
          to: { cu: index * 0.5 + 0.5, writers: 1 },
          reason: `step ${index}`,
          decidedAtMs: base + index * 1_000,
          effectiveAtMs: base + index * 1_000 + 40,
        }),
      );
    }
    await Promise.all(recorded);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: {
        status: number;
        body: {
          items: { reason: string; durationMs: number; decidedAt: string; effectiveAt: string }[];
          nextCursor: string | null;
        };
      } = await api.get(
        `/v1/clusters/${serverlessId}/events?limit=10${cursor === null ? '' : `&cursor=${cursor}`}`,
      );
      assert.equal(page.status, 200, JSON.stringify(page.body));
      for (const item of page.body.items) {
        seen.push(item.reason);
        assert.equal(item.durationMs, 40);
        assert.equal(Date.parse(item.effectiveAt) - Date.parse(item.decidedAt), 40);
      }
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(
      seen,
      Array.from({ length: 25 }, (_, index) => `step ${24 - index}`),
    );
  });

  it('refuses bad input with a 4xx that says what to send', async () => {
    const expect = async (path: string, status: number, message: RegExp) => {
      const response = await api.get(path);
      assert.equal(response.status, status, `${path}: ${JSON.stringify(response.body)}`);
      assert.match(JSON.stringify(response.body), message);
    };
    for (const route of ['events', 'autoscaling', 'metrics']) {
      await expect(`/v1/clusters/not-a-uuid/${route}`, 400, /cluster id must be a UUID/);
      await expect(`/v1/clusters/00000000-0000-4000-8000-000000000000/${route}`, 404, /does not exist/);
    }
    const id = serverlessId;
    await expect(`/v1/clusters/${id}/events?limit=0`, 400, /limit must be at least 1/);
    await expect(`/v1/clusters/${id}/events?limit=101`, 400, /limit must be at most 100/);
    await expect(`/v1/clusters/${id}/events?cursor=bogus`, 400, /cursor is invalid/);
    await expect(`/v1/clusters/${id}/events?page=2`, 400, /property page should not exist/);
    await expect(`/v1/clusters/${id}/metrics?step=0`, 400, /step must be whole seconds from 1 to 3600/);
    await expect(`/v1/clusters/${id}/metrics?from=yesterday`, 400, /from must be an ISO 8601 time/);
    await expect(
      `/v1/clusters/${id}/metrics?from=2026-12-03T10:00:00Z&to=2026-12-03T09:00:00Z`,
      400,
      /from must be before to/,
    );
    await expect(`/v1/clusters/${id}/metrics?step=1&step=2`, 400, /step must be whole seconds/);
    const to = Date.now();
    await expect(
      `/v1/clusters/${id}/metrics?from=${to - 7_200_000}&to=${to}&step=1`,
      400,
      /at most 3600: use a step of at least 2 s/,
    );
  });

  it('lets a viewer key read all three', async () => {
    const issued = await api.post('/v1/api-keys', { name: 'dashboards', role: 'viewer' });
    assert.equal(issued.status, 201);
    const viewer = api.withKey(issued.body.key);
    for (const route of ['events', 'autoscaling', 'metrics']) {
      assert.equal((await viewer.get(`/v1/clusters/${serverlessId}/${route}`)).status, 200, route);
    }
  });
});
