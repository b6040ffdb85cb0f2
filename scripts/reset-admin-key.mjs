// `npm run admin:reset-key`: revokes the bootstrap admin key and prints a new one (also
// written to .data/admin.key). Works whether or not `npm start` is running.
import { resolve } from 'node:path';
import { run } from './lib/exec.mjs';
import { repoRoot } from './lib/paths.mjs';
import { adminKeyFile, bringUpPostgres, prepare } from './lib/platform.mjs';
import { fail, Steps } from './lib/ui.mjs';

const resetEntry = resolve(repoRoot, 'dist', 'apps', 'control-plane', 'src', 'cli', 'reset-admin-key.js');

async function main() {
  const steps = new Steps('reset admin key', 4);
  await prepare(steps);
  const postgres = await bringUpPostgres(steps);
  try {
    await run(process.execPath, [resetEntry], {
      cwd: repoRoot,
      quiet: false,
      env: { ...process.env, DATABASE_URL: postgres.url, ADMIN_KEY_FILE: adminKeyFile },
    });
  } finally {
    await postgres.stop();
  }
}

main().catch((error) => fail(error instanceof Error ? error.message : String(error)));
