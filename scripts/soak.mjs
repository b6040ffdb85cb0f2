// `npm run soak`: installs what is missing, compiles, then runs the large-state soak
// (bench/large-state.soak.ts): sustained SETs until the storage nodes hold most of a million keys
// and snapshot it, reporting their event loops. Arguments after `--` go to the soak (`--rounds`,
// `--requests`, `--keyspace`, `--clients`, `--stall-limit-ms`). It needs redis-benchmark on the PATH.
import { resolve } from 'node:path';
import { build } from './lib/build.mjs';
import { runNodeScript } from './lib/exec.mjs';
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
// The soak stops what it started on its way out: signals are passed on and waited for.
process.exitCode = await runNodeScript(soak, process.argv.slice(2), {
  cwd: repoRoot,
  hint: 'The soak did not run.',
}).catch((error) => fail(error.message));
