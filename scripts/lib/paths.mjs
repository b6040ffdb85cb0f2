import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Everything Borealis keeps on this machine: embedded PostgreSQL, a private Redis, the admin key. */
export const dataDir = resolve(process.env.BOREALIS_DATA_DIR ?? resolve(repoRoot, '.data'));
export const npmCommand = process.platform === 'win32' ? 'npm.cmd' : 'npm';
