// A TCP link to one peer (TLS over it when given a CA) that reconnects by itself and batches:
// every message sent during one event-loop turn goes out in a single socket write. Messages sent
// while the link is down or its socket is backed up are dropped and counted: the quorum protocol
// resends what matters, so a bounded loss beats an unbounded queue.
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { encodeBatchFrames, encodeFrames, encodeMessage, FrameDecoder, flattenBatches } from './frames.js';
import { type ChallengeMessage, isChallenge, isWelcome } from './link-auth.js';
import { describeLinkTlsFailure, type LinkTlsClient, linkTlsConnectOptions } from './link-tls.js';

/**
 * A link waits this long for the storage node's challenge, then its welcome, before it gives up
 * (with TLS, from the TCP connection on: the TLS handshake is within it, as on the node's side).
 */
const CHALLENGE_WAIT_MS = 5_000;
/**
 * A connection cut during the TLS handshake (a node stopping, or shedding handshakes over its
 * limit) is a node going away, not a TLS failure: the link retries without a word, as over TCP.
 */
const CONNECTION_LOST: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED']);
/** A link that keeps failing its TLS handshake says so at once, then once a minute at most. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

export interface OutboundLinkOptions {
  host: string;
  port: number;
  /**
   * First message on every new connection (who we are). A function answers the peer's challenge
   * (link-auth.ts): the link then counts as connected only once its hello is sent. A plain hello
   * is sent at once, and the challenge is ignored (for nodes without fleet secrets). Either way
   * the link counts as connected once the node welcomed the hello: a refused one never does.
   */
  hello: unknown | ((challenge: ChallengeMessage) => unknown);
  /** Called for every message the peer sends back on this link. */
  onMessage?: (message: unknown) => void;
  onStateChange?: (connected: boolean) => void;
  reconnectDelayMsMin?: number;
  reconnectDelayMsMax?: number;
  /** Above this many unwritten bytes in the socket, new messages are dropped. */
  socketBacklogBytesMax?: number;
  /** Messages queued for the next write, at most. */
  queueMessagesMax?: number;
  /**
   * TLS over the connection (docs/adr/0014): the node's certificate must chain to this CA and name
   * `host`. The hello and everything after it travel inside TLS. Without it, plain TCP.
   */
  tls?: LinkTlsClient;
  /** Where a failed TLS handshake is told (rate-limited); nowhere if absent. */
  log?: (line: string) => void;
}

export interface OutboundLinkStats {
  connected: boolean;
  transport: 'tls' | 'plain';
  connects: number;
  messagesSent: number;
  messagesDropped: number;
  writes: number;
  tlsFailures: number;
}

export class OutboundLink {
  private socket: Socket | null = null;
  private isConnected = false;
  private closed = false;
  /** Encoded messages waiting for this turn's batch frame. */
  private queue: Buffer[] = [];
  private flushScheduled = false;
  /** The challenge of the open connection, for `resendHello`. */
  private challenge: ChallengeMessage | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectDelayMs: number;
  private readonly options: Required<
    Omit<OutboundLinkOptions, 'onMessage' | 'onStateChange' | 'tls' | 'log'>
  > &
    Pick<OutboundLinkOptions, 'onMessage' | 'onStateChange' | 'tls' | 'log'>;
  private readonly counters = {
    connects: 0,
    messagesSent: 0,
    messagesDropped: 0,
    writes: 0,
    /** TLS handshakes that failed (a certificate that did not verify, a node without TLS). */
    tlsFailures: 0,
  };
  /** When a TLS failure was last logged, and how many were not logged since. */
  private failureLog = { atMs: Number.NEGATIVE_INFINITY, unlogged: 0 };

  constructor(options: OutboundLinkOptions) {
    this.options = {
      reconnectDelayMsMin: 20,
      reconnectDelayMsMax: 500,
      socketBacklogBytesMax: 32 * 1024 * 1024,
      queueMessagesMax: 100_000,
      ...options,
    };
    this.reconnectDelayMs = this.options.reconnectDelayMsMin;
    this.open();
  }

  get connected(): boolean {
    return this.isConnected;
  }

  stats(): OutboundLinkStats {
    return {
      connected: this.isConnected,
      transport: this.options.tls === undefined ? 'plain' : 'tls',
      ...this.counters,
    };
  }

  send(message: unknown): void {
    this.sendEncoded(encodeMessage(message));
  }

