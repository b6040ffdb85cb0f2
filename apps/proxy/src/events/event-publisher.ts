// What the proxy tells the control plane (docs/adr/0006, proxy events) on `borealis:proxy-events`,
// and its per-cluster activity report (`SET borealis:proxy-metrics:<proxyId> <json> PX 5000`,
// also published on `borealis:proxy-metrics` for the autoscaler).
// Redis may be down: events wait in a bounded outbox, oldest dropped first, and go out in order
// once it is back (a wake already waiting there is not queued again: wake repeats every second);
// a report that cannot go is skipped. Nothing here ever waits on Redis in the data path.
import { Redis } from 'ioredis';
import { type ProxyEvent, platformRedisNames } from '../../../../libs/routes/src/index.js';
import { Fifo } from '../util/fifo.js';

export const ACTIVITY_TTL_MS = 5_000;
const OUTBOX_MAX = 1_000;

export interface EventCounters {
  published: number;
  dropped: number;
}

export class EventPublisher {
  readonly counters: EventCounters = { published: 0, dropped: 0 };
  private readonly redis: Redis;
  private readonly outbox = new Fifo<{ text: string; wakeOf: string | null }>();
  /** Clusters with a wake waiting in the outbox. */
  private readonly wakesWaiting = new Set<string>();
  private flushing = false;
  private reporting = false;
  private closed = false;

  private readonly names: ReturnType<typeof platformRedisNames>;

  constructor(redisUrl: string, prefix: string) {
    this.names = platformRedisNames(prefix);
    this.redis = new Redis(redisUrl, {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      retryStrategy: (attempt) => Math.min(2_000, 100 * 2 ** Math.min(attempt, 5)) + Math.random() * 100,
    });
    this.redis.on('error', () => undefined);
    this.redis.on('ready', () => void this.flush());
  }

  get connected(): boolean {
    return this.redis.status === 'ready';
  }

  publish(event: ProxyEvent): void {
    if (this.closed) return;
    const wakeOf = event.type === 'wake' ? event.clusterId : null;
    if (wakeOf !== null) {
      if (this.wakesWaiting.has(wakeOf)) return;
      this.wakesWaiting.add(wakeOf);
    }
    this.outbox.push({ text: JSON.stringify(event), wakeOf });
    while (this.outbox.length > OUTBOX_MAX) {
      this.forget(this.outbox.shift());
      this.counters.dropped++;
    }
    void this.flush();
  }

  /** Stores the latest activity report, unless the previous one is still on its way. */
  report(proxyId: string, json: string): void {
    if (this.closed || this.reporting || !this.connected) return;
    this.reporting = true;
    this.redis
      .multi()
      .set(this.names.proxyActivityKey(proxyId), json, 'PX', ACTIVITY_TTL_MS)
      .publish(this.names.proxyActivityChannel, json)
      .exec()
      .catch(() => undefined)
      .finally(() => {
        this.reporting = false;
      });
  }

  private forget(entry: { wakeOf: string | null } | undefined): void {
    if (entry?.wakeOf != null) this.wakesWaiting.delete(entry.wakeOf);
  }

  close(): void {
    this.closed = true;
    this.redis.disconnect();
  }

  /** Sends what waits in the outbox (also called every second, in case a publish failed). */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.outbox.length > 0 && this.connected && !this.closed) {
        const next = this.outbox.peek() as { text: string; wakeOf: string | null };
        await this.redis.publish(this.names.proxyEventsChannel, next.text);
        this.forget(this.outbox.shift());
        this.counters.published++;
      }
    } catch {
      // Redis went away mid-way: the rest waits for 'ready'.
    } finally {
      this.flushing = false;
    }
  }
}
