// A paused cluster whose hold limit is 100 connections, hit by 1,000 connections that each log
// in and send a command: 100 are held (and the cluster is woken), the other 900 get TRYAGAIN
// naming the limit, and nothing else; the proxy's memory stays bounded (its RSS grows by less than
// 64 MiB) and another cluster on the same proxy keeps serving. Then the route opens with a writer
// and the 100 held commands are answered.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Reply } from '../../libs/resp/src/index.js';
import { type RawConnection, text } from '../support/clients.js';
import type { RunningDataNode } from '../support/data-nodes.js';
import { ProxyStack, type TestRoute } from '../support/proxy.js';
import { waitUntil } from '../support/wait.js';

const PASSWORD = 'paused cluster password';
const WRITER_PASSWORD = 'hold writer password';
const CONNECTIONS = 1_000;
const HOLD_LIMIT = 100;
/** How much the proxy's resident memory may grow while it holds these connections. */
const RSS_GROWTH_MAX_BYTES = 64 * 1024 * 1024;
const REFUSAL = `TRYAGAIN cluster paused-one is resuming and already holds commands of the most connections it may (PROXY_HOLD_CONNECTIONS_PER_CLUSTER=${HOLD_LIMIT}); retry`;

describe('hold limits of a paused cluster', { timeout: 110_000 }, () => {
  const stack = new ProxyStack({
    writers: ['paused-one', 'open-one'].map((cluster) => ({ id: `${cluster}-w`, cluster })),
    writerPassword: WRITER_PASSWORD,
    proxyEnv: { PROXY_HOLD_CONNECTIONS_PER_CLUSTER: String(HOLD_LIMIT) },
    events: true,
  });
  const { clients, writers } = stack;
  let paused: TestRoute;
  let open: TestRoute;
  const connections: RawConnection[] = [];

  before(async () => {
    await stack.start();
    paused = {
      ...(await stack.newRoute({ password: PASSWORD, writers: [] })),
      name: 'paused-one',
      mode: 'paused',
    };
    open = await stack.newRoute({
      name: 'open-one',
      password: PASSWORD,
      writers: [writers[1] as RunningDataNode],
    });
    await stack.publish(paused, open);
  });

  after(async () => {
    for (const connection of connections) connection.destroy();
    await stack.stop();
  });

  it('holds 100 connections, refuses 900 with TRYAGAIN naming the limit, stays bounded, and serves the other cluster', async () => {
    const running = stack.proxy;
    const rssBefore = running.rssBytes();
    for (let index = 0; index < CONNECTIONS; index++) {
      const connection = await clients.raw(paused.port);
      connections.push(connection);
      connection.send(['AUTH', PASSWORD], ['SET', `held:${index}`, `value-${index}`]);
    }
    // Every connection is logged in; 900 of them have their SET refused, 100 wait.
    await waitUntil('every log-in and every refusal', 30_000, () => {
      const answered = connections.reduce((sum, connection) => sum + connection.replies.length, 0);
      return answered >= CONNECTIONS + (CONNECTIONS - HOLD_LIMIT);
    });
    const cluster = await running.cluster(paused.clusterId);
    assert.equal(cluster?.heldConnections, HOLD_LIMIT);
    assert.equal(cluster?.connections, CONNECTIONS);
    const refused = connections.filter((connection) => connection.replies.length === 2);
    const held = connections.filter((connection) => connection.replies.length === 1);
    assert.equal(refused.length, CONNECTIONS - HOLD_LIMIT);
    assert.equal(held.length, HOLD_LIMIT);
    for (const connection of connections) assert.equal(text(connection.replies[0]), 'OK');
    for (const connection of refused) assert.equal(text(connection.replies[1]), REFUSAL);
    const growth = running.rssBytes() - rssBefore;
    assert.ok(
      growth < RSS_GROWTH_MAX_BYTES,
      `the proxy's RSS grew by ${(growth / 1024 / 1024).toFixed(1)} MiB`,
    );
    console.log(`1,000 connections, 100 held: proxy RSS +${(growth / 1024 / 1024).toFixed(1)} MiB`);

    await stack.events.waitFor(
      'a wake event for the paused cluster',
      (event) => event.type === 'wake' && event.clusterId === paused.clusterId,
    );
    assert.ok(
      (await running.metric('borealis_proxy_hold_refusals_total', { limit: 'connectionsPerCluster' })) >= 900,
    );

    const other = await clients.redis(open.port, { password: PASSWORD });
    assert.equal(await other.set('other:k', 'served'), 'OK');
    assert.equal(await other.get('other:k'), 'served');
    assert.equal(
      held.every((connection) => connection.replies.length === 1),
      true,
      'still held',
    );
  });

  it('answers the 100 held commands once the route opens with a writer', async () => {
    const running = stack.proxy;
    paused = await stack.routes.update(paused, {
      mode: 'open',
      writers: stack.writersOf([writers[0] as RunningDataNode]),
    });
    const held = connections.filter((connection) => connection.replies.length === 1);
    assert.equal(held.length, HOLD_LIMIT);
    await waitUntil('the held commands to be answered', 30_000, () =>
      held.every((connection) => connection.replies.length === 2),
    );
    assert.deepEqual(
      held.map((connection) => text(connection.replies[1] as Reply)),
      held.map(() => 'OK'),
    );
    const check = await clients.redis(paused.port, { password: PASSWORD });
    const index = connections.indexOf(held[0] as RawConnection);
    assert.equal(await check.get(`held:${index}`), `value-${index}`);
    const cluster = await running.cluster(paused.clusterId);
    assert.equal(cluster?.heldConnections, 0);
    assert.equal(cluster?.heldBytes, 0);
  });
});
