// Prisma CLI configuration. Migrations run on the WebAssembly schema engine
// through the pg driver adapter, so no native engine download is needed.
import { PrismaPg } from '@prisma/adapter-pg';
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  experimental: { adapter: true },
  engine: 'js',
  adapter: async () => {
    const connectionString = process.env.DATABASE_URL;
    if (!connectionString) {
      throw new Error('DATABASE_URL is not set: run migrations through `npm start`, which sets it.');
    }
    // allowExitOnIdle: without it the CLI waits for idle pool connections to time out (10 s).
    return new PrismaPg({ connectionString, idleTimeoutMillis: 100 });
  },
});
