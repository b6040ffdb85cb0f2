// A real data node (six storage-node processes behind it) fed 10,000 seeded random and
// malformed RESP frames over raw sockets: valid commands with random arguments, wrong arity,
// unknown commands, random bytes, bad and huge multibulk and bulk lengths, missing CRLFs,
// inline commands with unbalanced quotes, over-long lines, odd type bytes, truncated frames.
// Every request the node can read must get exactly one reply (the right error for unknown
// commands and wrong arity, never an internal error), a protocol error must come after the
// replies to the requests before it and close that connection only, and no connection may get
// anything more. Meanwhile a well-behaved ioredis client INCRs a counter and must see every
// value in order. Then: a 2 GiB bulk announcement is refused without allocating, and a client
// that pipelines 100k PINGs without reading its replies stops being read, the node's memory
// stays bounded, and the replies all arrive, in order, once it reads again.
//
// What the node makes of a byte stream is what a Redis 7 server makes of it; the expectation
// for each connection comes from the same request parser fed the same bytes, cross-checked
// against what the generator meant each frame to be. Frames with no request in them (`*0`,
// `*-1`, blank lines) get no reply, as from Redis.
//
// FUZZ_SEED=<n> replays a run; FUZZ_SEED=random picks a seed and prints it.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ParseError, ReplyParser } from '../../libs/resp/src/index.js';
import { RawConnection } from '../support/clients.js';
import { type RunningDataNode, startDataNode } from '../support/data-nodes.js';
import { seedFromEnvironment, sleep } from '../support/prng.js';
import {
  BackPressuredWriter,
  CLOSE_TIMEOUT_MS,
  CounterProbe,
  fuzzAndCheck,
  PROBE_KEY,
  pausedSocket,
  pingStream,
  showReply,
} from '../support/resp-fuzz.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';
import { waitUntil } from '../support/wait.js';

const SEED = seedFromEnvironment('FUZZ_SEED', 20261122);
const MiB = 1024 * 1024;

