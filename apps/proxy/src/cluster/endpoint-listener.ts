// The TCP listener of one cluster endpoint. A port that cannot be bound (still held by a process
// that is going away, say) is tried again with backoff, for as long as the route lasts.
import { createServer, type Server, type Socket } from 'node:net';

const RETRY_DELAYS_MS = [250, 500, 1_000, 2_000, 5_000];

export class EndpointListener {
  private server: Server | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private attempts = 0;
  private closed = false;
  listening = false;
  lastError: string | null = null;

  constructor(
    private readonly host: string,
    readonly port: number,
    private readonly accept: (socket: Socket) => void,
    private readonly log: (line: string) => void,
  ) {}

  open(): void {
    if (this.closed) return;
    const server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    server.on('error', (cause: Error) => this.failed(server, cause));
    server.listen({ host: this.host, port: this.port }, () => {
      this.listening = true;
      this.lastError = null;
      if (this.attempts > 0)
        this.log(`listening on ${this.host}:${this.port} after ${this.attempts} retries`);
      this.attempts = 0;
    });
    this.server = server;
  }

  /** Stops accepting; open connections are the endpoint's to end. */
  close(): void {
    this.closed = true;
    this.listening = false;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.server?.close();
    this.server = null;
  }

  private failed(server: Server, cause: Error): void {
    if (this.server !== server) return;
    this.listening = false;
    this.server = null;
    server.close();
    if (this.closed) return;
    if (this.lastError !== cause.message)
      this.log(`cannot listen on ${this.host}:${this.port}: ${cause.message}; retrying`);
    this.lastError = cause.message;
    const delay = RETRY_DELAYS_MS[Math.min(this.attempts, RETRY_DELAYS_MS.length - 1)] as number;
    this.attempts++;
    this.retryTimer = setTimeout(() => this.open(), delay);
  }
}
