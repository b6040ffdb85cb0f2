// The data node's 10,000-frame RESP fuzz (test/support/resp-fuzz.ts), through a real proxy
// process to a real data node: once on connections that never log in (the proxy answers
// everything itself: NOAUTH, Redis's errors for unknown commands and wrong arity, protocol errors)
// and once on connections that log in first (the frames reach the writer). Every request the proxy
// can read gets exactly one reply, in order; a protocol error comes after the replies before it
// and closes that connection only. Meanwhile a well-behaved ioredis client through the proxy
// INCRs a counter and must see every value in order. Then: a 2 GiB bulk announcement is refused
// at once; an announced 64 MiB is waited for without being allocated; a client pipelining 100k
// PINGs without reading stops being read (the proxy's memory stays bounded) and gets every reply,
// in order, once it reads.
//
// FUZZ_SEED=<n> replays a run; FUZZ_SEED=random picks a seed and prints it.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { encodeRequest } from '../../apps/proxy/src/resp/request-bytes.js';
import { ParseError, ReplyParser } from '../../libs/resp/src/index.js';
import { RawConnection } from '../support/clients.js';
import { seedFromEnvironment, sleep } from '../support/prng.js';
import { ProxyStack, type TestRoute } from '../support/proxy.js';
import {
  BackPressuredWriter,
  CLOSE_TIMEOUT_MS,
  CounterProbe,
  fuzzAndCheck,
  PROBE_KEY,
  pausedSocket,
  pingStream,
} from '../support/resp-fuzz.js';
import { waitUntil } from '../support/wait.js';

const SEED = seedFromEnvironment('FUZZ_SEED', 20261206);
const PASSWORD = 'fuzz endpoint password';
const WRITER_PASSWORD = 'fuzz writer password';
const MiB = 1024 * 1024;

