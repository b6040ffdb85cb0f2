// TLS on client endpoints (docs/adr/0012), through a real proxy process to a real data node over
// six storage nodes, with a certificate made as the platform makes its own (a local CA and a
// server certificate for localhost, 127.0.0.1 and ::1). Three clusters, one per policy:
// `optional` serves redis-cli --tls, ioredis with TLS and plain clients on the same port;
// `required` serves TLS and tells a plain client (raw, redis-cli) to use rediss://, then closes
// it; `off` serves plain and refuses a TLS hello with an alert. A policy change applies to new
// connections without dropping open ones, and so does a renewed certificate. Bad TLS input (random bytes after 0x16, a truncated
// hello, a hello that stops) closes only that connection while the other clients go on.
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { LOCAL_NAMES } from '../../apps/control-plane/src/tls/certificate-plan.js';
import {
  ensurePlatformCertificates,
  platformCertificateFiles,
} from '../../apps/control-plane/src/tls/platform-certificates.js';
import { text } from '../support/clients.js';
import { ProxyStack, type TestRoute } from '../support/proxy.js';
import { waitUntil } from '../support/wait.js';

const PASSWORD = 'tls endpoint password';
const WRITER_PASSWORD = 'tls writer password';
const TOOL_TIMEOUT_MS = 30_000;
const HANDSHAKE_TIMEOUT_MS = 1_000;
/** How often a new connection makes the proxy look for renewed certificate files. */
const RELOAD_CHECK_MS = 200;
/** How long a connection the proxy should close may take to be closed (far above the handshake bound). */
const CLOSE_BOUND_MS = 15_000;
const TLS_REQUIRED =
  'ERR this cluster requires TLS: connect with rediss:// (redis-cli --tls --cacert <ca.pem>)';

