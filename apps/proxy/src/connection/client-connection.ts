// One client connection to a cluster's endpoint: reads requests (RESP2/3, pipelined), answers
// the ones the proxy owns (AUTH, HELLO, QUIT, RESET, CLIENT SETNAME/GETNAME/ID/SETINFO, and
// NOAUTH before authentication), hands the rest to its SessionForwarder, and writes every answer
// in request order. Bounded both ways: past OUTSTANDING_MAX unanswered requests, or with too many
// bytes waiting for the client or for its writer, the client is not read; a client not reading
// its answers stops the writer's replies being read. A malformed request gets Redis's protocol
// error after the answers to the requests before it, and closes this connection only.
import type { Socket } from 'node:net';
import {
  encodeReply,
  error,
  OK,
  ParseError,
  type Reply,
  RequestParser,
  simple,
} from '../../../../libs/resp/src/index.js';
import type { AuthOutcome } from '../auth/password-checker.js';
import { encodeRequest, locateRequest, setBytes } from '../resp/request-bytes.js';
import { ANSWERED_BY_PROXY, BEFORE_AUTH, type CommandClass, classify } from '../session/command-class.js';
import { answeredEntry, type Entry, newEntry } from '../session/entry.js';
import {
  applyHello,
  authCredentials,
  clientCommand,
  HELLO_NOAUTH,
  type HelloPlan,
  helloReply,
  isDefaultUser,
  MONITOR_NOT_PROXIED,
  NOAUTH,
  notQueueableError,
  PASSWORD_CHECKS_BUSY,
  planHello,
  SYNTAX_ERROR,
  throttledError,
  WRONGPASS,
} from '../session/local-commands.js';
import { SessionState } from '../session/session-state.js';
import type { EndpointServices } from './endpoint-services.js';
import { ReplyOrder } from './reply-order.js';
import { type ForwarderHost, SessionForwarder } from './session-forwarder.js';
import { WRITER_BACKLOG_BYTES_MAX } from './writer-link.js';

/** Requests of one connection read and not yet answered, at most; past it the client is not read. */
export const OUTSTANDING_MAX = 1_024;
/** Unsent answer bytes past which the client is not read, and its writer's replies neither. */
export const CLIENT_BACKLOG_BYTES_MAX = 16 * 1024 * 1024;
/** How long a closed connection waits for the client to close its side before it is cut. */
export const CLOSE_GRACE_MS = 10_000;
/** Longest bulk argument, as on the data node. */
export const REQUEST_BULK_BYTES_MAX = 64 * 1024 * 1024;

const RESET = encodeRequest(['RESET']);
/** Sent in place of a command refused inside MULTI: the writer then dooms the transaction itself. */
const REFUSED_IN_MULTI = encodeRequest(['BOREALIS-REFUSED-IN-MULTI']);

export class ClientConnection implements ForwarderHost {
  readonly state = new SessionState();
  private readonly parser = new RequestParser({ bulkBytesMax: REQUEST_BULK_BYTES_MAX });
  private readonly order = new ReplyOrder();
  private readonly forwarder: SessionForwarder;
  /** Answers being worked out (a password check): nothing after them is read meanwhile. */
  private answering = 0;
  /** CLIENT REPLY OFF: no answers written until ON. */
  private repliesOff = false;
  /** CLIENT REPLY SKIP: the next request's answer is not written. */
  private skipNextReply = false;
  /** The request being dispatched is answered silently. */
  private silent = false;
  /** QUIT or a protocol error: nothing more is read; close once everything is answered. */
  private closing = false;
  /** A malformed request was read: nothing more is read, and the socket goes once answered. */
  private protocolFailed = false;
  /** The client closed its side: what it sent before is answered, then the connection closes. */
  private inputEnded = false;
  /** The last read found no whole request left in what was received. */
  private parserDrained = true;
  private closed = false;
  private readPaused = false;
  private writerReadingPaused = false;
  /** The client came in over TLS (set by the endpoint that serves it). */
  secure = false;

