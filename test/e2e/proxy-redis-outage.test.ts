// The proxy without its Redis: a private redis-server, SIGKILLed by its PID and started again
// empty. Meanwhile the proxy keeps serving the routes it knew (commands, new connections and
// log-ins), holds a command for a paused cluster and says wake once Redis is back; after the
// restart it takes new routes again, and an empty hash deletes nothing. Also: the activity report
// for the autoscaler, the start-up refusal without REDIS_URL, and SIGTERM.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { text } from '../support/clients.js';
import { repoRoot } from '../support/environment.js';
import {
  newRoute,
  ProxyEventLog,
  ProxyStack,
  RouteWriter,
  type TestRoute,
  waitForRoute,
} from '../support/proxy.js';
import { waitUntil } from '../support/wait.js';

const PASSWORD = 'outage password';
const WRITER_PASSWORD = 'outage writer password';

describe('the proxy while its Redis is down and after it restarts', { timeout: 100_000 }, () => {
  const stack = new ProxyStack({
    writers: [{ id: 'o1', cluster: 'outage' }],
    writerPassword: WRITER_PASSWORD,
  });
  const { clients } = stack;
  let served: TestRoute;
  let paused: TestRoute;

  const running = () => stack.proxy;
  const ownRedis = () => stack.redis;

  before(async () => {
    await stack.start();
    served = await stack.newRoute({ password: PASSWORD });
    paused = { ...(await stack.newRoute({ password: PASSWORD, writers: [] })), mode: 'paused' };
    await stack.publish(served, paused);
    stack.routes.close();
  });

  after(() => stack.stop());

  it('reports each cluster’s activity for the autoscaler', async () => {
    const client = await clients.redis(served.port, { password: PASSWORD });
    await client.set('activity:k', '1');
    const reader = new Redis(ownRedis().url, { maxRetriesPerRequest: 1 });
    try {
      let report: { proxyId: string; clusters: Record<string, Record<string, number>> } | null = null;
      await waitUntil('an activity report with the command', 5_000, async () => {
        const text = await reader.get(`borealis:proxy-metrics:p-${process.pid}`);
        report = text === null ? null : JSON.parse(text);
        return (report?.clusters[served.clusterId]?.lastCommandAtMs ?? 0) > 0;
      });
      const activity = (report as unknown as { clusters: Record<string, Record<string, number>> }).clusters[
        served.clusterId
      ] as Record<string, number>;
      assert.equal(activity.connections, 1);
      assert.equal(activity.heldConnections, 0);
      assert.equal(activity.sessionsInTransaction, 0);
      assert.ok((await reader.pttl(`borealis:proxy-metrics:p-${process.pid}`)) <= 5_000);
    } finally {
      reader.disconnect();
    }
  });

  it('serves commands, new connections and log-ins while Redis is down, and holds a paused cluster’s command', async () => {
    const before = await clients.redis(served.port, { password: PASSWORD });
    await ownRedis().kill();
    await waitUntil(
      'the proxy to notice Redis is gone',
      10_000,
      async () => (await running().health()).redisConnected === false,
    );
    assert.equal(await before.incr('outage:n'), 1);
    const during = await clients.redis(served.port, { password: PASSWORD });
    assert.equal(await during.incr('outage:n'), 2);
    const fresh = await clients.raw(served.port);
    assert.deepEqual((await fresh.call(['AUTH', PASSWORD], ['GET', 'outage:n'])).map(text), ['OK', '2']);
    const held = await clients.raw(paused.port);
    held.send(['AUTH', PASSWORD], ['PING']);
    await held.waitForReplies(1);
    await waitUntil(
      'the PING to be held',
      5_000,
      async () => (await running().cluster(paused.clusterId))?.heldConnections === 1,
    );
    assert.equal((await running().health()).status, 'ok');
  });

  it('after Redis restarts empty: keeps every route, says wake for the held command, and takes new routes', async () => {
    await ownRedis().restart();
    const events = await ProxyEventLog.open(ownRedis().url);
    try {
      await events.waitFor(
        'wake for the held command',
        (event) => event.type === 'wake' && event.clusterId === paused.clusterId,
      );
      await waitUntil(
        'the proxy to reconnect',
        15_000,
        async () => (await running().health()).redisConnected === true,
      );
      assert.equal(
        (await running().cluster(served.clusterId))?.version,
        served.version,
        'an empty hash deleted nothing',
      );
      const routes = new RouteWriter(ownRedis().url);
      try {
        // As the control plane does after Redis restarts empty: every route written back, so that
        // the proxy's next reading of the whole hash (any reconnect) leaves `served` in place.
        await routes.publish(served);
        paused = await routes.update(paused, { mode: 'open', writers: stack.writersOf() });
        await waitForRoute(running(), paused);
        const another = await newRoute({
          password: PASSWORD,
          writerPassword: WRITER_PASSWORD,
          writers: paused.writers.slice(),
        });
        await routes.publish(another);
        await waitForRoute(running(), another);
        const client = await clients.redis(another.port, { password: PASSWORD });
        assert.equal(await client.get('outage:n'), '2');
      } finally {
        routes.close();
      }
    } finally {
      events.close();
    }
  });

  it('refuses to start without REDIS_URL, with a message naming it', () => {
    const result = spawnSync(process.execPath, [join(repoRoot, 'dist/apps/proxy/src/main.js')], {
      env: { ...process.env, REDIS_URL: '', HEALTH_PORT: '0' },
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^proxy: REDIS_URL is required/);
  });

  it('on SIGTERM closes its endpoints and connections and exits 0', async () => {
    const client = await clients.raw(served.port);
    await client.call(['AUTH', PASSWORD]);
    const child = running().process.child;
    child.kill('SIGTERM');
    assert.equal(await running().process.waitForExit(10_000), 0);
    await waitUntil('the client connection to be closed', 5_000, () => client.closed);
    await assert.rejects(clients.raw(served.port), /ECONNREFUSED/);
  });
});