describe('TLS on cluster endpoints', { timeout: 150_000 }, () => {
  const directory = mkdtempSync(join(tmpdir(), 'borealis-proxy-tls-'));
  const files = platformCertificateFiles(directory);
  const stack = new ProxyStack({
    writers: [{ id: 'tls1', cluster: `proxy-tls-${process.pid}` }],
    writerPassword: WRITER_PASSWORD,
    proxyEnv: {
      BOREALIS_TLS_CERT_FILE: files.certFile,
      BOREALIS_TLS_KEY_FILE: files.keyFile,
      PROXY_TLS_HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_TIMEOUT_MS),
      PROXY_TLS_RELOAD_CHECK_MS: String(RELOAD_CHECK_MS),
    },
  });
  const { clients } = stack;
  let ca: string;
  let optional: TestRoute;
  let required: TestRoute;
  let off: TestRoute;

  const tlsClient = (port: number) => clients.redis(port, { password: PASSWORD, tls: { ca } });
  const plainClient = (port: number) => clients.redis(port, { password: PASSWORD });
  const redisCli = (port: number, tls: boolean, ...command: string[]) =>
    clients.tool(
      'redis-cli',
      [
        ...(tls ? ['--tls', '--cacert', files.caFile] : []),
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-a',
        PASSWORD,
        '--no-auth-warning',
        ...command,
      ],
      '',
      TOOL_TIMEOUT_MS,
    );

  before(async () => {
    await ensurePlatformCertificates(directory, LOCAL_NAMES, new Date());
    ca = readFileSync(files.caFile, 'utf8');
    await stack.start();
    optional = { ...(await stack.newRoute({ password: PASSWORD, name: 'tls-optional' })), tls: 'optional' };
    required = { ...(await stack.newRoute({ password: PASSWORD, name: 'tls-required' })), tls: 'required' };
    off = { ...(await stack.newRoute({ password: PASSWORD, name: 'tls-off' })), tls: 'off' };
    await stack.publish(optional, required, off);
  });

  after(async () => {
    await stack.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('optional: redis-cli --tls, ioredis over TLS and plain clients on one port', async () => {
    const set = await redisCli(optional.port, true, 'SET', 'tls:cli', 'over tls');
    assert.equal(set.stdout.trim(), 'OK', set.stderr);
    const get = await redisCli(optional.port, true, 'GET', 'tls:cli');
    assert.equal(get.stdout.trim(), 'over tls', get.stderr);

    const secure = await tlsClient(optional.port);
    assert.equal(await secure.get('tls:cli'), 'over tls');
    await secure.set('tls:ioredis', 'v');
    const plain = await plainClient(optional.port);
    assert.equal(await plain.get('tls:ioredis'), 'v');
    const plainCli = await redisCli(optional.port, false, 'GET', 'tls:cli');
    assert.equal(plainCli.stdout.trim(), 'over tls', plainCli.stderr);

    const health = await stack.proxy.cluster(optional.clusterId);
    assert.equal(health?.tls, 'optional');
    assert.ok((health?.tlsConnections ?? 0) >= 1, JSON.stringify(health));
    assert.match(JSON.stringify((await stack.proxy.health()).tls), /127\.0\.0\.1/);
  });

  it('required: TLS clients are served; a plain client is told to use rediss:// and closed', async () => {
    const secure = await tlsClient(required.port);
    await secure.set('tls:required', 'yes');
    const cli = await redisCli(required.port, true, 'GET', 'tls:required');
    assert.equal(cli.stdout.trim(), 'yes', cli.stderr);

    const raw = await clients.raw(required.port);
    const [reply] = await raw.call(['AUTH', PASSWORD]);
    assert.equal(text(reply), TLS_REQUIRED);
    assert.ok(await raw.until(() => raw.closed, CLOSE_BOUND_MS), 'the plain connection is closed');

    const plainCli = await redisCli(required.port, false, 'GET', 'tls:required');
    assert.match(
      `${plainCli.stdout}${plainCli.stderr}`,
      /this cluster requires TLS: connect with rediss:\/\//,
    );
    await assert.rejects(plainClient(required.port));

    assert.equal(await secure.get('tls:required'), 'yes', 'the TLS client was not disturbed');
    assert.ok(
      (await stack.proxy.metric('borealis_proxy_connections_refused_total', { reason: 'tls-required' })) >= 2,
    );
  });

  it('off: plain clients are served; a TLS hello gets a handshake failure alert', async () => {
    const plain = await plainClient(off.port);
    await plain.set('tls:off', 'plain');
    assert.equal(await plain.get('tls:off'), 'plain');

    const failure = await new Promise<Error>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: off.port, ca });
      socket.once('secureConnect', () =>
        reject(new Error('the TLS handshake succeeded on a cluster with TLS off')),
      );
      socket.once('error', resolve);
    });
    assert.match(failure.message, /handshake failure/i);
    const cli = await redisCli(off.port, true, 'PING');
    assert.notEqual(cli.stdout.trim(), 'PONG');
    assert.match(`${cli.stdout}${cli.stderr}`, /SSL|handshake/i);
    assert.equal(await plain.get('tls:off'), 'plain');
  });

  it('applies a policy change to new connections and keeps open ones', async () => {
    const plainBefore = await plainClient(optional.port);
    await plainBefore.set('tls:change', '1');
    optional = await stack.update(optional, { tls: 'required' });
    const refused = await clients.raw(optional.port);
    assert.equal(text((await refused.call(['AUTH', PASSWORD]))[0]), TLS_REQUIRED);
    assert.equal(await plainBefore.incr('tls:change'), 2, 'the plain connection opened before stays');
    const secure = await tlsClient(optional.port);
    assert.equal(await secure.incr('tls:change'), 3);
    optional = await stack.update(optional, { tls: 'optional' });
    const plainAfter = await plainClient(optional.port);
    assert.equal(await plainAfter.incr('tls:change'), 4);
  });

  it('serves a renewed certificate to new connections without a restart, keeping open ones', async () => {
    const before = await tlsClient(optional.port);
    await before.set('tls:renewal', '1');
    const servedBefore = await servedFingerprint(optional.port, ca);
    // The server certificate made again under the same CA, as the platform renews it.
    rmSync(files.certFile);
    rmSync(files.keyFile);
    const outcome = await ensurePlatformCertificates(directory, LOCAL_NAMES, new Date());
    assert.equal(outcome.make, 'server');
    const renewed = new X509Certificate(readFileSync(files.certFile)).fingerprint256;
    assert.notEqual(renewed, servedBefore);
    await waitUntil('the renewed certificate served to a new connection', 15_000, async () => {
      return (await servedFingerprint(optional.port, ca)) === renewed;
    });
    assert.equal(await before.incr('tls:renewal'), 2, 'the connection opened before stays');
    const after = await tlsClient(optional.port);
    assert.equal(await after.incr('tls:renewal'), 3);
    // /health describes the certificate now served.
    const health = await stack.proxy.health();
    assert.equal(
      health.tls?.validTo,
      new Date(new X509Certificate(readFileSync(files.certFile)).validTo).toISOString(),
    );
  });

  it('closes only the connection that sends bad TLS input, and keeps serving', async () => {
    const secure = await tlsClient(optional.port);
    const plain = await plainClient(optional.port);
    await secure.set('tls:bad', '0');
    const failuresBefore = await stack.proxy.metric('borealis_proxy_tls_handshake_failures_total');
    const hello = await clientHello();

    // Random bytes after the handshake record type.
    const garbage = await openRaw(optional.port);
    garbage.write(Buffer.concat([Buffer.from([0x16]), randomBytes(512)]));
    await closedWithin(garbage, CLOSE_BOUND_MS, 'random bytes after 0x16');
    assert.equal(await secure.incr('tls:bad'), 1);

    // Half a ClientHello, then the client closes its side.
    const truncated = await openRaw(optional.port);
    truncated.end(hello.subarray(0, Math.floor(hello.length / 2)));
    await closedWithin(truncated, CLOSE_BOUND_MS, 'a truncated hello then end');
    assert.equal(await plain.incr('tls:bad'), 2);

    // Half a ClientHello, then nothing: closed at the handshake bound.
    const stalled = await openRaw(optional.port);
    stalled.write(hello.subarray(0, 10));
    await closedWithin(stalled, CLOSE_BOUND_MS, 'a hello that stops');
    assert.equal(await secure.incr('tls:bad'), 3);

    await waitUntil('three handshake failures counted', CLOSE_BOUND_MS, async () => {
      const failures = await stack.proxy.metric('borealis_proxy_tls_handshake_failures_total');
      return failures - failuresBefore >= 3;
    });
    const cli = await redisCli(optional.port, true, 'GET', 'tls:bad');
    assert.equal(cli.stdout.trim(), '3', cli.stderr);
    assert.equal(stack.proxy.process.child.exitCode, null, 'the proxy is running');
  });
});

