// `npm run bench`: installs what is missing, compiles, then runs the benchmarks (bench/*.bench.ts),
// prints their tables and writes docs/benchmarks.md. `npm run bench -- <text>` runs only the
// benches whose name contains <text>. Ctrl-C stops whatever the benches started.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { build } from './lib/build.mjs';
import { ensureDependencies } from './lib/install.mjs';
import { repoRoot } from './lib/paths.mjs';
import { fail, info, Steps } from './lib/ui.mjs';

const runner = resolve(repoRoot, 'dist', 'bench', 'main.js');

const steps = new Steps('bench', 2);
try {
  await steps.run('install dependencies', ensureDependencies);
  await steps.run('compile', build);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}

info('running the benchmarks\n');
const child = spawn(process.execPath, [runner, ...process.argv.slice(2)], {
  cwd: repoRoot,
  stdio: 'inherit',
});
// The runner stops what the benches started, then exits: pass the signal on and wait for it.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}
child.on('error', (error) => fail(`could not run the benchmarks: ${error.message}`));
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal === 'SIGINT' ? 130 : 1);
});
