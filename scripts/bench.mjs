// `npm run bench`: installs what is missing, compiles, brings up Redis and PostgreSQL (by the
// same rules as `npm test`: some benches run the whole platform), then runs the benchmarks
// (bench/*.bench.ts), prints their tables and writes docs/benchmarks.md. `npm run bench -- <text>`
// runs only the benches whose name contains <text>. Ctrl-C stops whatever the benches started.
import { resolve } from 'node:path';
import { build } from './lib/build.mjs';
import { runNodeScript } from './lib/exec.mjs';
import { ensureDependencies } from './lib/install.mjs';
import { dataDir, repoRoot } from './lib/paths.mjs';
import { fail, info, Steps } from './lib/ui.mjs';

const runner = resolve(repoRoot, 'dist', 'bench', 'main.js');
const benchDataDir = resolve(dataDir, 'bench');
const embeddedPostgresPort = Number(process.env.BENCH_EMBEDDED_POSTGRES_PORT ?? 7434);
const privateRedisPort = Number(process.env.BENCH_REDIS_PORT ?? 7381);
const templateDatabase = 'borealis_bench_template';

const steps = new Steps('bench', 5);
let services = [];
const stopServices = async () => {
  for (const service of services.reverse()) await service.stop().catch(() => undefined);
  services = [];
};
let environment;
try {
  await steps.run('install dependencies', ensureDependencies);
  await steps.run('compile', build);
  // These import pg and ioredis, which exist only after the install step.
  const { ensurePostgres } = await import('./lib/postgres.mjs');
  const { ensureRedis } = await import('./lib/redis.mjs');
  const { applyMigrations } = await import('./lib/migrate.mjs');
  const redis = await steps.run('Redis', () =>
    ensureRedis({ dataDir: benchDataDir, port: privateRedisPort, log: info }),
  );
  services.push(redis);
  if (process.env.DATABASE_URL) {
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = `/${templateDatabase}`;
    process.env.DATABASE_URL = url.toString();
  }
  const postgres = await steps.run('PostgreSQL', () =>
    ensurePostgres({
      dataDir: benchDataDir,
      port: embeddedPostgresPort,
      database: templateDatabase,
      scratch: true,
      log: info,
    }),
  );
  services.push(postgres);
  await steps.run('migrate the bench template database', () => applyMigrations(postgres.url));
  // The platform benches create their databases from this template, as the tests do.
  environment = { BOREALIS_TEST_DATABASE_URL: postgres.url, BOREALIS_TEST_REDIS_URL: redis.url };
} catch (error) {
  await stopServices();
  fail(error instanceof Error ? error.message : String(error));
}

info('running the benchmarks\n');
// The runner stops what the benches started, then exits: signals are passed on and waited for.
const status = await runNodeScript(runner, process.argv.slice(2), {
  cwd: repoRoot,
  env: { ...process.env, ...environment },
  hint: 'The benchmarks did not run.',
}).catch(async (error) => {
  await stopServices();
  fail(error.message);
});
await stopServices();
process.exitCode = status;
