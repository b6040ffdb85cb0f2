// Takes a session's forwarded commands to a writer (docs/adr/0006, writers and sessions): over one
// link at a time, opened at the first command; held while the cluster has no writer to give
// (counted in the hold budget, answered TRYAGAIN past it or past the resume deadline); moved to
// another writer at a command boundary when its writer leaves the route; and, when a writer fails
// with commands in flight, answering each in order: sent again where nothing can have changed
// data, UNKNOWN where something may have.

import { encodeReply, error, type Reply } from '../../../../libs/resp/src/index.js';
import { CACHE_ENTRY_AGE_MAX_MS } from '../../../data-node/src/cache/versioned-cache.js';
import { isErrorType, type ReplyFramer } from '../resp/reply-framer.js';
import { bufferOf, encodeRequest, setBytes } from '../resp/request-bytes.js';
import type { Entry } from '../session/entry.js';
import { MULTI_REPLAY_BYTES_MAX, type SessionState } from '../session/session-state.js';
import { crashAction, divergenceOf, handshake } from '../session/writer-handshake.js';
import { Fifo } from '../util/fifo.js';
import type { EndpointServices, HoldingConnection } from './endpoint-services.js';
import type { ReplyOrder } from './reply-order.js';
import { type LinkFailure, type LinkOwner, REPLY_BYTES_MAX, WriterLink } from './writer-link.js';

/**
 * How long a session holding a WATCH stays on a writer that left the route, so that its EXEC runs
 * where the keys are watched. Well under the control plane's wait for the writer's release
 * (10 s); past it the session moves anyway, and its EXEC is answered null.
 */
export const WATCH_MOVE_WAIT_MS = 5_000;

/** A command whose writers failed this many times under it is answered with an error. */
export const RESEND_ATTEMPTS_MAX = 3;

export const UNKNOWN_OUTCOME = error(
  'UNKNOWN the writer failed while running this command: it may or may not have been applied; read the keys to find out',
);
const EXECABORT = error('EXECABORT Transaction discarded because of previous errors.');
const REPLAY_LOST = error(
  `EXECABORT Transaction discarded: the session moved to another writer and its queued commands (over ${MULTI_REPLAY_BYTES_MAX / 1024 / 1024} MiB) could not be sent again`,
);
const WRITERS_KEEP_FAILING = error(
  `TRYAGAIN the cluster's writers failed ${RESEND_ATTEMPTS_MAX} times while running this command; retry`,
);
const REPLY_TOO_LARGE = error(
  `ERR the reply is larger than ${REPLY_BYTES_MAX / 1024 / 1024} MiB, the most the endpoint passes on`,
);
const DISCARD = encodeRequest(['DISCARD']);
/** How a data node refuses a connection past its capacity (and the answer a client gets then). */
const FULL_PREFIX = 'ERR max number of clients reached';
const WRITERS_FULL = error(FULL_PREFIX);

/** What the forwarder asks of its connection. */
export interface ForwarderHost extends HoldingConnection {
  /** Answers became ready, or room freed up: write them and read on. */
  progress(): void;
  /** The client's protocol, for answers the proxy makes itself. */
  readonly protocol: 2 | 3;
}

export class SessionForwarder implements LinkOwner {
  private readonly unsent = new Fifo<Entry>();
  /** Entries of `unsent` not counted in the hold budget. */
  private uncounted = 0;
  private link: WriterLink | null = null;
  /** The last writer the session used and when it last answered: a move within the cache bound says so. */
  private previousWriter: { id: string; activityAtMs: number } | null = null;
  readonly holdTally = { commands: 0, bytes: 0 };
  private holding = false;
  private writerReadingPaused = false;
  /** The link's writer left the route while the session held a WATCH: retired once it ends. */
  private retireAfterWatch: { link: WriterLink; timer: NodeJS.Timeout } | null = null;

  constructor(
    private readonly state: SessionState,
    private readonly endpoint: EndpointServices,
    private readonly order: ReplyOrder,
    private readonly host: ForwarderHost,
  ) {}

