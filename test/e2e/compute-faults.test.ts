// Compute faults on the whole platform, through a cluster's endpoint with real clients:
// a writer kill -9'd under the register and bank workloads (replaced by the fleet manager, its
// sessions moved, histories linearizable and money conserved), and the control plane kill -9'd
// under load (no client command fails; a new control plane adopts the fleet, without duplicates).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { JepsenWorkload } from '../support/jepsen-workload.js';
import { type CreatedCluster, endpointClient, type Platform, startPlatform } from '../support/platform.js';
import { mulberry32, seedFromEnvironment, sleep } from '../support/prng.js';
import { waitUntil } from '../support/wait.js';

const SEED = seedFromEnvironment('FAULT_SEED', 20261202);
const WORKLOAD_MS = 12_000;
const WORKLOAD_MAX_MS = 20_000;
const MINIMUMS = { registerOps: 150, transfers: 40, bankReads: 8 };

describe('compute faults', { timeout: 300_000 }, () => {
  let platform: Platform;
  const clients = new Set<Redis>();

  const connect = async (cluster: CreatedCluster, options: { retry: boolean }): Promise<Redis> => {
    const redis = endpointClient(cluster, { maxRetriesPerRequest: options.retry ? 1 : 0 });
    clients.add(redis);
    await redis.connect();
    return redis;
  };
  const drop = (redis: Redis) => {
    redis.disconnect();
    clients.delete(redis);
  };

  const writersOf = async (clusterId: string): Promise<{ id: string; pid: number | null }[]> => {
    const rows = await platform.writersOf(clusterId, ['attached']);
    const registry = platform.registry();
    return rows.map((row) => ({
      id: row.id,
      pid: registry.find((entry) => entry.id === row.id)?.pid ?? null,
    }));
  };

  const create = (body: Record<string, unknown>) =>
    platform.createCluster(body, { state: 'available', timeoutMs: 10_000 });

  before(async () => {
    platform = await startPlatform({ warmPoolSize: 2 });
  });

  after(async () => {
    for (const redis of clients) redis.disconnect();
    await platform?.stop();
  });

  it(`a writer kill -9'd under load is replaced; histories stay linearizable and money is conserved (seed ${SEED})`, async (t) => {
    const cluster = await create({
      name: 'bank',
      mode: 'provisioned',
      writerCount: 2,
      cuPerWriter: 4,
      readConsistency: 'cluster',
    });
    const setup = await connect(cluster, { retry: true });
    await JepsenWorkload.seed(setup);
    drop(setup);
    const before = await writersOf(cluster.id);
    assert.equal(before.length, 2);

    const random = mulberry32(SEED);
    const workload = new JepsenWorkload({
      random,
      connect: () => connect(cluster, { retry: false }),
      drop,
      // Sessions move off the killed writer: the endpoint answers their EXEC null.
      execNullProvesChange: false,
    });
    workload.start(0, 'register', 4);
    workload.start(0, 'bank', 6);
    await sleep(WORKLOAD_MS * (0.25 + random() * 0.2));
    const victim = before[Math.floor(random() * before.length)] as { id: string; pid: number | null };
    assert.ok(victim.pid !== null, 'the writer has a registry entry');
    process.kill(victim.pid, 'SIGKILL');
    await waitUntil('the fleet manager to replace the killed writer', 30_000, async () => {
      const now = await writersOf(cluster.id);
      return now.length === 2 && !now.some((writer) => writer.id === victim.id);
    });
    while (workload.now() < WORKLOAD_MS || (workload.now() < WORKLOAD_MAX_MS && !workload.enough(MINIMUMS)))
      await sleep(100);
    await workload.stop(() => {
      for (const redis of clients) redis.disconnect();
    });
    const reader = await connect(cluster, { retry: true });
    await workload.finalReads(reader);
    drop(reader);

    const { counts } = workload;
    t.diagnostic(
      `seed ${SEED}; killed ${victim.id}; counts ${JSON.stringify(counts)}; errors: ${workload.sampleErrors.join(' | ')}`,
    );
    assert.ok(
      counts.registerOk > MINIMUMS.registerOps,
      `only ${counts.registerOk} register operations completed`,
    );
    assert.ok(counts.transfersOk > MINIMUMS.transfers, `only ${counts.transfersOk} transfers completed`);
    workload.verify(`seed ${SEED}`, MINIMUMS.bankReads);
    const actions = (await platform.api.get(`/v1/fleet/actions?clusterId=${cluster.id}`)).body.items as {
      action: string;
      target: string;
    }[];
    assert.ok(
      actions.some((action) => action.action === 'replace-writer' && action.target === victim.id),
      JSON.stringify(actions),
    );
  });

  it('kill -9 of the control plane under load fails no command; a new one adopts the fleet without duplicates', async () => {
    const cluster = await create({ name: 'steady', mode: 'serverless', minCu: 2, maxCu: 2 });
    const counters = await Promise.all(Array.from({ length: 4 }, () => connect(cluster, { retry: false })));
    // Compare like with like: the warm pool refilled, nothing starting.
    await waitUntil('a full warm pool and nothing starting', 30_000, async () => {
      const { rows } = await platform.sql.query(
        `SELECT count(*) FILTER (WHERE state = 'pool')::int AS pool, count(*) FILTER (WHERE state = 'starting')::int AS starting FROM "DataNode"`,
      );
      return rows[0].pool === 2 && rows[0].starting === 0;
    });
    const registryBefore = platform
      .registry()
      .map((entry) => `${entry.id}:${entry.pid}`)
      .sort();
    let running = true;
    const acknowledged = new Map<string, number>();
    const failures: string[] = [];
    const load = counters.map(async (redis, index) => {
      const key = `counter:${index}`;
      while (running) {
        try {
          await redis.incr(key);
          acknowledged.set(key, (acknowledged.get(key) ?? 0) + 1);
        } catch (error) {
          failures.push(String(error));
          return;
        }
      }
    });
    await sleep(500);
    await platform.killControlPlane();
    // New connections to the awake cluster keep working while no control plane runs.
    const newcomer = await connect(cluster, { retry: false });
    assert.equal(await newcomer.set('while-down', 'yes'), 'OK');
    await sleep(1_500);
    await platform.restartControlPlane();
    await sleep(500);
    running = false;
    await Promise.all(load);
    assert.deepEqual(failures, [], 'no command failed while the control plane was down or restarting');
    for (const [key, count] of acknowledged) assert.equal(Number(await newcomer.get(key)), count, key);

    const registryAfter = platform
      .registry()
      .map((entry) => `${entry.id}:${entry.pid}`)
      .sort();
    assert.deepEqual(
      registryAfter,
      registryBefore,
      'the same processes, adopted: none started twice, none lost',
    );
    const view = await platform.api.get(`/v1/clusters/${cluster.id}`);
    assert.equal(view.body.state, 'available');
    assert.equal((await writersOf(cluster.id)).length, 1);
    const nodes = (await platform.api.get('/v1/storage-nodes')).body.items as { state: string }[];
    assert.equal(nodes.filter((node) => node.state === 'serving').length, 6);
    assert.equal(await newcomer.get('while-down'), 'yes');
  });
});
