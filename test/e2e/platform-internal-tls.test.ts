// Internal TLS on the whole platform (BOREALIS_INTERNAL_TLS=1, docs/adr/0014): the control plane
// makes the storage nodes' certificate with its CA under <data dir>/tls (key mode 600), its storage
// nodes serve TLS only, its writers reach them over TLS, and a cluster serves SET and GET through
// its endpoint.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { type CreatedCluster, endpointClient, type Platform, startPlatform } from '../support/platform.js';

interface StorageHealth {
  transport: string;
  connections: { writers: number };
  peers: Record<string, { connected: boolean; transport: string }>;
}

describe('internal TLS on the platform', { timeout: 300_000 }, () => {
  let platform: Platform;
  let cluster: CreatedCluster;
  let redis: Redis | undefined;

  before(async () => {
    platform = await startPlatform({ warmPoolSize: 1, env: { BOREALIS_INTERNAL_TLS: '1' } });
    cluster = await platform.createCluster(
      { name: 'internal-tls', mode: 'provisioned', writerCount: 1, cuPerWriter: 1 },
      { state: 'available', timeoutMs: 120_000 },
    );
  });

  after(async () => {
    redis?.disconnect();
    await platform?.stop();
  });

  it('serves a cluster end to end while every storage link is TLS', async () => {
    const directory = join(platform.dataDir, 'tls');
    assert.equal(statSync(join(directory, 'internal.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(directory, 'ca.key')).mode & 0o777, 0o600);
    const certificate = new X509Certificate(readFileSync(join(directory, 'internal.pem')));
    assert.ok(certificate.verify(new X509Certificate(readFileSync(join(directory, 'ca.pem'))).publicKey));
    assert.equal(certificate.checkIP('127.0.0.1'), '127.0.0.1');

    redis = endpointClient(cluster);
    await redis.connect();
    assert.equal(await redis.set('over-tls', 'yes'), 'OK');
    assert.equal(await redis.get('over-tls'), 'yes');

    const health = async (app: string) =>
      Promise.all(
        platform
          .registry()
          .filter((entry) => entry.app === app)
          .map(
            async (entry) =>
              (await (await fetch(`http://127.0.0.1:${entry.adminPort}/health`)).json()) as Record<
                string,
                unknown
              >,
          ),
      );
    const storage = (await health('storage-node')) as unknown as StorageHealth[];
    assert.equal(storage.length, 6);
    for (const node of storage) {
      assert.equal(node.transport, 'tls');
      // A node on TLS serves no plain link: the writer that just served SET and GET is on TLS.
      assert.ok(node.connections.writers >= 1, JSON.stringify(node.connections));
      for (const peer of Object.values(node.peers)) assert.equal(peer.transport, 'tls');
    }
    const writers = (await health('data-node')).filter((node) => node.state === 'attached');
    assert.ok(writers.length >= 1);
    for (const writer of writers) assert.equal(writer.storageTransport, 'tls');
  });
});
