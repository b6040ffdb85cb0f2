// Starts each app as a real process and checks its health endpoint, its error answers,
// its configuration errors and its graceful shutdown.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/** Data nodes and storage nodes will not start without an admin token; the proxy ignores it. */
const NODE_TOKEN = randomBytes(24).toString('hex');
const STARTUP_TIMEOUT_MS = 10_000;
const EXIT_TIMEOUT_MS = 5_000;
const FETCH_TIMEOUT_MS = 5_000;

const entry = (app: string): string =>
  fileURLToPath(new URL(`../../apps/${app}/src/main.js`, import.meta.url));

interface AppCase {
  app: string;
  args: string[];
  startupLine: RegExp;
  details: Record<string, unknown>;
  /** Settings the app needs besides HOST and HEALTH_PORT. */
  env?: Record<string, string>;
}

// Storage nodes keep a log: each run gets its own directory, and port 0 for the protocol.
const storageDataRoot = mkdtempSync(join(tmpdir(), 'borealis-app-health-'));
const storageArgs = (id: string) => [
  '--port',
  '0',
  '--data-dir',
  join(storageDataRoot, `${id}-${Date.now()}`),
];

const cases: AppCase[] = [
  {
    app: 'storage-node',
    args: ['--id', 's1', '--az', 'az-a', ...storageArgs('s1')],
    startupLine: /^storage-node s1 \(az az-a\) health at (http:\/\/\S+\/health)$/m,
    details: { nodeId: 's1', az: 'az-a' },
  },
  {
    app: 'data-node',
    args: ['--port', '0'],
    startupLine: /^data-node d1 health at (http:\/\/\S+\/health)$/m,
    details: { attachedCluster: null },
  },
  {
    app: 'proxy',
    args: [],
    startupLine: /^proxy p1 health at (http:\/\/\S+\/health)$/m,
    details: { proxyId: 'p1', routes: 0, connections: 0, redisConnected: false },
    // Nothing listens on port 1: the proxy serves its health without Redis (it keeps reconnecting).
    env: { REDIS_URL: 'redis://127.0.0.1:1' },
  },
];

interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Running {
  child: ChildProcess;
  /** Settles once the process has exited and its output has been read to the end. */
  closed: Promise<ExitStatus>;
  stdout: () => string;
  stderr: () => string;
}

const started = new Set<ChildProcess>();