  /** The writer this session's link goes to, unless it is leaving it; null without a link. */
  get linkedWriterId(): string | null {
    const link = this.link;
    return link === null || link.retiring || this.retireAfterWatch !== null ? null : link.writer.id;
  }

  /** A link is open, or commands wait for one: a RESET must reach the writer in order. */
  get engaged(): boolean {
    return this.link !== null || this.unsent.length > 0;
  }

  get linkBacklogBytes(): number {
    return this.link?.backlogBytes ?? 0;
  }

  /** Queues a command for a writer (sent by `pump`). */
  enqueue(entry: Entry): void {
    this.unsent.push(entry);
    this.uncounted++;
  }

  /** Sends what waits, as far as a writer can be had; holds the rest. */
  pump(): void {
    while (this.unsent.length > 0) {
      const link = this.usableLink();
      if (link === 'wait') break;
      if (link === null) {
        this.holdUnsent();
        break;
      }
      const entry = this.unsent.shift() as Entry;
      this.stopCounting(entry);
      this.endpoint.inFlightChanged(1);
      link.send(entry);
      if (this.retireAfterWatch?.link === link && endsWatch(entry)) this.retireNow(link);
    }
    this.link?.flush();
    this.updateHolding();
  }

  /**
   * The writer leaves the route: the session moves at its next command boundary. A WATCH cannot
   * follow it to another writer, so a session holding one stays until it ends (EXEC, DISCARD,
   * UNWATCH, RESET), for at most WATCH_MOVE_WAIT_MS.
   */
  retireLinkTo(writerId: string): void {
    const link = this.link;
    if (link === null || link.writer.id !== writerId || link.retiring) return;
    if (this.retireAfterWatch?.link === link) return;
    if (this.state.watchRequested || this.state.watchHeld) {
      const timer = setTimeout(() => this.retireNow(link), WATCH_MOVE_WAIT_MS);
      timer.unref();
      this.retireAfterWatch = { link, timer };
      return;
    }
    link.retire();
  }

  private retireNow(link: WriterLink): void {
    if (this.retireAfterWatch?.link === link) {
      clearTimeout(this.retireAfterWatch.timer);
      this.retireAfterWatch = null;
    }
    if (!link.retiring && !link.closed) link.retire();
  }

  /** Closes an idle link (the cluster quiesced: nothing is in flight). */
  closeIdleLink(): void {
    const link = this.link;
    if (link === null) return;
    link.close();
    this.detach(link, null);
    // Answers gathered from it go out, and the client is read again if it was paused.
    this.host.progress();
  }

  /**
   * Closes the link when nothing has gone over it since `idleBeforeMs` and the session holds
   * nothing a new link could not be given (a WATCH, a MULTI): its next command opens another,
   * which is handed the session's settings as after a move.
   */
  closeLinkIdleBefore(idleBeforeMs: number): void {
    const link = this.link;
    if (link === null || link.retiring || link.inFlight.length > 0 || this.unsent.length > 0) return;
    if (link.lastProgressMs >= idleBeforeMs || this.retireAfterWatch !== null) return;
    const { state } = this;
    if (state.inTransaction || state.watchHeld || state.multiQueue !== null) return;
    this.closeIdleLink();
  }

  /** The client is not taking its answers: its writer's replies are not read meanwhile. */
  pauseWriterReading(paused: boolean): void {
    this.writerReadingPaused = paused;
    this.link?.pauseReading(paused);
  }

  /** Held commands past the resume deadline get an error naming it, in order with the rest. */
  expireHeld(nowMs: number): void {
    if (this.holdTally.commands === 0) return;
    const deadlineMs = this.endpoint.resumeDeadlineMs;
    const late = this.unsent.removeWhere((entry) => entry.held && nowMs - entry.heldAtMs >= deadlineMs);
    if (late.length === 0) return;
    const seconds = deadlineMs / 1000;
    const reply = error(
      `TRYAGAIN cluster ${this.endpoint.clusterName} did not resume within ${seconds} s; retry`,
    );
    for (const entry of late) {
      this.stopCounting(entry);
      entry.reply = this.encode(reply);
    }
    this.endpoint.resumeDeadlineMissed(late.length);
    this.updateHolding();
    this.host.progress();
  }

