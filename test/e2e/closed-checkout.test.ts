// A new user's checkout in a directory only its owner can enter (`mktemp -d`, /root): `npm start`
// becomes ready and serves, `npm test`'s PostgreSQL set-up works there, and neither leaves the
// checkout dirty. Run as root, the embedded PostgreSQL runs as the `postgres` user, which
// cannot enter such a directory: this is where that used to fail.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdtempSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot, testEnvironment } from '../support/environment.js';
import { freePort, type RunningProcess, startProcess } from '../support/processes.js';

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Borealis test', '-c', 'user.email=test@localhost', ...args], {
    cwd,
    encoding: 'utf8',
  });
}

/**
 * A clone of this repository as its working tree stands: on a fresh clone of main (CI) that is
 * HEAD; while developing, uncommitted changes are committed in the clone so that they are tested.
 */
function cloneWorkingTree(into: string): void {
  git(dirname(into), 'clone', '--quiet', '--no-hardlinks', repoRoot, into);
  const changed = git(repoRoot, 'ls-files', '--modified', '--others', '--exclude-standard', '-z')
    .split('\0')
    .filter((path) => path !== '');
  const deleted = git(repoRoot, 'ls-files', '--deleted', '-z')
    .split('\0')
    .filter((path) => path !== '');
  for (const path of changed) {
    if (existsSync(join(repoRoot, path))) cpSync(join(repoRoot, path), join(into, path), { recursive: true });
  }
  for (const path of deleted) rmSync(join(into, path), { force: true });
  if (git(into, 'status', '--porcelain') !== '') {
    git(into, 'add', '--all');
    git(into, 'commit', '--quiet', '-m', 'working tree under test');
  }
}

/** Where a symbolic link made by the PostgreSQL set-up points, if it made one. */
function linkTarget(path: string): string | null {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : null;
  } catch {
    return null;
  }
}

describe('a checkout in a directory only its owner can enter', () => {
  let closedDir: string;
  let checkout: string;
  let env: NodeJS.ProcessEnv;
  const processes: RunningProcess[] = [];

  before(async () => {
    closedDir = mkdtempSync(join(tmpdir(), 'borealis-closed-'));
    assert.equal(statSync(closedDir).mode & 0o777, 0o700, 'mkdtemp makes a directory only its owner enters');
    checkout = join(closedDir, 'borealis');
    cloneWorkingTree(checkout);
    // The install step is checked by every fresh-clone CI run; here the installed packages are shared
    // (hard links, stamp included) so that this test spends its time on what it is about.
    if (existsSync(join(repoRoot, 'node_modules'))) {
      execFileSync('cp', ['-al', join(repoRoot, 'node_modules'), join(checkout, 'node_modules')]);
    }
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REDIS_URL: testEnvironment.redisUrl(),
      PORT: String(await freePort()),
      EMBEDDED_POSTGRES_PORT: String(await freePort()),
      TEST_EMBEDDED_POSTGRES_PORT: String(await freePort()),
      NO_COLOR: '1',
      // The fleet `npm start` runs is detached (it outlives a control plane restart); should its
      // stop not reach every process, they still end with this test's process.
      BOREALIS_EXIT_WITH_PID: String(process.pid),
    };
  });

  after(() => {
    for (const running of processes) running.kill();
    // A relocated PostgreSQL data directory lives outside the checkout: remove it with the checkout.
    for (const link of ['.data/postgres', '.data/test/postgres']) {
      const target = linkTarget(join(checkout, link));
      if (target) rmSync(dirname(target), { recursive: true, force: true });
    }
    rmSync(closedDir, { recursive: true, force: true });
  });

  it('`npm start` becomes ready and answers /health, and stops on Ctrl-C', async () => {
    const start = startProcess(process.execPath, [join(checkout, 'scripts/start.mjs')], {
      env,
      cwd: checkout,
    });
    processes.push(start);
    await start.waitFor(/Borealis control plane is ready[\s\S]*Admin API key:.*\n.*\n/, 240_000);
    const health = await fetch(`http://127.0.0.1:${env.PORT}/health`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');
    start.child.kill('SIGINT');
    assert.equal(await start.waitForExit(60_000), 0, start.output());
    assert.doesNotMatch(start.output(), /Unhandled 'error' event|EACCES/);
  });

  it("`npm test`'s PostgreSQL set-up works there too, and runs a test file against it", async () => {
    const tests = startProcess(process.execPath, [join(checkout, 'scripts/test.mjs'), 'integration/health'], {
      env,
      cwd: checkout,
    });
    processes.push(tests);
    const code = await tests.waitForExit(240_000);
    assert.equal(code, 0, tests.output());
    assert.match(tests.output(), /migrate the test template database done/);
    assert.match(tests.output(), /^[1-9]\d* passed, 0 failed$/m);
  });

  it('leaves the checkout clean', () => {
    assert.equal(git(checkout, 'status', '--porcelain'), '');
  });
});
