// `npm run soak`: installs what is missing, compiles, then runs the large-state soak
// (bench/large-state.soak.ts): sustained SETs until the storage nodes hold most of a million keys
// and snapshot it, reporting their event loops. Arguments after `--` go to the soak (`--rounds`,
// `--requests`, `--keyspace`, `--clients`, `--stall-limit-ms`). It needs redis-benchmark on the PATH.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { build } from './lib/build.mjs';
import { spawnFailure } from './lib/exec.mjs';
import { ensureDependencies } from './lib/install.mjs';
import { repoRoot } from './lib/paths.mjs';
import { fail, info, Steps } from './lib/ui.mjs';

const soak = resolve(repoRoot, 'dist', 'bench', 'large-state.soak.js');
const steps = new Steps('soak', 2);
try {
  await steps.run('install dependencies', ensureDependencies);
  await steps.run('compile', build);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}

info('running the soak\n');
const child = spawn(process.execPath, [soak, ...process.argv.slice(2)], { cwd: repoRoot, stdio: 'inherit' });
// The soak stops what it started on its way out: pass the signal on and wait for it.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}
child.on('error', (error) => fail(spawnFailure(process.execPath, error, 'The soak did not run.').message));
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal === 'SIGINT' ? 130 : 1);
});
