// Revoked writer credentials (docs/security.md): when a writer leaves its cluster (detached,
// retired or dead), the control plane revokes every credential it was given for that volume, so
// that a credential copied out of the process is worthless from then on, not only at its expiry.
//
// A revocation names (volume, coordinator id) and a time: every credential for that pair expiring
// at or before it is refused. Credentials live a fixed time, so "expiring at or before now + TTL"
// is "minted up to now"; one minted later for the same pair (the process pooled, then attached to
// the same cluster again) expires after it and is let in. An entry is kept until that time has
// passed, when every credential it covers has expired anyway.
//
// The file is text, one revocation per line, `<expiresAtMsAtMost> <coordinatorId> <volume>`;
// written by the control plane (mode 600, atomically) beside the fleet secrets, read by the
// storage nodes, which look at it again at most once a second.
import { readPrivateFile, watchFiles, writeFileAtomically } from '../../secrets/src/index.js';
import type { WriterClaims } from './link-auth.js';

export interface Revocation {
  volume: string;
  coordinatorId: number;
  /** Every credential of the pair expiring at or before this (ms since the epoch) is revoked. */
  expiresAtMsAtMost: number;
}

/** Revocations by `volume\0coordinatorId`, the latest time of each pair. */
export type RevocationList = ReadonlyMap<string, number>;

const pairKey = (volume: string, coordinatorId: number) => `${volume}\0${coordinatorId}`;

export function revocationList(revocations: readonly Revocation[]): RevocationList {
  const list = new Map<string, number>();
  for (const { volume, coordinatorId, expiresAtMsAtMost } of revocations) {
    const key = pairKey(volume, coordinatorId);
    list.set(key, Math.max(list.get(key) ?? 0, expiresAtMsAtMost));
  }
  return list;
}

/** Whether a credential with these claims is revoked. */
export function isRevoked(list: RevocationList, claims: WriterClaims): boolean {
  const until = list.get(pairKey(claims.volume, claims.coordinatorId));
  return until !== undefined && claims.expiresAtMs <= until;
}

/** The earliest expiry a new credential for the pair may have to be let in. */
export function firstAcceptedExpiry(list: RevocationList, volume: string, coordinatorId: number): number {
  return (list.get(pairKey(volume, coordinatorId)) ?? 0) + 1;
}

export function parseRevocations(text: string): Revocation[] {
  const revocations: Revocation[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const match = /^(\d{1,16}) (\d{1,16}) (\S{1,256})$/.exec(line);
    if (match === null) {
      throw new Error(
        `line ${index + 1} of the revocations file is not "<expiresAtMsAtMost> <coordinatorId> <volume>"`,
      );
    }
    revocations.push({
      expiresAtMsAtMost: Number(match[1]),
      coordinatorId: Number(match[2]),
      volume: match[3] as string,
    });
  }
  return revocations;
}

export function formatRevocations(revocations: readonly Revocation[]): string {
  return revocations
    .map((revocation) => `${revocation.expiresAtMsAtMost} ${revocation.coordinatorId} ${revocation.volume}\n`)
    .join('');
}

const WHAT = 'revocations file';

/** Reads the file; a file that does not exist holds no revocation. Throws on others' read access. */
export function readRevocationsFile(path: string): Revocation[] {
  const text = readPrivateFile(path, WHAT);
  return text === null ? [] : parseRevocations(text);
}

/** Writes the file with mode 600, atomically (a reader never sees half of it). */
export function writeRevocationsFile(path: string, revocations: readonly Revocation[]): void {
  writeFileAtomically(path, formatRevocations(revocations));
}

/** How often the file is looked at again, at most. */
const RECHECK_MS = 1_000;

/**
 * The revocations of `path` as a function that rereads the file when it changed (looked at most
 * once a second). A file that cannot be read keeps the last good list and says why, once per change.
 */
export function watchRevocationsFile(path: string, log: (line: string) => void): () => RevocationList {
  return watchFiles([path], () => revocationList(readRevocationsFile(path)), {
    recheckMs: RECHECK_MS,
    log,
    reloaded: (list) => `revoked credentials reloaded: ${list.size} writer(s)`,
    kept: (error) => `${error.message}; keeping the revocations read before`,
  });
}