describe('proxy fed malformed and random RESP', { timeout: 115_000 }, () => {
  const stack = new ProxyStack({
    writers: [{ id: 'fuzz', cluster: `proxy-bad-input-${process.pid}`, cu: 8 }],
    writerPassword: WRITER_PASSWORD,
  });
  const { clients } = stack;
  let route: TestRoute;
  let redis: Redis | undefined;
  let probe: CounterProbe | undefined;
  let probeErrors = 0;
  let proxyExit: string | null = null;
  const connections: RawConnection[] = [];
  const sockets: Socket[] = [];

  const running = () => stack.proxy;
  const assertAlive = () => {
    assert.equal(proxyExit, null, `the proxy exited (${proxyExit}); output:\n${running().process.output()}`);
  };

  const fuzz = (seed: number, login: Buffer | null) =>
    fuzzAndCheck({
      label: `fuzz (${login === null ? 'not logged in' : 'logged in'})`,
      seed,
      port: route.port,
      login,
      probe,
      assertAlive,
    });

  before(async () => {
    console.log(`proxy bad-input fuzz seed ${SEED} (FUZZ_SEED=${SEED} replays it)`);
    await stack.start();
    stack.proxy.process.child.once('exit', (code, signal) => {
      proxyExit = String(code ?? signal);
    });
    route = await stack.newRoute({ password: PASSWORD });
    await stack.publish(route);
    redis = await clients.redis(route.port, { password: PASSWORD }, () => {
      probeErrors++;
    });
    probe = new CounterProbe(redis);
  });

  after(async () => {
    await probe?.stop();
    for (const connection of connections) connection.destroy();
    for (const socket of sockets) socket.destroy();
    await stack.stop();
  });

  it('answers 10,000 random and malformed frames on connections that never log in', async () => {
    await fuzz(SEED, null);
  });

  it('answers 10,000 more on connections that log in first, through to the writer', async () => {
    await fuzz(SEED + 1, encodeRequest(['AUTH', PASSWORD]));
  });

  it('refuses a 2 GiB bulk announcement at once, and waits for an announced 64 MiB without allocating it', async () => {
    const rssBefore = running().rssBytes();
    const huge = await RawConnection.open(route.port);
    connections.push(huge);
    huge.socket.write('*3\r\n$3\r\nSET\r\n$6\r\nfz:big\r\n$2147483648\r\n');
    huge.socket.write(Buffer.alloc(64 * 1024, 0x61));
    assert.ok(await huge.until(() => huge.closed, CLOSE_TIMEOUT_MS), 'the proxy kept the connection open');
    assert.deepEqual(huge.replies, [{ kind: 'error', message: 'ERR Protocol error: invalid bulk length' }]);

    const large = await RawConnection.open(route.port);
    connections.push(large);
    large.socket.write(encodeRequest(['AUTH', PASSWORD]));
    large.socket.write('*3\r\n$3\r\nSET\r\n$6\r\nfz:big\r\n$67108864\r\n');
    large.socket.write(Buffer.alloc(64 * 1024, 0x62));
    assert.ok(await large.until(() => large.replies.length === 1, CLOSE_TIMEOUT_MS));
    await sleep(500);
    assert.equal(large.closed, false);
    const growth = running().rssBytes() - rssBefore;
    assert.ok(growth < 32 * MiB, `the proxy's RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    large.end();
    assert.ok(await large.until(() => large.closed, CLOSE_TIMEOUT_MS));
    assert.equal(large.replies.length, 1, 'a request cut short must get no reply');
    assertAlive();
  });

  it('stops reading a client that pipelines 100k PINGs without reading; the replies all arrive later', async () => {
    const COUNT = 100_000;
    const PAYLOAD = 1_024;
    // PING <payload>: 1 KiB replies, 100 MiB in all, well past the proxy's and the writer's bounds.
    const stream = pingStream(COUNT, PAYLOAD, encodeRequest(['AUTH', PASSWORD]));
    const rssBefore = running().rssBytes();
    const socket = await pausedSocket(route.port);
    sockets.push(socket);
    const writer = new BackPressuredWriter(socket, stream);

    let previous = -1;
    let rssPeak = 0;
    await waitUntil('the proxy to stop reading the pipelining client', 30_000, async () => {
      await sleep(400);
      rssPeak = Math.max(rssPeak, running().rssBytes());
      const settled = writer.handedOver === previous;
      previous = writer.handedOver;
      return settled;
    });
    const incrsBefore = probe?.replies ?? 0;
    for (let sample = 0; sample < 3; sample++) {
      await sleep(300);
      rssPeak = Math.max(rssPeak, running().rssBytes());
    }
    assert.equal(writer.handedOver, previous, 'the proxy kept reading');
    assert.ok(
      writer.handedOver < stream.length * 0.6,
      `${(writer.handedOver / MiB).toFixed(1)} of ${(stream.length / MiB).toFixed(1)} MiB taken without any reply being read`,
    );
    const growth = rssPeak - rssBefore;
    assert.ok(growth < 96 * MiB, `the proxy's RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    assert.ok((probe?.replies ?? 0) > incrsBefore, 'the other client was not served meanwhile');
    console.log(
      `pipelining client: ${(writer.handedOver / MiB).toFixed(1)} of ${(stream.length / MiB).toFixed(1)} MiB taken before the proxy stopped reading, proxy RSS +${(growth / MiB).toFixed(1)} MiB`,
    );

    const parser = new ReplyParser();
    let received = 0;
    let problem: string | null = null;
    socket.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      for (let reply = parser.next(); reply !== null; reply = parser.next()) {
        if (received === 0) {
          if (reply instanceof ParseError || reply.kind !== 'simple') problem ??= 'the log-in failed';
          received++;
          continue;
        }
        const wanted = String(received - 1).padStart(10, '0');
        if (reply instanceof ParseError || reply.kind !== 'bulk' || reply.value.length !== PAYLOAD) {
          problem ??= `reply ${received}: ${reply instanceof ParseError ? reply.message : reply.kind}`;
        } else if (reply.value.toString('latin1', 0, 10) !== wanted) {
          problem ??= `reply ${received} is for PING ${reply.value.toString('latin1', 0, 10)}`;
        }
        received++;
      }
    });
    socket.resume();
    await waitUntil('all 100k PING replies', 60_000, () => received > COUNT || problem !== null, 50);
    await writer.stop();
    socket.destroy();
    assert.equal(problem, null);
    assert.equal(received, COUNT + 1);
    assertAlive();
  });

  it('is still healthy and has kept answering the well-behaved client correctly', async () => {
    assertAlive();
    await probe?.stop();
    assert.deepEqual(probe?.problems, []);
    assert.equal(await redis?.get(PROBE_KEY), String(probe?.last));
    assert.equal(probeErrors, 0, 'the well-behaved client saw a connection error');
    await waitUntil(
      'the fuzz connections to be closed',
      10_000,
      async () => (await running().cluster(route.clusterId))?.connections === 1,
    );
    const health = await running().health();
    assert.equal(health.status, 'ok');
    assert.deepEqual(health.held, { connections: 0, bytes: 0 });
    console.log(`well-behaved client: ${probe?.replies} INCRs, longest wait ${probe?.maxGapMs} ms`);
  });
});
