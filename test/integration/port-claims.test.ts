import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  claimPort,
  claimPortRange,
  releasePort,
  TEST_PORT_LIMIT,
  TEST_PORT_MIN,
} from '../support/port-claims.js';
import { startProcess } from '../support/processes.js';

const claimsModule = new URL('../support/port-claims.js', import.meta.url).href;

/** Another process that claims `port` in `claimsDir` and prints whether it got it; then it exits, or runs until killed. */
function claimInChild(claimsDir: string, port: number, then: 'exit' | 'wait') {
  const script = `
    const { claimPort } = await import(${JSON.stringify(claimsModule)});
    console.log(claimPort(${JSON.stringify(claimsDir)}, ${port}) ? 'claimed' : 'refused');
    ${then === 'wait' ? 'setInterval(() => {}, 1000);' : ''}
  `;
  return startProcess(process.execPath, ['--input-type=module', '-e', script], { env: process.env });
}

describe('port claims shared by test processes', () => {
  const dirs: string[] = [];
  const claimsDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'borealis-claims-test-'));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a port another live process holds, and grants it once that process has exited', async () => {
    const dir = claimsDir();
    const port = 15_001;
    const holder = claimInChild(dir, port, 'exit');
    await holder.waitFor(/claimed/, 10_000);
    assert.equal(await holder.waitForExit(10_000), 0);
    // Its claims went with it at exit.
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(claimPort(dir, port), true);
    const refused = claimInChild(dir, port, 'exit');
    await refused.waitFor(/refused/, 10_000);
    await refused.waitForExit(10_000);
    releasePort(dir, port);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('takes over the claim of a process killed before it could remove it', async () => {
    const dir = claimsDir();
    const port = 15_002;
    const holder = claimInChild(dir, port, 'wait');
    try {
      await holder.waitFor(/claimed/, 10_000);
      assert.equal(claimPort(dir, port), false, 'the holder is alive');
    } finally {
      holder.kill();
      await holder.waitForExit(10_000);
    }
    assert.deepEqual(readdirSync(dir), [String(port)], 'SIGKILL left the claim behind');
    assert.equal(claimPort(dir, port), true, 'a dead claimant does not hold its port');
    assert.equal(claimPort(dir, port), false, 'and the port is now held by this process');
    releasePort(dir, port);
  });

  it('leaves a claim without a PID to its claimant, which may still be writing it', () => {
    const dir = claimsDir();
    writeFileSync(join(dir, '15003'), '');
    assert.equal(claimPort(dir, 15_003), false);
  });

  it('hands out ranges within its bounds that never overlap while claimed', async () => {
    const dir = claimsDir();
    const taken = new Set<number>();
    for (let range = 0; range < 50; range++) {
      const count = 1 + (range % 7);
      const base = await claimPortRange(count, dir);
      assert.ok(
        base >= TEST_PORT_MIN && base + count <= TEST_PORT_LIMIT,
        `range ${base}+${count} out of bounds`,
      );
      for (let port = base; port < base + count; port++) {
        assert.ok(!taken.has(port), `port ${port} handed out twice`);
        taken.add(port);
      }
    }
    assert.equal(readdirSync(dir).length, taken.size, 'one claim file per port handed out');
    for (const port of taken) releasePort(dir, port);
  });
});
