// The RESP listener: one `ClientConnection` per socket. Requests of a connection run one at a
// time in arrival order (a pipeline keeps its order); replies are written in batches. Every
// buffer is bounded: a connection that sends faster than it is served stops being read until
// its queue drains, and a protocol error closes that connection only, after its error reply:
// from the error on, the socket is no longer read, and it is destroyed once the reply is out.
import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { encodeReply, RequestParser } from '../../../../libs/resp/src/index.js';
import { error, type Reply, simple } from '../../../../libs/resp/src/reply.js';
import type { CommandResolution } from '../commands/command-table.js';
import { commandLabel, resolveCommand } from '../commands/served-commands.js';
import { ClientRegistry } from './client-registry.js';
import { type ConnectionHandle, Session, type SessionHost, type SessionReply } from './session.js';

/** What the listener asks of the node for every connection and request. */
export interface ConnectionPolicy extends SessionHost {
  /** Null to admit the connection, or the error that refuses it. */
  admitConnection(): Reply | null;
  /** Resolves when the command budget allows one more command. */
  admitCommand(): Promise<void> | null;
  /** `command` is the top-level command the request is counted under (`commandLabel`). */
  commandDone(command: string, micros: number, reply: Reply): void;
  connectionOpened(session: Session): void;
  connectionClosed(session: Session): void;
}

export interface RespServerOptions {
  host: string;
  port: number;
  policy: ConnectionPolicy;
  bulkBytesMax?: number;
}

/** Parsed requests a connection may have waiting before it is no longer read. */
const QUEUED_REQUESTS_MAX = 1_024;
/** Pipelined data commands of one connection in flight at once. */
const PIPELINED_COMMANDS_MAX = 128;
/** Reply bytes gathered before they are written even though more requests are ready. */
const REPLY_BATCH_BYTES = 64 * 1024;
/** Unsent reply bytes at which a connection is no longer read (a client that does not read). */
const SOCKET_BACKLOG_BYTES_MAX = 16 * 1024 * 1024;
/**
 * Unsent MONITOR output at which a monitor is disconnected: a monitor that reads slower than the
 * node runs commands must not grow the node's memory (Redis's client-output-buffer-limit).
 */
export const MONITOR_BACKLOG_BYTES_MAX = 8 * 1024 * 1024;
/** A connection closing after a protocol error is destroyed this long after its FIN (see destroyAfterFlush). */
const CLOSE_AFTER_ERROR_MS = 5_000;
/** How often idle connections are looked for (CONFIG SET timeout). */
const IDLE_SWEEP_MS = 1_000;
export const BULK_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

/** A parsed request and its command, resolved once as it is read. */
interface QueuedRequest {
  args: Buffer[];
  resolution: CommandResolution;
}

/**
 * A request that has started, and its reply, given at once or to come. One that joined a pipeline
 * while the command budget held it starts once admitted: its start time and `wanted` are set then.
 */
interface RunningRequest {
  request: QueuedRequest;
  startedAt: number;
  wanted: boolean;
  result: SessionReply | Promise<SessionReply>;
}

/**
 * Where answering requests at once (`answerAtOnce`) stopped: at a request waiting for the command
 * budget, at one whose reply is a promise, or at one that is not a plain data command.
 */
type Stop =
  | { kind: 'admission'; request: QueuedRequest; admitted: Promise<void> }
  | { kind: 'running'; running: RunningRequest }
  | { kind: 'other' };

const STOP_AT_OTHER: Stop = { kind: 'other' };

export class RespServer {
  private server: Server | null = null;
  private readonly connections = new Set<ClientConnection>();
  /** What the connections share: CLIENT LIST/KILL, MONITOR, CLIENT PAUSE. */
  readonly clients = new ClientRegistry<Session>();
  private nextClientId = 1;
  private idleSweep: NodeJS.Timeout | null = null;
  boundPort = 0;

  constructor(private readonly options: RespServerOptions) {}

  get connectionCount(): number {
    return this.connections.size;
  }

  get sessions(): Session[] {
    return [...this.connections].map((connection) => connection.session);
  }

  async listen(): Promise<number> {
    const server = createServer((socket) => this.accept(socket));
    server.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.options.host, port: this.options.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.idleSweep = setInterval(() => this.closeIdleConnections(), IDLE_SWEEP_MS);
    this.idleSweep.unref();
    const address = server.address();
    this.boundPort = typeof address === 'object' && address !== null ? address.port : 0;
    return this.boundPort;
  }