  constructor(
    private readonly socket: Socket,
    private readonly endpoint: EndpointServices,
    readonly id: number,
    readonly address: string,
  ) {
    this.forwarder = new SessionForwarder(this.state, endpoint, this.order, this);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => this.inputEnd());
    socket.on('drain', () => this.progress());
    socket.on('error', () => undefined);
    socket.on('close', () => this.closedByPeer());
  }

  get protocol(): 2 | 3 {
    return this.state.settings.protocol;
  }

  // ----- HoldingConnection, ForwarderHost -----

  resume(): void {
    if (this.closed) return;
    this.forwarder.pump();
    this.progress();
  }

  expireHeld(nowMs: number): void {
    this.forwarder.expireHeld(nowMs);
  }

  /** Answers are ready or room freed up: write them, and read on if there is room. */
  progress(): void {
    if (this.closed) return;
    this.readRequests();
  }

  // ----- what the endpoint asks -----

  retireLinkTo(writerId: string): void {
    this.forwarder.retireLinkTo(writerId);
  }

  /** The writer the session uses (and is not leaving), or null. */
  get linkedWriterId(): string | null {
    return this.forwarder.linkedWriterId;
  }

  closeIdleLink(): void {
    this.forwarder.closeIdleLink();
  }

  closeLinkIdleBefore(idleBeforeMs: number): void {
    this.forwarder.closeLinkIdleBefore(idleBeforeMs);
  }

  /** Ends the connection: every request not yet answered gets `reply` (the cluster is deleted, or the proxy stops). */
  end(reply: Reply): void {
    if (this.closed) return;
    const bytes = encodeReply(reply, this.protocol);
    for (const entry of this.order.entries()) entry.reply ??= bytes;
    this.forwarder.abandon();
    this.closing = true;
    this.writeAnswers();
    this.socket.end();
    this.socket.destroySoon();
  }

  // ----- reading -----

  private receive(chunk: Buffer): void {
    if (this.closing) return;
    this.parser.push(chunk);
    this.readRequests();
  }

  private readRequests(): void {
    this.parserDrained = false;
    while (!this.closing && this.answering === 0 && this.order.length < OUTSTANDING_MAX) {
      const request = this.parser.next();
      if (request === null) {
        this.parserDrained = true;
        break;
      }
      if (request instanceof ParseError) {
        this.protocolFailed = true;
        this.answerThenClose(error(request.message));
        break;
      }
      this.dispatch(request);
    }
    this.forwarder.pump();
    this.writeAnswers();
    this.updateReading();
  }

  private dispatch(args: Buffer[]): void {
    // CLIENT REPLY: whether this request's answer reaches the client (decided as it arrives).
    this.silent = this.repliesOff || this.skipNextReply;
    this.skipNextReply = false;
    try {
      this.dispatchRequest(args);
    } finally {
      this.silent = false;
    }
  }

  private dispatchRequest(args: Buffer[]): void {
    const classified = classify(args);
    const { state } = this;
    if ('error' in classified) {
      // Inside MULTI the writer must see it too: its error dooms the transaction there.
      if (state.authenticated && state.inMulti) this.forward(null, args);
      else this.answer(classified.error);
      return;
    }
    const { commandClass } = classified;
    if (!state.authenticated && !BEFORE_AUTH.has(commandClass)) {
      this.answer(NOAUTH);
      return;
    }
    this.endpoint.commandArrived();
    if (state.inMulti && ANSWERED_BY_PROXY.has(commandClass)) this.refuseInMulti(classified.spec.name);
    else this.dispatchClass(commandClass, args);
  }

  private dispatchClass(commandClass: CommandClass, args: Buffer[]): void {
    switch (commandClass) {
      case 'auth':
        this.auth(args);
        break;
      case 'hello':
        this.hello(args);
        break;
      case 'quit':
        this.answerThenClose(OK);
        break;
      case 'reset':
        this.reset();
        break;
      case 'client-setname':
      case 'client-getname':
      case 'client-id':
      case 'client-setinfo':
        this.answer(clientCommand(commandClass, args, this.state, this.id));
        break;
      case 'client-reply':
        this.clientReply(args);
        break;
      case 'not-proxied':
        this.answer(MONITOR_NOT_PROXIED);
        break;
      default:
        this.forward(commandClass, args);
    }
  }

  private forward(commandClass: CommandClass | null, args: Buffer[]): void {
    const entry = newEntry('connection', this.state.settings);
    locateRequest(args, entry);
    this.state.forward(commandClass, args, entry);
    this.enqueue(entry);
    this.forwarder.enqueue(entry);
  }

  // ----- commands the proxy answers -----

  private auth(args: Buffer[]): void {
    const credentials = authCredentials(args);
    if ('error' in credentials) {
      this.answer(credentials.error);
      return;
    }
    const outcome = this.checkLogin(credentials.user, credentials.password);
    if (outcome instanceof Promise) this.answerLater(outcome.then((result) => this.loggedIn(result)));
    else this.answer(this.loggedIn(outcome));
  }

  private checkLogin(user: Buffer | null, password: Buffer): AuthOutcome | Promise<AuthOutcome> {
    if (!isDefaultUser(user)) {
      this.endpoint.recordWrongUser();
      return { kind: 'wrong' };
    }
    return this.endpoint.checkPassword(password, this.address);
  }

  private loggedIn(outcome: AuthOutcome): Reply {
    switch (outcome.kind) {
      case 'ok':
        this.state.authenticated = true;
        return OK;
      case 'wrong':
        return WRONGPASS;
      case 'throttled':
        return throttledError(this.address, outcome.retryAfterMs);
      default:
        return PASSWORD_CHECKS_BUSY;
    }
  }

  private hello(args: Buffer[]): void {
    const plan = planHello(args);
    if (!('version' in plan)) this.answer(plan.error);
    else if (plan.steps.some((step) => 'auth' in step)) this.answerLater(this.runHello(plan));
    else this.answer(this.finishHello(plan));
  }

  /** HELLO's AUTH options, each checked in turn as the data node does. */
  private async runHello(plan: HelloPlan): Promise<Reply> {
    for (const step of plan.steps) {
      if (!('auth' in step)) continue;
      const reply = this.loggedIn(await this.checkLogin(step.auth.user, step.auth.password));
      if (reply.kind === 'error') return reply;
    }
    return this.finishHello(plan);
  }

  private finishHello(plan: HelloPlan): Reply {
    if (plan.error !== null) return plan.error;
    if (!this.state.authenticated) return HELLO_NOAUTH;
    applyHello(this.state, plan);
    return helloReply(this.protocol, this.id);
  }

  private reset(): void {
    // As Redis: RESET turns replies back on, and is answered.
    this.repliesOff = false;
    this.skipNextReply = false;
    this.silent = false;
    const settingsBefore = this.state.settings;
    this.state.resetSent();
    if (!this.forwarder.engaged) {
      this.state.resetConfirmed();
      this.answer(simple('RESET'));
      return;
    }
    // The writer resets its side in order with the commands before it.
    const entry = newEntry('reset', settingsBefore);
    setBytes(entry, RESET);
    this.enqueue(entry);
    this.forwarder.enqueue(entry);
  }

  private refuseInMulti(commandName: string): void {
    const entry = newEntry('queued', this.state.settings);
    setBytes(entry, REFUSED_IN_MULTI);
    entry.replacement = encodeReply(notQueueableError(commandName), this.protocol);
    this.enqueue(entry);
    this.forwarder.enqueue(entry);
  }

  /**
   * CLIENT REPLY ON|OFF|SKIP, kept by the endpoint: writers answer every request, and the
   * endpoint leaves out of what it writes the answers Redis would not send.
   */
  private clientReply(args: Buffer[]): void {
    const mode = (args[2] as Buffer).toString('latin1').toLowerCase();
    if (mode === 'on') {
      this.repliesOff = false;
      this.skipNextReply = false;
      this.silent = false;
      this.answer(OK);
    } else if (mode === 'off') {
      this.repliesOff = true;
      this.silent = true;
      this.answer(OK);
    } else if (mode === 'skip') {
      if (!this.repliesOff) this.skipNextReply = true;
      this.silent = true;
      this.answer(OK);
    } else {
      this.answer(SYNTAX_ERROR);
    }
  }

  // ----- answers -----

  /** Every answer of a client request goes through here, in request order. */
  private enqueue(entry: Entry): void {
    entry.silent = this.silent;
    this.order.push(entry);
  }

  private answer(reply: Reply): void {
    this.enqueue(answeredEntry(encodeReply(reply, this.protocol), this.state.settings));
  }

  /** An answer still being worked out: nothing after it is read until it is known. */
  private answerLater(reply: Promise<Reply>): void {
    const entry: Entry = newEntry('local', this.state.settings);
    this.enqueue(entry);
    this.answering++;
    void reply
      .catch((cause: unknown) => error(`ERR internal error: ${(cause as Error).message}`))
      .then((settled) => {
        entry.reply = encodeReply(settled, this.protocol);
        this.answering--;
        this.progress();
      });
  }

  private answerThenClose(reply: Reply): void {
    this.answer(reply);
    this.closing = true;
  }

  private inputEnd(): void {
    this.inputEnded = true;
    this.progress();
  }

  private writeAnswers(): void {
    if (this.closed) return;
    this.order.writeTo(this.socket);
    const finished = this.closing || (this.inputEnded && this.parserDrained);
    if (finished && this.order.length === 0 && !this.socket.writableEnded) {
      // After a protocol error the client is no longer read: what it writes on stays in the
      // kernel's buffers until they fill and stop it. The socket is destroyed after the grace,
      // not at once: closing it with unread input sends a reset, which can discard the error
      // answer at the client before it reads it (the data node does the same).
      this.socket.end();
      // A client that never closes its side would hold the socket half open.
      setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
    }
  }

  /** Back-pressure both ways; see the file's comment. */
  private updateReading(): void {
    if (this.closed) return;
    const clientBacklogged = this.socket.writableLength > CLIENT_BACKLOG_BYTES_MAX;
    if (clientBacklogged !== this.writerReadingPaused) {
      this.writerReadingPaused = clientBacklogged;
      this.forwarder.pauseWriterReading(clientBacklogged);
    }
    // Closing, the client is read on (and what it sends dropped) so that its end is seen; but not
    // after a protocol error, where the socket is destroyed instead.
    const stop =
      this.protocolFailed ||
      (!this.closing &&
        (clientBacklogged ||
          this.answering > 0 ||
          this.order.length >= OUTSTANDING_MAX ||
          this.forwarder.linkBacklogBytes > WRITER_BACKLOG_BYTES_MAX));
    if (stop === this.readPaused) return;
    this.readPaused = stop;
    if (stop) this.socket.pause();
    else this.socket.resume();
  }

  private closedByPeer(): void {
    if (this.closed) return;
    this.closed = true;
    this.order.clear();
    this.forwarder.abandon();
    this.endpoint.connectionClosed(this);
  }
}
