// Every 250–500 ms the node's interval numbers go to Redis for the control plane (DESIGN §5):
// SET borealis:metrics:<cluster>:<node> <json> PX 5000 (the latest report, gone when the node
// is) and PUBLISH borealis:metrics <json> (for listeners that want every report). A slow or
// absent Redis only costs reports: one in flight at a time, no offline queue.
import { Redis } from 'ioredis';
import type { IntervalReport } from './node-metrics.js';

export const METRICS_CHANNEL = 'borealis:metrics';
export const REPORT_TTL_MS = 5_000;

export function metricsKey(clusterId: string, nodeId: string): string {
  return `borealis:metrics:${clusterId}:${nodeId}`;
}

export class RedisReporter {
  private readonly redis: Redis;
  private inFlight = false;
  private failing = false;
  reportsSent = 0;
  reportsFailed = 0;

  constructor(
    url: string,
    private readonly log: (line: string) => void,
  ) {
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
      .set(metricsKey(report.clusterId, report.nodeId), json, 'PX', REPORT_TTL_MS)
      .publish(METRICS_CHANNEL, json)
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
