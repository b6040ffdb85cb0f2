// The platform's own endpoint certificates: a CA and a server certificate it signs, for
// localhost, 127.0.0.1 and ::1 (and the endpoint host), that Node's TLS accepts with the CA;
// made once under a directory and reused, keys mode 600; a new server certificate (same CA) when
// one nears its end, lacks a name or was signed by another CA.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { connect, createServer } from 'node:tls';
import {
  LOCAL_NAMES,
  planCertificates,
  SERVER_RENEW_BEFORE_DAYS,
  serverNames,
} from '../../apps/control-plane/src/tls/certificate-plan.js';
import {
  ensurePlatformCertificates,
  platformCertificateFiles,
} from '../../apps/control-plane/src/tls/platform-certificates.js';
import {
  createCertificateAuthority,
  createServerCertificate,
  describeCertificate,
  isSignedBy,
} from '../../libs/tls/src/index.js';

const DAY_MS = 86_400_000;
const NOW = new Date('2026-12-10T12:00:00Z');

describe('endpoint certificates', () => {
  it('makes a CA and a server certificate for the local names, signed by it', async () => {
    const ca = await createCertificateAuthority('Test CA', NOW);
    const server = await createServerCertificate(ca, ['localhost', '127.0.0.1', '::1'], NOW);
    const caCertificate = new X509Certificate(ca.certificatePem);
    const serverCertificate = new X509Certificate(server.certificatePem);
    assert.equal(caCertificate.ca, true);
    assert.equal(serverCertificate.ca, false);
    assert.ok(serverCertificate.verify(caCertificate.publicKey), 'signed by the CA');
    assert.ok(serverCertificate.checkIssued(caCertificate));
    assert.equal(serverCertificate.checkHost('localhost'), 'localhost');
    assert.equal(serverCertificate.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(serverCertificate.checkIP('::1'), '::1');
    assert.equal(serverCertificate.checkHost('example.com'), undefined);
    const facts = describeCertificate(server.certificatePem);
    assert.deepEqual(facts.names, ['localhost', '127.0.0.1', '::1']);
    assert.ok(facts.notBefore < NOW && facts.notAfter > new Date(NOW.getTime() + 365 * DAY_MS));
    assert.equal(await isSignedBy(server.certificatePem, ca.certificatePem), true);
    const other = await createCertificateAuthority('Other CA', NOW);
    assert.equal(await isSignedBy(server.certificatePem, other.certificatePem), false);
  });

  it('serves a TLS client that trusts the CA and checks the host name', async () => {
    const now = new Date();
    const ca = await createCertificateAuthority('Test CA', now);
    const server = await createServerCertificate(ca, ['localhost', '127.0.0.1'], now);
    const listener = createServer({ cert: server.certificatePem, key: server.privateKeyPem }, (socket) =>
      socket.end('hello'),
    );
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = listener.address() as AddressInfo;
      const received = await new Promise<string>((resolve, reject) => {
        const client = connect({ host: '127.0.0.1', port, ca: ca.certificatePem, servername: 'localhost' });
        let text = '';
        client.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        client.on('end', () => resolve(text));
        client.on('error', reject);
      });
      assert.equal(received, 'hello');
    } finally {
      listener.close();
    }
  });

  it('plans: a CA and server at first, nothing while valid, a server near its end or missing a name', () => {
    const names = serverNames('127.0.0.1');
    assert.deepEqual(names, LOCAL_NAMES);
    assert.deepEqual(serverNames('db.example.net'), [...LOCAL_NAMES, 'db.example.net']);
    assert.deepEqual(serverNames('0:0:0:0:0:0:0:1'), LOCAL_NAMES, 'IPv6 compared in one form');
    assert.deepEqual(serverNames('0.0.0.0'), LOCAL_NAMES, 'a wildcard is not a name');
    const valid = { notAfter: new Date(NOW.getTime() + 300 * DAY_MS), names, signedByCa: true };
    assert.equal(planCertificates({ ca: false, server: null }, names, NOW).make, 'ca-and-server');
    assert.equal(planCertificates({ ca: true, server: null }, names, NOW).make, 'server');
    assert.equal(planCertificates({ ca: true, server: valid }, names, NOW).make, 'nothing');
    const ending = { ...valid, notAfter: new Date(NOW.getTime() + (SERVER_RENEW_BEFORE_DAYS - 1) * DAY_MS) };
    assert.match(
      JSON.stringify(planCertificates({ ca: true, server: ending }, names, NOW)),
      /ends in 29 days/,
    );
    const expired = { ...valid, notAfter: new Date(NOW.getTime() - DAY_MS) };
    assert.match(JSON.stringify(planCertificates({ ca: true, server: expired }, names, NOW)), /expired/);
    assert.match(
      JSON.stringify(planCertificates({ ca: true, server: valid }, [...names, 'db.example.net'], NOW)),
      /does not name db.example.net/,
    );
    // A CA near its own end is made again with its server certificate (at a start only).
    assert.deepEqual(
      planCertificates(
        { ca: true, caNotAfter: new Date(NOW.getTime() + 10 * DAY_MS), server: valid },
        names,
        NOW,
      ),
      { make: 'ca-and-server', reason: 'the local CA ends in 10 days' },
    );
    assert.equal(
      planCertificates(
        { ca: true, caNotAfter: new Date(NOW.getTime() + 400 * DAY_MS), server: valid },
        names,
        NOW,
      ).make,
      'nothing',
    );
    const orphan = { ...valid, signedByCa: false };
    assert.match(
      JSON.stringify(planCertificates({ ca: true, server: orphan }, names, NOW)),
      /not signed by this CA/,
    );
  });

  describe('under a directory', () => {
    const directory = mkdtempSync(join(tmpdir(), 'borealis-tls-'));
    after(() => rmSync(directory, { recursive: true, force: true }));
    const files = platformCertificateFiles(directory);
    const read = () =>
      Object.fromEntries(Object.entries(files).map(([name, path]) => [name, readFileSync(path, 'utf8')]));

    it('makes them once, keys readable by this user only, and reuses them', async () => {
      const first = await ensurePlatformCertificates(directory, LOCAL_NAMES, NOW);
      assert.equal(first.make, 'ca-and-server');
      for (const key of [files.caKeyFile, files.keyFile])
        assert.equal(statSync(key).mode & 0o777, 0o600, key);
      assert.equal(statSync(files.caFile).mode & 0o777, 0o644);
      const made = read();
      const again = await ensurePlatformCertificates(
        directory,
        LOCAL_NAMES,
        new Date(NOW.getTime() + DAY_MS),
      );
      assert.equal(again.make, 'nothing');
      assert.deepEqual(read(), made, 'nothing rewritten');
    });

    it('makes a new server certificate from the same CA for a new name, and near its end', async () => {
      const before = read();
      const named = await ensurePlatformCertificates(directory, [...LOCAL_NAMES, 'db.example.net'], NOW);
      assert.equal(named.make, 'server');
      const after = read();
      assert.equal(after.caFile, before.caFile, 'the CA the user trusts stays');
      assert.equal(after.caKeyFile, before.caKeyFile);
      assert.notEqual(after.certFile, before.certFile);
      assert.ok(describeCertificate(after.certFile as string).names.includes('db.example.net'));
      assert.ok(await isSignedBy(after.certFile as string, after.caFile as string));
      const late = new Date(NOW.getTime() + 380 * DAY_MS);
      assert.equal(
        (await ensurePlatformCertificates(directory, [...LOCAL_NAMES, 'db.example.net'], late)).make,
        'server',
      );
      assert.equal(read().caFile, before.caFile);
    });
  });
});
