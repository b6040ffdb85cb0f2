// What the proxy sends a writer before a session's commands (docs/adr/0006): AUTH with the
// writer password, the session's settings (HELLO protocol, CLIENT SETNAME), its read consistency,
// BOREALIS SESSION MOVED when it comes from another writer, and a MULTI with the commands already
// QUEUED. And what to do with each command in flight on a writer that fails. Pure.
import { encodeRequest } from '../resp/request-bytes.js';
import {
  type ConnectionSettings,
  DEFAULT_SETTINGS,
  type Entry,
  type InternalRole,
  internalEntry,
} from './entry.js';
import type { SessionState } from './session-state.js';

const SESSION_MOVED = encodeRequest(['BOREALIS', 'SESSION', 'MOVED']);
const MULTI = encodeRequest(['MULTI']);

/**
 * The internal requests that open a session on a writer, with `settings` (those of the first
 * command to be sent: a MULTI replayed after them would queue a HELLO instead of running it).
 */
export function handshake(
  state: SessionState,
  writerPassword: string,
  settings: ConnectionSettings,
  moved: boolean,
): Entry[] {
  const entry = (bytes: Buffer, role: InternalRole) => internalEntry(bytes, role, settings);
  const requests = [entry(encodeRequest(['AUTH', writerPassword]), 'login')];
  for (const bytes of settingsCommands(DEFAULT_SETTINGS, settings)) requests.push(entry(bytes, 'required'));
  if (state.consistency !== null)
    requests.push(entry(encodeRequest(['BOREALIS', 'CONSISTENCY', state.consistency]), 'required'));
  if (moved) requests.push(entry(SESSION_MOVED, 'optional'));
  if (state.multiQueue !== null) {
    requests.push(entry(MULTI, 'required'));
    for (const queued of state.multiQueue) requests.push(entry(queued.bytes, 'queued-replay'));
  }
  return requests;
}

/** The commands that take a writer session from settings `from` to `to`. */
export function settingsCommands(from: ConnectionSettings, to: ConnectionSettings): Buffer[] {
  const commands: Buffer[] = [];
  if (from.protocol !== to.protocol) commands.push(encodeRequest(['HELLO', String(to.protocol)]));
  if (from.name !== to.name) commands.push(encodeRequest(['CLIENT', 'SETNAME', to.name ?? '']));
  return commands;
}

/** Where a new writer's session differs from what the client believes. */
export interface WriterDivergence {
  /** The session held a WATCH: the new writer does not watch those keys, so EXEC must answer null. */
  brokenWatch: boolean;
  /** The replayed transaction lacks what doomed it (a queueing error) or what did not fit. */
  doomedTransaction: boolean;
}

export function divergenceOf(state: SessionState): WriterDivergence {
  return {
    brokenWatch: state.watchHeld,
    doomedTransaction: state.multiQueue !== null && (state.multiDirty || state.replayLost),
  };
}

export type CrashAction =
  /** Nothing it does can have changed data: sent to another writer. */
  | 'resend'
  /** It may or may not have been applied: answered UNKNOWN. */
  | 'unknown'
  /** An EXEC that may or may not have run: UNKNOWN, and DISCARD goes in its place to end the replayed MULTI. */
  | 'exec-unknown';

/**
 * What to do with a command that was in flight on a writer that failed. `nothingRan` when the
 * writer refused the session before running anything (its log-in failed, or it never connected).
 */
export function crashAction(entry: Entry, nothingRan: boolean): CrashAction {
  if (nothingRan) return 'resend';
  if (entry.kind === 'write') return 'unknown';
  if (entry.kind === 'exec') return 'exec-unknown';
  return 'resend';
}
