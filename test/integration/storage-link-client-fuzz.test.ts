// The writer's side of the storage-link handshake against a hostile or broken node: a real
// OutboundLink over loopback TCP to a server that answers every connection with random bytes, a
// challenge cut short, a challenge with a malformed nonce, a welcome before any hello, or a data
// message before the welcome. The link must never count itself connected, never throw out of its
// handlers, and keep reconnecting (bounded by its backoff). The node's side of the same fuzz is
// test/unit/link-auth.test.ts and test/e2e/storage-node-auth.test.ts.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { type ChallengeMessage, encodeFrames } from '../../libs/wire/src/index.js';
import { OutboundLink } from '../../libs/wire/src/outbound-link.js';
import { waitUntil } from '../support/wait.js';

const NONCE = 'cd'.repeat(32);

/** What the hostile node sends on one connection, then it closes it. */
const answers = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  // A challenge frame cut short.
  fc
    .nat({ max: 60 })
    .map((cut) => encodeFrames([{ type: 'challenge', nonce: NONCE }]).subarray(0, Math.max(1, cut % 70))),
  // Challenges whose nonce is not 32 bytes of hex, or no string at all.
  fc
    .oneof(fc.string({ maxLength: 80 }), fc.integer(), fc.constant(null), fc.constant(`${NONCE}00`))
    .map((nonce) => encodeFrames([{ type: 'challenge', nonce }])),
  // A welcome before any hello; a data message before the welcome.
  fc.constant(encodeFrames([{ type: 'welcome' }])),
  fc.constant(
    encodeFrames([
      { type: 'challenge', nonce: NONCE },
      { type: 'readReply', requestId: 1, results: [] },
    ]),
  ),
);

describe('a storage link facing a hostile node', () => {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let link: OutboundLink | null = null;

  after(async () => {
    link?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (server === null ? resolve() : server.close(() => resolve())));
  });

  it('never connects, never throws, and keeps retrying', async () => {
    const plan = fc.sample(answers, { numRuns: 60, seed: 4242 });
    let connections = 0;
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      const answer = plan[connections % plan.length] as Buffer;
      connections++;
      socket.end(answer);
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const stateChanges: boolean[] = [];
    const challenges: ChallengeMessage[] = [];
    link = new OutboundLink({
      host: '127.0.0.1',
      port,
      hello: (challenge: ChallengeMessage) => {
        challenges.push(challenge);
        return { type: 'hello', role: 'writer', id: 'w', proof: 'x' };
      },
      onStateChange: (connected: boolean) => stateChanges.push(connected),
      onMessage: () => assert.fail('a message reached the link before any welcome'),
      reconnectDelayMsMin: 1,
      reconnectDelayMsMax: 5,
    });
    await waitUntil(
      `${plan.length} connections to the hostile node`,
      30_000,
      () => connections >= plan.length,
    );
    assert.deepEqual(stateChanges, [], 'the link counted itself connected');
    assert.equal(link.stats().connected, false);
    // Only well-formed challenges were answered.
    for (const challenge of challenges) assert.equal(challenge.nonce, NONCE);
    // A message queued now is dropped (bounded), not sent to a node that never welcomed it.
    link.send({ type: 'read', volume: 'v', requestId: 2, keys: ['k'] });
    assert.equal(link.stats().messagesSent, 0);
  });
});
