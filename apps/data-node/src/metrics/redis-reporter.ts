// Every 250–500 ms the node's interval numbers go to Redis for the control plane (DESIGN §5):
// SET <prefix>:metrics:<cluster>:<node> <json> PX 5000 (the latest report, gone when the node
// is) and PUBLISH <prefix>:metrics <json> (the autoscaler hears every report), the prefix being
// the platform's (BOREALIS_REDIS_PREFIX, `borealis` by default). A slow or absent Redis only
// costs reports: one in flight at a time, no offline queue.
import { Redis } from 'ioredis';
import { platformRedisNames } from '../../../../libs/routes/src/index.js';
import type { IntervalReport } from './node-metrics.js';

export const REPORT_TTL_MS = 5_000;

export class RedisReporter {
  private readonly redis: Redis;
  private readonly names: ReturnType<typeof platformRedisNames>;
  private inFlight = false;
  private failing = false;
  reportsSent = 0;
  reportsFailed = 0;

  constructor(
    url: string,
    prefix: string,
    private readonly log: (line: string) => void,
  ) {
    this.names = platformRedisNames(prefix);
    this.redis = new Redis(url, {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      retryStrategy: (times) => Math.min(2_000, times * 200),
    });
    this.redis.on('error', () => undefined);
  }

  report(report: IntervalReport): void {
    if (this.inFlight || report.clusterId === null) return;
    this.inFlight = true;
    const json = JSON.stringify(report);
    this.redis
      .multi()
      .set(this.names.dataNodeMetricsKey(report.clusterId, report.nodeId), json, 'PX', REPORT_TTL_MS)
      .publish(this.names.dataNodeMetricsChannel, json)
      .exec()
      .then(
        () => {
          this.reportsSent++;
          if (this.failing) this.log('metrics reports to Redis resumed');
          this.failing = false;
        },
        (cause: unknown) => {
          this.reportsFailed++;
          if (!this.failing) this.log(`metrics reports to Redis are failing: ${(cause as Error).message}`);
          this.failing = true;
        },
      )
      .finally(() => {
        this.inFlight = false;
      });
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
