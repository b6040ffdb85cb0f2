// `npm test`: installs, compiles, brings up PostgreSQL and Redis by the same rules as
// `npm start`, runs every test file (unit, integration, end-to-end, lint) and ends with
// the line `N passed, N failed`. `npm test -- <text>` runs only files whose path contains <text>.
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { build } from './lib/build.mjs';
import { ensureDependencies } from './lib/install.mjs';
import { dataDir, repoRoot } from './lib/paths.mjs';
import { TestSummary } from './lib/test-summary.mjs';
import { fail, info, Steps } from './lib/ui.mjs';

const testDataDir = resolve(dataDir, 'test');
const embeddedPostgresPort = Number(process.env.TEST_EMBEDDED_POSTGRES_PORT ?? 7433);
const privateRedisPort = Number(process.env.TEST_REDIS_PORT ?? 7380);
const templateDatabase = 'borealis_test_template';
// Every file gets its own processes; a hung file is stopped rather than hanging CI.
const fileTimeoutMs = 10 * 60_000;

function testFiles(directory) {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.test.js') ? [path] : [];
  });
}

/** With DATABASE_URL set, tests use a template database of their own on that server. */
function templateUrlFor(databaseUrl) {
  const url = new URL(databaseUrl);
  url.pathname = `/${templateDatabase}`;
  return url.toString();
}

async function runTests(files, env) {
  const summary = new TestSummary();
  Object.assign(process.env, env);
  const stream = run({ files, concurrency: Math.max(2, availableParallelism()), timeout: fileTimeoutMs });
  stream.on('test:pass', (data) => summary.record('pass', data));
  stream.on('test:fail', (data) => summary.record('fail', data));
  await new Promise((resolveDone, reject) => {
    const output = stream.compose(spec).pipe(process.stdout, { end: false });
    output.on('error', reject);
    stream.on('error', reject);
    stream.on('close', resolveDone);
    stream.on('end', resolveDone);
  });
  return summary;
}

async function main() {
  const filter = process.argv[2] ?? '';
  const steps = new Steps('test', 5);
  await steps.run('install dependencies', ensureDependencies);
  await steps.run('compile', build);
  // These import pg and ioredis, which exist only after the install step.
  const { ensurePostgres } = await import('./lib/postgres.mjs');
  const { ensureRedis } = await import('./lib/redis.mjs');
  const { applyMigrations } = await import('./lib/migrate.mjs');

  // Redis first, as in `npm start`: a machine without one fails in seconds.
  const redis = await steps.run('Redis', () =>
    ensureRedis({ dataDir: testDataDir, port: privateRedisPort, log: info }),
  );
  if (process.env.DATABASE_URL) process.env.DATABASE_URL = templateUrlFor(process.env.DATABASE_URL);
  const postgres = await steps
    .run('PostgreSQL', () =>
      ensurePostgres({
        dataDir: testDataDir,
        port: embeddedPostgresPort,
        database: templateDatabase,
        scratch: true,
        log: info,
      }),
    )
    .catch(async (error) => {
      await redis.stop();
      throw error;
    });
  let summary;
  try {
    await steps.run('migrate the test template database', () => applyMigrations(postgres.url));
    const files = testFiles(resolve(repoRoot, 'dist', 'test'))
      .filter((file) => relative(repoRoot, file).includes(filter))
      .sort();
    if (files.length === 0) throw new Error(`no test file matches "${filter}"`);
    info(`running ${files.length} test files (PostgreSQL: ${postgres.source}, Redis: ${redis.source})\n`);
    summary = await runTests(files, {
      BOREALIS_TEST_DATABASE_URL: postgres.url,
      BOREALIS_TEST_REDIS_URL: redis.url,
    });
  } finally {
    await redis.stop();
    await postgres.stop();
  }
  if (summary.failures.length > 0) {
    info('\nfailed tests:');
    for (const failure of summary.failures)
      info(`  ${relative(repoRoot, failure.file)}: ${failure.name}: ${failure.error}`);
  }
  info(`\n${summary.line()}`);
  process.exitCode = summary.failed > 0 ? 1 : 0;
}

main().catch((error) => fail(error instanceof Error ? error.message : String(error)));