  /** Stops accepting; open connections keep being served. */
  async stopListening(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (this.idleSweep !== null) clearInterval(this.idleSweep);
    this.idleSweep = null;
    // close() stops accepting at once; its callback would wait for every open connection to end,
    // which is closeConnections' work, so it is not awaited (a drain with idle clients hung here).
    server?.close();
  }

  /**
   * Closes every connection once its current request is answered; after `timeoutMs` the rest
   * are cut. Resolves when none is left.
   */
  async closeConnections(timeoutMs: number): Promise<{ closedIdle: number; cut: number }> {
    let cut = 0;
    const total = this.connections.size;
    // A CLIENT PAUSE would hold the commands the drain waits for.
    this.clients.unpause();
    for (const connection of this.connections) connection.closeWhenIdle();
    const deadline = Date.now() + timeoutMs;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const connection of this.connections) {
      cut++;
      connection.destroy();
    }
    return { closedIdle: total - cut, cut };
  }

  /** CONFIG SET timeout: a connection idle longer is closed (not a monitor, not one mid-command), as Redis. */
  private closeIdleConnections(): void {
    const timeoutSeconds = this.options.policy.config.timeoutSeconds;
    if (timeoutSeconds <= 0) return;
    const nowMs = Date.now();
    for (const connection of this.connections) {
      if (connection.idleFor(nowMs) > timeoutSeconds * 1000) connection.destroy();
    }
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const refusal = this.options.policy.admitConnection();
    if (refusal !== null) {
      socket.end(encodeReply(refusal, 2));
      socket.on('error', () => undefined);
      return;
    }
    const connection = new ClientConnection(
      socket,
      this.nextClientId++,
      this.clients,
      this.options.policy,
      this.options.bulkBytesMax ?? BULK_BYTES_MAX_DEFAULT,
      () => this.connections.delete(connection),
    );
    this.connections.add(connection);
  }
}

class ClientConnection implements ConnectionHandle {
  readonly session: Session;
  readonly remoteAddress: string;
  readonly localAddress: string;
  readonly fd: number;
  private readonly parser: RequestParser;
  private readonly queue: QueuedRequest[] = [];
  /** Bytes of the requests in `queue` and of the ones running (CLIENT LIST's argv-mem). */
  private queuedBytes = 0;
  private outgoing: Buffer[] = [];
  private outgoingBytes = 0;
  /** A write of the gathered replies is due at the end of this event-loop turn (`flushSoon`). */
  private flushScheduled = false;
  private processing = false;
  private closing = false;
  private closed = false;
  private paused = false;
  /** A malformed request's error, answered after the requests read before it; then the connection closes. */
  private protocolError: Reply | null = null;
  /**
   * The started requests of the pipeline being answered (`runPipelinedData`), in request order:
   * plain data commands read meanwhile join it at once (`joinPipeline`). Null when none runs.
   */
  private pipeline: RunningRequest[] | null = null;
  /** A request of the pipeline waits for the command budget: nothing after it starts before it. */
  private pipelineHeld = false;

