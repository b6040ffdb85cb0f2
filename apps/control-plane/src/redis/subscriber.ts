import { Redis } from 'ioredis';

/**
 * A Redis connection for SUBSCRIBE (a connection in subscribe mode runs no other command): it
 * connects when told, reconnects by itself (every 0.2 s more, up to 2 s) and subscribes again;
 * errors are its owner's business through its state, not log noise.
 */
export function subscriberConnection(redisUrl: string): Redis {
  const subscriber = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  subscriber.on('error', () => undefined);
  return subscriber;
}
