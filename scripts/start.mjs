// `npm start`: installs, compiles, brings up PostgreSQL and Redis, applies migrations and
// runs the control plane, which prints its URLs and (on first start) the admin API key.
// Ctrl-C stops everything this command started; data under .data/ is kept.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { repoRoot } from './lib/paths.mjs';
import { adminKeyFile, bringUpPostgres, bringUpRedis, prepare } from './lib/platform.mjs';
import { fail, info, Steps } from './lib/ui.mjs';

const controlPlaneEntry = resolve(repoRoot, 'dist', 'apps', 'control-plane', 'src', 'main.js');
const stopTimeoutMs = 10_000;

function waitForExit(child) {
  return new Promise((resolveExit) => {
    if (child.exitCode !== null || child.signalCode !== null) resolveExit(child.exitCode ?? 1);
    else child.once('exit', (code) => resolveExit(code ?? 1));
  });
}

async function main() {
  const steps = new Steps('start', 6);
  await prepare(steps);
  const postgres = await bringUpPostgres(steps);
  let redis;
  try {
    redis = await bringUpRedis(steps);
  } catch (error) {
    await postgres.stop();
    throw error;
  }

  const controlPlane = await steps.run('start the control plane', async () =>
    spawn(process.execPath, [controlPlaneEntry], {
      cwd: repoRoot,
      stdio: 'inherit',
      env: { ...process.env, DATABASE_URL: postgres.url, REDIS_URL: redis.url, ADMIN_KEY_FILE: adminKeyFile },
    }),
  );

  let stopping = false;
  const stopAll = async (exitCode) => {
    if (stopping) return;
    stopping = true;
    if (controlPlane.exitCode === null && controlPlane.signalCode === null) {
      controlPlane.kill('SIGTERM');
      const timer = setTimeout(() => controlPlane.kill('SIGKILL'), stopTimeoutMs);
      await waitForExit(controlPlane);
      clearTimeout(timer);
    }
    await redis.stop();
    await postgres.stop();
    info('Borealis stopped; data under .data/ is kept.');
    process.exit(exitCode);
  };

  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      info(`\n${signal} received: stopping Borealis ...`);
      void stopAll(0);
    });
  }
  const code = await waitForExit(controlPlane);
  if (!stopping) {
    info(`control plane exited with code ${code}; stopping the services it used`);
    await stopAll(code === 0 ? 1 : code);
  }
}

main().catch((error) => fail(error instanceof Error ? error.message : String(error)));
