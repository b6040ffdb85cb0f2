// One client session's connection to one writer (docs/adr/0006: one backend connection per
// session). Requests go out as gathered bytes; replies come back framed, in order, and are handed
// to the session with the entry each answers. The link knows where the writer's session differs
// from what the client believes (a WATCH or transaction lost in a move) and turns such a session's
// next EXEC into a DISCARD whose answer the proxy gives. It fails as a whole: socket error or
// close, malformed replies, a refused log-in, or no reply for too long with commands in flight.
import { connect, type Socket } from 'node:net';
import type { RouteWriter } from '../../../../libs/routes/src/index.js';
import { OutputBatch } from '../resp/output-batch.js';
import { isPushType, ReplyFramer } from '../resp/reply-framer.js';
import { encodeRequest } from '../resp/request-bytes.js';
import { type ConnectionSettings, DEFAULT_SETTINGS, type Entry, internalEntry } from '../session/entry.js';
import { settingsCommands, type WriterDivergence } from '../session/writer-handshake.js';
import { Fifo } from '../util/fifo.js';

/** A writer that has not accepted the connection by then is taken as down. */
export const WRITER_CONNECT_TIMEOUT_MS = 3_000;
/** Unsent bytes to a writer past which the client is no longer read. */
export const WRITER_BACKLOG_BYTES_MAX = 4 * 1024 * 1024;
/** A reply longer than this is not passed on (the client gets an error for that request). */
export const REPLY_BYTES_MAX = 64 * 1024 * 1024;

const DISCARD = encodeRequest(['DISCARD']);

/** What a link starts with: the session's log-in and state, in the settings they leave it in. */
export interface LinkOpening {
  handshake: Entry[];
  settings: ConnectionSettings;
  nowMs: number;
}

/** Why a link ended against its will. */
export interface LinkFailure {
  reason: string;
  /** Nothing sent on it can have run: it never connected, or the writer refused the session. */
  nothingRan: boolean;
  /** The writer refused the session because it has all the connections its capacity allows. */
  writerFull: boolean;
}

export interface LinkOwner {
  /** A reply arrived for `entry`; the framer holds its bytes. */
  linkReply(link: WriterLink, entry: Entry, framer: ReplyFramer): void;
  /** A RESP3 push, not a reply to any request. */
  linkPush(link: WriterLink, framer: ReplyFramer): void;
  /** Every reply of the chunk just received has been handed over. */
  linkRepliesDone(link: WriterLink): void;
  /** The link is gone; `inFlight` were sent and not answered. */
  linkFailed(link: WriterLink, inFlight: Entry[], failure: LinkFailure): void;
  /** A retiring link has nothing in flight any more (and is closed). */
  linkRetired(link: WriterLink): void;
  /** The writer took the bytes waiting for it. */
  linkDrained(link: WriterLink): void;
}

export class WriterLink {
  readonly inFlight = new Fifo<Entry>();
  /** Taken out of use: sends nothing more, and closes once nothing is in flight. */
  retiring = false;
  closed = false;
  /** Replies are not being read (the client is not taking them): not a stall of the writer. */
  readingPaused = false;
  /** When it last made progress: connected, or a reply arrived (for the stall check). */
  lastProgressMs: number;
  lastReplyAtMs = 0;
  private connected = false;
  private clientCommandsSent = 0;
  private applied: ConnectionSettings = DEFAULT_SETTINGS;
  private readonly socket: Socket;
  private readonly framer = new ReplyFramer({ replyBytesMax: REPLY_BYTES_MAX });
  private readonly batch = new OutputBatch();
  private readonly connectTimer: NodeJS.Timeout;

  constructor(
    readonly writer: RouteWriter,
    private readonly writerPassword: string,
    private readonly owner: LinkOwner,
    private divergence: WriterDivergence,
    opening: LinkOpening,
  ) {
    this.lastProgressMs = opening.nowMs;
    this.socket = connect({ host: writer.host, port: writer.port });
    this.socket.setNoDelay(true);
    this.connectTimer = setTimeout(
      () => this.fail(false, `no connection to writer ${writer.id} within ${WRITER_CONNECT_TIMEOUT_MS} ms`),
      WRITER_CONNECT_TIMEOUT_MS,
    );
    this.socket.once('connect', () => {
      clearTimeout(this.connectTimer);
      this.connected = true;
      this.lastProgressMs = Date.now();
    });
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('drain', () => this.owner.linkDrained(this));
    this.socket.on('error', (cause: Error) => this.fail(false, `writer ${writer.id}: ${cause.message}`));
    this.socket.on('close', () => this.fail(false, `writer ${writer.id} closed the connection`));
    for (const entry of opening.handshake) this.enqueue(entry);
    this.applied = opening.settings;
  }

