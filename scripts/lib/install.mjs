import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { run } from './exec.mjs';
import { npmCommand, repoRoot } from './paths.mjs';

const stampFile = resolve(repoRoot, 'node_modules', '.borealis-install-stamp');

function lockHash() {
  const lock = resolve(repoRoot, 'package-lock.json');
  return createHash('sha256').update(readFileSync(lock)).digest('hex');
}

/** True when node_modules matches package-lock.json (checked by a stamp written after install). */
export function dependenciesAreCurrent() {
  return existsSync(stampFile) && readFileSync(stampFile, 'utf8') === lockHash();
}

/**
 * Installs what package-lock.json lists, unless that is already installed. `npm install`
 * rather than `npm ci`: npm 11 leaves other platforms' optional packages (Biome's
 * binaries) out of the lock file and `npm ci` then refuses it as out of sync.
 */
export async function ensureDependencies() {
  if (dependenciesAreCurrent()) return false;
  await run(npmCommand, ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: repoRoot });
  writeFileSync(stampFile, lockHash());
  return true;
}
