import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { Redis } from 'ioredis';

export const REDIS_URL = Symbol('REDIS_URL');

/** Shared Redis connection (readiness today; pub/sub and job queues build on it). */
@Injectable()
export class RedisService implements OnModuleDestroy {
  readonly client: Redis;

  constructor(@Inject(REDIS_URL) redisUrl: string) {
    this.client = new Redis(redisUrl, {
      lazyConnect: true,
      connectTimeout: 3000,
      // Fail fast while Redis is down instead of queueing commands without bound.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    });
    // Errors surface through /ready; without a listener ioredis would print each reconnect attempt.
    this.client.on('error', () => undefined);
    this.client.connect().catch(() => undefined);
  }

  async ping(): Promise<void> {
    const reply = await this.client.ping();
    if (reply !== 'PONG') throw new Error(`unexpected PING reply ${reply}`);
  }

  async onModuleDestroy(): Promise<void> {
    this.client.disconnect();
  }
}