  /** The client is gone: nothing more goes to a writer. */
  abandon(): void {
    for (const entry of this.unsent.drain()) this.stopCounting(entry);
    this.updateHolding();
    const link = this.link;
    if (link === null) return;
    this.endpoint.inFlightChanged(-clientEntries(link.inFlight.drain()));
    link.close();
    this.detach(link, null);
  }

  // ----- LinkOwner -----

  linkReply(link: WriterLink, entry: Entry, framer: ReplyFramer): void {
    if (entry.kind === 'internal') {
      this.internalReplied(link, entry, framer);
      return;
    }
    this.endpoint.inFlightChanged(-1);
    const isError = isErrorType(framer.topType);
    let replacement =
      entry.kind === 'exec-verdict'
        ? encodeReply(this.execVerdict(), entry.settings.protocol)
        : entry.replacement;
    this.state.confirmed(entry, isError, framer.isNull, () => bufferOf(entry));
    if (framer.oversize) replacement ??= this.encode(REPLY_TOO_LARGE);
    if (replacement !== null) {
      entry.reply = replacement;
      return;
    }
    const { source, start, end } = framer;
    if (!this.order.passThrough(entry, source.buffer, source.byteOffset + start, end - start))
      entry.reply = source.subarray(start, end);
  }

  linkPush(_link: WriterLink, framer: ReplyFramer): void {
    if (this.host.protocol === 3)
      this.order.appendUnordered(framer.source.subarray(framer.start, framer.end));
  }

  linkRepliesDone(): void {
    this.host.progress();
  }

  linkDrained(): void {
    this.host.progress();
  }

  linkRetired(link: WriterLink): void {
    this.detach(link, null);
    this.endpoint.sessionMoved();
    this.pump();
  }

  linkFailed(link: WriterLink, inFlight: Entry[], failure: LinkFailure): void {
    this.detach(link, failure);
    const resend: Entry[] = [];
    for (const entry of inFlight) {
      if (entry.kind === 'internal') continue;
      // As a direct connection to a full writer would be told; the next command tries again.
      if (failure.writerFull) entry.reply = this.encode(WRITERS_FULL);
      else if (this.planResend(entry, failure.nothingRan)) resend.push(entry);
    }
    for (let index = resend.length - 1; index >= 0; index--) {
      this.unsent.unshift(resend[index] as Entry);
      this.uncounted++;
    }
    this.endpoint.sessionMoved();
    this.pump();
    // Only now: a pause decision waiting for these must see the ones sent again held or in flight.
    this.endpoint.inFlightChanged(-clientEntries(inFlight));
    this.host.progress();
  }

  // ----- inside -----

  /** A command in flight on a failed writer: answered now, or made ready to go again (true). */
  private planResend(entry: Entry, nothingRan: boolean): boolean {
    const action = crashAction(entry, nothingRan);
    if (action === 'unknown') {
      entry.reply = this.encode(UNKNOWN_OUTCOME);
      return false;
    }
    // A writer that refused the session (or never connected) ran nothing: that try does not count.
    if (!nothingRan) entry.attempts++;
    if (entry.attempts >= RESEND_ATTEMPTS_MAX) {
      entry.reply = this.encode(action === 'exec-unknown' ? UNKNOWN_OUTCOME : WRITERS_KEEP_FAILING);
      return false;
    }
    if (action === 'exec-unknown') {
      entry.kind = 'exec-unknown';
      entry.replacement = this.encode(UNKNOWN_OUTCOME);
      setBytes(entry, DISCARD);
    }
    return true;
  }

  private usableLink(): WriterLink | null | 'wait' {
    if (!this.endpoint.canForward()) return null;
    if (this.link !== null) return this.link.retiring ? 'wait' : this.link;
    return this.openLink();
  }

