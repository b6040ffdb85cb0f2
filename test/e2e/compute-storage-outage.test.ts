// The storage fleet down, on the whole platform: storage nodes kill -9'd are restarted by the
// fleet manager with backoff (and recorded); while none can start (a plain file stands where each
// one's data directory was), a new cluster cannot get compute and ends `failed`, with a reason
// that says what to do; once the directories are back, so is the fleet, that cluster can be
// deleted, and a new one works.
import assert from 'node:assert/strict';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { endpointClient, type Platform, startPlatform, waitForClusterState } from '../support/platform.js';
import { waitUntil } from '../support/wait.js';

interface StorageNodeView {
  id: string;
  port: number;
  state: string;
  restarts: number;
  lastError: string | null;
}

describe('compute while the storage fleet is down', { timeout: 300_000 }, () => {
  let platform: Platform;
  /** Data directories moved aside, to be put back: [where it belongs, where it is]. */
  const movedAside: [string, string][] = [];

  const restoreDataDirectories = () => {
    for (const [home, aside] of movedAside.splice(0)) {
      rmSync(home, { force: true });
      renameSync(aside, home);
    }
  };

  before(async () => {
    platform = await startPlatform({ warmPoolSize: 1 });
  });

  after(async () => {
    restoreDataDirectories();
    await platform?.stop();
  });

  const storageNodes = async (): Promise<StorageNodeView[]> =>
    (await platform.api.get('/v1/storage-nodes')).body.items;

  it('restarts killed storage nodes, marks a cluster without storage failed with the reason, and recovers', async () => {
    // No restart can succeed while a plain file stands where a node's data directory was.
    const { rows } = await platform.sql.query('SELECT "dataDir" FROM "StorageNode" ORDER BY id');
    for (const { dataDir } of rows as { dataDir: string }[]) {
      renameSync(dataDir, `${dataDir}.aside`);
      writeFileSync(dataDir, 'not a directory\n');
      movedAside.push([dataDir, `${dataDir}.aside`]);
    }
    for (const entry of platform.registry().filter((e) => e.app === 'storage-node'))
      process.kill(entry.pid, 'SIGKILL');
    await waitUntil(
      'the fleet manager to see the storage nodes down and try restarting them',
      30_000,
      async () => {
        const nodes = await storageNodes();
        return nodes.every((node) => node.state === 'down' && node.restarts >= 1);
      },
    );

    const created = await platform.api.post('/v1/clusters', {
      name: 'stranded',
      mode: 'serverless',
      maxCu: 2,
    });
    assert.equal(created.status, 201);
    const failed = await waitForClusterState(platform.api, created.body.id, 'failed', 90_000);
    assert.match(
      failed.failureReason,
      /its compute did not start: .*storage nodes.*Delete it and create it again/,
    );

    restoreDataDirectories();
    let lastSeen: StorageNodeView[] = [];
    await waitUntil(
      () => `the storage nodes to be restarted and serving; last seen: ${JSON.stringify(lastSeen)}`,
      60_000,
      async () => {
        lastSeen = await storageNodes();
        return lastSeen.every((node) => node.state === 'serving');
      },
    );
    const nodes = await storageNodes();
    assert.ok(
      nodes.every((node) => node.restarts >= 1),
      JSON.stringify(nodes),
    );
    const actions = (await platform.api.get('/v1/fleet/actions?limit=200')).body.items as {
      action: string;
      reason: string;
    }[];
    assert.ok(
      actions.some(
        (action) => action.action === 'start-storage-node' && /^restart after \d+ ms/.test(action.reason),
      ),
      JSON.stringify(actions.slice(0, 10)),
    );

    assert.equal((await platform.api.delete(`/v1/clusters/${created.body.id}`)).status, 204);
    const working = await platform.createCluster(
      { name: 'after-outage', mode: 'serverless', maxCu: 2 },
      { state: 'available', timeoutMs: 30_000 },
    );
    const redis = endpointClient(working);
    await redis.connect();
    assert.equal(await redis.set('back', 'yes'), 'OK');
    assert.equal(await redis.get('back'), 'yes');
    redis.disconnect();
  });
});
