// What the proxy measures, for Prometheus (`GET /metrics`, names `borealis_proxy_*`). Per-cluster
// series are labelled with the cluster id and removed with the cluster's route. Gauges are read
// from the endpoints when scraped; counters are counted where things happen.
import { Counter, Gauge, Registry } from 'prom-client';
import type { AuthCounters } from '../auth/password-checker.js';
import type { EventCounters } from '../events/event-publisher.js';

/** What a scrape reads from each endpoint. */
export interface EndpointGauges {
  clusterId: string;
  connections: number;
  heldConnections: number;
  heldBytes: number;
  /** Client commands sent to writers since start. */
  commandsForwarded: number;
}

export interface MetricsSources {
  endpoints(): EndpointGauges[];
  auth(): AuthCounters;
  events(): EventCounters;
  routes(): number;
  redisConnected(): boolean;
}

type ClusterCounter = Counter<'cluster'>;

export class ProxyMetrics {
  readonly registry = new Registry();
  readonly wakesSent: ClusterCounter;
  readonly sessionsMoved: ClusterCounter;
  readonly writerFailures: ClusterCounter;
  readonly holdRefusals: Counter<'cluster' | 'limit'>;
  readonly resumeDeadlineMisses: ClusterCounter;
  readonly malformedRoutes: Counter;
  readonly connectionsRefused: Counter<'cluster' | 'reason'>;
  readonly tlsHandshakeFailures: ClusterCounter;
  private readonly commandsForwarded: ClusterCounter;
  /** What the forwarded-commands counter has reported per cluster (endpoints count, scrapes read). */
  private readonly forwardedReported = new Map<string, number>();

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    const perCluster = (name: string, help: string): ClusterCounter =>
      new Counter({ name, help, labelNames: ['cluster'], registers });
    this.wakesSent = perCluster('borealis_proxy_wakes_total', 'wake events published');
    this.sessionsMoved = perCluster(
      'borealis_proxy_sessions_moved_total',
      'Sessions moved to another writer (route change or writer failure)',
    );
    this.writerFailures = perCluster(
      'borealis_proxy_writer_failures_total',
      'Writer connections that failed (error, close, stall, refused log-in)',
    );
    this.resumeDeadlineMisses = perCluster(
      'borealis_proxy_resume_deadline_misses_total',
      'Held commands answered TRYAGAIN because the cluster did not resume in time',
    );
    this.holdRefusals = new Counter({
      name: 'borealis_proxy_hold_refusals_total',
      help: 'Commands refused with TRYAGAIN because a hold limit was reached',
      labelNames: ['cluster', 'limit'],
      registers,
    });
    this.connectionsRefused = new Counter({
      name: 'borealis_proxy_connections_refused_total',
      help: 'Client connections refused by the TLS policy (tls-required, tls-off) or for want of a certificate (tls-unavailable)',
      labelNames: ['cluster', 'reason'],
      registers,
    });
    this.tlsHandshakeFailures = perCluster(
      'borealis_proxy_tls_handshake_failures_total',
      'TLS connections closed because their handshake failed or did not finish in time',
    );
    this.malformedRoutes = new Counter({
      name: 'borealis_proxy_malformed_routes_total',
      help: 'Route messages ignored because they were not valid routes',
      registers,
    });
    const reported = this.forwardedReported;
    this.commandsForwarded = new Counter({
      name: 'borealis_proxy_commands_forwarded_total',
      help: 'Client commands sent to writers',
      labelNames: ['cluster'],
      registers,
      collect() {
        for (const { clusterId, commandsForwarded } of sources.endpoints()) {
          const delta = commandsForwarded - (reported.get(clusterId) ?? 0);
          if (delta > 0) this.inc({ cluster: clusterId }, delta);
          reported.set(clusterId, commandsForwarded);
        }
      },
    });
    this.registerGauges(sources);
    this.registerCumulative(sources);
  }

  /** The cluster's route is gone: its series go too. */
  forgetCluster(clusterId: string): void {
    this.forwardedReported.delete(clusterId);
    this.commandsForwarded.remove({ cluster: clusterId });
    for (const counter of [
      this.wakesSent,
      this.sessionsMoved,
      this.writerFailures,
      this.resumeDeadlineMisses,
      this.tlsHandshakeFailures,
    ])
      counter.remove({ cluster: clusterId });
    for (const reason of ['tls-required', 'tls-off', 'tls-unavailable'])
      this.connectionsRefused.remove({ cluster: clusterId, reason });
  }

  private registerGauges(sources: MetricsSources): void {
    const registers = [this.registry];
    const perEndpoint = (name: string, help: string, read: (gauges: EndpointGauges) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['cluster'],
        registers,
        collect() {
          this.reset();
          for (const gauges of sources.endpoints()) this.set({ cluster: gauges.clusterId }, read(gauges));
        },
      });
    };
    perEndpoint('borealis_proxy_client_connections', 'Client connections per cluster', (g) => g.connections);
    perEndpoint(
      'borealis_proxy_held_connections',
      'Connections with held commands',
      (g) => g.heldConnections,
    );
    perEndpoint('borealis_proxy_held_bytes', 'Bytes of held commands', (g) => g.heldBytes);
    new Gauge({
      name: 'borealis_proxy_routes',
      help: 'Cluster routes known',
      registers,
      collect() {
        this.set(sources.routes());
      },
    });
    new Gauge({
      name: 'borealis_proxy_redis_connected',
      help: '1 while routes are being received from Redis',
      registers,
      collect() {
        this.set(sources.redisConnected() ? 1 : 0);
      },
    });
  }

  /** Counters kept elsewhere (the password checker, the event publisher), read when scraped. */
  private registerCumulative(sources: MetricsSources): void {
    const cumulative = (name: string, help: string, read: () => number): void => {
      let reported = 0;
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          const now = read();
          if (now > reported) this.inc(now - reported);
          reported = now;
        },
      });
    };
    cumulative(
      'borealis_proxy_auth_failures_total',
      'Wrong passwords (and unknown users)',
      () => sources.auth().wrong,
    );
    cumulative(
      'borealis_proxy_auth_throttled_total',
      'Password attempts refused without a check (too many failures from the address)',
      () => sources.auth().throttled,
    );
    cumulative(
      'borealis_proxy_password_checks_total',
      'scrypt password checks run',
      () => sources.auth().verified,
    );
    cumulative(
      'borealis_proxy_auth_remembered_total',
      'Passwords accepted from the digests of passwords already verified',
      () => sources.auth().remembered,
    );
    cumulative(
      'borealis_proxy_auth_busy_total',
      'Password attempts refused because too many checks were waiting',
      () => sources.auth().busy,
    );
    cumulative('borealis_proxy_events_published_total', 'Events published', () => sources.events().published);
    cumulative(
      'borealis_proxy_events_dropped_total',
      'Events dropped from a full outbox while Redis was away',
      () => sources.events().dropped,
    );
  }
}
