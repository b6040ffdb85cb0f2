import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Everything Borealis keeps on this machine: embedded PostgreSQL, a private Redis, the admin key. */
export const dataDir = resolve(process.env.BOREALIS_DATA_DIR ?? resolve(repoRoot, '.data'));
export const npmCommand = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * The first existing directory above `path` that users other than its owner cannot traverse,
 * or null. Run as root, the embedded PostgreSQL runs as the `postgres` user and needs every
 * directory above its data to be open for traversal.
 * @param {string} path
 */
export function closedParentOf(path) {
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) return dir;
  }
  return null;
}