  /** Sends an already encoded message (`encodeMessage`): a broadcast is encoded once for all links. */
  sendEncoded(encoded: Buffer): void {
    const socket = this.socket;
    if (
      !this.isConnected ||
      socket === null ||
      socket.writableLength > this.options.socketBacklogBytesMax ||
      this.queue.length >= this.options.queueMessagesMax
    ) {
      this.counters.messagesDropped++;
      return;
    }
    this.queue.push(encoded);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * Sends the hello again on the open connection, answering the challenge it was opened with:
   * a writer whose credential was renewed tells the node without dropping the connection.
   */
  resendHello(): void {
    if (typeof this.options.hello !== 'function' || !this.isConnected || this.challenge === null) return;
    this.socket?.write(encodeFrames([this.options.hello(this.challenge)]));
  }

  close(): void {
    this.closed = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.socket?.destroy();
    this.socket = null;
    this.isConnected = false;
  }

  private flush(): void {
    this.flushScheduled = false;
    const messages = this.queue;
    this.queue = [];
    if (messages.length === 0 || this.socket === null || !this.isConnected) return;
    const { frames, oversized } = encodeBatchFrames(messages);
    // A message too large for any frame is lost like a dropped one: its sender times out.
    this.counters.messagesDropped += oversized;
    for (const frame of frames) this.socket.write(frame);
    this.counters.writes += frames.length;
    this.counters.messagesSent += messages.length - oversized;
  }

  private open(): void {
    if (this.closed) return;
    const { host, port, tls } = this.options;
    const socket =
      tls === undefined
        ? connect({ host, port, noDelay: true })
        : connectTls(linkTlsConnectOptions(tls, host, port));
    this.socket = socket;
    // Up once TCP connected, or with TLS once the handshake verified the node's certificate.
    let secured = tls === undefined;
    let tcpConnected = false;
    const decoder = new FrameDecoder();
    const answersChallenge = typeof this.options.hello === 'function';
    let challengeTimer: NodeJS.Timeout | null = null;
    let helloSent = false;
    const connected = () => {
      this.isConnected = true;
      this.counters.connects++;
      this.reconnectDelayMs = this.options.reconnectDelayMsMin;
      this.options.onStateChange?.(true);
    };
    const sayHello = () => {
      if (!answersChallenge) {
        socket.write(encodeFrames([this.options.hello]));
        helloSent = true;
      }
    };
    socket.on('connect', () => {
      tcpConnected = true;
      // The bound starts with the TCP connection: a TLS handshake that stalls is within it.
      challengeTimer = setTimeout(() => socket.destroy(), CHALLENGE_WAIT_MS);
      challengeTimer.unref();
      if (tls === undefined) sayHello();
    });
    if (tls !== undefined) {
      socket.once('secureConnect', () => {
        secured = true;
        socket.setNoDelay(true);
        sayHello();
      });
    }
    socket.on('data', (chunk: Buffer) => {
      let messages: unknown[];
      try {
        messages = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const message of flattenBatches(messages)) {
        if (isChallenge(message)) {
          if (!answersChallenge || helloSent) continue;
          this.challenge = message;
          helloSent = true;
          socket.write(
            encodeFrames([(this.options.hello as (challenge: ChallengeMessage) => unknown)(message)]),
          );
          continue;
        }
        if (isWelcome(message)) {
          if (this.isConnected || !helloSent) continue;
          if (challengeTimer !== null) clearTimeout(challengeTimer);
          connected();
          continue;
        }
        // Nothing comes before the welcome from a node of ours.
        if (!this.isConnected) {
          socket.destroy();
          return;
        }
        this.options.onMessage?.(message);
      }
    });
    socket.on('error', (error: Error & { code?: string }) => {
      // 'close' follows and schedules the reconnect. A refused or reset TCP connection is the
      // usual life of a link to a node that restarts; a failed TLS handshake is a setting to fix.
      if (tls !== undefined && !secured && tcpConnected && !CONNECTION_LOST.has(error.code ?? '')) {
        this.counters.tlsFailures++;
        this.logFailure(describeLinkTlsFailure(error, host, port));
      }
      // A TLS socket is not destroyed by an error after its handshake (a record that fails its
      // integrity check, say): the connection cannot be trusted any more, so it ends and reconnects.
      socket.destroy();
    });
    socket.on('close', () => {
      if (challengeTimer !== null) clearTimeout(challengeTimer);
      if (this.socket !== socket) return;
      const wasConnected = this.isConnected;
      this.isConnected = false;
      this.socket = null;
      this.challenge = null;
      this.counters.messagesDropped += this.queue.length;
      this.queue = [];
      if (wasConnected) this.options.onStateChange?.(false);
      this.scheduleReconnect();
    });
  }

  private logFailure(line: string): void {
    const log = this.options.log;
    if (log === undefined) return;
    const now = Date.now();
    if (now - this.failureLog.atMs < FAILURE_LOG_INTERVAL_MS) {
      this.failureLog.unlogged++;
      return;
    }
    const unlogged = this.failureLog.unlogged;
    this.failureLog = { atMs: now, unlogged: 0 };
    log(unlogged === 0 ? line : `${line} (${unlogged} more failures since the last such line)`);
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const delayMs = this.reconnectDelayMs;
    this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, this.options.reconnectDelayMsMax);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.open();
    }, delayMs);
    this.reconnectTimer.unref();
  }
}
