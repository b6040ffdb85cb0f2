// Load reports in, per cluster (DESIGN §5; docs/adr/0010): a subscriber of its own hears every
// data node's interval report and every proxy's activity report, the aggregator keeps the
// latest of each (the autoscaler reads it through `latest`), and once a second a point per
// cluster goes to Redis, kept an hour, for `GET /v1/clusters/:id/metrics`. Redis being down
// costs points and load reports only: the autoscaler then neither scales down nor pauses.
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Counter } from 'prom-client';
import { platformRedisNames } from '../../../../libs/routes/src/index.js';
import type { LoadSample } from '../autoscaling/autoscaler-model.js';
import type { LoadSource } from '../autoscaling/load-source.js';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { RedisService } from '../redis/redis.service.js';
import { subscriberConnection } from '../redis/subscriber.js';
import { LoadAggregator, parseProxyReport, parseWriterReport } from './load-aggregator.js';
import { aggregate, type MetricsPoint, parsePoint, pointOf, SERIES_RETENTION_MS } from './metrics-series.js';

const POINT_INTERVAL_MS = 1_000;
/** A series key outlives its last point by this much, so a deleted cluster's series goes away. */
const SERIES_KEY_TTL_S = 2 * 3_600;

@Injectable()
export class ClusterMetricsService implements LoadSource, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ClusterMetrics');
  private readonly aggregator = new LoadAggregator();
  private readonly subscriber: Redis;
  private readonly names: ReturnType<typeof platformRedisNames>;
  private readonly reports: Counter<'source' | 'outcome'>;
  private timer: NodeJS.Timeout | null = null;
  private writing = false;

  constructor(
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
    private readonly redis: RedisService,
    metrics: MetricsService,
  ) {
    this.names = platformRedisNames(config.redisPrefix);
    this.reports = new Counter({
      name: 'borealis_load_reports_total',
      help: 'Load reports heard from data nodes and proxies, by source and outcome (used, or refused as malformed).',
      labelNames: ['source', 'outcome'] as const,
      registers: [metrics.registry],
    });
    this.subscriber = subscriberConnection(config.redisUrl);
    this.subscriber.on('message', (channel: string, text: string) => this.hear(channel, text));
  }

  onApplicationBootstrap(): void {
    this.subscriber
      .connect()
      .then(() =>
        this.subscriber.subscribe(this.names.dataNodeMetricsChannel, this.names.proxyActivityChannel),
      )
      .catch((error: unknown) => this.logger.warn(`not hearing load reports yet: ${String(error)}`));
    this.timer = setInterval(() => void this.writePoints(), POINT_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.subscriber.disconnect();
  }

  latest(clusterId: string, nowMs: number): LoadSample | null {
    return this.aggregator.latest(clusterId, nowMs);
  }

  heldConnections(nowMs: number): Map<string, number> {
    return this.aggregator.heldConnections(nowMs);
  }

  /** The cluster's points in [fromMs, toMs), summed up into steps of `stepMs`. */
  async points(clusterId: string, fromMs: number, toMs: number, stepMs: number): Promise<MetricsPoint[]> {
    const members = await this.redis.client.zrangebyscore(this.seriesKey(clusterId), fromMs, `(${toMs}`);
    const points = members.map(parsePoint).filter((point): point is MetricsPoint => point !== null);
    return aggregate(points, fromMs, stepMs);
  }

  private hear(channel: string, text: string): void {
    if (channel === this.names.dataNodeMetricsChannel) {
      const report = parseWriterReport(text);
      this.reports.inc({ source: 'data-node', outcome: report === null ? 'refused' : 'used' });
      if (report !== null) this.aggregator.addWriterReport(report);
    } else if (channel === this.names.proxyActivityChannel) {
      const report = parseProxyReport(text);
      this.reports.inc({ source: 'proxy', outcome: report === null ? 'refused' : 'used' });
      if (report !== null) this.aggregator.addProxyReport(report);
    }
  }

  private seriesKey(clusterId: string): string {
    return `${this.config.redisPrefix}:metrics-series:${clusterId}`;
  }

  /** One point per cluster with fresh reports, all in one pipeline; a slow Redis skips seconds. */
  private async writePoints(): Promise<void> {
    if (this.writing || this.redis.client.status !== 'ready') return;
    this.writing = true;
    try {
      const nowMs = Date.now();
      const second = Math.floor(nowMs / 1_000) * 1_000;
      const pipeline = this.redis.client.pipeline();
      for (const clusterId of this.aggregator.clusterIds(nowMs)) {
        const point = pointOf(this.aggregator, clusterId, second, nowMs);
        if (point === null) continue;
        const key = this.seriesKey(clusterId);
        pipeline.zremrangebyscore(key, second, second);
        pipeline.zadd(key, second, JSON.stringify(point));
        pipeline.zremrangebyscore(key, '-inf', `(${second - SERIES_RETENTION_MS}`);
        pipeline.expire(key, SERIES_KEY_TTL_S);
      }
      if (pipeline.length > 0) await pipeline.exec();
    } catch {
      // Redis went away: this second's points are lost, the next second tries again.
    } finally {
      this.writing = false;
    }
  }
}
