import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { run } from './exec.mjs';
import { repoRoot } from './paths.mjs';

const prismaBin = resolve(repoRoot, 'node_modules', '.bin', 'prisma');
const tscBin = resolve(repoRoot, 'node_modules', '.bin', 'tsc');
const schemaFile = resolve(repoRoot, 'prisma', 'schema.prisma');
const generatedStamp = resolve(repoRoot, 'generated', 'prisma', '.schema-hash');

/** Generates the Prisma client when the schema changed since the last generation. */
async function generatePrismaClient() {
  const hash = createHash('sha256').update(readFileSync(schemaFile)).digest('hex');
  if (existsSync(generatedStamp) && readFileSync(generatedStamp, 'utf8') === hash) return;
  // `prisma generate` reads no database, but the schema's env("DATABASE_URL") must resolve.
  const env = {
    ...process.env,
    DATABASE_URL: process.env.DATABASE_URL ?? 'postgresql://unused@127.0.0.1/unused',
  };
  await run(prismaBin, ['generate'], { cwd: repoRoot, env });
  writeFileSync(generatedStamp, hash);
}

/** Generates the Prisma client and compiles every app, library and test (incrementally). */
export async function build() {
  await generatePrismaClient();
  await run(tscBin, ['-p', 'tsconfig.json'], { cwd: repoRoot });
}
