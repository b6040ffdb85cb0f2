// A client session's state as the proxy keeps it (docs/adr/0006, writers and sessions), so that
// the session can move to another writer at a command boundary, or after a writer fails, and be
// what it was: authenticated, settings (protocol, name), read consistency, a MULTI queue, WATCH.
//
// Two kinds of state. What the client has *sent* decides how the proxy treats each new request
// (is it queued in MULTI? answered here?); it is exact because a writer's answer to MULTI, EXEC
// and DISCARD follows from the request alone. What writers have *confirmed* (MULTI answered OK,
// a command QUEUED, a WATCH taken, a consistency set) is what a new writer must be given again.
// Pure: no sockets, no clock.
import type { CommandClass } from './command-class.js';
import { type ConnectionSettings, type ConsistencyChoice, DEFAULT_SETTINGS, type Entry } from './entry.js';

/** Bytes of queued commands kept to replay a MULTI on another writer (a transaction writes ≤ 8 MiB). */
export const MULTI_REPLAY_BYTES_MAX = 8 * 1024 * 1024;

interface QueuedCommand {
  bytes: Buffer;
  consistency: ConsistencyChoice | null;
}

export class SessionState {
  // What the client has sent.
  authenticated = false;
  settings: ConnectionSettings = DEFAULT_SETTINGS;
  inMulti = false;
  watchRequested = false;
  libraryName: string | null = null;
  libraryVersion: string | null = null;

  // What writers have confirmed.
  consistency: 'instance' | 'cluster' | null = null;
  multiQueue: QueuedCommand[] | null = null;
  multiDirty = false;
  /** The queue outgrew MULTI_REPLAY_BYTES_MAX: another writer cannot be given it. */
  replayLost = false;
  watchHeld = false;
  private multiQueueBytes = 0;

  /** Inside MULTI or holding a WATCH: the cluster must not pause under it (autoscaler). */
  get inTransaction(): boolean {
    return this.inMulti || this.watchRequested;
  }

  /**
   * A request the proxy forwards: sets its entry's kind (and consistency) and what sending it
   * does to the session.
   */
  forward(commandClass: CommandClass | null, args: readonly Buffer[], entry: Entry): void {
    if (this.inMulti && !endsOrStaysOutsideQueue(commandClass)) {
      entry.kind = 'queued';
      if (commandClass === 'borealis') entry.consistency = consistencyChoice(args);
      return;
    }
    entry.kind = this.forwardKind(commandClass, args, entry);
  }

  private forwardKind(
    commandClass: CommandClass | null,
    args: readonly Buffer[],
    entry: Entry,
  ): Entry['kind'] {
    switch (commandClass) {
      case 'multi':
        if (this.inMulti) return 'connection';
        this.inMulti = true;
        return 'multi';
      case 'exec':
      case 'discard':
        if (!this.inMulti) return 'connection';
        this.inMulti = false;
        this.watchRequested = false;
        return commandClass;
      case 'watch':
        if (this.inMulti) return 'connection';
        this.watchRequested = true;
        return 'watch';
      case 'unwatch':
        this.watchRequested = false;
        return 'unwatch';
      case 'borealis':
        entry.consistency = consistencyChoice(args);
        return entry.consistency === null ? 'connection' : 'consistency';
      case 'read':
      case 'write':
        return commandClass;
      default:
        return 'connection';
    }
  }

  /** RESET, as the client sees it: out of MULTI, nothing watched, RESP2, no name, not logged in. */
  resetSent(): void {
    this.authenticated = false;
    this.settings = DEFAULT_SETTINGS;
    this.inMulti = false;
    this.watchRequested = false;
  }

  /** RESET, as a writer did it (or the session had no writer). */
  resetConfirmed(): void {
    this.consistency = null;
    this.endTransaction();
  }

  /**
   * A writer answered `entry` (an error or not; a non-null array for EXEC): updates what writers
   * have confirmed. `requestBytes` are the entry's bytes, kept when it is QUEUED.
   */
  confirmed(entry: Entry, isError: boolean, isNull: boolean, requestBytes: () => Buffer): void {
    switch (entry.kind) {
      case 'multi':
        if (!isError) this.startTransaction();
        return;
      case 'queued':
        if (isError) this.multiDirty = true;
        else this.recordQueued(requestBytes(), entry.consistency);
        return;
      case 'exec':
        if (!isError && !isNull) this.applyQueuedConsistency();
        this.endTransaction();
        return;
      case 'exec-verdict':
      case 'exec-unknown':
      case 'discard':
        this.endTransaction();
        return;
      case 'watch':
        if (!isError) this.watchHeld = true;
        return;
      case 'unwatch':
        this.watchHeld = false;
        return;
      case 'consistency':
        if (!isError) this.consistency = entry.consistency === 'default' ? null : entry.consistency;
        return;
      case 'reset':
        this.resetConfirmed();
        return;
      default:
        return;
    }
  }

  private startTransaction(): void {
    this.multiQueue = [];
    this.multiQueueBytes = 0;
    this.multiDirty = false;
    this.replayLost = false;
  }

  private endTransaction(): void {
    this.multiQueue = null;
    this.multiQueueBytes = 0;
    this.multiDirty = false;
    this.replayLost = false;
    this.watchHeld = false;
  }

  private recordQueued(bytes: Buffer, consistency: ConsistencyChoice | null): void {
    if (this.multiQueue === null || this.replayLost) return;
    if (this.multiQueueBytes + bytes.length > MULTI_REPLAY_BYTES_MAX) {
      this.replayLost = true;
      this.multiQueue = [];
      return;
    }
    // A copy: the received chunk it lies in should not live as long as the transaction.
    this.multiQueue.push({ bytes: Buffer.from(bytes), consistency });
    this.multiQueueBytes += bytes.length;
  }

  /** A BOREALIS CONSISTENCY queued in MULTI took effect at EXEC. */
  private applyQueuedConsistency(): void {
    for (const queued of this.multiQueue ?? []) {
      if (queued.consistency !== null)
        this.consistency = queued.consistency === 'default' ? null : queued.consistency;
    }
  }
}

/** Inside MULTI these act at once rather than being queued (as on the data node and Redis). */
function endsOrStaysOutsideQueue(commandClass: CommandClass | null): boolean {
  return (
    commandClass === 'exec' ||
    commandClass === 'discard' ||
    commandClass === 'multi' ||
    commandClass === 'watch' ||
    commandClass === 'quit' ||
    commandClass === 'reset'
  );
}

/** The choice of a well-formed `BOREALIS CONSISTENCY <choice>`, else null. */
function consistencyChoice(args: readonly Buffer[]): ConsistencyChoice | null {
  if (args.length !== 3 || (args[1] as Buffer).toString('latin1').toLowerCase() !== 'consistency')
    return null;
  const choice = (args[2] as Buffer).toString('latin1').toLowerCase();
  return choice === 'instance' || choice === 'cluster' || choice === 'default' ? choice : null;
}