/** The process's resident set size; 0 without /proc (Linux only), which leaves RSS bounds unchecked. */
function rssBytes(pid: number): number {
  if (!existsSync(`/proc/${pid}/status`)) return 0;
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

describe('data node fed malformed and random RESP', { timeout: 120_000 }, () => {
  let fleet: StorageFleet | undefined;
  let node: RunningDataNode | undefined;
  let redis: Redis | undefined;
  let probe: CounterProbe | undefined;
  let probeClosed = 0;
  let nodeExit: string | null = null;
  const connections: RawConnection[] = [];
  const sockets: Socket[] = [];

  const running = (): RunningDataNode => {
    assert.ok(node, 'the data node did not start');
    return node;
  };
  const assertAlive = () => {
    const child = running().process.child;
    assert.equal(
      nodeExit,
      null,
      `the data node exited (${nodeExit}); output:\n${running().process.output()}`,
    );
    assert.equal(child.exitCode, null);
  };

  before(async () => {
    console.log(`data-node bad-input fuzz seed ${SEED} (FUZZ_SEED=${SEED} replays it)`);
    assert.ok(Number.isInteger(SEED), 'FUZZ_SEED must be an integer or "random"');
    fleet = await startStorageFleet();
    node = await startDataNode({
      id: 'fuzz',
      storage: fleet.nodes,
      coordinatorId: 7,
      cluster: `bad-input-${process.pid}`,
      cu: 8,
    });
    node.process.child.once('exit', (code, signal) => {
      nodeExit = String(code ?? signal);
    });
    redis = new Redis({
      host: '127.0.0.1',
      port: node.respPort,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 15_000,
      retryStrategy: () => null,
    });
    redis.on('error', () => undefined);
    redis.on('close', () => {
      probeClosed++;
    });
    await waitUntil('the ioredis client to connect', 10_000, () => redis?.status === 'ready');
    probe = new CounterProbe(redis);
  });

  after(async () => {
    await probe?.stop();
    for (const connection of connections) connection.destroy();
    for (const socket of sockets) socket.destroy();
    redis?.disconnect();
    await node?.stop();
    await fleet?.stop();
  });

  it('answers 10,000 random and malformed frames, each connection on its own', async () => {
    await fuzzAndCheck({
      label: 'fuzz',
      seed: SEED,
      port: running().respPort,
      login: null,
      probe,
      assertAlive,
    });
  });

  it('refuses a 2 GiB bulk announcement at once, and waits for an announced 64 MiB without allocating it', async () => {
    const { respPort, process: child } = running();
    const pid = child.child.pid as number;
    const rssBefore = rssBytes(pid);

    const huge = await RawConnection.open(respPort);
    connections.push(huge);
    huge.socket.write('*3\r\n$3\r\nSET\r\n$6\r\nfz:big\r\n$2147483648\r\n');
    huge.socket.write(Buffer.alloc(64 * 1024, 0x61));
    assert.ok(await huge.until(() => huge.closed, CLOSE_TIMEOUT_MS), 'the node kept the connection open');
    assert.deepEqual(huge.replies, [{ kind: 'error', message: 'ERR Protocol error: invalid bulk length' }]);

    // Within the 64 MiB bound the node waits for the bytes, holding only those that arrive.
    const large = await RawConnection.open(respPort);
    connections.push(large);
    large.socket.write('*3\r\n$3\r\nSET\r\n$6\r\nfz:big\r\n$67108864\r\n');
    large.socket.write(Buffer.alloc(64 * 1024, 0x62));
    await sleep(500);
    assert.equal(large.closed, false);
    assert.deepEqual(large.replies, []);
    const rssGrowth = rssBytes(pid) - rssBefore;
    assert.ok(rssGrowth < 32 * MiB, `the node's RSS grew by ${(rssGrowth / MiB).toFixed(1)} MiB`);
    large.end();
    assert.ok(await large.until(() => large.closed, CLOSE_TIMEOUT_MS));
    assert.deepEqual(large.replies, [], 'a request cut short must get no reply');
    assertAlive();
    assert.equal((await running().health()).status, 'ok');
  });

  it('stops reading a client that pipelines 100k PINGs without reading; the replies all arrive later', async () => {
    const { respPort, process: child } = running();
    const pid = child.child.pid as number;
    const COUNT = 100_000;
    const PAYLOAD = 1_024;
    // PING <payload>: 1 KiB replies, 100 MiB in all, well past the node's 16 MiB reply backlog.
    const stream = pingStream(COUNT, PAYLOAD);
    const rssBefore = rssBytes(pid);
    const socket = await pausedSocket(respPort);
    sockets.push(socket);
    const writer = new BackPressuredWriter(socket, stream);

    // The node reads until its unsent replies pass its bound, then no more: what it has taken
    // stops growing while most of the stream is still on our side.
    let previous = -1;
    let rssPeak = 0;
    await waitUntil('the node to stop reading the pipelining client', 15_000, async () => {
      await sleep(400);
      rssPeak = Math.max(rssPeak, rssBytes(pid));
      const settled = writer.handedOver === previous;
      previous = writer.handedOver;
      return settled;
    });
    const incrsBefore = probe?.replies ?? 0;
    for (let sample = 0; sample < 3; sample++) {
      await sleep(300);
      rssPeak = Math.max(rssPeak, rssBytes(pid));
    }
    assert.equal(writer.handedOver, previous, 'the node kept reading');
    assert.ok(
      writer.handedOver < stream.length * 0.6,
      `${(writer.handedOver / MiB).toFixed(1)} of ${(stream.length / MiB).toFixed(1)} MiB taken without any reply being read`,
    );
    const growth = rssPeak - rssBefore;
    assert.ok(growth < 64 * MiB, `the node's RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    assert.ok((probe?.replies ?? 0) > incrsBefore, 'the other client was not served meanwhile');
    assert.equal(await redis?.ping(), 'PONG');
    console.log(
      `pipelining client: ${(writer.handedOver / MiB).toFixed(1)} of ${(stream.length / MiB).toFixed(1)} MiB taken before the node stopped reading, RSS +${(growth / MiB).toFixed(1)} MiB`,
    );

    // Reading again: every reply arrives, in order.
    const parser = new ReplyParser();
    let received = 0;
    let problem: string | null = null;
    socket.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      for (;;) {
        const reply = parser.next();
        if (reply === null) break;
        const wanted = String(received).padStart(10, '0');
        if (reply instanceof ParseError || reply.kind !== 'bulk' || reply.value.length !== PAYLOAD) {
          problem ??= `reply ${received}: ${reply instanceof ParseError ? reply.message : showReply(reply)}`;
        } else if (reply.value.toString('latin1', 0, 10) !== wanted) {
          problem ??= `reply ${received} is for PING ${reply.value.toString('latin1', 0, 10)}`;
        }
        received++;
      }
    });
    socket.resume();
    await waitUntil('all 100k PING replies', 30_000, () => received >= COUNT || problem !== null, 50);
    await writer.stop();
    socket.destroy();
    assert.equal(problem, null);
    assert.equal(received, COUNT);
    assertAlive();
  });

  it('is still healthy and has kept answering the well-behaved client correctly', async () => {
    assertAlive();
    await probe?.stop();
    assert.deepEqual(probe?.problems, []);
    assert.ok((probe?.replies ?? 0) >= 20, `only ${probe?.replies} INCRs answered`);
    assert.equal(await redis?.get(PROBE_KEY), String(probe?.last));
    assert.equal(probeClosed, 0, 'the well-behaved client was disconnected');
    assert.ok(
      (probe?.maxGapMs ?? 0) < 10_000,
      `the well-behaved client waited ${probe?.maxGapMs} ms for a reply`,
    );
    // Every fuzz connection is gone: only the ioredis client is left.
    await waitUntil(
      'the fuzz connections to be closed',
      10_000,
      async () => (await running().health()).connections === 1,
    );
    const health = await running().health();
    assert.equal(health.status, 'ok');
    assert.equal(health.state, 'attached');
    assert.equal(health.storageNodesConnected, 6);
    console.log(`well-behaved client: ${probe?.replies} INCRs, longest wait ${probe?.maxGapMs} ms`);
  });
});