function run(app: string, args: string[], env: Record<string, string | undefined>): Running {
  const childEnv: Record<string, string | undefined> = { ...process.env };
  delete childEnv.HOST;
  delete childEnv.HEALTH_PORT;
  delete childEnv.STORAGE_NODE_ID;
  delete childEnv.STORAGE_NODE_AZ;
  childEnv.BOREALIS_NODE_TOKEN = NODE_TOKEN;
  Object.assign(childEnv, env);
  const child = spawn(process.execPath, [entry(app), ...args], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  const closed = new Promise<ExitStatus>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  return { child, closed, stdout: () => out, stderr: () => err };
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function kill(child: ChildProcess): void {
  if (isRunning(child)) {
    child.kill('SIGKILL');
  }
}

/** Resolves with the exit code (or signal) once the child has exited; rejects after `timeoutMs`. */
async function waitForExit(running: Running, timeoutMs: number): Promise<ExitStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`process did not exit within ${timeoutMs} ms; stderr: ${running.stderr()}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([running.closed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with the first match of `pattern` in stdout; rejects on exit or after `timeoutMs`. */
function waitForLine(running: Running, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const { child } = running;
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
    };
    const onData = (): void => {
      const match = running.stdout().match(pattern);
      if (match) {
        cleanup();
        resolve(match);
      }
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(
        new Error(
          `process exited (code ${code}) before printing its startup line; stderr: ${running.stderr()}`,
        ),
      );
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new Error(
          `no startup line within ${timeoutMs} ms; stdout: ${running.stdout()}; stderr: ${running.stderr()}`,
        ),
      );
    }, timeoutMs);
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    onData();
  });
}

async function getJson(url: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  return { status: response.status, body: await response.json() };
}

after(() => {
  for (const child of started) {
    kill(child);
  }
  rmSync(storageDataRoot, { recursive: true, force: true });
});

for (const { app, args, startupLine, details, env = {} } of cases) {
  describe(app, () => {
    it('serves /health, answers other paths and methods with JSON errors, and exits 0 on SIGTERM', async () => {
      const running = run(app, args, { ...env, HEALTH_PORT: '0', HOST: '127.0.0.1' });
      try {
        const match = await waitForLine(running, startupLine, STARTUP_TIMEOUT_MS);
        const healthUrl = match[1] ?? '';
        const url = new URL(healthUrl);
        assert.equal(url.hostname, '127.0.0.1');
        assert.notEqual(Number(url.port), 0);

        const health = await getJson(healthUrl);
        assert.equal(health.status, 200);
        const { uptimeSeconds, ...fields } = health.body as Record<string, unknown>;
        assert.ok(typeof uptimeSeconds === 'number' && Number.isInteger(uptimeSeconds) && uptimeSeconds >= 0);
        const expected: Record<string, unknown> = { status: 'ok', app, pid: running.child.pid, ...details };
        // Apps may report more (a storage node adds its stats); these fields must be exact.
        const reported = Object.fromEntries(Object.keys(expected).map((key) => [key, fields[key]]));
        assert.deepEqual(reported, expected);

        // A data node tells nothing but /health and /metrics to a caller without its token.
        const unauthorized = await getJson(new URL('/no-such-path', url).href);
        assert.equal(unauthorized.status, app === 'data-node' ? 401 : 404);
        const missing = await getJson(new URL('/no-such-path', url).href, {
          headers: { authorization: `Bearer ${NODE_TOKEN}` },
        });
        assert.equal(missing.status, 404);
        const missingBody = missing.body as Record<string, unknown>;
        assert.equal(missingBody.statusCode, 404);
        assert.equal(missingBody.error, 'Not Found');
        assert.match(String(missingBody.message), /GET \/health/);
        assert.equal(missingBody.details, null);

        const wrongMethod = await getJson(healthUrl, { method: 'POST', body: 'ignored' });
        assert.equal(wrongMethod.status, 405);
        assert.equal((wrongMethod.body as Record<string, unknown>).statusCode, 405);

        assert.ok(running.child.kill('SIGTERM'));
        const exit = await waitForExit(running, EXIT_TIMEOUT_MS);
        assert.deepEqual(exit, { code: 0, signal: null });
        assert.equal(running.stdout().match(new RegExp(startupLine.source, 'gm'))?.length, 1);
        assert.equal(running.stderr(), '');
      } finally {
        kill(running.child);
      }
    });

    it('exits non-zero with a message naming HEALTH_PORT when it is not a port number', async () => {
      const running = run(app, args, { ...env, HEALTH_PORT: 'abc', HOST: '127.0.0.1' });
      try {
        const exit = await waitForExit(running, EXIT_TIMEOUT_MS);
        assert.notEqual(exit.code, 0);
        assert.notEqual(exit.code, null);
        assert.match(running.stderr(), /HEALTH_PORT/);
        assert.doesNotMatch(running.stdout(), /health at/);
      } finally {
        kill(running.child);
      }
    });
  });
}

describe('storage-node arguments', () => {
  for (const [label, args] of [
    ['without --id', ['--az', 'az-a']],
    ['with an invalid --id', ['--id', 'S1!', '--az', 'az-a']],
    ['without --az', ['--id', 's1']],
  ] as const) {
    it(`exits with code 2 and a usage message ${label}`, async () => {
      const running = run('storage-node', [...args], { HEALTH_PORT: '0', HOST: '127.0.0.1' });
      try {
        const exit = await waitForExit(running, EXIT_TIMEOUT_MS);
        assert.deepEqual(exit, { code: 2, signal: null });
        assert.match(running.stderr(), /usage: storage-node --id <id> --az <az>/);
        assert.equal(running.stderr().trim().split('\n').length, 1);
        assert.doesNotMatch(running.stdout(), /health at/);
      } finally {
        kill(running.child);
      }
    });
  }

  it('falls back to STORAGE_NODE_ID and STORAGE_NODE_AZ', async () => {
    const running = run('storage-node', [], {
      HEALTH_PORT: '0',
      HOST: '127.0.0.1',
      STORAGE_NODE_ID: 's2',
      STORAGE_NODE_AZ: 'az-b',
      QUORUM_PORT: '0',
      STORAGE_DATA_DIR: join(storageDataRoot, 's2-env'),
    });
    try {
      const match = await waitForLine(
        running,
        /^storage-node s2 \(az az-b\) health at (http:\/\/\S+\/health)$/m,
        STARTUP_TIMEOUT_MS,
      );
      const health = await getJson(match[1] ?? '');
      assert.equal(health.status, 200);
      const { nodeId, az } = health.body as Record<string, unknown>;
      assert.deepEqual({ nodeId, az }, { nodeId: 's2', az: 'az-b' });
      running.child.kill('SIGTERM');
      assert.deepEqual(await waitForExit(running, EXIT_TIMEOUT_MS), { code: 0, signal: null });
    } finally {
      kill(running.child);
    }
  });
});
