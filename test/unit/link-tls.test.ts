// Internal TLS settings and certificates (docs/adr/0014): which environment turns a storage node's
// TLS on (all three files or none), what a link dials with (the CA, TLS 1.3, SNI only for names),
// what its log says when a handshake fails, a renewed certificate picked up from disk, the
// control plane's BOREALIS_INTERNAL_TLS, and the storage nodes' certificate made beside the
// endpoints' with the same CA.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../apps/control-plane/src/config/config.js';
import { serverNames } from '../../apps/control-plane/src/tls/certificate-plan.js';
import {
  ensurePlatformCertificates,
  platformCertificateFiles,
} from '../../apps/control-plane/src/tls/platform-certificates.js';
import { createCertificateAuthority, createServerCertificate } from '../../libs/tls/src/index.js';
import {
  describeLinkTlsFailure,
  linkTlsConnectOptions,
  readLinkTlsCa,
  storageNodeTlsFiles,
  tlsErrorReason,
  watchLinkTlsServer,
  writerTlsCaFile,
} from '../../libs/wire/src/index.js';

const FILES = {
  BOREALIS_INTERNAL_TLS_CERT_FILE: '/d/tls/internal.pem',
  BOREALIS_INTERNAL_TLS_KEY_FILE: '/d/tls/internal.key',
  BOREALIS_INTERNAL_TLS_CA_FILE: '/d/tls/ca.pem',
};

