// `npm run loadgen -- …`: installs what is missing, compiles, then runs the load generator
// (apps/loadgen) with the given arguments; `--no-build` skips the install and compile steps.
// Its exit status and signals pass through: Ctrl-C stops the run, which still prints its summary.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { repoRoot } from './lib/paths.mjs';

const args = process.argv.slice(2);
const noBuild = args.includes('--no-build');
const passed = args.filter((arg) => arg !== '--no-build');

if (!noBuild && !passed.includes('--help')) {
  const { build } = await import('./lib/build.mjs');
  const { ensureDependencies } = await import('./lib/install.mjs');
  const { fail, Steps } = await import('./lib/ui.mjs');
  const steps = new Steps('loadgen', 2);
  try {
    await steps.run('install dependencies', ensureDependencies);
    await steps.run('compile', build);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
}

const child = spawn(
  process.execPath,
  [resolve(repoRoot, 'dist', 'apps', 'loadgen', 'src', 'main.js'), ...passed],
  {
    stdio: 'inherit',
  },
);
// The child gets Ctrl-C from the terminal itself; a signal sent to this process alone is passed on.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal === null ? 1 : 128);
});
