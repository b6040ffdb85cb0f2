// A storage node fed garbage, oversize frames and well-framed messages of the wrong shape drops
// them (closing only the offending connection when the framing itself is broken) and keeps
// serving everyone else.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { encodeFrame } from '../../libs/wire/src/frames.js';
import { OutboundLink } from '../../libs/wire/src/outbound-link.js';
import { mulberry32, seedFromEnvironment } from '../support/prng.js';
import { freePort } from '../support/processes.js';
import { startLoneStorageNode } from '../support/storage-fleet.js';
import { waitUntil } from '../support/wait.js';

const VOLUME = 'bad-input';
// As in the REST fuzz test: FUZZ_SEED=<n> replays a run, FUZZ_SEED=random tries a new one.
const SEED = seedFromEnvironment('FUZZ_SEED', 20261122);
const dataDir = await mkdtemp(join(tmpdir(), 'borealis-bad-input-'));
after(() => rm(dataDir, { recursive: true, force: true }));

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
    // The node opens with its challenge; read and dropped, so that a close by the node is seen.
    socket.resume();
  });
}

function closed(socket: Socket, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(true);
    const timer = setTimeout(() => resolve(false), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Values of every msgpack kind, nested a little: what a confused or hostile peer might send. */
function randomValue(random: () => number, depth = 0): unknown {
  const kind = Math.floor(random() * (depth > 2 ? 6 : 8));
  switch (kind) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return Math.floor((random() - 0.5) * 2 ** 40);
    case 3:
      return ['propose', 'accept', 'prepare', 'decided', 'read', 'vote', 'syncReply', 'decisionAck', 'x'][
        Math.floor(random() * 9)
      ];
    case 4:
      return Buffer.alloc(Math.floor(random() * 40), Math.floor(random() * 256));
    case 5:
      return random() * 1e6;
    case 6:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
    default: {
      const fields = [
        'type',
        'volume',
        'txid',
        'proposal',
        'reads',
        'writes',
        'ballot',
        'keys',
        'requestId',
        'key',
      ];
      const object: Record<string, unknown> = {};
      for (const field of fields) if (random() < 0.5) object[field] = randomValue(random, depth + 1);
      if (random() < 0.7) object.type = randomValue(random, 3);
      return object;
    }
  }
}

test(`malformed input is dropped or closes only its own connection; the node keeps serving (FUZZ_SEED=${SEED})`, async () => {
  const random = mulberry32(SEED);
  const port = await freePort();
  const peerPorts = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
  const node = await startLoneStorageNode({ dataDir, port, peerPorts });
  try {
    // 1. Bytes that are not frames at all, and a frame announcing 2 GiB: the connection is closed.
    const garbage = await openSocket(port);
    garbage.write(Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256))));
    garbage.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    assert.equal(await closed(garbage, 5_000), true, 'a connection sending garbage stays open');

    // 2. Well-framed values of every shape after a valid hello: dropped and counted, connection kept.
    const confused = await openSocket(port);
    confused.write(encodeFrame({ type: 'hello', role: 'writer', id: 'confused' }));
    const sent = 2_000;
    for (let index = 0; index < sent; index++) confused.write(encodeFrame(randomValue(random)));
    // A frame without a hello first is refused by closing that connection.
    const anonymous = await openSocket(port);
    anonymous.write(encodeFrame({ type: 'read', volume: VOLUME, requestId: 1, keys: ['k'] }));
    assert.equal(await closed(anonymous, 5_000), true, 'a connection without a hello stays open');

    // 3. Meanwhile a well-behaved writer commits and reads back.
    const replies: { type?: string; vote?: string; results?: { version: { seq: number } }[] }[] = [];
    const writer = new OutboundLink({
      host: '127.0.0.1',
      port,
      hello: { type: 'hello', role: 'writer', id: 'good' },
      onMessage: (message) => replies.push(message as (typeof replies)[number]),
    });
    try {
      await waitUntil('the writer link', 10_000, () => writer.connected);
      const proposal = {
        txid: 'good.1',
        reads: [{ key: 'k', seq: 0 }],
        writes: [{ key: 'k', value: Buffer.from('v') }],
        proposedAtMs: Date.now(),
      };
      writer.send({ type: 'propose', volume: VOLUME, proposal });
      writer.send({ type: 'decided', volume: VOLUME, txid: 'good.1', decision: 'commit' });
      writer.send({ type: 'read', volume: VOLUME, requestId: 7, keys: ['k'] });
      await waitUntil('the vote and the read reply', 10_000, () => replies.length >= 2);
      assert.equal(replies[0]?.type, 'vote');
      assert.equal(replies[0]?.vote, 'yes');
      assert.equal(replies[1]?.type, 'readReply');
      assert.equal(replies[1]?.results?.[0]?.version.seq, 1);
    } finally {
      writer.close();
    }
    assert.equal(confused.destroyed, false, 'well-framed but malformed messages closed the connection');
    confused.destroy();
    const { malformedMessages } = node.counters;
    assert.ok(
      malformedMessages >= sent * 0.9,
      `only ${malformedMessages} of ${sent} random values were refused`,
    );
  } finally {
    await node.stop();
  }
});
