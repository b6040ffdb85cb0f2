// What the proxy tells the control plane (docs/adr/0006): `wake` (a command is held for a
// cluster without writers, or arrived while it was pausing), `quiesced` (answer to a pausing
// route) and `released` (no session uses a writer the route dropped). A subscriber of its own
// (a Redis connection in subscribe mode cannot run other commands) that reconnects by itself.
import { EventEmitter } from 'node:events';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import { type ProxyEvent, parseProxyEvent, platformRedisNames } from '../../../../libs/routes/src/index.js';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/config.js';
import { subscriberConnection } from '../redis/subscriber.js';

@Injectable()
export class ProxyEventsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ProxyEvents');
  private readonly events = new EventEmitter();
  private readonly subscriber: Redis;
  private readonly channel: string;

  constructor(@Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig) {
    this.events.setMaxListeners(0);
    this.channel = platformRedisNames(config.redisPrefix).proxyEventsChannel;
    this.subscriber = subscriberConnection(config.redisUrl);
    this.subscriber.on('message', (_channel: string, text: string) => {
      const event = parseProxyEvent(text);
      if (event !== null) this.events.emit(event.type, event);
    });
  }

  onApplicationBootstrap(): void {
    if (this.config.computeDriver === 'none') return;
    this.subscriber
      .connect()
      .then(() => this.subscriber.subscribe(this.channel))
      .catch((error: unknown) => this.logger.warn(`not listening to the proxy yet: ${String(error)}`));
  }

  onApplicationShutdown(): void {
    this.subscriber.disconnect();
  }

  onWake(listener: (event: Extract<ProxyEvent, { type: 'wake' }>) => void): void {
    this.events.on('wake', listener);
  }

  /**
   * Waits for the proxy's answer to the pausing route `version`: 'quiesced', 'wake' (a command
   * arrived: the pause is cancelled), or 'timeout'.
   */
  waitForPauseAnswer(
    clusterId: string,
    version: number,
    timeoutMs: number,
  ): Promise<'quiesced' | 'wake' | 'timeout'> {
    return this.waitFor(timeoutMs, (type, event) => {
      if (event.clusterId !== clusterId) return null;
      if (type === 'wake') return 'wake';
      if (event.type === 'quiesced' && event.version >= version) return 'quiesced';
      return null;
    });
  }

  /** Waits until the proxy says no session uses `writerId` (after route `version`); false on timeout. */
  async waitForRelease(
    clusterId: string,
    writerId: string,
    version: number,
    timeoutMs: number,
  ): Promise<boolean> {
    const answer = await this.waitFor(timeoutMs, (_type, event) =>
      event.type === 'released' &&
      event.clusterId === clusterId &&
      event.writerId === writerId &&
      event.version >= version
        ? 'released'
        : null,
    );
    return answer === 'released';
  }

  private waitFor<T extends string>(
    timeoutMs: number,
    match: (type: ProxyEvent['type'], event: ProxyEvent) => T | null,
  ): Promise<T | 'timeout'> {
    return new Promise((resolve) => {
      const listeners = (['wake', 'quiesced', 'released'] as const).map((type) => {
        const listener = (event: ProxyEvent) => {
          const answer = match(type, event);
          if (answer !== null) done(answer);
        };
        this.events.on(type, listener);
        return [type, listener] as const;
      });
      const timer = setTimeout(() => done('timeout'), timeoutMs);
      const done = (answer: T | 'timeout') => {
        clearTimeout(timer);
        for (const [type, listener] of listeners) this.events.off(type, listener);
        resolve(answer);
      };
    });
  }
}
