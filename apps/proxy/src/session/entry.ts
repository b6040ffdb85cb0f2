// One request of a client session on its way through the proxy: its bytes, what it does to the
// session, and its answer once known. Entries are answered in request order.
import type { RequestBytes } from '../resp/request-bytes.js';

/** How the read consistency of a session is set (BOREALIS CONSISTENCY …). */
export type ConsistencyChoice = 'instance' | 'cluster' | 'default';

/** A client's connection settings, replayed on every writer it uses. Replaced, never changed. */
export interface ConnectionSettings {
  readonly protocol: 2 | 3;
  readonly name: string | null;
}

export const DEFAULT_SETTINGS: ConnectionSettings = Object.freeze({ protocol: 2, name: null });

export type EntryKind =
  /** Answered by the proxy itself. */
  | 'local'
  /** The proxy's own request to a writer (log-in, settings, replay): its reply is not passed on. */
  | 'internal'
  /** A read-only data command outside MULTI: sent again if its writer fails. */
  | 'read'
  /** Any other data command outside MULTI: its outcome is unknown if its writer fails. */
  | 'write'
  /** Changes no data (PING, INFO, EXEC without MULTI, …): sent again if its writer fails. */
  | 'connection'
  /** Queued inside MULTI (nothing runs before EXEC): sent again if its writer fails. */
  | 'queued'
  | 'multi'
  /** EXEC ending a transaction. */
  | 'exec'
  /** EXEC answered by the proxy (its writer lost the session's WATCH or transaction): DISCARD is sent. */
  | 'exec-verdict'
  /** EXEC in flight when its writer failed: DISCARD is sent, and the answer is UNKNOWN. */
  | 'exec-unknown'
  /** DISCARD ending a transaction. */
  | 'discard'
  | 'watch'
  | 'unwatch'
  /** BOREALIS CONSISTENCY <choice>. */
  | 'consistency'
  | 'reset';

/** What a failed answer to an internal request means. */
export type InternalRole =
  /** AUTH with the writer password: nothing after it ran. */
  | 'login'
  /** A setting or replayed state the session relies on. */
  | 'required'
  /** A command of a replayed MULTI queue: its error dooms the transaction, as on the first writer. */
  | 'queued-replay'
  /** BOREALIS SESSION MOVED: a writer without it serves the session anyway. */
  | 'optional';

export interface Entry extends RequestBytes {
  kind: EntryKind;
  /** The settings in force when the client sent it: the writer must have them when it runs. */
  settings: ConnectionSettings;
  role: InternalRole | null;
  /** For BOREALIS CONSISTENCY, also when queued. */
  consistency: ConsistencyChoice | null;
  /** Answered with this instead of the writer's reply. */
  replacement: Buffer | null;
  /** The answer, once known, waiting for the answers before it to be written. */
  reply: Buffer | null;
  /** Writers it was sent to that failed while running it. */
  attempts: number;
  /** Answered but not written to the client (CLIENT REPLY OFF or SKIP was in force). */
  silent: boolean;
  /** Counted in the hold budget. */
  held: boolean;
  heldAtMs: number;
}

const EMPTY_MEMORY = new ArrayBuffer(0);

export function newEntry(kind: EntryKind, settings: ConnectionSettings): Entry {
  return {
    memory: EMPTY_MEMORY,
    offset: 0,
    length: 0,
    kind,
    settings,
    role: null,
    consistency: null,
    replacement: null,
    reply: null,
    attempts: 0,
    silent: false,
    held: false,
    heldAtMs: 0,
  };
}

/** An entry already answered. */
export function answeredEntry(reply: Buffer, settings: ConnectionSettings): Entry {
  const entry = newEntry('local', settings);
  entry.reply = reply;
  return entry;
}

export function internalEntry(bytes: Buffer, role: InternalRole, settings: ConnectionSettings): Entry {
  const entry = newEntry('internal', settings);
  entry.memory = bytes.buffer;
  entry.offset = bytes.byteOffset;
  entry.length = bytes.length;
  entry.role = role;
  return entry;
}
