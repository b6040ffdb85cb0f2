// Pause and resume through a real proxy (docs/adr/0006, pause): routes published as the control
// plane publishes them, events read from borealis:proxy-events. A `pausing` route is answered
// `quiesced` once nothing is in flight, and the writer connections are closed; a command arriving
// after that is held and wakes the cluster, and is answered once an `open` route with the same
// writers comes; a pausing route that finds commands in flight and a new one held is answered
// `wake`, not `quiesced`; an idle connection stays open from paused to open and answers normally;
// `wake` repeats every second while a command is held; a held command that misses the resume
// deadline gets an error naming it, in order with the others.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { text } from '../support/clients.js';
import type { RunningDataNode } from '../support/data-nodes.js';
import { ProxyStack, type TestRoute } from '../support/proxy.js';
import { waitUntil } from '../support/wait.js';

const PASSWORD = 'pausable password';
const WRITER_PASSWORD = 'pausable writer password';
/** For the one test of the deadline, on a proxy of its own. */
const RESUME_DEADLINE_MS = 1_500;
/** Commands a 0.5 CU writer (1,000 commands/s, 1 s burst) takes a while to run. */
const SLOW_PIPELINE = 2_500;

describe('pause and resume through the proxy', { timeout: 115_000 }, () => {
  const stack = new ProxyStack({
    writers: [
      { id: 'p1', cluster: 'pausable' },
      { id: 'p2', cluster: 'pausable' },
      { id: 'slow', cluster: 'slow', cu: 0.5 },
    ],
    writerPassword: WRITER_PASSWORD,
    events: true,
  });
  const { clients } = stack;
  /** The two writers of the pausable cluster (the third is the slow one). */
  const writers = () => stack.writers.slice(0, 2);
  let route: TestRoute;
  let slow: TestRoute;
  let idle: Redis | undefined;

  const running = () => stack.proxy;
  const eventLog = () => stack.events;
  const publish = async (changes: Partial<TestRoute>) => {
    route = await stack.update(route, changes);
  };
  /** The first event of `type` for `clusterId` after the first `from` events. */
  const nextEvent = (type: string, clusterId: string, from: number, what: string) =>
    eventLog().waitFor(
      what,
      (event) =>
        eventLog().events.indexOf(event) >= from && event.type === type && event.clusterId === clusterId,
    );

  before(async () => {
    await stack.start();
    route = await stack.newRoute({ name: 'pausable', password: PASSWORD, writers: writers() });
    slow = await stack.newRoute({ name: 'slow', password: PASSWORD, writers: stack.writers.slice(2) });
    await stack.publish(route, slow);
  });

  after(() => stack.stop());

  it('answers a pausing route with quiesced once nothing is in flight, and closes its writer connections', async () => {
    idle = await clients.redis(route.port, { password: PASSWORD });
    assert.equal(await idle.set('pause:k', 'before'), 'OK');
    const other = await clients.raw(route.port);
    assert.deepEqual((await other.call(['AUTH', PASSWORD], ['PING'])).map(text), ['OK', 'PONG']);
    const from = eventLog().events.length;
    await publish({ mode: 'pausing' });
    const quiesced = await nextEvent('quiesced', route.clusterId, from, 'quiesced');
    assert.equal(quiesced.version, route.version);
    const cluster = await running().cluster(route.clusterId);
    assert.deepEqual(
      cluster?.writers.map((writer: { sessions: number }) => writer.sessions),
      [0, 0],
      'writer connections closed',
    );
    assert.equal(cluster?.connections, 2, 'client connections stay');
    assert.equal(cluster?.heldConnections, 0);
    assert.deepEqual(eventLog().of(route.clusterId, 'wake'), []);
  });

  it('answers a pausing route for a cluster it had not served yet (a proxy that just started)', async () => {
    const from = eventLog().events.length;
    const fresh = {
      ...(await stack.newRoute({ password: PASSWORD, writers: writers() })),
      mode: 'pausing' as const,
    };
    await stack.routes.publish(fresh);
    const quiesced = await nextEvent('quiesced', fresh.clusterId, from, 'quiesced for the new cluster');
    assert.equal(quiesced.version, fresh.version);
  });

  it('holds a command that arrives after quiesced, wakes the cluster, and answers it once open with the same writers', async () => {
    const from = eventLog().events.length;
    const late = await clients.raw(route.port);
    late.send(['AUTH', PASSWORD], ['GET', 'pause:k']);
    await late.waitForReplies(1);
    await nextEvent('wake', route.clusterId, from, 'wake for the held GET');
    assert.equal((await running().cluster(route.clusterId))?.heldConnections, 1);
    assert.equal(late.replies.length, 1, 'the GET waits');
    await publish({ mode: 'open' });
    await late.waitForReplies(2);
    assert.equal(text(late.replies[1]), 'before');
  });

  it('answers wake, not quiesced, when a command is held before the commands in flight end', async () => {
    const busy = await clients.redis(slow.port, { password: PASSWORD });
    const pipeline = busy.pipeline();
    for (let index = 0; index < SLOW_PIPELINE; index++) pipeline.incr('slow:n');
    const results = pipeline.exec();
    await waitUntil(
      'commands in flight to the slow writer',
      10_000,
      async () => (await running().cluster(slow.clusterId))?.inFlight > 0,
      5,
    );
    const from = eventLog().events.length;
    slow = await stack.update(slow, { mode: 'pausing' });
    const inFlight = (await running().cluster(slow.clusterId))?.inFlight as number;
    assert.ok(inFlight > 0, 'the pausing route found nothing in flight: the case is not exercised');
    const arriving = await clients.raw(slow.port);
    arriving.send(['AUTH', PASSWORD], ['GET', 'slow:n']);
    await arriving.waitForReplies(1);
    await waitUntil(
      'the GET to be held',
      10_000,
      async () => (await running().cluster(slow.clusterId))?.heldConnections >= 1,
    );
    // The decision comes once the commands in flight are answered: a command is held, so wake.
    await nextEvent('wake', slow.clusterId, from, 'the pause answered with wake');
    assert.equal((await running().cluster(slow.clusterId))?.inFlight, 0);
    assert.deepEqual(
      eventLog().of(slow.clusterId, 'quiesced'),
      [],
      'no quiesced for a pause with a held command',
    );
    assert.equal(arriving.replies.length, 1, 'the GET is still held');
    slow = await stack.routes.update(slow, { mode: 'open' });
    await arriving.waitForReplies(2);
    assert.match(text(arriving.replies[1]) ?? '', /^\d+$/);
    const settled = await results;
    assert.equal(settled?.length, SLOW_PIPELINE);
    assert.deepEqual(
      settled?.filter(([error]) => error !== null),
      [],
      'every INCR answered, none refused',
    );
    assert.equal(await busy.get('slow:n'), String(SLOW_PIPELINE));
  });

  it('keeps an idle connection open from pausing through paused to open, where it answers normally', async () => {
    const from = eventLog().events.length;
    await publish({ mode: 'pausing' });
    await nextEvent('quiesced', route.clusterId, from, 'quiesced');
    await publish({ mode: 'paused', writers: [] });
    const cluster = await running().cluster(route.clusterId);
    assert.equal(cluster?.heldConnections, 0, 'idle connections hold nothing');
    assert.ok((cluster?.connections as number) >= 1);
    assert.deepEqual(
      eventLog()
        .of(route.clusterId, 'wake')
        .filter((event) => eventLog().events.indexOf(event) >= from),
      [],
    );
    await publish({ mode: 'open', writers: stack.writersOf([writers()[1] as RunningDataNode]) });
    assert.equal(await idle?.get('pause:k'), 'before');
    assert.equal(await idle?.set('pause:k', 'after'), 'OK');
  });

  it('holds a command while paused, repeating wake every second, and answers it once writers appear', async () => {
    await publish({ mode: 'paused', writers: [] });
    const from = eventLog().events.length;
    const held = await clients.raw(route.port);
    held.send(['AUTH', PASSWORD], ['INCR', 'pause:counter']);
    await held.waitForReplies(1);
    await waitUntil(
      'two wake events',
      5_000,
      () =>
        eventLog()
          .of(route.clusterId, 'wake')
          .filter((event) => eventLog().events.indexOf(event) >= from).length >= 2,
    );
    assert.equal(held.replies.length, 1);
    await publish({ mode: 'open', writers: stack.writersOf(writers()) });
    await held.waitForReplies(2);
    assert.equal(text(held.replies[1]), '1');
  });

  it('answers held commands that miss the resume deadline with an error naming it, in order', async () => {
    // A proxy with a short deadline, over a Redis of its own (proxies sharing one serve each other's routes).
    const own = new ProxyStack({
      writers: [],
      proxyEnv: { PROXY_RESUME_DEADLINE_MS: String(RESUME_DEADLINE_MS) },
    });
    try {
      await own.start();
      const hurried = own.proxy;
      const paused = {
        ...route,
        port: (await own.newRoute({ password: PASSWORD, writers: [] })).port,
        mode: 'paused' as const,
        writers: [],
      };
      await own.publish(paused);
      const held = await clients.raw(paused.port);
      held.send(['AUTH', PASSWORD], ['GET', 'a'], ['SET', 'b', '1'], ['PING']);
      await held.waitForReplies(4, 15_000);
      const late = `TRYAGAIN cluster pausable did not resume within ${RESUME_DEADLINE_MS / 1000} s; retry`;
      assert.deepEqual(held.replies.map(text), ['OK', late, late, late]);
      assert.equal(await hurried.metric('borealis_proxy_resume_deadline_misses_total'), 3);
      assert.equal((await hurried.cluster(paused.clusterId))?.heldConnections, 0);
      await own.update(paused, { mode: 'open', writers: stack.writersOf(writers()) });
      assert.deepEqual(
        (await held.call(['GET', 'pause:k'])).map(text),
        ['after'],
        'the connection serves on',
      );
    } finally {
      await own.stop();
    }
  });
});
