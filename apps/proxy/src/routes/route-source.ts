// Where routes come from (docs/adr/0006): the `borealis:routes` channel, and the whole
// `borealis:routes` hash read once the subscription stands, at start and after every reconnect
// (so that nothing published meanwhile is missed; versions make a message seen twice harmless).
// Redis going away changes nothing the proxy serves: it keeps the last routes and reconnects,
// with backoff, by itself. Nothing here can throw into the caller.
import { Redis } from 'ioredis';
import {
  parseRouteMessage,
  platformRedisNames,
  type RouteMessage,
} from '../../../../libs/routes/src/index.js';

export interface RouteSourceListener {
  /** One published message, or the whole hash (`snapshot`). */
  routes(messages: RouteMessage[], snapshot: boolean): void;
  /** A message that is not a route (logged and counted, never applied). */
  malformed(problem: string): void;
  /** Redis became reachable, or stopped being. */
  connectionChanged(connected: boolean, detail: string): void;
}

const SNAPSHOT_RETRY_MS = 1_000;

function retryDelayMs(attempt: number): number {
  return Math.min(2_000, 100 * 2 ** Math.min(attempt, 5)) + Math.random() * 100;
}

export class RouteSource {
  private readonly subscriber: Redis;
  private readonly reader: Redis;
  private snapshotTimer: NodeJS.Timeout | null = null;
  private connected = false;
  private closed = false;

  private readonly names: { key: string; channel: string };

  constructor(
    redisUrl: string,
    redisPrefix: string,
    private readonly listener: RouteSourceListener,
  ) {
    const names = platformRedisNames(redisPrefix);
    this.names = { key: names.routesKey, channel: names.routesChannel };
    const common = { lazyConnect: true, connectTimeout: 2_000, retryStrategy: retryDelayMs };
    this.subscriber = new Redis(redisUrl, { ...common, autoResubscribe: false, maxRetriesPerRequest: null });
    this.reader = new Redis(redisUrl, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    for (const client of [this.subscriber, this.reader]) client.on('error', () => undefined);
    this.subscriber.on('message', (_channel: string, text: string) => this.received(text));
    this.subscriber.on('ready', () => void this.subscribe());
    this.subscriber.on('close', () => this.lost('the connection closed'));
  }

  get isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    this.subscriber.connect().catch(() => undefined);
    this.reader.connect().catch(() => undefined);
  }

  close(): void {
    this.closed = true;
    if (this.snapshotTimer !== null) clearTimeout(this.snapshotTimer);
    this.subscriber.disconnect();
    this.reader.disconnect();
  }

  private async subscribe(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.names.channel);
    } catch {
      return; // the connection went again: its next 'ready' subscribes.
    }
    await this.readSnapshot();
  }

  private async readSnapshot(): Promise<void> {
    if (this.closed) return;
    // One retry chain at a time: a reconnect while a retry waits would otherwise read the hash
    // again later, out of step with the messages applied in between.
    if (this.snapshotTimer !== null) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = null;
    let hash: Record<string, string>;
    try {
      hash = await this.reader.hgetall(this.names.key);
    } catch (cause) {
      if (this.subscriber.status === 'ready' && !this.closed)
        this.snapshotTimer = setTimeout(() => void this.readSnapshot(), SNAPSHOT_RETRY_MS);
      this.lost((cause as Error).message);
      return;
    }
    const messages: RouteMessage[] = [];
    for (const text of Object.values(hash)) {
      const parsed = parseRouteMessage(text);
      if ('problem' in parsed) this.listener.malformed(parsed.problem);
      else messages.push(parsed);
    }
    if (!this.connected) {
      this.connected = true;
      this.listener.connectionChanged(true, `read ${messages.length} routes`);
    }
    this.listener.routes(messages, true);
  }

  private received(text: string): void {
    const parsed = parseRouteMessage(text);
    if ('problem' in parsed) this.listener.malformed(parsed.problem);
    else this.listener.routes([parsed], false);
  }

  private lost(detail: string): void {
    if (!this.connected || this.closed) return;
    this.connected = false;
    this.listener.connectionChanged(false, detail);
  }
}
