// Fleet authentication on six real storage-node processes (docs/security.md): every connection
// starts with the node's challenge, and only a hello proven with the fleet secret (a peer) or with a
// credential the control plane minted for one volume (a writer) is let through. Checked from the
// outside, as an attacker on the host would try it: raw sockets without the secret or with a wrong
// one, a writer with a credential for volume A reaching for volume B, an expired credential, a
// replayed hello, random bytes, a revoked credential; and a rotation of the secret under load
// without a failed command.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { QuorumClient } from '../../libs/storage-client/src/index.js';
import {
  type ChallengeMessage,
  encodeFrames,
  FrameDecoder,
  flattenBatches,
  fleetSecret,
  isChallenge,
  mintWriterCredential,
  newFleetSecretKey,
  peerHello,
  readFleetSecretsFile,
  writerHello,
} from '../../libs/wire/src/index.js';
import { mulberry32 } from '../support/prng.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';
import { waitUntil } from '../support/wait.js';

const VOLUME_A = 'tenant-a';
const VOLUME_B = 'tenant-b';
const WEEK_MS = 7 * 24 * 3_600_000;

/** A raw connection to one storage node: what an attacker's script would open. */
class RawLink {
  readonly socket: Socket;
  private readonly decoder = new FrameDecoder();
  private readonly received: unknown[] = [];
  private waiters: (() => void)[] = [];
  closed = false;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.on('data', (chunk: Buffer) => {
      try {
        for (const message of flattenBatches(this.decoder.push(chunk))) this.received.push(message);
      } catch {
        this.socket.destroy();
      }
      this.wake();
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Resolves with the first received message that `match` accepts, or rejects after `timeoutMs`. */
  async next<T>(match: (message: unknown) => message is T, timeoutMs = 5_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.received.findIndex(match);
      if (index >= 0) return this.received.splice(index, 1)[0] as T;
      if (this.closed) throw new Error('the connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`nothing matching within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  challenge(): Promise<ChallengeMessage> {
    return this.next(isChallenge);
  }

  send(...messages: unknown[]): void {
    this.socket.write(encodeFrames(messages));
  }

  /** Resolves once the node has closed the connection (bounded). */
  async whenClosed(timeoutMs = 7_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error(`the node kept the connection open for ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

function isReadReply(requestId: number) {
  return (message: unknown): message is { type: 'readReply'; results: { key: string; value: unknown }[] } =>
    (message as { type?: string; requestId?: number }).type === 'readReply' &&
    (message as { requestId?: number }).requestId === requestId;
}

describe('fleet authentication of storage-node links', { timeout: 180_000 }, () => {
  let fleet: StorageFleet;
  const clients: QuorumClient[] = [];
  const clientFor = (volume: string, writerId: string, ttlMs?: number) => {
    const client = new QuorumClient({
      writerId,
      coordinatorId: 7 + clients.length,
      nodes: fleet.nodes,
      credential: fleet.credential(volume, ttlMs === undefined ? {} : { ttlMs }),
      timing: { readDeadlineMs: 2_000 },
    });
    clients.push(client);
    return client;
  };
  const counters = async (index: number) => (await fleet.health(index)).counters as Record<string, number>;

  before(async () => {
    fleet = await startStorageFleet({ secured: true });
  });

  after(async () => {
    for (const client of clients) await client.close();
    await fleet?.stop();
  });

  it('serves writers with a credential, and peers with the secret (the group commits)', async () => {
    const owner = clientFor(VOLUME_B, 'owner-b');
    await owner.waitForNodes(6, 10_000);
    const result = await owner.commit(
      VOLUME_B,
      [{ key: 'secret-key', seq: 0 }],
      [{ key: 'secret-key', value: Buffer.from('private value') }],
    );
    assert.equal(result.outcome, 'committed');
    // Peer links connect in the background, each after its own handshake.
    await waitUntil('every peer link of s1 welcomed', 20_000, async () => {
      const peers = (await fleet.health(0)).peers as Record<string, { connected: boolean }>;
      return Object.values(peers).every((peer) => peer.connected);
    });
  });

  it('refuses a raw client without the secret, or with a wrong one, before any message is processed', async () => {
    const before0 = await counters(0);
    const port = (fleet.nodes[0] as { port: number }).port;
    const stranger = fleetSecret(newFleetSecretKey());
    const attempts: ((challenge: ChallengeMessage) => unknown)[] = [
      // The hello of a writer before fleet authentication: no proof at all.
      () => ({ type: 'hello', role: 'writer', id: 'intruder-1', notifyVolumes: [VOLUME_B] }),
      // A credential minted under a secret the fleet never had.
      (challenge) =>
        writerHello(
          mintWriterCredential(stranger, {
            cluster: 'x',
            volume: VOLUME_B,
            coordinatorId: 9,
            expiresAtMs: Date.now() + 60_000,
          }),
          'intruder-2',
          challenge,
        ),
      // A peer proving a wrong secret, claiming to be s2.
      (challenge) => peerHello(stranger, 's2', challenge),
    ];
    for (const attempt of attempts) {
      const link = new RawLink(port);
      const challenge = await link.challenge();
      // A read of the private key rides right behind the hello, in the same write.
      link.send(attempt(challenge), { type: 'read', volume: VOLUME_B, requestId: 1, keys: ['secret-key'] });
      await link.whenClosed();
      // The node closed the connection without answering the read behind the hello.
      await assert.rejects(link.next(isReadReply(1), 0), /closed/);
    }
    const after0 = await counters(0);
    assert.equal(after0.refusedHandshakes - before0.refusedHandshakes, attempts.length);
  });

  it('refuses and counts reads, proposals and scans of volume B from a writer of volume A; B is unchanged and unread', async () => {
    const port = (fleet.nodes[0] as { port: number }).port;
    const before0 = await counters(0);
    const link = new RawLink(port);
    const challenge = await link.challenge();
    link.send(writerHello(fleet.credential(VOLUME_A), 'writer-a', challenge));
    link.send(
      { type: 'read', volume: VOLUME_B, requestId: 1, keys: ['secret-key'] },
      { type: 'scan', volume: VOLUME_B, requestId: 2, fromHash: 0, limit: 100 },
      {
        type: 'propose',
        volume: VOLUME_B,
        proposal: {
          txid: 'writer-a.1',
          reads: [{ key: 'secret-key', seq: 1 }],
          writes: [{ key: 'secret-key', value: Buffer.from('overwritten') }],
          proposedAtMs: Date.now(),
        },
      },
      // A replica's message, not a writer's: refused whatever its volume.
      { type: 'repairRequest', volume: VOLUME_A, pass: 1, fromIndex: 1, afterKey: null },
      // Its own volume: answered, after everything above was handled (one link, in order).
      { type: 'read', volume: VOLUME_A, requestId: 3, keys: ['k'] },
    );
    await link.next(isReadReply(3));
    await assert.rejects(link.next(isReadReply(1), 0), /nothing/);
    await assert.rejects(
      link.next((message): message is object => (message as { type?: string }).type === 'scanReply', 0),
      /nothing/,
    );
    link.close();
    const after0 = await counters(0);
    assert.equal(after0.refusedMessages - before0.refusedMessages, 4);
    // B holds what its owner wrote, on every replica.
    for (let index = 0; index < 6; index++) {
      const [result] = await fleet.readFrom(index, VOLUME_B, ['secret-key']);
      assert.equal(Buffer.from(result?.value as Uint8Array).toString(), 'private value');
    }
  });

  it('refuses an expired credential; a renewed one keeps the links of a writer', async () => {
    const before0 = await counters(0);
    const expired = clientFor(VOLUME_A, 'expired-a', -1_000);
    try {
      await assert.rejects(expired.waitForNodes(1, 2_000), /storage nodes connected/);
    } finally {
      await expired.close();
    }
    assert.ok((await counters(0)).refusedHandshakes > before0.refusedHandshakes);

    const renewing = clientFor(VOLUME_A, 'renewing-a', 2_000);
    await renewing.waitForNodes(6, 10_000);
    const firstExpiry = renewing.credentialExpiresAtMs as number;
    renewing.renewCredential(fleet.credential(VOLUME_A));
    // Past the first credential's expiry, the links it opened serve under the renewed one.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstExpiry - Date.now() + 100)));
    const result = await renewing.commit(
      VOLUME_A,
      [{ key: 'renewed', seq: 0 }],
      [{ key: 'renewed', value: Buffer.from('yes') }],
    );
    assert.equal(result.outcome, 'committed');
    assert.equal(renewing.connectedNodes, 6);
  });

  it('refuses a hello replayed on another connection, and random bytes, and keeps serving', async () => {
    const port = (fleet.nodes[1] as { port: number }).port;
    const before1 = await counters(1);
    const first = new RawLink(port);
    const captured = writerHello(fleet.credential(VOLUME_A), 'replayed-a', await first.challenge());
    first.send(captured);
    first.close();
    const second = new RawLink(port);
    await second.challenge();
    second.send(captured);
    await second.whenClosed();
    const random = mulberry32(99);
    for (let round = 0; round < 20; round++) {
      const link = new RawLink(port);
      const challenge = await link.challenge();
      const bytes = Buffer.alloc(1 + Math.floor(random() * 200));
      for (let index = 0; index < bytes.length; index++) bytes[index] = Math.floor(random() * 256);
      if (round % 4 === 0) {
        // A hello cut short: the frame announces more than arrives.
        const whole = encodeFrames([writerHello(fleet.credential(VOLUME_A), `cut-${round}`, challenge)]);
        link.socket.write(whole.subarray(0, whole.length - 10));
        link.socket.end();
      } else {
        link.socket.write(bytes);
      }
      await link.whenClosed();
    }
    const after1 = await counters(1);
    // The replayed hello and every fuzzed connection were refused, none accepted.
    assert.equal(after1.refusedHandshakes - before1.refusedHandshakes, 21);
    // Still serving.
    const client = clientFor(VOLUME_A, 'after-fuzz');
    await client.waitForNodes(6, 10_000);
    const result = await client.commit(
      VOLUME_A,
      [{ key: 'after-fuzz', seq: 0 }],
      [{ key: 'after-fuzz', value: Buffer.from('1') }],
    );
    assert.equal(result.outcome, 'committed');
  });

  it('closes a revoked writer’s links, idle ones too, and refuses it; a credential minted after opens links', async () => {
    const coordinatorId = 77;
    const before0 = await counters(0);
    const revoked = new QuorumClient({
      writerId: 'revoked-a',
      coordinatorId,
      nodes: fleet.nodes,
      credential: fleet.credential(VOLUME_A, { coordinatorId }),
      timing: { readDeadlineMs: 1_000 },
    });
    clients.push(revoked);
    const bystander = clientFor(VOLUME_A, 'bystander-a');
    await revoked.waitForNodes(6, 10_000);
    await bystander.waitForNodes(6, 10_000);
    const write = (client: QuorumClient, key: string) =>
      client.commit(VOLUME_A, [{ key, seq: 0 }], [{ key, value: Buffer.from(key) }]);
    assert.equal((await write(revoked, 'before-revocation')).outcome, 'committed');
    // The writer left its cluster: every credential minted for it so far is revoked.
    fleet.writeRevocations([{ volume: VOLUME_A, coordinatorId, expiresAtMsAtMost: Date.now() + WEEK_MS }]);
    // Its links are idle: the nodes close them at their next look (file and sweep, a second each).
    await waitUntil('the revoked writer has no link left', 10_000, () => revoked.connectedNodes === 0);
    await assert.rejects(revoked.read(VOLUME_A, ['before-revocation']));
    assert.equal(revoked.connectedNodes, 0, 'a revoked credential opened a link again');
    const after0 = await counters(0);
    assert.ok(after0.revokedLinks > before0.revokedLinks, 'the closed link is counted');
    // The link dials again after its backoff, which may not have run yet: wait for that attempt.
    await waitUntil(
      'its reconnects are refused',
      10_000,
      async () => (await counters(0)).refusedHandshakes > before0.refusedHandshakes,
      100,
    );
    assert.equal(revoked.connectedNodes, 0, 'a revoked credential opened a link again');
    // Another writer of the volume is untouched, and the same pair with a credential minted after
    // the revocation (a pooled process attached again) is let in.
    assert.equal((await write(bystander, 'bystander-after')).outcome, 'committed');
    const returning = new QuorumClient({
      writerId: 'returning-a',
      coordinatorId,
      nodes: fleet.nodes,
      credential: fleet.credential(VOLUME_A, { coordinatorId, ttlMs: WEEK_MS + 60_000 }),
    });
    clients.push(returning);
    await returning.waitForNodes(6, 10_000);
    assert.equal((await write(returning, 'returning-after')).outcome, 'committed');
    fleet.writeRevocations([]);
  });

  it('rotates the fleet secret under load without a failed command', async () => {
    const writer = clientFor(VOLUME_A, 'rotating-a');
    await writer.waitForNodes(6, 10_000);
    const old = readFleetSecretsFile(fleet.secretsFile as string);
    const fresh = fleetSecret(newFleetSecretKey());
    let stop = false;
    let committed = 0;
    const failures: string[] = [];
    const load = (async () => {
      for (let n = 0; !stop; n++) {
        try {
          const key = `counter-${n % 4}`;
          await writer.transact(VOLUME_A, [key], ([value]) => {
            const count = value?.value === null || value === undefined ? 0 : Number(Buffer.from(value.value));
            return { writes: [{ key, value: Buffer.from(String(count + 1)) }], result: null };
          });
          committed++;
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    })();
    const waitForCommits = async (count: number) => {
      const target = committed + count;
      const deadline = Date.now() + 20_000;
      while (committed < target) {
        if (Date.now() > deadline) throw new Error(`fewer than ${count} commits in 20 s`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await waitForCommits(20);
    // 1. Both accepted, the new one current. A node looks at the file again at most once a second
    //    (at a handshake, or its /health): wait until all six know the new secret before a writer
    //    relies on it, as the control plane's rotation does.
    fleet.writeSecrets([fresh, ...old]);
    await waitUntil('every node accepts the new secret', 10_000, async () => {
      for (let index = 0; index < 6; index++) {
        const { linkAuth } = (await fleet.health(index)) as { linkAuth: { accepted?: string[] } };
        if (!linkAuth.accepted?.includes(fresh.id)) return false;
      }
      return true;
    });
    await waitForCommits(20);
    // 2. The writer gets a credential under the new secret, proven on its open links.
    writer.renewCredential(fleet.credential(VOLUME_A));
    await waitForCommits(20);
    // 3. Only the new secret: a credential under the old one no longer opens a link.
    fleet.writeSecrets([fresh]);
    const stale = mintWriterCredential(old[0] as ReturnType<typeof fleetSecret>, {
      cluster: 'c',
      volume: VOLUME_A,
      coordinatorId: 40,
      expiresAtMs: Date.now() + 60_000,
    });
    const deadline = Date.now() + 10_000;
    let refused = false;
    while (!refused && Date.now() < deadline) {
      const link = new RawLink((fleet.nodes[2] as { port: number }).port);
      link.send(writerHello(stale, `stale-${Date.now()}`, await link.challenge()));
      link.send({ type: 'read', volume: VOLUME_A, requestId: 5, keys: ['k'] });
      refused = await link
        .next(isReadReply(5), 3_000)
        .then(() => false)
        .catch(() => link.closed);
      link.close();
      if (!refused) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(refused, 'a credential under the retired secret was still accepted 10 s after the rotation');
    await waitForCommits(20);
    stop = true;
    await load;
    assert.deepEqual(failures, []);
  });
});
