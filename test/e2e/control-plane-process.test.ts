// The control plane as users run it: a real process over real PostgreSQL and Redis,
// stopped and started again, with the bootstrap key and the reset command.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { repoRoot, testEnvironment } from '../support/environment.js';
import { ApiClient } from '../support/http-client.js';
import { freePort, type RunningProcess, startProcess } from '../support/processes.js';

const mainEntry = join(repoRoot, 'dist/apps/control-plane/src/main.js');
const resetEntry = join(repoRoot, 'dist/apps/control-plane/src/cli/reset-admin-key.js');

describe('control plane process', () => {
  let database: TestDatabase;
  let workDir: string;
  let env: NodeJS.ProcessEnv;
  const processes: RunningProcess[] = [];

  async function start(): Promise<{ process: RunningProcess; baseUrl: string }> {
    const process = startProcess(globalThis.process.execPath, [mainEntry], { env });
    processes.push(process);
    const [, baseUrl] = await process.waitFor(
      /REST API:\s+(http:\/\/127\.0\.0\.1:\d+)\/v1\/clusters/,
      30_000,
    );
    await process.waitFor(/Admin API key:.*\n/, 5000);
    return { process, baseUrl: baseUrl ?? '' };
  }

  before(async () => {
    database = await createTestDatabase();
    workDir = mkdtempSync(join(tmpdir(), 'borealis-cp-'));
    env = {
      PATH: process.env.PATH,
      DATABASE_URL: database.url,
      REDIS_URL: testEnvironment.redisUrl(),
      PORT: '0',
      ADMIN_KEY_FILE: join(workDir, 'admin.key'),
      // The process's own life (start, keys, stop); the fleet is tested by the compute tests.
      COMPUTE_DRIVER: 'none',
      NO_COLOR: '1',
    };
  });

  after(async () => {
    for (const process of processes) process.kill();
    await database.drop();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('prints the admin key once, keeps clusters across a restart, and resets the key', async () => {
    const first = await start();
    const [, printedKey] = first.process.output().match(/Admin API key:\s+(brl_\S+)/) ?? [];
    assert.ok(printedKey, `the first start prints the key:\n${first.process.output()}`);
    assert.equal(readFileSync(env.ADMIN_KEY_FILE ?? '', 'utf8').trim(), printedKey);
    assert.equal(statSync(env.ADMIN_KEY_FILE ?? '').mode & 0o777, 0o600, 'the key file is private');

    const api = new ApiClient(first.baseUrl, printedKey);
    const created = await api.post('/v1/clusters', { name: 'durable', mode: 'provisioned', writerCount: 2 });
    assert.equal(created.status, 201);
    const before = await api.get(`/v1/clusters/${created.body.id}`);

    first.process.child.kill('SIGTERM');
    assert.equal(await first.process.waitForExit(15_000), 0, 'SIGTERM stops the control plane cleanly');

    const second = await start();
    assert.doesNotMatch(second.process.output(), /brl_/, 'a restart does not print the key again');
    assert.match(second.process.output(), /Admin API key:\s+in .*admin\.key/);
    const again = new ApiClient(second.baseUrl, printedKey);
    const afterRestart = await again.get(`/v1/clusters/${created.body.id}`);
    assert.equal(afterRestart.status, 200, 'the same key works after the restart');
    assert.deepEqual(afterRestart.body, before.body, 'the cluster is unchanged, endpoint port included');

    const reset = startProcess(process.execPath, [resetEntry], { env });
    processes.push(reset);
    assert.equal(await reset.waitForExit(30_000), 0, reset.output());
    const [, newKey] = reset.output().match(/(brl_\S+)/) ?? [];
    assert.ok(newKey && newKey !== printedKey);
    assert.equal(readFileSync(env.ADMIN_KEY_FILE ?? '', 'utf8').trim(), newKey);
    assert.equal((await again.get('/v1/clusters')).status, 401, 'the old bootstrap key is revoked');
    assert.equal((await again.withKey(newKey ?? '').get('/v1/clusters')).status, 200);

    second.process.child.kill('SIGINT');
    assert.equal(await second.process.waitForExit(15_000), 0);
  });

  it('refuses bad configuration with a message naming the variable', async () => {
    const bad = startProcess(process.execPath, [mainEntry], { env: { ...env, PORT: 'eighty' } });
    processes.push(bad);
    assert.equal(await bad.waitForExit(15_000), 2);
    assert.match(bad.output(), /PORT="eighty" is invalid: use a whole number from 0 to 65535/);
  });

  it('explains a port that is taken and a database that is down, then exits 1', async () => {
    const holder = await start();
    const port = new URL(holder.baseUrl).port;
    const clash = startProcess(process.execPath, [mainEntry], { env: { ...env, PORT: port } });
    processes.push(clash);
    assert.equal(await clash.waitForExit(30_000), 1);
    assert.match(
      clash.output(),
      new RegExp(
        `cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\): stop the process using it or set PORT`,
      ),
    );
    holder.process.child.kill('SIGTERM');
    await holder.process.waitForExit(15_000);

    const unreachable = new URL(database.url);
    unreachable.port = String(await freePort());
    const noDatabase = startProcess(process.execPath, [mainEntry], {
      env: { ...env, DATABASE_URL: unreachable.toString() },
    });
    processes.push(noDatabase);
    assert.equal(await noDatabase.waitForExit(30_000), 1);
    assert.match(
      noDatabase.output(),
      /cannot use the metadata database \(P1001: .*\): check that PostgreSQL runs and DATABASE_URL is right/,
    );
  });

  it('prints a new admin key even when the key file cannot be written', async () => {
    const fresh = await createTestDatabase();
    try {
      // A key file whose parent is a regular file: no user, not even root, can create it.
      const parentFile = join(workDir, 'not-a-directory');
      writeFileSync(parentFile, '');
      const unwritable = startProcess(process.execPath, [mainEntry], {
        env: { ...env, DATABASE_URL: fresh.url, ADMIN_KEY_FILE: join(parentFile, 'admin.key') },
      });
      processes.push(unwritable);
      const [, key] = await unwritable.waitFor(
        /Admin API key:\s+(brl_\S+)\n\s+\(shown once; NOT saved: .+; copy it now\)/,
        30_000,
      );
      const baseUrl = (await unwritable.waitFor(/REST API:\s+(http:\/\/\S+)\/v1\/clusters/, 5000))[1] ?? '';
      assert.equal((await new ApiClient(baseUrl, key ?? '').get('/v1/clusters')).status, 200);
      unwritable.child.kill('SIGTERM');
      assert.equal(await unwritable.waitForExit(15_000), 0);
    } finally {
      await fresh.drop();
    }
  });
});
