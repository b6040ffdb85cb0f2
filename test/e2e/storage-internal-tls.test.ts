// Internal TLS on six real storage-node processes (docs/adr/0014): every node serves its port over
// TLS 1.3 with a certificate of a throwaway CA, and the fleet's HMAC handshake runs inside it. A
// writer that trusts the CA commits and reads; a plain client, a client trusting another CA, or
// one offering only TLS 1.2 is refused and the node keeps serving; peer links catch a restarted
// node up over TLS; a relay on the path sees no stored value in clear, and a byte it flips ends
// that connection only (the link reconnects).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as connectTls } from 'node:tls';
import { QuorumClient, type StorageNodeAddress } from '../../libs/storage-client/src/index.js';
import { createCertificateAuthority } from '../../libs/tls/src/index.js';
import {
  encodeFrames,
  fleetSecret,
  newFleetSecretKey,
  newNonce,
  writerHello,
} from '../../libs/wire/src/index.js';
import { OutboundLink } from '../../libs/wire/src/outbound-link.js';
import { freePort } from '../support/processes.js';
import { type StorageFleet, startLoneStorageNode, startStorageFleet } from '../support/storage-fleet.js';
import { waitUntil } from '../support/wait.js';

const VOLUME = 'tls-volume';

interface NodeHealth {
  transport: string;
  tlsCertificate?: { validTo: string; names: string } | null;
  peers: Record<string, { connected: boolean; transport: string }>;
  counters: Record<string, number>;
}

/** A TCP relay in front of one node: what an attacker on the path sees, and can change. */
class Relay {
  readonly server: Server;
  /** Every byte the client side sent, and every byte the node side sent back. */
  fromClient: Buffer[] = [];
  fromNode: Buffer[] = [];
  connections = 0;
  /** Flip a byte in the next chunk from the client, once. */
  tamperNext = false;
  private readonly sockets = new Set<Socket>();

