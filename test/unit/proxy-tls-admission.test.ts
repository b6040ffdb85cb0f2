// The endpoint tells TLS from plain RESP by the first byte (0x16 opens a TLS handshake record; no
// RESP request starts with it), and the cluster's policy decides: every case of the table.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readConfig } from '../../apps/proxy/src/config.js';
import {
  admit,
  arrivalOf,
  HANDSHAKE_FAILURE_ALERT,
  TLS_REQUIRED_REPLY,
} from '../../apps/proxy/src/tls/admission.js';

describe('TLS admission', () => {
  it('takes only 0x16 as the start of TLS; every RESP request start is plain', () => {
    for (let byte = 0; byte < 256; byte++) assert.equal(arrivalOf(byte), byte === 0x16 ? 'tls' : 'plain');
    for (const start of ['*1\r\n$4\r\nPING\r\n', '$4\r\n', 'PING\r\n', 'auth pw\r\n', '\r\n'])
      assert.equal(arrivalOf(start.charCodeAt(0)), 'plain', JSON.stringify(start));
  });

  it('decides every policy, arrival and certificate case', () => {
    const table = [
      ['required', 'plain', true, 'refuse-plain'],
      ['required', 'plain', false, 'refuse-plain'],
      ['required', 'tls', true, 'tls'],
      ['required', 'tls', false, 'refuse-tls'],
      ['optional', 'plain', true, 'plain'],
      ['optional', 'plain', false, 'plain'],
      ['optional', 'tls', true, 'tls'],
      ['optional', 'tls', false, 'refuse-tls'],
      ['off', 'plain', true, 'plain'],
      ['off', 'plain', false, 'plain'],
      ['off', 'tls', true, 'refuse-tls'],
      ['off', 'tls', false, 'refuse-tls'],
    ] as const;
    for (const [policy, arrival, hasCertificate, kind] of table)
      assert.equal(
        admit(policy, arrival, hasCertificate).kind,
        kind,
        `${policy} ${arrival} ${hasCertificate}`,
      );
  });

  it('tells a plain client on a TLS-only cluster what to do, as one RESP error', () => {
    const admission = admit('required', 'plain', true);
    assert.equal(admission.kind, 'refuse-plain');
    assert.equal(admission.kind === 'refuse-plain' && admission.reply, TLS_REQUIRED_REPLY);
    assert.match(
      TLS_REQUIRED_REPLY,
      /^-ERR this cluster requires TLS: connect with rediss:\/\/ .*--tls --cacert/,
    );
    assert.ok(TLS_REQUIRED_REPLY.endsWith('\r\n') && !TLS_REQUIRED_REPLY.slice(0, -2).includes('\r'));
  });

  it('says why TLS was refused: off for the cluster, or no certificate in the proxy', () => {
    const off = admit('off', 'tls', true);
    assert.ok(off.kind === 'refuse-tls' && off.reason === 'tls-off' && /TLS is off/.test(off.logLine));
    const none = admit('optional', 'tls', false);
    assert.ok(none.kind === 'refuse-tls' && none.reason === 'tls-unavailable');
    assert.match(none.kind === 'refuse-tls' ? none.logLine : '', /BOREALIS_TLS_CERT_FILE/);
    // An alert record: type 21, two bytes of body, fatal handshake_failure.
    assert.deepEqual([...HANDSHAKE_FAILURE_ALERT], [21, 3, 3, 0, 2, 2, 40]);
  });
});

describe('proxy TLS settings', () => {
  const base = { REDIS_URL: 'redis://127.0.0.1:7379' };

  it('takes the certificate and key together, or neither', () => {
    assert.equal(readConfig(base).tls, null);
    assert.deepEqual(
      readConfig({ ...base, BOREALIS_TLS_CERT_FILE: '/c.pem', BOREALIS_TLS_KEY_FILE: '/k.pem' }).tls,
      {
        certFile: '/c.pem',
        keyFile: '/k.pem',
      },
    );
    assert.throws(
      () => readConfig({ ...base, BOREALIS_TLS_CERT_FILE: '/c.pem' }),
      /got only BOREALIS_TLS_CERT_FILE/,
    );
    assert.equal(readConfig(base).tlsHandshakeTimeoutMs, 10_000);
    assert.throws(
      () => readConfig({ ...base, PROXY_TLS_HANDSHAKE_TIMEOUT_MS: '0' }),
      /PROXY_TLS_HANDSHAKE_TIMEOUT_MS/,
    );
  });
});
