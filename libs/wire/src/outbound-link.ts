// A TCP link to one peer that reconnects by itself and batches: every message sent during one
// event-loop turn goes out in a single socket write. Messages sent while the link is down or
// its socket is backed up are dropped and counted: the quorum protocol resends what matters,
// so a bounded loss beats an unbounded queue.
import { connect, type Socket } from 'node:net';
import { encodeBatchFrames, encodeFrames, encodeMessage, FrameDecoder, flattenBatches } from './frames.js';
import { type ChallengeMessage, isChallenge, isWelcome } from './link-auth.js';

/** A link waits this long for the storage node's challenge, then its welcome, before it gives up. */
const CHALLENGE_WAIT_MS = 5_000;

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
}

export interface OutboundLinkStats {
  connected: boolean;
  connects: number;
  messagesSent: number;
  messagesDropped: number;
  writes: number;
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
  private readonly options: Required<Omit<OutboundLinkOptions, 'onMessage' | 'onStateChange'>> &
    Pick<OutboundLinkOptions, 'onMessage' | 'onStateChange'>;
  private readonly counters = { connects: 0, messagesSent: 0, messagesDropped: 0, writes: 0 };

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
    return { connected: this.isConnected, ...this.counters };
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
    const socket = connect({ host: this.options.host, port: this.options.port, noDelay: true });
    this.socket = socket;
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
    socket.on('connect', () => {
      if (!answersChallenge) {
        socket.write(encodeFrames([this.options.hello]));
        helloSent = true;
      }
      challengeTimer = setTimeout(() => socket.destroy(), CHALLENGE_WAIT_MS);
      challengeTimer.unref();
    });
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
    socket.on('error', () => {
      // 'close' follows and schedules the reconnect.
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
