// What `npm start` and `npm run admin:reset-key` share: the ports of the services they
// may start, and bringing up PostgreSQL (with migrations) and Redis by the README's rules.
import { resolve } from 'node:path';
import { build } from './build.mjs';
import { ensureDependencies } from './install.mjs';
import { dataDir } from './paths.mjs';
import { info } from './ui.mjs';

export const platformPorts = {
  embeddedPostgres: Number(process.env.EMBEDDED_POSTGRES_PORT ?? 7432),
  privateRedis: Number(process.env.PRIVATE_REDIS_PORT ?? 7379),
};

export const adminKeyFile = process.env.ADMIN_KEY_FILE ?? resolve(dataDir, 'admin.key');

/** Installs and compiles what is missing or changed. */
export async function prepare(steps) {
  await steps.run('install dependencies', ensureDependencies);
  await steps.run('compile', build);
}

/**
 * PostgreSQL (DATABASE_URL, else embedded under .data/) with the schema migrated.
 * `ownProcessGroup`: see ensurePostgres.
 */
export async function bringUpPostgres(steps, { ownProcessGroup = false } = {}) {
  // Imported here: pg exists only after the install step.
  const { ensurePostgres } = await import('./postgres.mjs');
  const { applyMigrations } = await import('./migrate.mjs');
  const postgres = await steps.run('PostgreSQL', () =>
    ensurePostgres({
      dataDir,
      port: platformPorts.embeddedPostgres,
      database: 'borealis',
      ownProcessGroup,
      log: info,
    }),
  );
  try {
    await steps.run('apply database migrations', () => applyMigrations(postgres.url));
  } catch (error) {
    await postgres.stop();
    throw error;
  }
  return postgres;
}

/** Redis (REDIS_URL, else a local one on 6379, else a private redis-server). `ownProcessGroup`: see ensureRedis. */
export async function bringUpRedis(steps, { ownProcessGroup = false } = {}) {
  const { ensureRedis } = await import('./redis.mjs');
  return steps.run('Redis', () =>
    ensureRedis({ dataDir, port: platformPorts.privateRedis, ownProcessGroup, log: info }),
  );
}