  /** Whether a client command ever went out on it (a writer the session may have written on). */
  get everSent(): boolean {
    return this.clientCommandsSent > 0;
  }

  /** Bytes waiting to be taken by the writer. */
  get backlogBytes(): number {
    return this.socket.writableLength + this.batch.bytes;
  }

  /** Queues a client request, preceded by whatever brings the writer's session to its settings. */
  send(entry: Entry): void {
    if (entry.settings !== this.applied) {
      for (const bytes of settingsCommands(this.applied, entry.settings))
        this.enqueue(internalEntry(bytes, 'required', entry.settings));
      this.applied = entry.settings;
    }
    this.adjustForDivergence(entry);
    this.clientCommandsSent++;
    this.enqueue(entry);
    if (entry.kind === 'reset') {
      // The writer's RESET logs the session out and resets its settings.
      this.applied = DEFAULT_SETTINGS;
      this.enqueue(internalEntry(encodeRequest(['AUTH', this.writerPassword]), 'login', DEFAULT_SETTINGS));
    }
  }

  /** Writes what was queued; false when the writer is not taking bytes fast enough. */
  flush(): boolean {
    if (this.closed || this.batch.isEmpty) return !this.closed;
    this.batch.flushTo(this.socket);
    return this.socket.writableLength < WRITER_BACKLOG_BYTES_MAX;
  }

  /** Stops (or restarts) reading replies: the client is not taking them fast enough. */
  pauseReading(paused: boolean): void {
    if (this.closed || paused === this.readingPaused) return;
    this.readingPaused = paused;
    if (paused) {
      this.socket.pause();
    } else {
      // Time spent not reading is not the writer's silence.
      this.lastProgressMs = Date.now();
      this.socket.resume();
    }
  }

  /** Stops using the link: it closes once what is in flight is answered. */
  retire(): void {
    this.retiring = true;
    if (this.inFlight.length === 0) this.finishRetiring();
  }

  /** Ends the link without a failure (nothing is in flight, or what is does not matter). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.connectTimer);
    this.batch.clear();
    this.socket.destroy();
  }

  /** Fails the link as if the writer had gone (a stall, a refused log-in, a malformed reply). */
  fail(nothingRan: boolean, reason: string, writerFull = false): void {
    if (this.closed) return;
    this.close();
    const failure = { reason, nothingRan: nothingRan || !this.connected, writerFull };
    this.owner.linkFailed(this, this.inFlight.drain(), failure);
  }

  private enqueue(entry: Entry): void {
    if (this.inFlight.length === 0) this.lastProgressMs = Date.now();
    this.batch.appendRange(entry.memory, entry.offset, entry.length);
    this.inFlight.push(entry);
  }

  /** EXEC on a writer that lost the session's WATCH or transaction, and what ends that loss. */
  private adjustForDivergence(entry: Entry): void {
    const { divergence } = this;
    if (entry.kind === 'exec' && (divergence.brokenWatch || divergence.doomedTransaction)) {
      entry.kind = 'exec-verdict';
      entry.memory = DISCARD.buffer;
      entry.offset = DISCARD.byteOffset;
      entry.length = DISCARD.length;
    }
    switch (entry.kind) {
      case 'exec':
      case 'exec-verdict':
      case 'exec-unknown':
      case 'discard':
      case 'reset':
        this.divergence = { brokenWatch: false, doomedTransaction: false };
        return;
      case 'unwatch':
        this.divergence = { brokenWatch: false, doomedTransaction: divergence.doomedTransaction };
        return;
      default:
        return;
    }
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    const now = Date.now();
    this.lastProgressMs = now;
    this.lastReplyAtMs = now;
    this.framer.push(chunk);
    for (;;) {
      const found = this.framer.next();
      if (found === false) break;
      if (found !== true) {
        this.fail(false, `writer ${this.writer.id}: ${found.message}`);
        return;
      }
      if (isPushType(this.framer.topType)) {
        this.owner.linkPush(this, this.framer);
        continue;
      }
      const entry = this.inFlight.shift();
      if (entry === undefined) {
        this.fail(false, `writer ${this.writer.id} sent a reply to no request`);
        return;
      }
      this.owner.linkReply(this, entry, this.framer);
      if (this.closed) return;
    }
    this.owner.linkRepliesDone(this);
    if (this.retiring && this.inFlight.length === 0) this.finishRetiring();
  }

  private finishRetiring(): void {
    this.close();
    this.owner.linkRetired(this);
  }
}
