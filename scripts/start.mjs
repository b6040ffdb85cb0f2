// `npm start`: installs, compiles, brings up Redis and PostgreSQL, applies migrations and
// runs the control plane, which starts the fleet (six storage nodes, the proxy, a warm pool of
// data nodes) and prints where each is and (on first start) the admin API key.
// Ctrl-C, at any step, stops everything this command started; data under .data/ is kept.
import { resolve } from 'node:path';
import { startChild } from './lib/exec.mjs';
import { dataDir, repoRoot } from './lib/paths.mjs';
import { adminKeyFile, bringUpPostgres, bringUpRedis, prepare } from './lib/platform.mjs';
import { fail, info, Steps } from './lib/ui.mjs';

const controlPlaneEntry = resolve(repoRoot, 'dist', 'apps', 'control-plane', 'src', 'main.js');
// The control plane drains its writers and stops its fleet first (it allows itself 45 s).
const stopTimeoutMs = 60_000;

/** What to undo on the way out, in the order it was set up (undone in reverse). */
const cleanups = [];
let stopping = false;

/** Runs every cleanup once, newest first; `report` hears about the ones that fail. */
async function runCleanups(report) {
  while (cleanups.length > 0) await cleanups.pop()().catch(report);
}

async function stopAll(exitCode) {
  if (stopping) return;
  stopping = true;
  await runCleanups((error) => info(`while stopping: ${error instanceof Error ? error.message : error}`));
  info('Borealis stopped; data under .data/ is kept.');
  process.exit(exitCode);
}

function waitForExit(child) {
  return new Promise((resolveExit) => {
    if (child.exitCode !== null || child.signalCode !== null) resolveExit(child.exitCode ?? 1);
    else child.once('exit', (code) => resolveExit(code ?? 1));
  });
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
  await waitForExit(child);
  clearTimeout(timer);
}

async function main() {
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      info(`\n${signal} received: stopping Borealis ...`);
      void stopAll(0);
    });
  }
  const steps = new Steps('start', 6);
  await prepare(steps);
  // Redis first: finding it is quick, so a machine without one fails in seconds, not after initdb.
  // Both out of reach of the terminal's Ctrl-C: the control plane records its fleet's stop in
  // PostgreSQL and its routes in Redis, so they stop after it (the cleanups run newest first).
  const redis = await bringUpRedis(steps, { ownProcessGroup: true });
  cleanups.push(() => redis.stop());
  const postgres = await bringUpPostgres(steps, { ownProcessGroup: true });
  cleanups.push(() => postgres.stop());

  const controlPlane = await steps.run('start the control plane', () =>
    startChild(
      process.execPath,
      [controlPlaneEntry],
      {
        cwd: repoRoot,
        stdio: 'inherit',
        env: {
          ...process.env,
          DATABASE_URL: postgres.url,
          REDIS_URL: redis.url,
          ADMIN_KEY_FILE: adminKeyFile,
          BOREALIS_DATA_DIR: dataDir,
        },
      },
      'Check that Node.js is installed where it was when this command started.',
    ),
  );
  cleanups.push(() => stopChild(controlPlane));

  const code = await waitForExit(controlPlane);
  if (!stopping) {
    info(`control plane exited with code ${code}; stopping the services it used`);
    await stopAll(code === 0 ? 1 : code);
  }
}

main().catch(async (error) => {
  if (stopping) return;
  await runCleanups(() => undefined);
  fail(error instanceof Error ? error.message : String(error));
});
