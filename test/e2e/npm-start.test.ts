// `npm start` as a newcomer runs it: embedded PostgreSQL in a fresh data directory, the whole
// platform (storage fleet, proxy, warm pool), the README's walkthrough verbatim (curl, then
// redis-cli through the new cluster's endpoint), Ctrl-C stopping every process it started, and
// a second start that keeps the data: the cluster, the key stored in it and the local CA (with a
// TLS client through the endpoint, and a PATCH to tls=required that a plain client then meets).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot, testEnvironment } from '../support/environment.js';
import { freePort, freePortRange, isAlive, type RunningProcess, startProcess } from '../support/processes.js';

/** The bash block that follows the `walkthrough` marker in README.md. */
function readmeWalkthrough(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const match = readme.match(/<!-- walkthrough[^>]*-->\s*```bash\n([\s\S]*?)```/);
  assert.ok(match?.[1], 'README.md has a walkthrough block');
  return match[1];
}

/** PIDs of the fleet's processes, from their registry entries. */
function fleetPids(dataDir: string): number[] {
  const registry = join(dataDir, 'fleet');
  if (!existsSync(registry)) return [];
  return readdirSync(registry)
    .filter((name) => name.endsWith('.json'))
    .map((name) => (JSON.parse(readFileSync(join(registry, name), 'utf8')) as { pid: number }).pid);
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('npm start', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let restPort: number;
  let postgresPort: number;
  const processes: RunningProcess[] = [];

  function startPlatform(): RunningProcess {
    const running = startProcess(process.execPath, [join(repoRoot, 'scripts/start.mjs')], {
      env,
      cwd: repoRoot,
      ownProcessGroup: true,
    });
    processes.push(running);
    return running;
  }

  async function stopWithCtrlC(running: RunningProcess): Promise<void> {
    const fleet = fleetPids(env.BOREALIS_DATA_DIR ?? '');
    assert.ok(fleet.length >= 7, `the fleet runs (six storage nodes, the proxy, data nodes): ${fleet}`);
    // A terminal's Ctrl-C signals the whole foreground process group: the script and every child
    // it did not start in a group of its own (the control plane; PostgreSQL must not be among them,
    // or it would shut down while the control plane still records its fleet's stop in it).
    const group = running.child.pid;
    assert.ok(group, 'the start script runs');
    process.kill(-group, 'SIGINT');
    assert.equal(await running.waitForExit(60_000), 0, running.output());
    assert.deepEqual(
      fleet.filter(isAlive),
      [],
      'Ctrl-C stops every process of the fleet (they run detached, so it is not the terminal that stops them)',
    );
    assert.match(running.output(), /Borealis stopped; data under \.data\/ is kept/);
    assert.equal(await portAnswers(restPort), false, 'the control plane is stopped');
    assert.equal(await portAnswers(postgresPort), false, 'the embedded PostgreSQL is stopped');
  }

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'borealis-start-'));
    // The embedded PostgreSQL runs as another user when started as root: it must reach the directory.
    chmodSync(dataDir, 0o755);
    restPort = await freePort();
    postgresPort = await freePort();
    const endpointPorts = await freePortRange(10);
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      BOREALIS_DATA_DIR: join(dataDir, 'data'),
      EMBEDDED_POSTGRES_PORT: String(postgresPort),
      REDIS_URL: testEnvironment.redisUrl(),
      PORT: String(restPort),
      ENDPOINT_PORT_MIN: String(endpointPorts),
      ENDPOINT_PORT_MAX: String(endpointPorts + 9),
      WARM_POOL_SIZE: '1',
      // The test Redis is shared: this platform's routes stay under its own prefix.
      BOREALIS_REDIS_PREFIX: `borealis-npm-start-${process.pid}`,
      // A test runner that dies takes the detached fleet with it.
      BOREALIS_EXIT_WITH_PID: String(process.pid),
      NO_COLOR: '1',
    };
  });

  after(async () => {
    // A test that failed half-way leaves a platform running: Ctrl-C stops it with its fleet and
    // PostgreSQL (they run detached, so SIGKILL of the script alone would leave them running).
    for (const running of processes) {
      if (running.child.exitCode !== null || running.child.signalCode !== null) continue;
      running.child.kill('SIGINT');
      await running.waitForExit(60_000).catch(() => running.kill());
    }
    for (const pid of fleetPids(env.BOREALIS_DATA_DIR ?? '').filter(isAlive)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts on embedded PostgreSQL, prints URLs and the key, serves the README walkthrough, and stops on Ctrl-C', async () => {
    const first = startPlatform();
    await first.waitFor(/Admin API key:.*\n.*\n/, 180_000);
    const output = first.output();
    assert.match(output, new RegExp(`REST API:\\s+http://127\\.0\\.0\\.1:${restPort}/v1/clusters`));
    assert.match(output, new RegExp(`OpenAPI:\\s+http://127\\.0\\.0\\.1:${restPort}/docs`));
    const [, key] = output.match(/Admin API key:\s+(brl_\S+)/) ?? [];
    const keyFile = join(env.BOREALIS_DATA_DIR ?? '', 'admin.key');
    assert.equal(readFileSync(keyFile, 'utf8').trim(), key);
    assert.ok(
      existsSync(join(env.BOREALIS_DATA_DIR ?? '', 'postgres', 'PG_VERSION')),
      'PostgreSQL data lives under the data dir',
    );

    // The platform made its own CA and endpoint certificate, and says how to use them.
    const caFile = join(env.BOREALIS_DATA_DIR ?? '', 'tls', 'ca.pem');
    assert.match(output, new RegExp(`TLS CA:\\s+${caFile.replaceAll('.', '\\.')}`));
    assert.match(
      output,
      new RegExp(`redis-cli --tls --cacert ${caFile.replaceAll('.', '\\.')} -h 127\\.0\\.0\\.1 -p <port>`),
    );
    const caMade = readFileSync(caFile, 'utf8');
    for (const name of ['ca.key', 'server.key'])
      assert.equal(statSync(join(env.BOREALIS_DATA_DIR ?? '', 'tls', name)).mode & 0o777, 0o600, name);

    const script = readmeWalkthrough()
      .replaceAll('127.0.0.1:7400', `127.0.0.1:${restPort}`)
      .replaceAll('.data/admin.key', keyFile)
      .replaceAll('.data/tls/ca.pem', caFile);
    const lines = execFileSync('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 60_000,
    })
      .trim()
      .split('\n');
    assert.deepEqual(
      lines.slice(4),
      ['OK', 'hello', 'hello'],
      'redis-cli set and get through the endpoint, plain and over TLS',
    );
    const [created, listed, viewerKey, ready] = lines.slice(0, 4).map((line) => JSON.parse(line));
    assert.equal(created.name, 'orders', JSON.stringify(created));
    assert.ok(created.dataPassword);
    assert.deepEqual(
      listed.items.map((cluster: { name: string }) => cluster.name),
      ['orders'],
    );
    assert.equal(viewerKey.role, 'viewer');
    assert.equal(ready.status, 'ready');

    await stopWithCtrlC(first);

    const second = startPlatform();
    await second.waitFor(/Admin API key:\s+in .*admin\.key/, 120_000);
    const response = await fetch(`http://127.0.0.1:${restPort}/v1/clusters`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const body = (await response.json()) as { items: { id: string }[] };
    assert.deepEqual(
      body.items.map((cluster) => cluster.id),
      [created.id],
      'the cluster survived the restart',
    );
    const stored = execFileSync(
      'redis-cli',
      [
        '-p',
        String(created.endpoint.port),
        '-a',
        created.dataPassword,
        '--no-auth-warning',
        'get',
        'greeting',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(stored.trim(), 'hello', 'the key stored before Ctrl-C is there after the next start');
    assert.equal(readFileSync(caFile, 'utf8'), caMade, 'the CA is made once and reused');

    // PATCH tls=required: the proxy applies it, a plain client is told to use TLS.
    const patched = await fetch(`http://127.0.0.1:${restPort}/v1/clusters/${created.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tls: 'required' }),
    });
    assert.equal(patched.status, 200);
    const cli = (...tls: string[]) =>
      spawnSync(
        'redis-cli',
        [
          ...tls,
          '-p',
          String(created.endpoint.port),
          '-a',
          created.dataPassword,
          '--no-auth-warning',
          'get',
          'greeting',
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
    const plain = cli();
    assert.match(`${plain.stdout}${plain.stderr}`, /this cluster requires TLS: connect with rediss:\/\//);
    assert.equal(cli('--tls', '--cacert', caFile).stdout.trim(), 'hello');
    await stopWithCtrlC(second);
  });
});
