// Files that hold secrets (the fleet secrets, revoked credentials, the node-token key) and files a
// process serves from while they may be replaced under it (those, and TLS certificates): read
// only when no other user may read them, written whole or not at all, and reloaded when they
// change, looked at no more often than a bound, with the last good content kept over a bad one.
import { chmodSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';

/**
 * The text of `path`, or null when there is no such file. Throws, with what to do, when others
 * may read it (as ssh refuses a private key others can read) or it cannot be read.
 */
export function readPrivateFile(path: string, what: string): string | null {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read the ${what} ${path}: ${(error as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new Error(
      `the ${what} ${path} may be read by others (mode ${(mode & 0o777).toString(8)}): chmod 600 ${path}`,
    );
  }
  return readFileSync(path, 'utf8');
}

/** Like `readPrivateFile`, for a file that must be there. */
export function readRequiredPrivateFile(path: string, what: string): string {
  const text = readPrivateFile(path, what);
  if (text === null) throw new Error(`cannot read the ${what} ${path}: it does not exist`);
  return text;
}

/**
 * Writes `text` to `path` with `mode` (600 unless said), atomically: written aside, then renamed
 * into place, so that a reader never sees half of it and a crash leaves the old file.
 */
export function writeFileAtomically(path: string, text: string, mode = 0o600): void {
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, text, { mode });
  // writeFileSync keeps the mode of an existing file, and the umask may have narrowed it.
  chmodSync(partial, mode);
  renameSync(partial, path);
}

export interface WatchOptions<T> {
  /** The files are looked at again at most this often, when the value is asked for. */
  recheckMs: number;
  log: (line: string) => void;
  /** The line logged when a change loaded. */
  reloaded: (value: T) => string;
  /** The line logged when a change did not load, given the last good value, which is kept. */
  kept: (error: Error, kept: T) => string;
}

/**
 * `load()`'s value as a function that loads it again when one of `paths` changed (size, time or
 * inode; a file gone counts as a change). A change that does not load keeps the last good value
 * and is logged once; the next change is tried. The first load throws to the caller.
 */
export function watchFiles<T>(paths: readonly string[], load: () => T, options: WatchOptions<T>): () => T {
  let value = load();
  let stamp = stampOf(paths);
  let checkedAtMs = Date.now();
  return () => {
    const now = Date.now();
    if (now - checkedAtMs < options.recheckMs) return value;
    checkedAtMs = now;
    const seen = stampOf(paths);
    if (seen === stamp) return value;
    stamp = seen;
    try {
      value = load();
      options.log(options.reloaded(value));
    } catch (error) {
      options.log(options.kept(error as Error, value));
    }
    return value;
  };
}

function stampOf(paths: readonly string[]): string {
  return paths
    .map((path) => {
      try {
        const stat = statSync(path);
        return `${stat.size}:${stat.mtimeMs}:${stat.ino}`;
      } catch {
        return 'absent';
      }
    })
    .join('|');
}
