// A program the set-up scripts must start cannot be started: `npm start` ends with one line that
// says what failed and what to do, and a non-zero exit, never an unhandled 'error' event.
// The run happens in a network namespace of its own, where no Redis answers on 127.0.0.1, with a
// `redis-server` on PATH whose interpreter does not exist (so starting it fails with ENOENT).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from '../support/environment.js';
import { type RunningProcess, startProcess } from '../support/processes.js';

/** The unshare arguments that give a command a network namespace of its own, or null if none work. */
function isolatedNetworkPrefix(): string[] | null {
  const candidates =
    process.getuid?.() === 0
      ? [['--net'], ['--user', '--map-root-user', '--net']]
      : [['--user', '--map-root-user', '--net']];
  for (const flags of candidates) {
    try {
      execFileSync('unshare', [...flags, 'true'], { stdio: 'ignore' });
      return ['unshare', ...flags];
    } catch {}
  }
  return null;
}

describe('a program the set-up cannot start', () => {
  let fakeBinDir: string;
  const processes: RunningProcess[] = [];
  const prefix = isolatedNetworkPrefix();

  before(() => {
    fakeBinDir = mkdtempSync(join(tmpdir(), 'borealis-broken-bin-'));
    const fake = join(fakeBinDir, 'redis-server');
    writeFileSync(fake, '#!/nonexistent/interpreter\n');
    chmodSync(fake, 0o755);
  });

  after(() => {
    for (const running of processes) running.kill();
    rmSync(fakeBinDir, { recursive: true, force: true });
  });

  it('redis-server that cannot start: one line naming it and what to do, exit 1, no stack trace', {
    skip: prefix === null ? 'unshare cannot make a network namespace here' : false,
  }, async () => {
    const [command, ...flags] = prefix ?? [];
    const running = startProcess(
      command ?? 'unshare',
      [...flags, process.execPath, join(repoRoot, 'scripts/start.mjs')],
      {
        cwd: repoRoot,
        env: {
          // The broken redis-server comes first; node's own directory follows for the build tools' shebangs.
          PATH: `${fakeBinDir}:${dirname(process.execPath)}`,
          HOME: process.env.HOME,
          PORT: '0',
          NO_COLOR: '1',
        },
      },
    );
    processes.push(running);
    const code = await running.waitForExit(120_000);
    const output = running.output();
    assert.equal(code, 1, output);
    const errorLines = output.split('\n').filter((line) => line.startsWith('error: '));
    assert.equal(errorLines.length, 1, output);
    assert.match(
      errorLines[0] ?? '',
      new RegExp(`could not start ${fakeBinDir}/redis-server: .*ENOENT.*set REDIS_URL`),
    );
    assert.doesNotMatch(output, /Unhandled 'error' event|node:events|^\s+at /m);
    assert.doesNotMatch(output, /PostgreSQL/, 'it stops at the Redis step, before PostgreSQL');
  });
});
