// An idle session gives its writer connection back: a real proxy with PROXY_IDLE_LINK_CLOSE_MS
// set low closes the link of a session that sent nothing for that long, and the session's next
// command opens another, with the session's settings (name, protocol, read consistency) handed
// over again. A session holding a WATCH or inside MULTI keeps its link: the writer holds what a
// new link could not be given.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RawConnection, text } from '../support/clients.js';
import type { RunningDataNode } from '../support/data-nodes.js';
import { ProxyStack, type TestRoute } from '../support/proxy.js';
import { waitUntil } from '../support/wait.js';

const PASSWORD = 'idle password';
const IDLE_LINK_CLOSE_MS = 300;

describe('idle sessions and their writer connections', { timeout: 60_000 }, () => {
  const stack = new ProxyStack({
    writers: [{ id: 'i1', cluster: 'idle' }],
    writerPassword: 'idle writer password',
    proxyEnv: { PROXY_IDLE_LINK_CLOSE_MS: String(IDLE_LINK_CLOSE_MS) },
  });
  let route: TestRoute;
  let writer: RunningDataNode;

  const writerConnections = async () => Number((await writer.health()).connections);

  before(async () => {
    await stack.start();
    writer = stack.writers[0] as RunningDataNode;
    route = await stack.newRoute({ password: PASSWORD });
    await stack.publish(route);
  });

  after(() => stack.stop());

  it('closes the link of a session idle past the bound, and reopens it with the session kept', async () => {
    const session = await stack.clients.raw(route.port);
    const [hello] = await session.call(['HELLO', '3', 'AUTH', 'default', PASSWORD, 'SETNAME', 'idler']);
    assert.equal(hello?.kind, 'map');
    assert.deepEqual(
      (await session.call(['BOREALIS', 'CONSISTENCY', 'CLUSTER'], ['SET', 'idle:k', 'v'])).map(text),
      ['OK', 'OK'],
    );
    assert.equal(await writerConnections(), 1);
    await waitUntil('the idle link to be closed', 10_000, async () => (await writerConnections()) === 0);
    const replies = await session.call(
      ['GET', 'idle:k'],
      ['CLIENT', 'GETNAME'],
      ['BOREALIS', 'CONSISTENCY'],
      ['HSET', 'idle:h', 'f', '1'],
      ['HGETALL', 'idle:h'],
    );
    assert.deepEqual(replies.slice(0, 3).map(text), ['v', 'idler', 'cluster']);
    assert.deepEqual(
      replies.slice(3).map((reply) => reply.kind),
      ['integer', 'map'],
      'RESP3 is kept on the new link',
    );
    assert.equal(await writerConnections(), 1);
  });

  it('keeps the link of a session holding a WATCH or inside MULTI', async () => {
    const watching: RawConnection = await stack.clients.raw(route.port);
    assert.deepEqual((await watching.call(['AUTH', PASSWORD], ['WATCH', 'idle:w'])).map(text), ['OK', 'OK']);
    const queuing: RawConnection = await stack.clients.raw(route.port);
    assert.deepEqual((await queuing.call(['AUTH', PASSWORD], ['MULTI'], ['INCR', 'idle:n'])).map(text), [
      'OK',
      'OK',
      'QUEUED',
    ]);
    // Opened last, so idle for the shortest time: once its link is closed, the others' would be too.
    const idle: RawConnection = await stack.clients.raw(route.port);
    assert.deepEqual((await idle.call(['AUTH', PASSWORD], ['PING'])).map(text), ['OK', 'PONG']);
    await waitUntil('the idle session alone to lose its link', 10_000, async () => {
      const connections = await writerConnections();
      assert.ok(connections >= 2, `the WATCH and MULTI sessions keep their links (${connections} left)`);
      return connections === 2;
    });
    const [exec] = await watching
      .call(['MULTI'], ['SET', 'idle:w', 'mine'], ['EXEC'])
      .then((all) => all.slice(2));
    assert.equal(exec?.kind, 'array', 'the WATCH held: EXEC ran');
    const [queuedExec] = await queuing.call(['EXEC']);
    assert.deepEqual(queuedExec?.kind === 'array' ? queuedExec.items.map(text) : null, ['1']);
    assert.equal(text((await idle.call(['GET', 'idle:w']))[0]), 'mine');
  });
});
