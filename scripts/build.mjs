// `npm run build`: installs what is missing, generates the Prisma client and compiles.
import { build } from './lib/build.mjs';
import { ensureDependencies } from './lib/install.mjs';
import { fail, Steps } from './lib/ui.mjs';

const steps = new Steps('build', 2);
try {
  await steps.run('install dependencies', ensureDependencies);
  await steps.run('compile', build);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
