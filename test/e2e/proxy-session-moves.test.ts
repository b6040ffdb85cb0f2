// A route that drops a writer (a drain, a scale-in) through a real proxy: every session on that
// writer moves to the others at a command boundary, with no failed command: idle ones, busy ones
// (a loop of INCRs, a loop of pipelines), one inside MULTI (its queued commands run at EXEC on
// the new writer), one with a doomed MULTI (EXEC still answers EXECABORT), one with a read
// consistency and RESP3 (kept). A session holding a WATCH stays on the dropped writer until its
// transaction ends, so its EXEC runs where the keys are watched (and still answers null when one
// of them changed); one that keeps its WATCH past the bound moves anyway, and its EXEC answers null
// (`*-1` in RESP2, `_` in RESP3). Then `released` is published for the dropped writer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { type RawConnection, text } from '../support/clients.js';
import type { RunningDataNode } from '../support/data-nodes.js';
import { ProxyStack, type TestRoute } from '../support/proxy.js';
import { waitUntil } from '../support/wait.js';

const PASSWORD = 'moving password';
const WRITER_PASSWORD = 'moving writer password';
const IDLE_SESSIONS = 5;
const LOOPING_SESSIONS = 4;

/** A client that INCRs its own counter in a loop (or in pipelines of 20) until stopped. */
class Looper {
  done = 0;
  readonly errors: string[] = [];
  private running = true;
  private readonly finished: Promise<void>;

  constructor(
    private readonly client: Redis,
    readonly key: string,
    private readonly pipelined: boolean,
  ) {
    this.finished = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        if (this.pipelined) {
          const pipeline = this.client.pipeline();
          for (let index = 0; index < 20; index++) pipeline.incr(this.key);
          const results = (await pipeline.exec()) ?? [];
          for (const [error] of results) {
            if (error === null) this.done++;
            else this.errors.push(error.message);
          }
        } else {
          await this.client.incr(this.key);
          this.done++;
        }
      } catch (cause) {
        this.errors.push((cause as Error).message);
        if (this.errors.length > 10) return;
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.finished;
  }
}