  private openLink(): WriterLink | null {
    const writer = this.endpoint.chooseWriter();
    if (writer === null) return null;
    const nowMs = Date.now();
    const previous = this.previousWriter;
    const moved =
      previous !== null &&
      previous.id !== writer.id &&
      nowMs - previous.activityAtMs < CACHE_ENTRY_AGE_MAX_MS;
    const settings = this.unsent.peek()?.settings ?? this.state.settings;
    const opening = handshake(this.state, this.endpoint.writerPassword, settings, moved);
    const link = new WriterLink(writer, this.endpoint.writerPassword, this, divergenceOf(this.state), {
      handshake: opening,
      settings,
      nowMs,
    });
    this.link = link;
    if (this.writerReadingPaused) link.pauseReading(true);
    this.endpoint.linkOpened(link);
    return link;
  }

  private detach(link: WriterLink, failure: LinkFailure | null): void {
    if (this.link === link) this.link = null;
    if (this.retireAfterWatch?.link === link) {
      clearTimeout(this.retireAfterWatch.timer);
      this.retireAfterWatch = null;
    }
    // After a failure, whatever ran there may be as recent as now.
    const activityAtMs = failure !== null ? Date.now() : link.lastReplyAtMs;
    if (link.everSent) this.previousWriter = { id: link.writer.id, activityAtMs };
    this.endpoint.linkClosed(link, failure);
  }

  private internalReplied(link: WriterLink, entry: Entry, framer: ReplyFramer): void {
    if (!isErrorType(framer.topType)) {
      if (entry.role === 'login') this.endpoint.writerLoggedIn(link.writer.id);
      return;
    }
    const message = framer.source.toString(
      'latin1',
      framer.start + 1,
      Math.max(framer.start + 1, framer.end - 2),
    );
    switch (entry.role) {
      case 'login':
        link.fail(
          true,
          `writer ${link.writer.id} refused the session: ${message}`,
          message.startsWith(FULL_PREFIX),
        );
        return;
      case 'required':
        link.fail(false, `writer ${link.writer.id} refused the session's state: ${message}`);
        return;
      case 'queued-replay':
        this.state.multiDirty = true;
        return;
      default:
        return;
    }
  }

  /** What an EXEC gets when its writer lost the session's WATCH or transaction. */
  private execVerdict(): Reply {
    if (this.state.replayLost) return REPLAY_LOST;
    if (this.state.multiDirty) return EXECABORT;
    return { kind: 'nullArray' };
  }

  /** Counts what waits for a writer in the hold budget; a command past a limit is answered TRYAGAIN. */
  private holdUnsent(): void {
    if (this.uncounted === 0) return;
    const nowMs = Date.now();
    const refused = this.unsent.removeWhere((entry) => {
      if (entry.held) return false;
      const refusal = this.endpoint.tryHold(this.holdTally, entry.length);
      if (refusal !== null) {
        entry.reply = this.encode(error(refusal));
        return true;
      }
      entry.held = true;
      // The deadline counts from the first time it was held, however often it is held again.
      if (entry.heldAtMs === 0) entry.heldAtMs = nowMs;
      return false;
    });
    this.uncounted = 0;
    if (refused.length > 0) this.host.progress();
  }

  private stopCounting(entry: Entry): void {
    if (entry.held) {
      entry.held = false;
      this.endpoint.releaseHold(this.holdTally, entry.length);
    } else {
      this.uncounted--;
    }
  }

  private updateHolding(): void {
    const holding = this.holdTally.commands > 0;
    if (holding === this.holding) return;
    this.holding = holding;
    this.endpoint.holdingChanged(this.host, holding);
  }

  private encode(reply: Reply): Buffer {
    return encodeReply(reply, this.host.protocol);
  }
}

function clientEntries(entries: Entry[]): number {
  let count = 0;
  for (const entry of entries) if (entry.kind !== 'internal') count++;
  return count;
}

/** Whether sending `entry` ends the session's WATCH (on the writer it went to). */
function endsWatch(entry: Entry): boolean {
  switch (entry.kind) {
    case 'exec':
    case 'exec-verdict':
    case 'exec-unknown':
    case 'discard':
    case 'unwatch':
    case 'reset':
      return true;
    default:
      return false;
  }
}
