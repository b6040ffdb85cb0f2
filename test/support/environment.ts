// What `npm test` (scripts/test.mjs) provides to every test file.
import { fileURLToPath } from 'node:url';

function required(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(`${name} is not set: run the tests with \`npm test\`, which starts PostgreSQL and Redis`);
  return value;
}

export const testEnvironment = {
  /** URL of the migrated template database; each test file clones it (see database.ts). */
  templateDatabaseUrl: () => required('BOREALIS_TEST_DATABASE_URL'),
  redisUrl: () => required('BOREALIS_TEST_REDIS_URL'),
};

/** The repository root, from this file's place in dist/test/support. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
