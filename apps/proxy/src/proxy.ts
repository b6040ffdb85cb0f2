// The proxy: one endpoint per cluster route, routes taken from Redis, events and activity reports
// published there, and a tick that drives the time-based parts (wake repeats, resume deadlines,
// writers kept out after a failure, stalled writers). See ../ARCHITECTURE.md.

import type { ProxyActivityReport, RouteMessage } from '../../../libs/routes/src/index.js';
import { PasswordChecker } from './auth/password-checker.js';
import { ClusterEndpoint } from './cluster/cluster-endpoint.js';
import type { ProxyContext } from './cluster/proxy-context.js';
import type { ProxyConfig } from './config.js';
import { EventPublisher } from './events/event-publisher.js';
import { HoldBudget } from './hold/hold-budget.js';
import { ProxyMetrics } from './metrics/proxy-metrics.js';
import { RouteSource } from './routes/route-source.js';
import { type RouteChange, RouteTable } from './routes/route-table.js';
import type { LoadedCertificate } from './tls/certificate.js';

const TICK_MS = 200;
/** As often as the data nodes report: the autoscaler sees a step of load within this. */
const REPORT_INTERVAL_MS = 400;
/** scrypt runs at once: each takes a core for tens of ms. */
const PASSWORD_CHECKS_AT_ONCE = 2;
const PASSWORD_CHECKS_WAITING_MAX = 256;

export class ProxyServer {
  readonly context: ProxyContext;
  private readonly table = new RouteTable();
  private readonly endpoints = new Map<string, ClusterEndpoint>();
  private readonly source: RouteSource;
  private ticker: NodeJS.Timeout | null = null;
  private reporter: NodeJS.Timeout | null = null;
  private lastReportAtMs = Date.now();
  private clientConnections = 0;
  private clientIds = 0;

  constructor(
    readonly config: ProxyConfig,
    private readonly log: (line: string) => void,
    private readonly certificate: (() => LoadedCertificate) | null = null,
  ) {
    this.context = this.createContext();
    this.source = new RouteSource(config.redisUrl, config.redisPrefix, {
      routes: (messages, snapshot) => this.routesArrived(messages, snapshot),
      malformed: (problem) => {
        this.context.metrics.malformedRoutes.inc();
        log(`ignored a route message: ${problem}`);
      },
      connectionChanged: (connected, detail) =>
        log(
          connected
            ? `routes from Redis: ${detail}`
            : `Redis unreachable (${detail}): serving the last routes, reconnecting`,
        ),
    });
  }

  private createContext(): ProxyContext {
    const { config } = this;
    const checker = new PasswordChecker({
      concurrency: PASSWORD_CHECKS_AT_ONCE,
      queueMax: PASSWORD_CHECKS_WAITING_MAX,
    });
    const events = new EventPublisher(config.redisUrl, config.redisPrefix);
    const metrics = new ProxyMetrics({
      endpoints: () => [...this.endpoints.values()].map((endpoint) => endpoint.gauges()),
      auth: () => checker.counters,
      events: () => events.counters,
      routes: () => this.table.size,
      redisConnected: () => this.source.isConnected,
    });
    return {
      config,
      checker,
      budget: new HoldBudget(config.holdLimits),
      events,
      metrics,
      certificate: this.certificate,
      log: this.log,
      nextClientId: () => ++this.clientIds,
      admitClient: () => {
        if (this.clientConnections >= config.clientConnectionsMax) return false;
        this.clientConnections++;
        return true;
      },
      releaseClient: () => {
        this.clientConnections--;
      },
    };
  }

  start(): void {
    this.source.start();
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.reporter = setInterval(() => this.report(), REPORT_INTERVAL_MS);
  }

  /** Stops serving: listeners closed, every connection ended. */
  close(): void {
    if (this.ticker !== null) clearInterval(this.ticker);
    if (this.reporter !== null) clearInterval(this.reporter);
    this.source.close();
    for (const endpoint of this.endpoints.values()) endpoint.close('ERR the endpoint is shutting down');
    this.endpoints.clear();
    this.context.events.close();
  }

  describe(): Record<string, unknown> {
    const clusters = [...this.endpoints.values()].map((endpoint) => endpoint.describe());
    return {
      proxyId: this.config.proxyId,
      redisConnected: this.source.isConnected,
      routes: this.table.size,
      connections: this.clientConnections,
      held: { ...this.context.budget.totals },
      tls: this.describeCertificate(),
      clusters,
    };
  }

  private describeCertificate(): { subject: string; names: string; validTo: string } | null {
    if (this.certificate === null) return null;
    const { subject, names, validTo } = this.certificate();
    return { subject, names, validTo };
  }

  private routesArrived(messages: RouteMessage[], snapshot: boolean): void {
    let changes: RouteChange[];
    try {
      changes = snapshot ? this.table.applySnapshot(messages) : messages.flatMap((m) => this.table.apply(m));
      for (const change of changes) this.applyChange(change);
    } catch (cause) {
      // A bug, not bad input (routes are checked when parsed): logged, and the proxy keeps serving.
      this.log(`applying routes failed: ${(cause as Error).stack ?? String(cause)}`);
    }
  }

  private applyChange(change: RouteChange): void {
    if (change.kind === 'delete') {
      const endpoint = this.endpoints.get(change.clusterId);
      this.endpoints.delete(change.clusterId);
      endpoint?.close(`ERR cluster ${change.previous.name} was deleted; its endpoint is closed`);
      this.log(`cluster ${change.previous.name} (${change.clusterId}) deleted: endpoint closed`);
      return;
    }
    const existing = this.endpoints.get(change.route.clusterId);
    if (existing !== undefined) existing.applyRoute(change.route);
    else this.endpoints.set(change.route.clusterId, new ClusterEndpoint(change.route, this.context));
  }

  private tick(): void {
    const nowMs = Date.now();
    for (const endpoint of this.endpoints.values()) endpoint.tick(nowMs);
  }

  /** The per-cluster activity report for the autoscaler, every report interval. */
  private report(): void {
    const nowMs = Date.now();
    const clusters: ProxyActivityReport['clusters'] = {};
    for (const endpoint of this.endpoints.values()) clusters[endpoint.clusterId] = endpoint.takeActivity();
    const report: ProxyActivityReport = {
      proxyId: this.config.proxyId,
      atMs: nowMs,
      intervalMs: nowMs - this.lastReportAtMs,
      clusters,
    };
    this.lastReportAtMs = nowMs;
    this.context.events.report(this.config.proxyId, JSON.stringify(report));
    void this.context.events.flush();
  }
}
