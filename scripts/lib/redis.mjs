import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { run, startChild } from './exec.mjs';

const STANDARD_URL = 'redis://127.0.0.1:6379';

/**
 * @typedef {{ url: string, source: 'REDIS_URL' | 'local' | 'started', stop: () => Promise<void> }}
 *   RedisHandle
 */

/**
 * Returns a Redis for Borealis: REDIS_URL when set, else one already answering on 127.0.0.1 (the standard
 * port, or `port` when another Borealis command started it), else a private redis-server on `port`.
 * `ownProcessGroup`: as for ensurePostgres, the redis-server it starts is out of reach of a terminal's Ctrl-C.
 * @param {{ dataDir: string, port: number, ownProcessGroup?: boolean, log?: (message: string) => void }} options
 * @returns {Promise<RedisHandle>}
 */
export async function ensureRedis({ dataDir, port, ownProcessGroup = false, log = () => {} }) {
  const configured = process.env.REDIS_URL;
  if (configured) {
    await ping(configured).catch((error) => {
      throw new Error(
        `REDIS_URL (${redact(configured)}) is not reachable: ${reason(error)}. Start that Redis, ` +
          'fix REDIS_URL, or unset it to use a local redis-server.',
      );
    });
    return { url: configured, source: 'REDIS_URL', stop: async () => {} };
  }
  for (const url of [STANDARD_URL, `redis://127.0.0.1:${port}`]) {
    if (await answers(url)) return { url, source: 'local', stop: async () => {} };
  }
  return startRedisServer({ dataDir, port, ownProcessGroup, log });
}

/**
 * Runs redis-server (installing Debian's package first when root and apt-get allow it) as a child of this
 * process on 127.0.0.1:`port`, without persistence. Call stop() to end it; it is also killed when this
 * process exits.
 * @param {{ dataDir: string, port: number, ownProcessGroup?: boolean, log?: (message: string) => void }} options
 * @returns {Promise<RedisHandle>}
 */
export async function startRedisServer({ dataDir, port, ownProcessGroup = false, log = () => {} }) {
  let binary = await findOnPath('redis-server');
  if (!binary && process.getuid?.() === 0 && (await findOnPath('apt-get'))) {
    log("redis-server is not installed: installing Debian's redis-server with apt-get");
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const hint = 'Install redis-server yourself, or set REDIS_URL.';
    await run('apt-get', ['update'], { env, hint });
    await run('apt-get', ['install', '-y', '--no-install-recommends', 'redis-server'], { env, hint });
    binary = await findOnPath('redis-server');
  }
  if (!binary) {
    throw new Error(
      'No Redis found: REDIS_URL is unset, nothing answers on 127.0.0.1:6379 and redis-server is not ' +
        'on PATH. Install redis-server (e.g. `apt-get install redis-server`, `brew install redis`) ' +
        'or set REDIS_URL.',
    );
  }

  const url = `redis://127.0.0.1:${port}`;
  // Otherwise the readiness check below would take that server's PING for our child's.
  if (await answers(url)) {
    throw new Error(`a Redis already answers on 127.0.0.1:${port}: use it or choose another port`);
  }
  // dataDir is private (it holds the PostgreSQL password), its parents are not.
  await mkdir(dirname(dataDir), { recursive: true });
  const dir = join(dataDir, 'redis');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // No snapshots or AOF: the data lives as long as this process, so nothing stale survives a restart.
  const args = ['--save', '', '--appendonly', 'no', '--dir', dir];
  args.push('--port', String(port), '--bind', '127.0.0.1');
  const child = await startChild(
    binary,
    args,
    { stdio: ['ignore', 'pipe', 'pipe'], detached: ownProcessGroup },
    `Repair or remove ${binary} (e.g. \`apt-get install --reinstall redis-server\`), or set REDIS_URL.`,
  );
  // Drain its output for its whole life (a full pipe would block it), keeping only the tail for errors.
  let output = '';
  const collect = (/** @type {Buffer} */ chunk) => {
    output = (output + chunk).slice(-8000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const running = () => child.exitCode === null && child.signalCode === null;

  // A plain exit (including process.exit()) must not leave a Redis behind. 'exit' handlers must be
  // synchronous: signal it and go.
  const killOnExit = () => child.kill('SIGTERM');
  process.on('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (!running()) return;
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(force);
  };

  const deadline = Date.now() + 10_000;
  while (!(await answers(url))) {
    if (!running() || Date.now() > deadline) {
      await stop();
      const why = running() ? 'no PING reply within 10 s' : 'it exited';
      throw new Error(`redis-server did not start on 127.0.0.1:${port}: ${why}\n${output.trim()}`);
    }
    await sleep(100);
  }
  return { url, source: 'started', stop };
}

/**
 * PING with a single attempt: ioredis would otherwise retry forever and keep the process alive.
 * @param {string} url
 */
async function ping(url) {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  // connect() only rejects with "Connection is closed."; the cause (ECONNREFUSED, ...) comes as 'error'.
  /** @type {Error | undefined} */
  let cause;
  client.on('error', (error) => {
    cause ??= error;
  });
  try {
    await client.connect();
    await client.ping();
    await client.quit();
    // e.g. SELECT of a database index the server does not have: reported as 'error', yet PING works.
    if (cause) throw cause;
  } catch (error) {
    // Not after the connection ended by itself: disconnect() would then arm a 2 s timer that delays exit.
    if (client.status !== 'end') client.disconnect();
    throw cause ?? error;
  }
}

async function answers(/** @type {string} */ url) {
  try {
    await ping(url);
    return true;
  } catch {
    return false;
  }
}

async function findOnPath(/** @type {string} */ name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return null;
}

/** The URL without its password, safe to print. @param {string} url */
function redact(url) {
  try {
    const parsed = new URL(url);
    const hidden = parsed.password !== '';
    parsed.password = '';
    return `${parsed}${hidden ? ', password hidden' : ''}`;
  } catch {
    return 'not a valid URL';
  }
}

/** @param {any} error */
function reason(error) {
  return /^E[A-Z]+$/.test(error?.code ?? '') ? error.code : error?.message || String(error);
}
