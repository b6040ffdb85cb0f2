// The fleet secrets file at the edge: read at start, read again when it changes (a rotation), and
// refused when anyone but its owner may read it, as ssh refuses a private key others can read.
import { readRequiredPrivateFile, watchFiles, writeFileAtomically } from '../../secrets/src/index.js';
import { type FleetSecret, formatFleetSecrets, parseFleetSecrets } from './link-auth.js';

/** How often a rotation is looked for, at most: a handshake checks the file's change time. */
const RECHECK_MS = 1_000;

const WHAT = 'fleet secrets file';

/** Reads the file now; throws a message that says what to fix. */
export function readFleetSecretsFile(path: string): FleetSecret[] {
  return parseFleetSecrets(readRequiredPrivateFile(path, WHAT));
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
  return watchFiles([path], () => readFleetSecretsFile(path), {
    recheckMs: RECHECK_MS,
    log,
    reloaded: (secrets) =>
      `fleet secrets reloaded: ${secrets.map((secret) => secret.id).join(', ')} (the first is current)`,
    kept: (error) => `${error.message}; keeping the secrets read before`,
  });
}

/** Writes the file with mode 600, atomically (a reader never sees half of it). */
export function writeFleetSecretsFile(path: string, secrets: readonly FleetSecret[]): void {
  writeFileAtomically(path, formatFleetSecrets(secrets));
}
