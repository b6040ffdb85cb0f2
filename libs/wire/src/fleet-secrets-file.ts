// The fleet secrets file at the edge: read at start, read again when it changes (a rotation), and
// refused when anyone but its owner may read it, as ssh refuses a private key others can read.
import { chmodSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { type FleetSecret, formatFleetSecrets, parseFleetSecrets } from './link-auth.js';

/** How often a rotation is looked for, at most: a handshake checks the file's change time. */
const RECHECK_MS = 1_000;

/** Reads the file now; throws a message that says what to fix. */
export function readFleetSecretsFile(path: string): FleetSecret[] {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    throw new Error(`cannot read the fleet secrets file ${path}: ${(error as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new Error(
      `the fleet secrets file ${path} may be read by others (mode ${(mode & 0o777).toString(8)}): chmod 600 ${path}`,
    );
  }
  return parseFleetSecrets(readFileSync(path, 'utf8'));
}

/**
 * The secrets of `path`, current first, as a function that rereads the file when it changed
 * (checked at most once a second). A file that becomes unreadable keeps the last good secrets and
 * says why through `log`, once per change.
 */
export function watchFleetSecretsFile(
  path: string,
  log: (line: string) => void,
): () => readonly FleetSecret[] {
  let secrets = readFleetSecretsFile(path);
  let changedAtMs = statSync(path).mtimeMs;
  let checkedAtMs = Date.now();
  return () => {
    const now = Date.now();
    if (now - checkedAtMs < RECHECK_MS) return secrets;
    checkedAtMs = now;
    try {
      const mtime = statSync(path).mtimeMs;
      if (mtime === changedAtMs) return secrets;
      changedAtMs = mtime;
      secrets = readFleetSecretsFile(path);
      log(`fleet secrets reloaded: ${secrets.map((secret) => secret.id).join(', ')} (the first is current)`);
    } catch (error) {
      log(`${(error as Error).message}; keeping the secrets read before`);
    }
    return secrets;
  };
}

/** Writes the file with mode 600, atomically (a reader never sees half of it). */
export function writeFleetSecretsFile(path: string, secrets: readonly FleetSecret[]): void {
  const partial = `${path}.partial`;
  writeFileSync(partial, formatFleetSecrets(secrets), { mode: 0o600 });
  chmodSync(partial, 0o600);
  renameSync(partial, path);
}