  constructor(targetPort: number) {
    this.server = createServer((client) => {
      this.connections++;
      const upstream = connect({ host: '127.0.0.1', port: targetPort });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          this.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.on('data', (chunk: Buffer) => {
        this.fromClient.push(Buffer.from(chunk));
        if (this.tamperNext && chunk.length > 8) {
          this.tamperNext = false;
          const changed = Buffer.from(chunk);
          changed[changed.length - 3] = (changed[changed.length - 3] as number) ^ 0x20;
          upstream.write(changed);
          return;
        }
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        this.fromNode.push(Buffer.from(chunk));
        client.write(chunk);
      });
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as { port: number }).port;
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('internal TLS on the storage links', { timeout: 240_000 }, () => {
  let fleet: StorageFleet;
  const clients: QuorumClient[] = [];
  const clientFor = (
    writerId: string,
    options: { tls?: { ca: string }; nodes?: StorageNodeAddress[]; log?: (line: string) => void } = {},
  ) => {
    const client = new QuorumClient({
      writerId,
      coordinatorId: 7 + clients.length,
      nodes: options.nodes ?? fleet.nodes,
      credential: fleet.credential(VOLUME),
      timing: { readDeadlineMs: 3_000 },
      ...(options.tls !== undefined ? { tls: options.tls } : {}),
      ...(options.log !== undefined ? { log: options.log } : {}),
    });
    clients.push(client);
    return client;
  };
  const trusted = () => fleet.tls?.client as { ca: string };
  const health = async (index: number) => (await fleet.health(index)) as unknown as NodeHealth;
  const commitValue = async (client: QuorumClient, key: string, value: string) => {
    const [current] = await client.read(VOLUME, [key]);
    const outcome = await client.commit(
      VOLUME,
      [{ key, seq: current?.version.seq ?? 0 }],
      [{ key, value: Buffer.from(value) }],
    );
    assert.equal(outcome.outcome, 'committed', JSON.stringify(outcome));
  };

  before(async () => {
    fleet = await startStorageFleet({ secured: true, tls: true });
  });

  after(async () => {
    for (const client of clients) await client.close();
    await fleet?.stop();
  });

  it('serves a writer holding a credential and the CA: commits and reads over TLS 1.3', async () => {
    const writer = clientFor('tls-writer', { tls: trusted() });
    await writer.waitForNodes(6, 15_000);
    await commitValue(writer, 'greeting', 'hello over tls');
    const [read] = await writer.read(VOLUME, ['greeting']);
    assert.equal(Buffer.from(read?.value as Uint8Array).toString(), 'hello over tls');
    for (let index = 0; index < 6; index++) {
      const node = await health(index);
      assert.equal(node.transport, 'tls');
      assert.match(node.tlsCertificate?.names ?? '', /IP Address:127\.0\.0\.1/);
    }
    assert.match(fleet.process(0).output(), /serving the quorum protocol over TLS/);
    // The protocol spoken, as a client sees it; and a client offering at most TLS 1.2 is refused.
    const port = (fleet.nodes[0] as StorageNodeAddress).port;
    const protocol = await new Promise<string | null>((resolve, reject) => {
      const socket = connectTls({ host: '127.0.0.1', port, ca: trusted().ca }, () => {
        resolve(socket.getProtocol());
        socket.destroy();
      });
      socket.on('error', reject);
    });
    assert.equal(protocol, 'TLSv1.3');
    await assert.rejects(
      new Promise((resolve, reject) => {
        const socket = connectTls({ host: '127.0.0.1', port, ca: trusted().ca, maxVersion: 'TLSv1.2' }, () =>
          resolve(socket.getProtocol()),
        );
        socket.on('error', reject);
      }),
      /protocol version|unsupported protocol/i,
    );
  });

  it('refuses a plain TCP client, counts it, and keeps serving', async () => {
    const before0 = (await health(0)).counters;
    const port = (fleet.nodes[0] as StorageNodeAddress).port;
    // A plain client that speaks first: a well-formed writer hello (over a nonce it made up).
    const eager = connect({ host: '127.0.0.1', port });
    eager.on('error', () => undefined);
    const received: Buffer[] = [];
    eager.on('data', (chunk: Buffer) => received.push(chunk));
    eager.on('connect', () =>
      eager.write(
        encodeFrames([
          writerHello(fleet.credential(VOLUME), 'plain-eager', { type: 'challenge', nonce: newNonce() }),
        ]),
      ),
    );
    const startedAt = Date.now();
    await new Promise((resolve) => eager.once('close', resolve));
    assert.ok(Date.now() - startedAt < 3_000, 'refused at its first bytes, not at the handshake bound');
    // What came back is a TLS alert at most, never the node's challenge frame.
    assert.ok(Buffer.concat(received).every((byte, index) => index > 0 || byte === 0x15));
    // A plain client that waits for the challenge (as a writer without TLS does): closed at the bound.
    const silent = connect({ host: '127.0.0.1', port });
    silent.on('error', () => undefined);
    const silentStart = Date.now();
    await new Promise((resolve) => silent.once('close', resolve));
    const waited = Date.now() - silentStart;
    assert.ok(waited >= 4_000 && waited < 8_000, `closed after ${waited} ms`);
    // A writer with a valid credential but no TLS never connects.
    const plain = clientFor('plain-writer');
    await assert.rejects(plain.waitForNodes(1, 1_500), /storage nodes connected/);
    await plain.close();
    const after0 = (await health(0)).counters;
    assert.ok((after0.refusedHandshakes as number) - (before0.refusedHandshakes as number) >= 3);
    assert.ok((after0.tlsHandshakeFailures as number) - (before0.tlsHandshakeFailures as number) >= 3);
    assert.match(fleet.process(0).output(), /refused a connection .*TLS handshake failed/);
    // Still serving.
    const writer = clientFor('after-plain', { tls: trusted() });
    await writer.waitForNodes(6, 10_000);
    await commitValue(writer, 'after-plain', 'still here');
  });

  it('a client trusting another CA does not connect, and its log says why (once per link)', async () => {
    const other = await createCertificateAuthority('Another CA', new Date());
    const lines: string[] = [];
    const stranger = clientFor('other-ca', {
      tls: { ca: other.certificatePem },
      log: (line) => lines.push(line),
    });
    // Links retry with backoff meanwhile (up to 500 ms apart): several failures per link.
    await assert.rejects(stranger.waitForNodes(1, 3_000), /storage nodes connected/);
    await stranger.close();
    assert.ok(lines.length >= 1 && lines.length <= 6, `one line per link at most: ${lines.join('\n')}`);
    assert.match(lines[0] as string, /TLS handshake with storage node 127\.0\.0\.1:\d+ failed/);
    assert.match(lines[0] as string, /does not verify against BOREALIS_INTERNAL_TLS_CA_FILE/);
    // The nodes counted the handshakes the client gave up, and serve on.
    assert.ok(((await health(1)).counters.tlsHandshakeFailures as number) >= 1);
    const writer = clientFor('after-other-ca', { tls: trusted() });
    await writer.waitForNodes(6, 10_000);
  });

  it('a TLS client of a node serving plain TCP fails cleanly, both sides saying why', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'borealis-plain-node-'));
    const port = await freePort();
    const peerPorts = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
    const nodeLines: string[] = [];
    const secrets = [fleetSecret(newFleetSecretKey())];
    const node = await startLoneStorageNode({
      dataDir,
      port,
      peerPorts,
      fleetSecrets: () => secrets,
      log: (line) => nodeLines.push(line),
    });
    const lines: string[] = [];
    const link = new OutboundLink({
      host: '127.0.0.1',
      port,
      hello: () => ({ type: 'hello' }),
      tls: trusted(),
      log: (line) => lines.push(line),
    });
    try {
      await waitUntil('the link to report its failed handshake', 5_000, () => lines.length > 0);
      assert.match(lines[0] as string, /the node does not serve TLS/);
      assert.equal(link.connected, false);
      assert.ok(link.stats().tlsFailures >= 1);
      await waitUntil('the node to refuse the TLS hello', 5_000, () =>
        nodeLines.some((line) => /a TLS handshake, but this node serves plain TCP/.test(line)),
      );
      assert.ok(node.counters.refusedHandshakes >= 1);
    } finally {
      link.close();
      await node.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('peer links run over TLS: a node killed and restarted catches up from its peers', async () => {
    await waitUntil('every peer link of s1 up over TLS', 20_000, async () => {
      const peers = Object.values((await health(0)).peers);
      return peers.length === 5 && peers.every((peer) => peer.connected && peer.transport === 'tls');
    });
    const writer = clientFor('repair-writer', { tls: trusted() });
    await writer.waitForNodes(6, 10_000);
    for (let index = 0; index < 20; index++) await commitValue(writer, `before-${index}`, `b${index}`);
    await fleet.kill(4);
    const keys: string[] = [];
    for (let index = 0; index < 40; index++) {
      await commitValue(writer, `while-down-${index}`, `d${index}`);
      keys.push(`while-down-${index}`);
    }
    await fleet.restart(4);
    // s5 missed these commits; it learns them only from its peers, over TLS links both ways.
    await waitUntil(
      's5 to catch up from its peers',
      30_000,
      async () => {
        const held = await fleet.readFrom(4, VOLUME, keys);
        return held.every((result) => result.value !== null && result.version.seq >= 1);
      },
      200,
    );
    const peers = Object.values((await health(4)).peers);
    assert.ok(peers.every((peer) => peer.transport === 'tls'));
  });

  it('a relay on the path sees no stored value in clear; a byte it flips ends only that connection', async () => {
    const target = fleet.nodes[0] as StorageNodeAddress;
    const relay = new Relay(target.port);
    const relayPort = await relay.listen();
    try {
      const nodes = fleet.nodes.map((node, index) => (index === 0 ? { ...node, port: relayPort } : node));
      const writer = clientFor('relayed-writer', { tls: trusted(), nodes });
      await writer.waitForNodes(6, 10_000);
      const secret = `private-value-${Date.now()}-${'x'.repeat(32)}`;
      await commitValue(writer, 'relayed', secret);
      const [read] = await writer.read(VOLUME, ['relayed']);
      assert.equal(Buffer.from(read?.value as Uint8Array).toString(), secret);
      const clientBytes = Buffer.concat(relay.fromClient);
      const nodeBytes = Buffer.concat(relay.fromNode);
      assert.ok(clientBytes.length > 200 && nodeBytes.length > 200, 'the relay carried the link');
      assert.equal(clientBytes[0], 0x16, 'the link starts with a TLS handshake');
      for (const bytes of [clientBytes, nodeBytes]) {
        assert.equal(bytes.includes(Buffer.from(secret)), false, 'a stored value crossed in clear');
        assert.equal(bytes.includes(Buffer.from('relayed')), false, 'a key crossed in clear');
        assert.equal(bytes.includes(Buffer.from(VOLUME)), false, 'the volume name crossed in clear');
      }
      // A flipped byte fails TLS's integrity check at the node, which answers with an alert
      // (bad_record_mac): the link closes that connection and reconnects through the relay, and the
      // writer goes on. Nothing forged reached the node's protocol.
      relay.tamperNext = true;
      await commitValue(writer, 'after-tamper', 'x').catch(() => undefined);
      await waitUntil('the link through the relay to reconnect', 10_000, () => relay.connections >= 2);
      await writer.waitForNodes(6, 10_000);
      await commitValue(writer, 'after-tamper-2', 'y');
    } finally {
      await relay.close();
    }
  });
});
