// Prometheus series of scaling (DESIGN §5), in the control plane's registry: how long resumes and
// scaling changes take from decision to effect, each cluster's capacity and writers, held
// connections, and how long the autoscaler's tick over every cluster takes.
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { Gauge, Histogram } from 'prom-client';
import { ComputeService } from '../compute/compute.service.js';
import { FleetRepository } from '../fleet/fleet.repository.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { AutoscalerService } from './autoscaler.service.js';
import { LOAD_SOURCE, type LoadSource } from './load-source.js';

const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

@Injectable()
export class AutoscalingMetrics implements OnApplicationBootstrap {
  private readonly resumeSeconds: Histogram;
  private readonly scalingSeconds: Histogram<'kind'>;

  constructor(
    metrics: MetricsService,
    fleetRows: FleetRepository,
    autoscaler: AutoscalerService,
    @Inject(LOAD_SOURCE) load: LoadSource,
    private readonly compute: ComputeService,
  ) {
    const registers = [metrics.registry];
    this.resumeSeconds = new Histogram({
      name: 'borealis_cluster_resume_seconds',
      help: 'From the decision to resume a paused cluster (a held command, or a request) to its writer serving.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.scalingSeconds = new Histogram({
      name: 'borealis_scaling_latency_seconds',
      help: 'From a scaling decision to the new capacity serving, by kind (scale-up, scale-down, scale-out, scale-in, pause).',
      labelNames: ['kind'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    // Each gauge reads at its own collect: one filled by the other's collect would show the
    // previous scrape's values (the registry collects and reads one metric at a time).
    new Gauge({
      name: 'borealis_cluster_capacity_units',
      help: 'Capacity units of the writers attached to each cluster, read at scrape time.',
      labelNames: ['cluster'] as const,
      registers,
      async collect() {
        const capacities = await fleetRows.writerCapacities();
        this.reset();
        for (const [cluster, capacity] of capacities) this.set({ cluster }, capacity.cu);
      },
    });
    new Gauge({
      name: 'borealis_cluster_writers',
      help: 'Writers attached to each cluster, read at scrape time.',
      labelNames: ['cluster'] as const,
      registers,
      async collect() {
        const capacities = await fleetRows.writerCapacities();
        this.reset();
        for (const [cluster, capacity] of capacities) this.set({ cluster }, capacity.writers);
      },
    });
    new Gauge({
      name: 'borealis_cluster_held_connections',
      help: 'Client connections the endpoint holds while a cluster resumes, from the proxy reports.',
      labelNames: ['cluster'] as const,
      registers,
      collect() {
        this.reset();
        for (const [cluster, held] of load.heldConnections(Date.now())) this.set({ cluster }, held);
      },
    });
    new Gauge({
      name: 'borealis_autoscaler_tick_seconds',
      help: 'How long the last autoscaler tick over every cluster took (decisions only, not the queries).',
      registers,
      collect() {
        this.set(autoscaler.lastTickMs / 1_000);
      },
    });
  }

  onApplicationBootstrap(): void {
    this.compute.onScaled((event) => {
      if (event.effectiveAtMs === null) return;
      const seconds = Math.max(0, event.effectiveAtMs - event.decidedAtMs) / 1_000;
      if (event.kind === 'resume') this.resumeSeconds.observe(seconds);
      else if (event.kind !== 'created') this.scalingSeconds.observe({ kind: event.kind }, seconds);
    });
  }
}
