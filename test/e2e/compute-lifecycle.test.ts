// A cluster's compute through its life, on the whole platform as `npm start` runs it (a real
// control plane starting six storage nodes, the proxy and a warm pool), driven through the REST
// API and real clients (redis-cli, ioredis) on the cluster's endpoint: created and available at
// once, paused (no writer stays attached) and resumed by the next command, an idle connection
// kept across the pause, a command during a pause answered, deleted with its data and port.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect as connectTcp } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import {
  type CreatedCluster,
  endpointClient,
  type Platform,
  startPlatform,
  waitForClusterState,
} from '../support/platform.js';
import { waitUntil } from '../support/wait.js';

const run = promisify(execFile);
/**
 * A bound on waits for a cluster to come (back) up after the first one. Only the first cluster's
 * 5 s is a promise (its writer comes from the warm pool); later ones may find the pool empty and
 * wait for a cold start, which on a loaded 2-core machine has taken more than 5 s.
 */
const AWAKE_WITHIN_MS = 30_000;

function client(cluster: CreatedCluster): Redis {
  return endpointClient(cluster);
}

function redisCli(cluster: CreatedCluster, ...args: string[]): Promise<string> {
  return run(
    'redis-cli',
    ['-p', String(cluster.endpoint.port), '-a', cluster.dataPassword, '--no-auth-warning', ...args],
    {
      timeout: 30_000,
    },
  ).then(({ stdout }) => stdout.trim());
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('compute: writers, the endpoint, pause and resume', { timeout: 300_000 }, () => {
  let platform: Platform;
  const clients: Redis[] = [];

  const attachedWriters = (clusterId: string) => platform.writersOf(clusterId);

  /** How many volumes each storage node holds, s1 to s6, from their health answers. */
  const storageVolumeCounts = async (): Promise<number[]> => {
    const nodes = platform
      .registry()
      .filter((entry) => entry.app === 'storage-node')
      .sort((a, b) => a.id.localeCompare(b.id));
    assert.equal(nodes.length, 6);
    return Promise.all(
      nodes.map(async (node) => {
        const health = (await (await fetch(`http://127.0.0.1:${node.adminPort}/health`)).json()) as {
          volumes: number;
        };
        return health.volumes;
      }),
    );
  };

  const create = (body: Record<string, unknown>) => platform.createCluster(body);

  before(async () => {
    platform = await startPlatform({ warmPoolSize: 2 });
  });

  after(async () => {
    for (const redis of clients) redis.disconnect();
    await platform?.stop();
  });

  it('lists six storage nodes, two per AZ, all serving', async () => {
    await waitUntil('six serving storage nodes', 30_000, async () => {
      const { body } = await platform.api.get('/v1/storage-nodes');
      return (
        body.items.length === 6 && body.items.every((node: { state: string }) => node.state === 'serving')
      );
    });
    const { body } = await platform.api.get('/v1/storage-nodes');
    assert.deepEqual(
      body.items.map((node: { id: string; az: string }) => `${node.id}:${node.az}`),
      ['s1:az-a', 's2:az-a', 's3:az-b', 's4:az-b', 's5:az-c', 's6:az-c'],
    );
    const metrics = await (await fetch(`${platform.baseUrl}/metrics`)).text();
    assert.match(metrics, /^borealis_storage_nodes\{state="serving"\} 6$/m);
    // The warm pool fills in the background after start-up.
    await waitUntil('the warm pool to show in the metrics', 30_000, async () =>
      /^borealis_data_nodes\{state="pool"\} 2$/m.test(
        await (await fetch(`${platform.baseUrl}/metrics`)).text(),
      ),
    );
  });

  it('a serverless cluster is available within 5 s; redis-cli and ioredis work through its endpoint', async () => {
    const startedAt = Date.now();
    const cluster = await create({ name: 'orders', mode: 'serverless', maxCu: 8 });
    const view = await waitForClusterState(platform.api, cluster.id, 'available', 5_000);
    assert.ok(Date.now() - startedAt < 5_000);
    assert.equal(view.failureReason, null);
    const writers = await attachedWriters(cluster.id);
    assert.deepEqual(
      writers.map((writer) => writer.cu),
      [0.5],
      'a serverless cluster starts at minCu, or 0.5 CU',
    );

    assert.equal(await redisCli(cluster, 'set', 'greeting', 'hello'), 'OK');
    assert.equal(await redisCli(cluster, 'get', 'greeting'), 'hello');
    const redis = client(cluster);
    clients.push(redis);
    await redis.connect();
    assert.equal(await redis.get('greeting'), 'hello');
    assert.equal(await redis.incr('visits'), 1);
    const hello = (await redis.call('HELLO', '3', 'AUTH', 'default', cluster.dataPassword)) as unknown[];
    assert.ok(hello.includes('proto'));

    const port = String(cluster.endpoint.port);
    const wrong = await run('redis-cli', [
      '-p',
      port,
      '-a',
      'not-the-password',
      '--no-auth-warning',
      'get',
      'greeting',
    ]);
    assert.match(`${wrong.stdout}${wrong.stderr}`, /WRONGPASS invalid username-password pair/);
    const anonymous = await run('redis-cli', ['-p', port, 'get', 'greeting']);
    assert.match(anonymous.stdout, /NOAUTH Authentication required/);
  });

  it('pause leaves no writer attached; a new client reads what was written, an idle one answers, and each resumes the cluster', async () => {
    const cluster = await create({ name: 'sleepy', mode: 'serverless', maxCu: 4 });
    await waitForClusterState(platform.api, cluster.id, 'available', AWAKE_WITHIN_MS);
    const idle = client(cluster);
    clients.push(idle);
    await idle.connect();
    assert.equal(await idle.set('before-pause', 'kept'), 'OK');

    const paused = await platform.api.post(`/v1/clusters/${cluster.id}/pause`);
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    assert.equal(paused.body.state, 'paused');
    assert.deepEqual(await attachedWriters(cluster.id), [], 'no writer stays attached to a paused cluster');

    const fresh = client(cluster);
    clients.push(fresh);
    await fresh.connect();
    assert.equal(
      await fresh.get('before-pause'),
      'kept',
      'the first command after a pause is held, never refused',
    );
    await waitForClusterState(platform.api, cluster.id, 'available', AWAKE_WITHIN_MS);

    assert.equal((await platform.api.post(`/v1/clusters/${cluster.id}/pause`)).body.state, 'paused');
    assert.equal(
      await idle.get('before-pause'),
      'kept',
      'a connection left open through the pause answers normally',
    );
    await waitForClusterState(platform.api, cluster.id, 'available', AWAKE_WITHIN_MS);
    const events = (await platform.api.get(`/v1/fleet/actions?clusterId=${cluster.id}`)).body.items as {
      action: string;
    }[];
    assert.ok(events.filter((event) => event.action === 'attach').length >= 3, JSON.stringify(events));
  });

  it('a command that arrives while the cluster is pausing cancels the pause, is answered, and the cluster ends awake', async () => {
    // At 0.5 CU the writer serves 1,000 commands/s: a pipeline of 4,000 keeps commands in flight for
    // seconds, so the pause waits for them, and a command sent meanwhile finds it pausing.
    const cluster = await create({ name: 'busy', mode: 'serverless', maxCu: 0.5 });
    await waitForClusterState(platform.api, cluster.id, 'available', AWAKE_WITHIN_MS);
    const loader = client(cluster);
    const late = client(cluster);
    clients.push(loader, late);
    await Promise.all([loader.connect(), late.connect()]);
    const pipeline = loader.pipeline();
    for (let index = 0; index < 4_000; index++) pipeline.incr('load');
    const loaded = pipeline.exec();
    const pause = platform.api.post(`/v1/clusters/${cluster.id}/pause`);
    await waitForClusterState(platform.api, cluster.id, 'pausing', 10_000);
    assert.equal(await late.set('during-pause', 'answered'), 'OK');
    const results = (await loaded) ?? [];
    const failed = results.filter(([error]) => error !== null);
    if (failed.length > 0) {
      const { readFileSync } = await import('node:fs');
      console.log(readFileSync(`${platform.dataDir}/logs/p1.log`, 'utf8').slice(-4000));
      console.log(platform.controlPlane.output().slice(-4000));
    }
    assert.equal(failed.length, 0, `no command in flight failed; the first failure: ${failed[0]?.[0]}`);
    assert.equal((await pause).body.state, 'available', 'the pause was cancelled');
    assert.equal(await late.get('load'), '4000');
    assert.equal((await platform.api.get(`/v1/clusters/${cluster.id}`)).body.state, 'available');
    assert.equal((await attachedWriters(cluster.id)).length, 1);
    const actions = (await platform.api.get(`/v1/fleet/actions?clusterId=${cluster.id}`)).body.items as {
      action: string;
    }[];
    assert.ok(
      actions.some((action) => action.action === 'cancel-pause'),
      JSON.stringify(actions),
    );
  });

  it('provisioned clusters run their writers and refuse pause and resume with a clear message', async () => {
    const cluster = await create({ name: 'ledger', mode: 'provisioned', writerCount: 2, cuPerWriter: 1 });
    await waitForClusterState(platform.api, cluster.id, 'available', 10_000);
    assert.deepEqual(
      (await attachedWriters(cluster.id)).map((writer) => writer.cu),
      [1, 1],
    );
    for (const action of ['pause', 'resume']) {
      const refused = await platform.api.post(`/v1/clusters/${cluster.id}/${action}`);
      assert.equal(refused.status, 409);
      assert.match(refused.body.message, /is provisioned: provisioned clusters .*never pause/);
    }
    assert.equal(await redisCli(cluster, 'set', 'ledger', 'open'), 'OK');
  });

  it('DELETE drains and detaches the writers, deletes the volume from the storage nodes and frees the port', async () => {
    const cluster = await create({ name: 'doomed', mode: 'serverless', maxCu: 2 });
    await waitForClusterState(platform.api, cluster.id, 'available', AWAKE_WITHIN_MS);
    assert.equal(await redisCli(cluster, 'set', 'doomed-key', 'gone soon'), 'OK');
    const writers = await attachedWriters(cluster.id);
    assert.equal(writers.length, 1);

    const volumesBefore = await storageVolumeCounts();
    const deleted = await platform.api.delete(`/v1/clusters/${cluster.id}`);
    assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
    assert.equal((await platform.api.get(`/v1/clusters/${cluster.id}`)).status, 404);
    assert.deepEqual(await attachedWriters(cluster.id), []);
    await waitUntil(
      `endpoint port ${cluster.endpoint.port} to close`,
      10_000,
      async () => !(await portAccepts(cluster.endpoint.port)),
    );

    // Every storage node dropped the volume (each holds one volume fewer).
    const volumesAfter = await storageVolumeCounts();
    assert.deepEqual(
      volumesAfter,
      volumesBefore.map((count) => count - 1),
      `volumes per storage node before ${volumesBefore}, after ${volumesAfter}`,
    );
    // The port is free for the next cluster.
    const next = await create({ name: 'after-delete', mode: 'serverless', maxCu: 2 });
    assert.equal(next.endpoint.port, cluster.endpoint.port);
  });
});
