// Renewal of the platform's own certificates while it runs (apps/control-plane/src/tls/
// certificate-renewal.service.ts), on real files: nothing is made while both certificates are
// young; near the end of one, a new one is made from the same CA (what the proxy and the storage
// nodes pick up at their next connection); a CA near its own end is left alone (clients trust it),
// reported for a restart; certificates the user brought are never touched.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../apps/control-plane/src/config/config.js';
import { serverNames } from '../../apps/control-plane/src/tls/certificate-plan.js';
import { CertificateRenewal } from '../../apps/control-plane/src/tls/certificate-renewal.service.js';
import {
  ensurePlatformCertificates,
  platformCertificateFiles,
} from '../../apps/control-plane/src/tls/platform-certificates.js';

const DAY_MS = 86_400_000;
const base = { DATABASE_URL: 'postgresql://x@127.0.0.1/db', REDIS_URL: 'redis://127.0.0.1:7379' };

describe('certificate renewal while the platform runs', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'borealis-renewal-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const config = loadConfig({ ...base, BOREALIS_DATA_DIR: dataDir, BOREALIS_INTERNAL_TLS: '1' });
  const directory = join(dataDir, 'tls');
  const endpoint = platformCertificateFiles(directory, 'server');
  const internal = platformCertificateFiles(directory, 'internal');
  const pem = (file: string) => readFileSync(file, 'utf8');
  const start = new Date();

  it('renews each server certificate near its end from the same CA, and nothing before', async () => {
    await ensurePlatformCertificates(directory, serverNames(config.endpointHost), start);
    await ensurePlatformCertificates(directory, serverNames(config.fleetHost), start, 'internal');
    const ca = pem(endpoint.caFile);
    const first = { endpoint: pem(endpoint.certFile), internal: pem(internal.certFile) };
    const renewal = new CertificateRenewal(config);
    assert.deepEqual(await renewal.renewDue(new Date(start.getTime() + 30 * DAY_MS)), {});
    assert.equal(pem(endpoint.certFile), first.endpoint);
    const late = new Date(start.getTime() + 380 * DAY_MS);
    const made = await renewal.renewDue(late);
    assert.deepEqual(Object.keys(made).sort(), ['internal', 'server']);
    assert.notEqual(pem(endpoint.certFile), first.endpoint);
    assert.notEqual(pem(internal.certFile), first.internal);
    assert.equal(pem(endpoint.caFile), ca, 'the CA clients trust stays');
  });

  it('leaves a CA near its own end for a restart to replace', async () => {
    const renewal = new CertificateRenewal(config);
    const ca = pem(endpoint.caFile);
    const cert = pem(endpoint.certFile);
    assert.deepEqual(await renewal.renewDue(new Date(start.getTime() + 3_700 * DAY_MS)), {});
    assert.equal(pem(endpoint.caFile), ca);
    assert.equal(pem(endpoint.certFile), cert);
  });

  it('never touches certificates the user brought', async () => {
    const own = loadConfig({
      ...base,
      BOREALIS_DATA_DIR: dataDir,
      BOREALIS_TLS_CERT_FILE: endpoint.certFile,
      BOREALIS_TLS_KEY_FILE: endpoint.keyFile,
    });
    const cert = pem(endpoint.certFile);
    assert.deepEqual(
      await new CertificateRenewal(own).renewDue(new Date(start.getTime() + 800 * DAY_MS)),
      {},
    );
    assert.equal(pem(endpoint.certFile), cert);
  });
});