  constructor(
    private readonly socket: Socket,
    id: number,
    clients: ClientRegistry<Session>,
    private readonly policy: ConnectionPolicy,
    bulkBytesMax: number,
    private readonly onClosed: () => void,
  ) {
    this.remoteAddress = formatAddress(socket.remoteAddress, socket.remotePort);
    this.localAddress = formatAddress(socket.localAddress, socket.localPort);
    this.fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
    this.session = new Session(id, policy, this, clients);
    this.parser = new RequestParser({ bulkBytesMax });
    clients.add(this.session);
    policy.connectionOpened(this.session);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('drain', () => this.resumeIfRoom());
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      clients.remove(this.session);
      policy.connectionClosed(this.session);
      this.onClosed();
    });
  }

  /** Finish the request in progress, then close (drain). */
  closeWhenIdle(): void {
    this.closing = true;
    if (!this.processing) this.endAfterFlush();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** How long nothing has come or gone, for the idle timeout; 0 for a monitor or a connection mid-command. */
  idleFor(nowMs: number): number {
    if (this.processing || this.session.isMonitor) return 0;
    return nowMs - this.session.lastInteractionMs;
  }

  inputBytes(): { qbuf: number; argvMem: number } {
    return { qbuf: this.parser.bufferedBytes, argvMem: this.queuedBytes };
  }

  outputBytes(): { obl: number; oll: number; omem: number } {
    return { obl: this.outgoingBytes, oll: this.outgoing.length, omem: this.socket.writableLength };
  }

  events(): string {
    return `${this.paused || this.closing ? '' : 'r'}${this.socket.writableLength > 0 ? 'w' : ''}`;
  }

  kill(afterReply: boolean): void {
    if (!afterReply) {
      this.socket.destroy();
      return;
    }
    // The connection running CLIENT KILL on itself: its reply goes out first, as in Redis.
    this.closing = true;
    this.queue.length = 0;
  }

  sendMonitorLine(line: string): void {
    if (this.closed || this.closing) return;
    if (this.socket.writableLength > MONITOR_BACKLOG_BYTES_MAX) {
      this.socket.destroy();
      return;
    }
    this.socket.write(encodeReply(simple(line), this.session.protocol));
  }

  private receive(chunk: Buffer): void {
    if (this.closing || this.protocolError !== null) return;
    this.session.lastInteractionMs = Date.now();
    this.parser.push(chunk);
    for (;;) {
      const request = this.parser.next();
      if (request === null) break;
      if (!Array.isArray(request)) {
        // As Redis does: the requests read before it are answered in order, then the protocol
        // error, then the connection is closed (the stream is out of sync). Nothing more is read:
        // a client that keeps writing would otherwise have us read and drop without end.
        this.protocolError = error(request.message);
        this.pause();
        break;
      }
      for (const arg of request) this.queuedBytes += arg.length;
      this.queue.push({ args: request, resolution: resolveCommand(request) });
    }
    this.joinPipeline();
    if (this.queue.length >= QUEUED_REQUESTS_MAX) this.pause();
    if (!this.processing) this.process();
  }

  /**
   * Runs the queued requests in order. Those answered at once (cached reads) run here without a
   * promise, as most requests under reads do; from the first that must wait on, `processAsync`
   * carries on.
   */
  private process(): void {
    this.processing = true;
    const stop = this.answerAtOnce();
    if (stop === null) this.processed(false);
    else void this.processAsync(stop);
  }

  private async processAsync(first: Stop): Promise<void> {
    // Whether a reply waited for a promise (a commit, a read from the replicas, a non-data
    // command): then it is written at once, as the answer to that work; replies all given at
    // once, as cached reads are, are written at the end of the turn (`flushSoon`).
    let waited = false;
    let stop: Stop | null = first;
    try {
      while (stop !== null && !this.closed) {
        try {
          if (stop.kind === 'other') {
            waited = true;
            await this.runOne(this.take());
          } else if (await this.runPipelinedData(stop)) waited = true;
        } catch (cause) {
          // A bug, not a client error: answered to this client only; the node keeps serving.
          this.push(internalError(cause));
        }
        if (this.closing) break;
        if (this.outgoingBytes >= REPLY_BATCH_BYTES) this.flush();
        if (this.queue.length < QUEUED_REQUESTS_MAX / 2) this.resumeIfRoom();
        stop = this.answerAtOnce();
      }
    } finally {
      this.processed(waited);
    }
  }

  /**
   * Answers the requests at the head of the queue that are answered at once: plain data commands
   * admitted by the command budget without waiting whose reply is not a promise (a read the
   * writer's cache answers). Null once the queue is empty or the connection closing; else where
   * it stopped, that request taken from the queue if it has started or waits for admission.
   */
  private answerAtOnce(): Stop | null {
    while (this.queue.length > 0 && !this.closed && !this.closing) {
      if (!this.session.runsAsPlainData((this.queue[0] as QueuedRequest).resolution)) return STOP_AT_OTHER;
      const request = this.take();
      const admitted = this.admit();
      if (admitted !== null) return { kind: 'admission', request, admitted };
      const running = this.start(request);
      if (running.result instanceof Promise) return { kind: 'running', running };
      try {
        this.answer(running, running.result.reply);
      } catch (cause) {
        this.push(internalError(cause));
      }
      if (this.outgoingBytes >= REPLY_BATCH_BYTES) this.flush();
    }
    if (this.queue.length < QUEUED_REQUESTS_MAX / 2) this.resumeIfRoom();
    return null;
  }

  /** The queue has been run as far as it goes for now: what is to be written goes out, or the connection closes. */
  private processed(waited: boolean): void {
    this.processing = false;
    if (this.protocolError !== null && !this.closing) {
      this.push(this.protocolError);
      this.closing = true;
      this.destroyAfterFlush();
    } else if (this.closing) {
      this.endAfterFlush();
    } else if (waited) {
      this.flush();
    } else {
      this.flushSoon();
    }
  }

  /**
   * Writes the replies once the turn's other input has been read (setImmediate runs after the
   * turn's I/O callbacks). Writing each connection's cached reads as soon as they were answered
   * interleaved the writes with the reads of other connections, and a loopback write that wakes
   * a client which went back to sleep meanwhile is dearer: under 50 unpipelined clients of cached
   * GETs, writing at the end of the turn took the data node's system time per GET from 15–20 µs
   * to 11–14 and raised GETs/s by 16–24% (docs/performance.md, "Cached reads' replies written at
   * the end of the turn"). The same number of writes is made. Replies that waited for a commit
   * are not held: they come in a later turn already, and holding them as well cost SETs more
   * context switches.
   */
  private flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private take(): QueuedRequest {
    const request = this.queue.shift() as QueuedRequest;
    for (const arg of request.args) this.queuedBytes -= arg.length;
    return request;
  }

  private async runOne(request: QueuedRequest): Promise<void> {
    const admission = this.admit();
    if (admission !== null) await admission;
    const wanted = this.session.replyWanted();
    const startedAt = performance.now();
    const { args, resolution } = request;
    const { reply, close, silent, alwaysSent } = await this.session.handle(args, resolution, startedAt);
    this.policy.commandDone(commandLabel(args, resolution), (performance.now() - startedAt) * 1000, reply);
    if ((wanted || alwaysSent === true) && silent !== true) this.push(reply);
    if (close === true) {
      this.closing = true;
      this.queue.length = 0;
    }
  }

  /**
   * Consecutive plain data commands of a pipeline run at once: the client sent each before it
   * had the previous reply, so they are concurrent, and the engine still orders those on the
   * same key. Replies go out in request order. `first` is where `answerAtOnce` stopped. While
   * the pipeline's replies are awaited, plain data commands the client sends join it and start
   * at once (`joinPipeline`): a client that sends on a schedule, whatever the replies do, would
   * otherwise have each command read during a slow one wait for the whole pipeline before it
   * even starts, and its queue grow with every slow commit. True when a reply waited for a
   * promise.
   */
  private async runPipelinedData(first: Exclude<Stop, { kind: 'other' }>): Promise<boolean> {
    const running: RunningRequest[] = [];
    if (first.kind === 'running') running.push(first.running);
    else {
      await first.admitted;
      running.push(this.start(first.request));
    }
    this.pipeline = running;
    let waited = false;
    try {
      this.joinPipeline();
      while (running.length > 0) {
        const started = running.shift() as RunningRequest;
        // One reply per request whatever happens, or the replies after it would be misattributed.
        let reply: Reply;
        try {
          // A reply given at once (a read the cache answered) costs no turn of the microtask queue.
          if (started.result instanceof Promise) waited = true;
          ({ reply } = started.result instanceof Promise ? await started.result : started.result);
        } catch (cause) {
          reply = internalError(cause);
        }
        this.answer(started, reply);
        // Replies answered go out at the end of this turn, with any others answered in it, rather
        // than after the whole pipeline: one that new requests keep joining may never end.
        if (running.length > 0) this.flushSoon();
        this.joinPipeline();
      }
    } finally {
      this.pipeline = null;
      this.pipelineHeld = false;
    }
    return waited;
  }

  /**
   * Starts the plain data commands at the head of the queue as part of the running pipeline, up
   * to PIPELINED_COMMANDS_MAX in flight. One the command budget holds starts once admitted, and
   * those after it wait in the queue until then, so requests start in the order they came. None
   * starts while one of the connection's commands is held by a CLIENT PAUSE (Redis holds the
   * whole connection).
   */
  private joinPipeline(): void {
    const running = this.pipeline;
    if (running === null) return;
    while (
      !this.pipelineHeld &&
      !this.session.holdsForPause &&
      this.queue.length > 0 &&
      running.length < PIPELINED_COMMANDS_MAX &&
      !this.closing &&
      !this.closed &&
      this.session.runsAsPlainData((this.queue[0] as QueuedRequest).resolution)
    ) {
      const request = this.take();
      const admitted = this.admit();
      if (admitted === null) {
        running.push(this.start(request));
        continue;
      }
      this.pipelineHeld = true;
      const held: RunningRequest = {
        request,
        startedAt: 0,
        wanted: false,
        result: admitted.then(() => {
          const started = this.start(request);
          held.startedAt = started.startedAt;
          held.wanted = started.wanted;
          this.pipelineHeld = false;
          this.joinPipeline();
          return started.result;
        }),
      };
      running.push(held);
    }
    if (this.queue.length < QUEUED_REQUESTS_MAX / 2) this.resumeIfRoom();
  }

  /** Starts an admitted plain data command. */
  private start(request: QueuedRequest): RunningRequest {
    const wanted = this.session.replyWanted();
    const startedAt = performance.now();
    return {
      request,
      startedAt,
      wanted,
      result: this.session.handle(request.args, request.resolution, startedAt),
    };
  }

  /** A started command's reply: counted, and sent if the client wants it. */
  private answer(started: RunningRequest, reply: Reply): void {
    const { request, startedAt, wanted } = started;
    this.policy.commandDone(
      commandLabel(request.args, request.resolution),
      (performance.now() - startedAt) * 1000,
      reply,
    );
    if (wanted) this.push(reply);
  }

  /**
   * Null when the command budget admits one more command now (the common case, which then costs
   * no promise), else what resolves once it does; the replies ready so far go out meanwhile.
   */
  private admit(): Promise<void> | null {
    const waiting = this.policy.admitCommand();
    if (waiting !== null) this.flush();
    return waiting;
  }

  private push(reply: Reply): void {
    const bytes = encodeReply(reply, this.session.protocol);
    this.outgoing.push(bytes);
    this.outgoingBytes += bytes.length;
  }

  private flush(): void {
    if (this.outgoing.length === 0 || this.closed) return;
    const bytes = this.outgoing.length === 1 ? (this.outgoing[0] as Buffer) : Buffer.concat(this.outgoing);
    this.outgoing = [];
    this.outgoingBytes = 0;
    this.socket.write(bytes);
    this.session.lastInteractionMs = Date.now();
    if (this.socket.writableLength > SOCKET_BACKLOG_BYTES_MAX) this.pause();
  }

  private endAfterFlush(): void {
    this.flush();
    this.socket.end();
  }

  /**
   * After a protocol error: the replies and a FIN, then the socket is destroyed a little later.
   * It is no longer read, so what the client still sends stays in the kernel's buffers, which
   * fill and stop the client. It is not destroyed at once: closing a socket with unread input
   * sends a reset, and a reset that reaches the client before it has read the error reply can
   * discard that reply at the client.
   */
  private destroyAfterFlush(): void {
    const deadline = setTimeout(() => this.socket.destroy(), CLOSE_AFTER_ERROR_MS);
    deadline.unref();
    if (this.closed) {
      clearTimeout(deadline);
      this.socket.destroy();
      return;
    }
    this.socket.once('close', () => clearTimeout(deadline));
    const bytes = Buffer.concat(this.outgoing);
    this.outgoing = [];
    this.outgoingBytes = 0;
    this.socket.end(bytes);
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  private resumeIfRoom(): void {
    if (!this.paused || this.closing || this.protocolError !== null) return;
    if (this.queue.length >= QUEUED_REQUESTS_MAX / 2 || this.socket.writableLength > SOCKET_BACKLOG_BYTES_MAX)
      return;
    this.paused = false;
    this.socket.resume();
  }
}

/** The reply to a request that met a bug, not a client error: for that client only; the node keeps serving. */
function internalError(cause: unknown): Reply {
  return error(`ERR internal error: ${(cause as Error).message}`);
}

/** `ip:port`, an IPv6 address in brackets, as Redis prints a peer. */
function formatAddress(address: string | undefined, port: number | undefined): string {
  const host = address ?? '?';
  return host.includes(':') ? `[${host}]:${port ?? 0}` : `${host}:${port ?? 0}`;
}
