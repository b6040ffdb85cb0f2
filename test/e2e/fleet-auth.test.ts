// Fleet authentication on the whole platform as `npm start` runs it: the control plane makes the
// fleet secret at its first start (mode 600), its storage nodes accept only authenticated links,
// every writer it attaches holds a credential for its own cluster's volume alone, a writer adopted
// by a restarted control plane gets a fresh one on its open links, and a rotation of the secret
// through the API under load fails no command. Node tokens: the control plane makes
// its node-token key at the first start (mode 600), gives every data node and storage node a token
// of its own in its environment (never on its command line, in a log or in its own output), the
// nodes refuse admin calls without it, and a restarted control plane recomputes the tokens of the
// processes it adopts.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { FleetRole } from '../../apps/control-plane/src/fleet/compute-driver.js';
import { CREDENTIAL_TTL_MS } from '../../apps/control-plane/src/fleet/fleet-secrets.service.js';
import { nodeToken, readNodeTokenKey } from '../../apps/control-plane/src/fleet/node-tokens.service.js';
import { QuorumClient } from '../../libs/storage-client/src/index.js';
import { type FleetSecret, mintWriterCredential, readFleetSecretsFile } from '../../libs/wire/src/index.js';
import {
  type CreatedCluster,
  endpointClient,
  type Platform,
  startPlatform,
  waitForClusterState,
} from '../support/platform.js';
import { waitUntil } from '../support/wait.js';

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/**
 * INCRs of `key` one after another until stopped: `stopAfter(n)` lets n more succeed (bounded in
 * time), stops, asserts that none failed, and resolves with how many succeeded in all.
 */
