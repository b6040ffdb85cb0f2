// Publishes clusters' routes for the proxy (docs/adr/0006): the whole set in a Redis hash, each
// change on a channel. Versions come from the cluster row (one increment per publish) and the
// publishes of one cluster are serialized, so the hash never ends on an older route than the
// channel carried. Every few seconds the hash is rewritten as it stands (versions unchanged):
// a Redis that restarted empty gets the routes back.
import { connect } from 'node:net';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Cluster } from '../../../../generated/prisma/client.js';
import {
  type ClusterRoute,
  platformRedisNames,
  type RouteDeletion,
} from '../../../../libs/routes/src/index.js';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/config.js';
import { PrismaService } from '../database/prisma.service.js';
import { RedisService } from '../redis/redis.service.js';
import { routeOf } from './route.js';

const REWRITE_INTERVAL_MS = 5_000;
const SERVING_POLL_MS = 10;

@Injectable()
export class RoutesService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Routes');
  private readonly publishing = new Map<string, Promise<unknown>>();
  private rewriteTimer: NodeJS.Timeout | null = null;
  private readonly names: ReturnType<typeof platformRedisNames>;
  /** A control plane that runs no fleet has no proxy to publish for. */
  private readonly enabled: boolean;

  constructor(
    private readonly prisma: PrismaService,
    private readonly redis: RedisService,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
  ) {
    this.names = platformRedisNames(config.redisPrefix);
    this.enabled = config.computeDriver !== 'none';
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    this.rewriteTimer = setInterval(() => void this.rewriteAll().catch(() => undefined), REWRITE_INTERVAL_MS);
    this.rewriteTimer.unref();
    void this.rewriteAll().catch(() => undefined);
  }

  onApplicationShutdown(): void {
    if (this.rewriteTimer !== null) clearInterval(this.rewriteTimer);
  }

  /** Publishes the cluster's current route under a new version; returns it (null if the cluster is gone). */
  publish(clusterId: string): Promise<ClusterRoute | null> {
    if (!this.enabled) return Promise.resolve(null);
    return this.serialized(clusterId, async () => {
      // Raw SQL, one statement: a new route version is not a change of the cluster (its updatedAt
      // stays), and this is on the path of a client waiting for a resume.
      const [cluster] = await this.prisma.$queryRaw<Cluster[]>`
        UPDATE "Cluster" SET "routeVersion" = "routeVersion" + 1 WHERE id = ${clusterId}::uuid RETURNING *`;
      if (cluster === undefined || cluster.state === 'deleting') return null;
      const writers = await this.prisma.dataNode.findMany({ where: { clusterId, state: 'attached' } });
      const route = routeOf(cluster, writers, cluster.routeVersion);
      const text = JSON.stringify(route);
      const { routesKey, routesChannel } = this.names;
      await this.redis.client.multi().hset(routesKey, clusterId, text).publish(routesChannel, text).exec();
      return route;
    });
  }

  /** Withdraws a deleted cluster's route: the proxy closes its port. */
  remove(clusterId: string, version: number): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    return this.serialized(clusterId, async () => {
      const deleted: RouteDeletion = { clusterId, deleted: true, version: version + 1 };
      const { routesKey, routesChannel } = this.names;
      await this.redis.client
        .multi()
        .hdel(routesKey, clusterId)
        .publish(routesChannel, JSON.stringify(deleted))
        .exec();
    });
  }

  /** Waits until the cluster's endpoint accepts connections (the proxy opened it), at most `timeoutMs`. */
  async waitUntilServing(port: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await accepts(this.config.endpointHost, port)) return true;
      await new Promise((resolve) => setTimeout(resolve, SERVING_POLL_MS));
    }
    return false;
  }

  /**
   * Waits until every cluster's endpoint accepts connections, at most `timeoutMs` in all; returns
   * the names of those still closed. At start, the proxy opens its listeners once it has read
   * the routes: "ready" should mean a client can connect.
   */
  async waitUntilAllServing(timeoutMs: number): Promise<string[]> {
    const clusters = await this.prisma.cluster.findMany({
      where: { state: { not: 'deleting' } },
      select: { name: true, endpointPort: true },
    });
    const serving = await Promise.all(
      clusters.map((cluster) => this.waitUntilServing(cluster.endpointPort, timeoutMs)),
    );
    return clusters.filter((_, index) => !serving[index]).map((cluster) => cluster.name);
  }

  /** Rewrites every cluster's route at its current version (no new version: the proxy sees nothing new). */
  async rewriteAll(): Promise<void> {
    // A cluster whose publish is under way gets its route from that publish.
    const clusters = (await this.prisma.cluster.findMany({ where: { state: { not: 'deleting' } } })).filter(
      (cluster) => !this.publishing.has(cluster.id),
    );
    if (clusters.length === 0) return;
    const writers = await this.prisma.dataNode.findMany({
      where: { state: 'attached', clusterId: { not: null } },
    });
    const entries: string[] = [];
    for (const cluster of clusters) {
      const own = writers.filter((writer) => writer.clusterId === cluster.id);
      entries.push(cluster.id, JSON.stringify(routeOf(cluster, own, cluster.routeVersion)));
    }
    await this.redis.client.hset(this.names.routesKey, ...entries);
  }

  private serialized<T>(clusterId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.publishing.get(clusterId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.publishing.set(clusterId, next);
    void next
      .finally(() => {
        if (this.publishing.get(clusterId) === next) this.publishing.delete(clusterId);
      })
      .catch((error: unknown) =>
        this.logger.warn(`route of cluster ${clusterId} not published: ${String(error)}`),
      );
    return next;
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
