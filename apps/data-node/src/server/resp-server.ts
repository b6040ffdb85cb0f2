// The RESP listener: one `ClientConnection` per socket. Requests of a connection run one at a
// time in arrival order (a pipeline keeps its order); replies are written in batches. Every
// buffer is bounded: a connection that sends faster than it is served stops being read until
// its queue drains, and a protocol error closes that connection only, after its error reply.
import { createServer, type Server, type Socket } from 'node:net';
import { encodeReply, RequestParser } from '../../../../libs/resp/src/index.js';
import { error, type Reply } from '../../../../libs/resp/src/reply.js';
import { Session, type SessionHost, type SessionReply } from './session.js';

/** What the listener asks of the node for every connection and request. */
export interface ConnectionPolicy extends SessionHost {
  /** Null to admit the connection, or the error that refuses it. */
  admitConnection(): Reply | null;
  /** Resolves when the command budget allows one more command. */
  admitCommand(): Promise<void> | null;
  commandDone(args: Buffer[], micros: number, reply: Reply): void;
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
export const BULK_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

export class RespServer {
  private server: Server | null = null;
  private readonly connections = new Set<ClientConnection>();
  private nextClientId = 1;
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
    const address = server.address();
    this.boundPort = typeof address === 'object' && address !== null ? address.port : 0;
    return this.boundPort;
  }

  /** Stops accepting; open connections keep being served. */
  async stopListening(): Promise<void> {
    const server = this.server;
    this.server = null;
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
    for (const connection of this.connections) connection.closeWhenIdle();
    const deadline = Date.now() + timeoutMs;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const connection of this.connections) {
      cut++;
      connection.destroy();
    }
    return { closedIdle: total - cut, cut };
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
      new Session(this.nextClientId++, this.options.policy),
      this.options.policy,
      this.options.bulkBytesMax ?? BULK_BYTES_MAX_DEFAULT,
      () => this.connections.delete(connection),
    );
    this.connections.add(connection);
  }
}

class ClientConnection {
  private readonly parser: RequestParser;
  private readonly queue: Buffer[][] = [];
  private outgoing: Buffer[] = [];
  private outgoingBytes = 0;
  private processing = false;
  private closing = false;
  private closed = false;
  private paused = false;
  /** A malformed request's error, answered after the requests read before it; then the connection closes. */
  private protocolError: Reply | null = null;

  constructor(
    private readonly socket: Socket,
    readonly session: Session,
    private readonly policy: ConnectionPolicy,
    bulkBytesMax: number,
    private readonly onClosed: () => void,
  ) {
    this.parser = new RequestParser({ bulkBytesMax });
    policy.connectionOpened(session);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('drain', () => this.resumeIfRoom());
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      policy.connectionClosed(session);
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

  private receive(chunk: Buffer): void {
    if (this.closing || this.protocolError !== null) return;
    this.parser.push(chunk);
    for (;;) {
      const request = this.parser.next();
      if (request === null) break;
      if (!Array.isArray(request)) {
        // As Redis does: the requests read before it are answered in order, then the protocol
        // error, then the connection is closed (the stream is out of sync).
        this.protocolError = error(request.message);
        break;
      }
      this.queue.push(request);
    }
    if (this.queue.length >= QUEUED_REQUESTS_MAX) this.pause();
    if (!this.processing) void this.process();
  }

  private async process(): Promise<void> {
    this.processing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        try {
          if (this.session.isPlainDataCommand(this.queue[0] as Buffer[])) {
            await this.runPipelinedData();
          } else {
            await this.runOne(this.queue.shift() as Buffer[]);
          }
        } catch (cause) {
          // A bug, not a client error: answered to this client only; the node keeps serving.
          this.push(error(`ERR internal error: ${(cause as Error).message}`));
        }
        if (this.closing) break;
        if (this.outgoingBytes >= REPLY_BATCH_BYTES) this.flush();
        if (this.queue.length < QUEUED_REQUESTS_MAX / 2) this.resumeIfRoom();
      }
    } finally {
      this.processing = false;
      if (this.protocolError !== null && !this.closing) {
        this.push(this.protocolError);
        this.closing = true;
      }
      if (this.closing) this.endAfterFlush();
      else this.flush();
    }
  }

  private async runOne(args: Buffer[]): Promise<void> {
    await this.admit();
    const startedAt = process.hrtime.bigint();
    const { reply, close } = await this.session.handle(args);
    this.policy.commandDone(args, Number(process.hrtime.bigint() - startedAt) / 1000, reply);
    this.push(reply);
    if (close === true) {
      this.closing = true;
      this.queue.length = 0;
    }
  }

  /**
   * Consecutive plain data commands of a pipeline run at once: the client sent each before
   * it had the previous reply, so they are concurrent, and the engine still orders those on
   * the same key. Replies go out in request order.
   */
  private async runPipelinedData(): Promise<void> {
    const running: { args: Buffer[]; startedAt: bigint; result: Promise<SessionReply> }[] = [];
    while (
      this.queue.length > 0 &&
      running.length < PIPELINED_COMMANDS_MAX &&
      this.session.isPlainDataCommand(this.queue[0] as Buffer[])
    ) {
      const args = this.queue.shift() as Buffer[];
      await this.admit();
      running.push({ args, startedAt: process.hrtime.bigint(), result: this.session.handle(args) });
    }
    for (const { args, startedAt, result } of running) {
      // One reply per request whatever happens, or the replies after it would be misattributed.
      const { reply } = await result.catch((cause: unknown) => ({
        reply: error(`ERR internal error: ${(cause as Error).message}`),
      }));
      this.policy.commandDone(args, Number(process.hrtime.bigint() - startedAt) / 1000, reply);
      this.push(reply);
    }
  }

  private async admit(): Promise<void> {
    const waiting = this.policy.admitCommand();
    if (waiting === null) return;
    this.flush();
    await waiting;
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
    if (this.socket.writableLength > SOCKET_BACKLOG_BYTES_MAX) this.pause();
  }

  private endAfterFlush(): void {
    this.flush();
    this.socket.end();
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  private resumeIfRoom(): void {
    if (!this.paused || this.closing) return;
    if (this.queue.length >= QUEUED_REQUESTS_MAX / 2 || this.socket.writableLength > SOCKET_BACKLOG_BYTES_MAX)
      return;
    this.paused = false;
    this.socket.resume();
  }
}
