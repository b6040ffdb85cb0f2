// A control plane told to stop while its database is unreachable still stops its whole fleet:
// the proxy, the data nodes and the six storage nodes. What it cannot record, it logs; a
// process it started is never left running because a bookkeeping write failed. (The database
// going away first is what a terminal's Ctrl-C once did to `npm start`, whose embedded
// PostgreSQL shared the control plane's process group.)
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Platform, startPlatform } from '../support/platform.js';
import { isAlive } from '../support/processes.js';
import { waitUntil } from '../support/wait.js';

/** A TCP relay on loopback to the database that the test can cut: every connection through it ends. */
class CuttableRelay {
  private readonly sockets = new Set<Socket>();
  private target = { host: '127.0.0.1', port: 0 };
  private port = 0;
  private readonly server: Server = createServer((client) => {
    const upstream = connect(this.target);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => this.sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** `url` through the relay: the relay forwards to its host and port from now on. */
  through(url: string): string {
    const parsed = new URL(url);
    this.target = { host: parsed.hostname, port: Number(parsed.port || 5432) };
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  /** Refuses new connections and ends the open ones. */
  async cut(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

describe('stopping the fleet without the database', { timeout: 240_000 }, () => {
  let platform: Platform;
  const relay = new CuttableRelay();

  before(async () => {
    await relay.listen();
    platform = await startPlatform({ warmPoolSize: 1, databaseUrlFor: (url) => relay.through(url) });
  });

  after(async () => {
    await platform?.stop();
  });

  it('stops every fleet process on SIGTERM after the database went away', async () => {
    await waitUntil('the fleet up: six storage nodes, the proxy and a pool data node', 120_000, () => {
      const apps = platform.registry().map((entry) => entry.app);
      return (
        apps.filter((app) => app === 'storage-node').length === 6 &&
        apps.includes('proxy') &&
        apps.includes('data-node')
      );
    });
    const fleet = platform.registry().map((entry) => entry.pid);
    await relay.cut();
    platform.controlPlane.child.kill('SIGTERM');
    await platform.controlPlane.waitForExit(90_000);
    await waitUntil('every fleet process to exit', 30_000, () => fleet.every((pid) => !isAlive(pid))).catch(
      () => undefined,
    );
    assert.deepEqual(
      fleet.filter(isAlive),
      [],
      `every fleet process stopped\n${platform.controlPlane.output()}`,
    );
  });
});
