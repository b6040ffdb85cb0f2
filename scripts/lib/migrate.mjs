import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { run } from './exec.mjs';
import { repoRoot } from './paths.mjs';

const migrationsDir = join(repoRoot, 'prisma', 'migrations');
// The CLI's own entry point, run with this Node: on Windows .bin/prisma is a shell shim spawn cannot run.
const prismaCli = join(repoRoot, 'node_modules', 'prisma', 'build', 'index.js');

/**
 * Brings the database schema up to date with prisma/migrations.
 * @param {string} databaseUrl
 * @returns {Promise<{ applied: boolean }>} applied is false when nothing was pending
 */
export async function applyMigrations(databaseUrl) {
  // The Prisma CLI's WebAssembly schema engine keeps its process alive ~10 s after finishing, so every
  // `npm start` / `npm test` would pay that even with nothing to do: ask the database first.
  if (await allApplied(databaseUrl)) return { applied: false };
  await run(process.execPath, [prismaCli, 'migrate', 'deploy'], {
    cwd: repoRoot,
    env: { ...process.env, DATABASE_URL: databaseUrl, CHECKPOINT_DISABLE: '1' },
  });
  return { applied: true };
}

/**
 * True when _prisma_migrations records every migration directory as finished and not rolled back.
 * @param {string} databaseUrl
 */
async function allApplied(databaseUrl) {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  const names = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  // Prisma keeps its table in the schema named by ?schema= (default public).
  const schema = new URL(databaseUrl).searchParams.get('schema') ?? 'public';
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT migration_name FROM ${client.escapeIdentifier(schema)}._prisma_migrations
       WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    );
    const done = new Set(rows.map((row) => row.migration_name));
    return names.every((name) => done.has(name));
  } catch (/** @type {any} */ error) {
    // No such schema or table yet: a fresh database, so everything is pending.
    if (error.code === '3F000' || error.code === '42P01') return false;
    throw error;
  } finally {
    await client.end().catch(() => {});
  }
}
