import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Writes the bootstrap admin key where only this user can read it (mode 600). */
export function writeAdminKeyFile(path: string, token: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  // writeFileSync keeps the mode of an existing file: set it explicitly.
  chmodSync(path, 0o600);
}