describe('internal TLS settings', () => {
  const directories: string[] = [];
  const scratch = () => {
    const directory = mkdtempSync(join(tmpdir(), 'borealis-link-tls-'));
    directories.push(directory);
    return directory;
  };
  after(() => {
    for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  });

  it('turns a storage node to TLS with all three files, leaves it plain with none, and refuses a mix', () => {
    assert.equal(storageNodeTlsFiles({}), null);
    assert.equal(storageNodeTlsFiles({ BOREALIS_INTERNAL_TLS_CA_FILE: '  ' }), null);
    assert.deepEqual(storageNodeTlsFiles(FILES), {
      certFile: '/d/tls/internal.pem',
      keyFile: '/d/tls/internal.key',
      caFile: '/d/tls/ca.pem',
    });
    assert.throws(
      () => storageNodeTlsFiles({ ...FILES, BOREALIS_INTERNAL_TLS_CA_FILE: '' }),
      /BOREALIS_INTERNAL_TLS_CA_FILE is not set: a storage node serving TLS needs/,
    );
    assert.throws(
      () => storageNodeTlsFiles({ BOREALIS_INTERNAL_TLS_CA_FILE: '/d/tls/ca.pem' }),
      /BOREALIS_INTERNAL_TLS_CERT_FILE and BOREALIS_INTERNAL_TLS_KEY_FILE are not set/,
    );
    assert.equal(writerTlsCaFile({}), null);
    assert.equal(writerTlsCaFile(FILES), '/d/tls/ca.pem');
  });

  it('dials with the CA, TLS 1.3 at least, verification on, and SNI only for host names', () => {
    const byAddress = linkTlsConnectOptions({ ca: 'PEM' }, '127.0.0.1', 7811);
    assert.deepEqual(byAddress, { host: '127.0.0.1', port: 7811, ca: 'PEM', minVersion: 'TLSv1.3' });
    assert.equal('rejectUnauthorized' in byAddress, false, 'Node verifies unless told otherwise');
    assert.equal(linkTlsConnectOptions({ ca: 'PEM' }, '::1', 1).servername, undefined);
    assert.equal(
      linkTlsConnectOptions({ ca: 'PEM' }, 'storage-a.internal', 1).servername,
      'storage-a.internal',
    );
  });

  it('says in one line why a handshake failed and what to check', () => {
    const failure = (message: string, code: string) => Object.assign(new Error(message), { code });
    assert.equal(
      describeLinkTlsFailure(
        failure('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
        '127.0.0.1',
        7811,
      ),
      'TLS handshake with storage node 127.0.0.1:7811 failed: unable to verify the first certificate ' +
        '(UNABLE_TO_VERIFY_LEAF_SIGNATURE): its certificate does not verify against ' +
        'BOREALIS_INTERNAL_TLS_CA_FILE (another CA, expired, or not naming 127.0.0.1); retrying',
    );
    const openssl =
      '807CBF5B527F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:\n';
    assert.equal(tlsErrorReason(openssl), 'wrong version number');
    assert.match(
      describeLinkTlsFailure(failure(openssl, 'ERR_SSL_WRONG_VERSION_NUMBER'), 'h', 1),
      /failed: wrong version number \(ERR_SSL_WRONG_VERSION_NUMBER\): the node does not serve TLS/,
    );
    assert.equal(tlsErrorReason('socket hang up'), 'socket hang up');
  });

  it('reads a CA file, and names the variable when it cannot', async () => {
    const directory = scratch();
    const ca = await createCertificateAuthority('Test CA', new Date());
    writeFileSync(join(directory, 'ca.pem'), ca.certificatePem);
    assert.equal(readLinkTlsCa(join(directory, 'ca.pem')).ca, ca.certificatePem);
    assert.throws(
      () => readLinkTlsCa(join(directory, 'missing.pem')),
      /BOREALIS_INTERNAL_TLS_CA_FILE=.*missing\.pem cannot be read \(ENOENT\)/,
    );
    writeFileSync(join(directory, 'junk.pem'), 'not a certificate');
    assert.throws(() => readLinkTlsCa(join(directory, 'junk.pem')), /holds no PEM certificate/);
  });

  it('serves a renewed certificate once it changes on disk, and keeps the last good one over a broken pair', async () => {
    const directory = scratch();
    const now = new Date();
    const ca = await createCertificateAuthority('Test CA', now);
    const files = { certFile: join(directory, 'internal.pem'), keyFile: join(directory, 'internal.key') };
    const write = async (at: Date) => {
      const server = await createServerCertificate(ca, ['127.0.0.1'], now);
      writeFileSync(files.certFile, server.certificatePem);
      writeFileSync(files.keyFile, server.privateKeyPem);
      for (const file of [files.certFile, files.keyFile]) utimesSync(file, at, at);
      return server.certificatePem;
    };
    await write(new Date(now.getTime() - 60_000));
    const lines: string[] = [];
    const current = watchLinkTlsServer(files, (line) => lines.push(line));
    const first = current();
    assert.match(first.names, /IP Address:127\.0\.0\.1/);
    // Checked at most once a second: the same object until then.
    const renewedPem = await write(new Date(now.getTime() - 30_000));
    assert.equal(current(), first);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const renewed = current();
    assert.notEqual(renewed, first);
    assert.equal(renewed.validTo, new Date(new X509Certificate(renewedPem).validTo).toISOString());
    assert.match(lines[0] as string, /TLS certificate reloaded from .*internal\.pem/);
    // A key that does not go with the certificate (a renewal caught halfway): the last good pair serves.
    const other = await createServerCertificate(ca, ['127.0.0.1'], now);
    writeFileSync(files.keyFile, other.privateKeyPem);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assert.equal(current(), renewed);
    assert.match(lines[1] as string, /cannot serve TLS: .*; keeping the certificate loaded before/);
  });

  it('reads BOREALIS_INTERNAL_TLS on the control plane: 1 puts the files under the data dir', () => {
    const base = { DATABASE_URL: 'postgresql://x/y', REDIS_URL: 'redis://x', BOREALIS_DATA_DIR: '/srv/b' };
    assert.equal(loadConfig(base).internalTls, null);
    assert.equal(loadConfig({ ...base, BOREALIS_INTERNAL_TLS: '0' }).internalTls, null);
    const expected = {
      caFile: '/srv/b/tls/ca.pem',
      certFile: '/srv/b/tls/internal.pem',
      keyFile: '/srv/b/tls/internal.key',
    };
    assert.deepEqual(loadConfig({ ...base, BOREALIS_INTERNAL_TLS: '1' }).internalTls, expected);
    assert.deepEqual(loadConfig({ ...base, BOREALIS_INTERNAL_TLS: 'true' }).internalTls, expected);
    assert.throws(
      () => loadConfig({ ...base, BOREALIS_INTERNAL_TLS: 'yes please' }),
      /BOREALIS_INTERNAL_TLS="yes please" is invalid: use 1 for TLS on the storage links, or 0/,
    );
  });

  it("makes the storage nodes' certificate with the endpoints' CA, for the fleet host, keys mode 600", async () => {
    const directory = join(scratch(), 'tls');
    const now = new Date();
    const endpoints = await ensurePlatformCertificates(directory, serverNames('127.0.0.1'), now);
    assert.equal(endpoints.make, 'ca-and-server');
    const names = serverNames('10.0.0.7');
    const internal = await ensurePlatformCertificates(directory, names, now, 'internal');
    assert.deepEqual(internal, { make: 'server', reason: 'no server certificate yet' });
    const files = platformCertificateFiles(directory, 'internal');
    assert.equal(files.certFile, join(directory, 'internal.pem'));
    assert.equal(statSync(files.keyFile).mode & 0o777, 0o600);
    const certificate = new X509Certificate(readFileSync(files.certFile));
    assert.ok(certificate.verify(new X509Certificate(readFileSync(files.caFile)).publicKey));
    for (const address of ['10.0.0.7', '127.0.0.1', '::1'])
      assert.equal(certificate.checkIP(address), address);
    assert.equal(certificate.checkHost('localhost'), 'localhost');
    // Reused at the next start; the endpoints' certificate is untouched by it.
    assert.deepEqual(await ensurePlatformCertificates(directory, names, now, 'internal'), {
      make: 'nothing',
    });
    assert.deepEqual(await ensurePlatformCertificates(directory, serverNames('127.0.0.1'), now), {
      make: 'nothing',
    });
    // Renewed from the same CA when it nears its end (397 days, renewed under 30 days left).
    const later = new Date(now.getTime() + 380 * 86_400_000);
    const renewal = await ensurePlatformCertificates(directory, names, later, 'internal');
    assert.equal(renewal.make, 'server');
  });
});
