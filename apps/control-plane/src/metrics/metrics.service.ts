import { Injectable } from '@nestjs/common';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { FleetRepository } from '../fleet/fleet.repository.js';

/** Prometheus metrics of the control plane, in a registry of its own (no global state). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'borealis_http_requests_total',
    help: 'REST requests handled, by method, route and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpRequestSeconds = new Histogram({
    name: 'borealis_http_request_duration_seconds',
    help: 'REST request latency, by method and route.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor(clusters: ClustersRepository, fleet: FleetRepository) {
    collectDefaultMetrics({ register: this.registry, prefix: 'borealis_control_plane_' });
    new Gauge({
      name: 'borealis_clusters',
      help: 'Clusters by state and mode, read from the metadata database at scrape time.',
      labelNames: ['state', 'mode'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const group of await clusters.countByStateAndMode()) {
          this.set({ state: group.state, mode: group.mode }, group.count);
        }
      },
    });
    new Gauge({
      name: 'borealis_storage_nodes',
      help: 'Storage nodes by state (serving, down, starting), read from the metadata database at scrape time.',
      labelNames: ['state'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const node of await fleet.storageNodes()) this.inc({ state: node.state });
      },
    });
    new Gauge({
      name: 'borealis_data_nodes',
      help: 'Data-node processes by state (pool: the warm pool; attached: writers), read at scrape time.',
      labelNames: ['state'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const node of await fleet.liveDataNodes()) this.inc({ state: node.state });
      },
    });
  }
}