/** The SHA-256 fingerprint of the certificate the endpoint serves a new TLS connection. */
async function servedFingerprint(port: number, ca: string): Promise<string> {
  const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    return socket.getPeerX509Certificate()?.fingerprint256 ?? '';
  } finally {
    socket.destroy();
  }
}

/** A plain TCP connection that drops what it receives; half-open allowed, so that ending it says only "no more". */
function openRaw(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = new Socket({ allowHalfOpen: true });
    socket.once('error', reject);
    socket.connect(port, '127.0.0.1', () => {
      socket.removeListener('error', reject);
      socket.on('error', () => undefined);
      socket.resume();
      resolve(socket);
    });
  });
}

/** Resolves once the proxy has closed `socket`; fails naming `what` after `timeoutMs`. */
async function closedWithin(socket: Socket, timeoutMs: number, what: string): Promise<void> {
  let closed = socket.destroyed;
  socket.once('close', () => {
    closed = true;
  });
  // The proxy's side ends: a half-open socket sees 'end'; then it is ours to close.
  socket.once('end', () => socket.destroy());
  await waitUntil(`the proxy to close the connection (${what})`, timeoutMs, () => closed);
}

/** A real ClientHello, as Node's TLS client sends it, caught by a listener that answers nothing. */
async function clientHello(): Promise<Buffer> {
  const catcher = createServer();
  await new Promise<void>((resolve) => catcher.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = catcher.address() as AddressInfo;
    const first = new Promise<Buffer>((resolve) =>
      catcher.once('connection', (socket) =>
        socket.once('data', (chunk: Buffer) => {
          resolve(chunk);
          socket.destroy();
        }),
      ),
    );
    const client = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    client.on('error', () => undefined);
    const hello = await first;
    client.destroy();
    assert.equal(hello[0], 0x16, 'a ClientHello is a handshake record');
    return hello;
  } finally {
    catcher.close();
  }
}
