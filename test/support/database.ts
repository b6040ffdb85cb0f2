// Each test file gets a database of its own, cloned from the migrated template, so
// tests never share rows and need no clean-up between them.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { testEnvironment } from './environment.js';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

// Names carry their creation time so that leftovers of killed runs can be recognised.
const namePrefix = 'borealis_t_';
const leftoverAgeSeconds = 2 * 3600;

async function withServer<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const server = new URL(testEnvironment.templateDatabaseUrl());
  server.pathname = '/postgres';
  const client = new pg.Client({ connectionString: server.toString(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function dropLeftovers(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ datname: string }>(
    'SELECT datname FROM pg_database WHERE datname LIKE $1',
    [`${namePrefix}%`],
  );
  const now = Math.floor(Date.now() / 1000);
  for (const { datname } of rows) {
    const createdAt = Number(datname.slice(namePrefix.length).split('_')[0]);
    if (now - createdAt > leftoverAgeSeconds)
      await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const template = new URL(testEnvironment.templateDatabaseUrl());
  const templateName = template.pathname.slice(1);
  const name = `${namePrefix}${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
  await withServer(async (client) => {
    await dropLeftovers(client);
    // Two files cloning at the same instant can see "being accessed by other users": retry, bounded.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await client.query(`CREATE DATABASE "${name}" TEMPLATE "${templateName}"`);
        return;
      } catch (error) {
        if (attempt >= 20 || !String(error).includes('being accessed by other users')) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  });
  const url = new URL(template);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () =>
      withServer((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(
        () => undefined,
      ),
  };
}