function incrementUnderWay(redis: Redis, key: string): { stopAfter(more: number): Promise<number> } {
  let stop = false;
  let done = 0;
  const failures: string[] = [];
  const load = (async () => {
    while (!stop) {
      try {
        await redis.incr(key);
        done++;
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  })();
  return {
    async stopAfter(more) {
      const target = done + more;
      await waitUntil(`${more} more INCRs of ${key}`, 30_000, () => done >= target || failures.length > 0);
      stop = true;
      await load;
      assert.deepEqual(failures, []);
      return done;
    },
  };
}

interface StorageHealth {
  linkAuth: { mode: string; accepted?: string[] };
  counters: { refusedHandshakes: number };
}

describe('fleet authentication on the platform', { timeout: 300_000 }, () => {
  let platform: Platform;
  let cluster: CreatedCluster;
  const clients: Redis[] = [];

  const storageHealth = async (): Promise<StorageHealth[]> => {
    const nodes = platform.registry().filter((entry) => entry.app === 'storage-node');
    assert.equal(nodes.length, 6);
    return Promise.all(
      nodes.map(
        async (node) =>
          (await (await fetch(`http://127.0.0.1:${node.adminPort}/health`)).json()) as StorageHealth,
      ),
    );
  };

  /** Each fleet node's token as the control plane derives it, from the key file alone. */
  const nodeTokens = (): { app: string; id: string; pid: number; adminPort: number; token: string }[] => {
    const key = readNodeTokenKey(join(platform.dataDir, 'node-token-key'));
    return platform
      .registry()
      .filter((entry) => entry.app === 'data-node' || entry.app === 'storage-node')
      .map((entry) => ({ ...entry, token: nodeToken(key, entry.app as FleetRole, entry.id) }));
  };

  const assertNoTokenShown = (nodes: { id: string; token: string }[], what: string): void => {
    const logs = filesUnder(join(platform.dataDir, 'logs'));
    assert.ok(logs.length >= 7, `the fleet's logs: ${logs.join(', ')}`);
    const output = platform.controlPlane.output();
    for (const node of nodes) {
      assert.ok(
        !output.includes(node.token),
        `the control plane's output shows the token of ${node.id} (${what})`,
      );
      for (const file of logs)
        assert.ok(!readFileSync(file, 'utf8').includes(node.token), `${file} shows the token of ${node.id}`);
    }
  };

  before(async () => {
    platform = await startPlatform({ warmPoolSize: 1 });
    cluster = await platform.createCluster(
      { name: 'auth-a', mode: 'provisioned', writerCount: 1, cuPerWriter: 1 },
      { state: 'available', timeoutMs: 120_000 },
    );
  });

  after(async () => {
    for (const redis of clients) redis.disconnect();
    await platform?.stop();
  });

  it('makes the fleet secret with mode 600, and every storage node accepts only it', async () => {
    const file = join(platform.dataDir, 'fleet-secrets');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const health = await storageHealth();
    for (const node of health) {
      assert.equal(node.linkAuth.mode, 'fleet-secret');
      assert.equal(node.linkAuth.accepted?.length, 1);
    }
  });

  it('serves the endpoint through writers holding credentials; a writer without one is refused', async () => {
    const redis = endpointClient(cluster);
    clients.push(redis);
    await redis.connect();
    assert.equal(await redis.set('k', 'v'), 'OK');
    assert.equal(await redis.get('k'), 'v');
    const before = (await storageHealth()).reduce((sum, node) => sum + node.counters.refusedHandshakes, 0);
    const rows = await platform.sql.query<{ id: string; host: string; port: number }>(
      'SELECT id, host, port FROM "StorageNode" ORDER BY id',
    );
    const intruder = new QuorumClient({
      writerId: 'intruder',
      coordinatorId: 999_999,
      nodes: rows.rows.map((row) => ({ id: row.id, host: row.host, port: row.port })),
    });
    try {
      await assert.rejects(intruder.waitForNodes(1, 1_500));
      await assert.rejects(intruder.read('any-volume', ['k']), /reachable/);
    } finally {
      await intruder.close();
    }
    const after = (await storageHealth()).reduce((sum, node) => sum + node.counters.refusedHandshakes, 0);
    assert.ok(after > before, 'the storage nodes refused the unauthenticated writer');
  });

  it('gives an adopted writer a fresh credential after a control plane restart, dropping no client connection', async () => {
    const redis = endpointClient(cluster);
    clients.push(redis);
    let closes = 0;
    redis.on('close', () => closes++);
    await redis.connect();
    const [writer] = await platform.writersOf(cluster.id, ['attached']);
    assert.ok(writer !== undefined, 'the cluster has an attached writer');
    const entry = platform.registry().find((candidate) => candidate.id === writer.id);
    assert.ok(entry !== undefined, `data node ${writer.id} is in the fleet registry`);
    const credentialOf = async () =>
      (
        (await (await fetch(`http://127.0.0.1:${entry.adminPort}/health`)).json()) as {
          credential: { volume: string; expiresAt: string } | null;
        }
      ).credential;
    const first = await credentialOf();
    assert.ok(first !== null, 'the writer holds a credential');

    const load = incrementUnderWay(redis, 'adoption-counter');
    await platform.killControlPlane();
    await platform.restartControlPlane();
    await waitUntil('the adopted writer holds a fresh credential', 60_000, async () => {
      const now = await credentialOf();
      return now !== null && Date.parse(now.expiresAt) > Date.parse(first.expiresAt);
    });
    const renewed = await credentialOf();
    assert.equal(renewed?.volume, first.volume);
    // The renewed credential opens the links: commands keep committing after it.
    const done = await load.stopAfter(50);
    assert.equal(closes, 0, 'the client connection was dropped');
    assert.equal(Number(await redis.get('adoption-counter')), done);
  });

  it('rotates the fleet secret under load through the API without a failed command', async () => {
    const redis = endpointClient(cluster);
    clients.push(redis);
    await redis.connect();
    const load = incrementUnderWay(redis, 'rotation-counter');
    const rotation = await platform.api.post('/v1/fleet/secret/rotate', {});
    assert.equal(rotation.status, 200, JSON.stringify(rotation.body));
    const body = rotation.body as { current: string; retired: string[]; writersRenewed: number };
    assert.equal(body.writersRenewed, 1);
    for (const node of await storageHealth()) {
      // Each node rereads the file at its next handshake; the accepted list may lag by a second.
      assert.ok(node.linkAuth.accepted?.includes(body.current) || node.linkAuth.accepted?.length === 2);
    }
    const done = await load.stopAfter(50);
    assert.equal(Number(await redis.get('rotation-counter')), done);
  });

  it('gives every node its own token from a mode-600 key, in its environment only; no log shows one', async () => {
    const keyFile = join(platform.dataDir, 'node-token-key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const nodes = nodeTokens();
    assert.equal(nodes.filter((node) => node.app === 'storage-node').length, 6);
    assert.ok(nodes.filter((node) => node.app === 'data-node').length >= 2, 'a writer and a pool process');
    assert.equal(new Set(nodes.map((node) => node.token)).size, nodes.length, 'one token per process');
    const proxy = platform.registry().find((entry) => entry.app === 'proxy');
    for (const node of nodes) {
      // Linux: a process's command line is readable by every user, its environment by its own.
      const commandLine = readFileSync(`/proc/${node.pid}/cmdline`, 'utf8');
      assert.ok(!commandLine.includes(node.token), `the command line of ${node.id} shows its token`);
      const environment = readFileSync(`/proc/${node.pid}/environ`, 'utf8').split('\0');
      assert.ok(environment.includes(`BOREALIS_NODE_TOKEN=${node.token}`), `${node.id} was given its token`);
    }
    if (proxy !== undefined) {
      const environment = readFileSync(`/proc/${proxy.pid}/environ`, 'utf8');
      assert.ok(!environment.includes('BOREALIS_NODE_TOKEN='), 'the proxy serves no admin calls: no token');
    }
    assertNoTokenShown(nodes, 'after serving a cluster');
  });

  it('a fleet node refuses admin calls without its token, or with another node token', async () => {
    let pool: { id: string; adminPort: number; token: string } | undefined;
    await waitUntil('a warm-pool data node', 60_000, async () => {
      for (const node of nodeTokens().filter((entry) => entry.app === 'data-node')) {
        const health = (await (await fetch(`http://127.0.0.1:${node.adminPort}/health`)).json()) as {
          state: string;
        };
        if (health.state === 'unattached') pool = node;
      }
      return pool !== undefined;
    });
    const target = pool as { id: string; adminPort: number; token: string };
    const other = nodeTokens().find((node) => node.id !== target.id) as { token: string };
    const attach = { clusterId: 'intruder', volume: 'intruder', cu: 1, readConsistency: 'instance' };
    for (const headers of [{}, { authorization: `Bearer ${other.token}` }] as Record<string, string>[]) {
      const response = await fetch(`http://127.0.0.1:${target.adminPort}/attach`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(attach),
      });
      assert.equal(response.status, 401, JSON.stringify(headers));
      assert.match(
        ((await response.json()) as { message: string }).message,
        /send Authorization: Bearer <BOREALIS_NODE_TOKEN>$/,
      );
    }
    const health = (await (await fetch(`http://127.0.0.1:${target.adminPort}/health`)).json()) as {
      state: string;
      attachedCluster: string | null;
    };
    assert.deepEqual([health.state, health.attachedCluster], ['unattached', null]);
    // Its own token passes the check (the node then answers as to its control plane: unattached).
    const resize = await fetch(`http://127.0.0.1:${target.adminPort}/resize`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${target.token}` },
      body: JSON.stringify({ cu: 1 }),
    });
    assert.equal(resize.status, 409);
    const storage = nodeTokens().find((node) => node.app === 'storage-node') as { adminPort: number };
    const drop = await fetch(`http://127.0.0.1:${storage.adminPort}/volumes/${cluster.id}`, {
      method: 'DELETE',
    });
    assert.equal(drop.status, 401);
  });

  it('a restarted control plane recomputes the tokens of the processes it adopts', async () => {
    const processes = () =>
      nodeTokens()
        .map((node) => `${node.id}:${node.pid}`)
        .sort();
    const beforeRestart = processes();
    await platform.killControlPlane();
    await platform.restartControlPlane();
    // The writer was adopted, not replaced: its credential is renewed by POST /credential, which
    // needs its token.
    const rotation = await platform.api.post('/v1/fleet/secret/rotate', {});
    assert.equal(rotation.status, 200, JSON.stringify(rotation.body));
    assert.equal((rotation.body as { writersRenewed: number }).writersRenewed, 1);
    assert.deepEqual(processes(), beforeRestart, 'the same processes, adopted');
    const redis = endpointClient(cluster);
    clients.push(redis);
    await redis.connect();
    assert.equal(await redis.get('k'), 'v');
    assertNoTokenShown(nodeTokens(), 'after a restart');
  });

  it('revokes a writer’s credentials when it leaves its cluster: a copy opens nothing, a fresh attach works', async () => {
    const serverless = await platform.createCluster(
      { name: 'auth-revoke', mode: 'serverless', minCu: 0, maxCu: 1, autoPauseSeconds: 2 },
      { state: 'available', timeoutMs: 120_000 },
    );
    const redis = endpointClient(serverless);
    await redis.connect();
    assert.equal(await redis.set('revoked-key', 'kept'), 'OK');
    const [writer] = await platform.writersOf(serverless.id, ['attached']);
    assert.ok(writer !== undefined, 'the cluster has an attached writer');
    const {
      rows: [row],
    } = await platform.sql.query<{ coordinatorId: number; volume: string }>(
      'SELECT d."coordinatorId", c.volume FROM "DataNode" d JOIN "Cluster" c ON c.id = d."clusterId" WHERE d.id = $1',
      [writer.id],
    );
    assert.ok(row !== undefined);
    // What a thief inside the data node would take: a credential for its volume, as minted now.
    const stolen = mintWriterCredential(
      readFleetSecretsFile(join(platform.dataDir, 'fleet-secrets'))[0] as FleetSecret,
      {
        cluster: serverless.id,
        volume: row.volume,
        coordinatorId: row.coordinatorId,
        expiresAtMs: Date.now() + CREDENTIAL_TTL_MS,
      },
    );
    const storage = await platform.sql.query<{ id: string; host: string; port: number }>(
      'SELECT id, host, port FROM "StorageNode" ORDER BY id',
    );
    const thief = new QuorumClient({
      writerId: 'thief',
      coordinatorId: row.coordinatorId,
      nodes: storage.rows,
      credential: stolen,
      timing: { readDeadlineMs: 1_000 },
    });
    try {
      await thief.waitForNodes(6, 10_000);
      // Still valid while the writer is attached.
      assert.equal((await thief.read(row.volume, ['revoked-key'])).length, 1);
      // Idle, the cluster pauses: its writer is drained, detached and its credentials revoked.
      redis.disconnect();
      await waitForClusterState(platform.api, serverless.id, 'paused', 60_000);
      const revoked = readFileSync(join(platform.dataDir, 'revoked-credentials'), 'utf8');
      assert.match(revoked, new RegExp(`^\\d+ ${row.coordinatorId} ${row.volume}$`, 'm'));
      assert.equal(statSync(join(platform.dataDir, 'revoked-credentials')).mode & 0o777, 0o600);
      await waitUntil('the stolen credential’s links closed', 10_000, () => thief.connectedNodes === 0);
      await assert.rejects(thief.read(row.volume, ['revoked-key']));
    } finally {
      await thief.close();
    }
    // A client resumes the cluster: its writer (the pooled process again, or another) gets a
    // credential minted after the revocation, and the data is there.
    const again = endpointClient(serverless);
    clients.push(again);
    await again.connect();
    assert.equal(await again.get('revoked-key'), 'kept');
  });
});