describe('sessions moving off a writer the route drops', { timeout: 100_000 }, () => {
  const stack = new ProxyStack({
    writers: ['m1', 'm2', 'm3'].map((id) => ({ id, cluster: 'moving' })),
    writerPassword: WRITER_PASSWORD,
    events: true,
  });
  const { clients, writers } = stack;
  let route: TestRoute;
  const idle: Redis[] = [];
  const loopers: Looper[] = [];
  let inMulti: RawConnection;
  let doomed: RawConnection;
  let resp3: RawConnection;
  let watching2: RawConnection;
  let watching3: RawConnection;
  let finishing: RawConnection;
  let conflicting: RawConnection;

  const running = () => stack.proxy;

  before(async () => {
    await stack.start();
    // Every session starts on the first writer: the route has only it.
    route = await stack.newRoute({ password: PASSWORD, writers: writers.slice(0, 1) });
    await stack.publish(route);
  });

  after(async () => {
    for (const looper of loopers) await looper.stop();
    await stack.stop();
  });

  it('opens sessions of every kind on the first writer', async () => {
    for (let index = 0; index < IDLE_SESSIONS; index++) {
      const client = await clients.redis(route.port, { password: PASSWORD });
      assert.equal(await client.set(`idle:${index}`, 'v'), 'OK');
      idle.push(client);
    }
    for (let index = 0; index < LOOPING_SESSIONS; index++) {
      const client = await clients.redis(route.port, { password: PASSWORD });
      loopers.push(new Looper(client, `loop:${index}`, index % 2 === 1));
    }
    inMulti = await clients.raw(route.port);
    assert.deepEqual(
      (
        await inMulti.call(
          ['AUTH', PASSWORD],
          ['SET', 'tx:n', '10'],
          ['MULTI'],
          ['SET', 'tx:s', 'moved'],
          ['INCR', 'tx:n'],
        )
      ).map(text),
      ['OK', 'OK', 'OK', 'QUEUED', 'QUEUED'],
    );
    doomed = await clients.raw(route.port);
    assert.deepEqual(
      (await doomed.call(['AUTH', PASSWORD], ['MULTI'], ['SET', 'doomed:k', 'v'], ['NOSUCH'])).map(
        (reply) => reply.kind,
      ),
      ['simple', 'simple', 'simple', 'error'],
    );
    resp3 = await clients.raw(route.port);
    const [hello] = await resp3.call(['HELLO', '3', 'AUTH', 'default', PASSWORD]);
    assert.equal(hello?.kind, 'map');
    assert.deepEqual((await resp3.call(['BOREALIS', 'CONSISTENCY', 'CLUSTER'])).map(text), ['OK']);
    watching2 = await clients.raw(route.port);
    assert.deepEqual((await watching2.call(['AUTH', PASSWORD], ['WATCH', 'watched:2'])).map(text), [
      'OK',
      'OK',
    ]);
    watching3 = await clients.raw(route.port);
    await watching3.call(['HELLO', '3', 'AUTH', 'default', PASSWORD]);
    assert.deepEqual((await watching3.call(['WATCH', 'watched:3'])).map(text), ['OK']);
    finishing = await clients.raw(route.port);
    assert.deepEqual((await finishing.call(['AUTH', PASSWORD], ['WATCH', 'finishing'])).map(text), [
      'OK',
      'OK',
    ]);
    conflicting = await clients.raw(route.port);
    assert.deepEqual((await conflicting.call(['AUTH', PASSWORD], ['WATCH', 'conflicting'])).map(text), [
      'OK',
      'OK',
    ]);
    await waitUntil('the loopers to get going', 10_000, () => loopers.every((looper) => looper.done > 5));
    const cluster = await running().cluster(route.clusterId);
    const sessions = IDLE_SESSIONS + LOOPING_SESSIONS + 7;
    assert.deepEqual(cluster?.writers, [{ id: 'm1', sessions }]);
  });

  it('moves every session off a dropped writer at a command boundary, with no failed command, then says released', async () => {
    // Adding writers spreads the sessions outside a transaction over them; dropping m1 moves the
    // rest. Either way every session moves once.
    const movedBefore = await running().metric('borealis_proxy_sessions_moved_total');
    route = await stack.update(route, { writers: stack.writersOf() });
    route = await stack.routes.update(route, { writers: stack.writersOf(writers.slice(1)) });
    const releasedEvent = stack.events.waitFor(
      'released for the dropped writer',
      (event) => event.type === 'released' && event.writerId === 'm1',
      20_000,
    );
    // Sessions holding a WATCH finish their transaction on m1, where their keys are watched.
    await waitUntil('the proxy to have the new route', 10_000, async () => {
      const writerIds = (await running().cluster(route.clusterId))?.writers.map(
        (writer: { id: string }) => writer.id,
      );
      return writerIds?.includes('m2') === true;
    });
    assert.deepEqual(
      (await finishing.call(['MULTI'], ['SET', 'finishing', 'done'], ['EXEC'])).map((reply) =>
        reply.kind === 'array' ? reply.items.map(text) : text(reply),
      ),
      ['OK', 'QUEUED', ['OK']],
    );
    assert.equal(await (idle[0] as Redis).set('conflicting', 'changed'), 'OK');
    assert.deepEqual(
      (await conflicting.call(['MULTI'], ['SET', 'conflicting', 'mine'], ['EXEC'])).map(
        (reply) => reply.kind,
      ),
      ['simple', 'simple', 'nullArray'],
      'a watched key that changed still fails the EXEC',
    );
    assert.equal(await (idle[0] as Redis).get('conflicting'), 'changed');
    const released = await releasedEvent;
    assert.equal(released.version, route.version);
    assert.equal(released.clusterId, route.clusterId);
    // Idle sessions moved at once, busy ones at their next boundary: none uses m1 any more.
    const cluster = await running().cluster(route.clusterId);
    assert.deepEqual(
      cluster?.writers.map((writer: { id: string }) => writer.id),
      ['m2', 'm3'],
    );
    assert.ok(
      (await running().metric('borealis_proxy_sessions_moved_total')) - movedBefore >=
        IDLE_SESSIONS + LOOPING_SESSIONS + 7,
    );
    await waitUntil('the dropped writer to have no connection left', 5_000, async () => {
      return (await (writers[0] as RunningDataNode).health()).connections === 0;
    });
    const doneAtRelease = loopers.map((looper) => looper.done);
    await waitUntil('the loopers to go on on the other writers', 10_000, () =>
      loopers.every((looper, index) => looper.done > (doneAtRelease[index] as number) + 5),
    );
    for (const looper of loopers) await looper.stop();
    assert.deepEqual(
      loopers.flatMap((looper) => looper.errors),
      [],
    );
    const check = idle[0] as Redis;
    for (const looper of loopers)
      assert.equal(
        await check.get(looper.key),
        String(looper.done),
        `${looper.key}: every INCR counted once`,
      );
    for (let index = 0; index < IDLE_SESSIONS; index++)
      assert.equal(await (idle[index] as Redis).get(`idle:${index}`), 'v');
  });

  it('runs the moved MULTI queue at EXEC, and keeps a doomed one doomed', async () => {
    assert.deepEqual(
      (await inMulti.call(['EXEC'], ['GET', 'tx:s'])).map((reply) =>
        reply.kind === 'array' ? reply.items.map(text) : text(reply),
      ),
      [['OK', '11'], 'moved'],
    );
    const [exec] = await doomed.call(['EXEC']);
    assert.equal(text(exec), 'EXECABORT Transaction discarded because of previous errors.');
    assert.equal(await (idle[0] as Redis).get('doomed:k'), null);
  });

  it('keeps RESP3 and the read consistency of a moved session', async () => {
    const replies = await resp3.call(
      ['BOREALIS', 'CONSISTENCY'],
      ['HSET', 'r3:h', 'a', '1'],
      ['HGETALL', 'r3:h'],
    );
    assert.deepEqual(
      replies.map((reply) => reply.kind),
      ['bulk', 'integer', 'map'],
    );
    assert.equal(text(replies[0]), 'cluster');
  });

  it('answers EXEC null for a session that held its WATCH on the dropped writer past the bound, in RESP2 and RESP3', async () => {
    const resp2Replies = await watching2.call(['MULTI'], ['SET', 'watched:2', 'x'], ['EXEC']);
    assert.deepEqual(
      resp2Replies.map((reply) => reply.kind),
      ['simple', 'simple', 'nullArray'],
    );
    const resp3Replies = await watching3.call(['MULTI'], ['SET', 'watched:3', 'x'], ['EXEC']);
    assert.deepEqual(
      resp3Replies.map((reply) => reply.kind),
      ['simple', 'simple', 'null'],
    );
    assert.equal(await (idle[0] as Redis).get('watched:2'), null, 'the null EXEC ran nothing');
    // The next transaction of the same session runs normally.
    assert.deepEqual(
      (await watching2.call(['WATCH', 'watched:2'], ['MULTI'], ['SET', 'watched:2', 'y'], ['EXEC'])).map(
        (reply) => reply.kind,
      ),
      ['simple', 'simple', 'simple', 'array'],
    );
    assert.equal(await (idle[0] as Redis).get('watched:2'), 'y');
  });
});
