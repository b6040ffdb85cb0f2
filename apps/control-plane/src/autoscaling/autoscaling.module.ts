import { Module } from '@nestjs/common';
import { ClusterMetricsModule } from '../cluster-metrics/cluster-metrics.module.js';
import { ClusterMetricsService } from '../cluster-metrics/cluster-metrics.service.js';
import { ClustersModule } from '../clusters/clusters.module.js';
import { ComputeModule } from '../compute/compute.module.js';
import { FleetModule } from '../fleet/fleet.module.js';
import { MetricsModule } from '../metrics/metrics.module.js';
import { AutoscalerService } from './autoscaler.service.js';
import { AutoscalingController } from './autoscaling.controller.js';
import { AutoscalingMetrics } from './autoscaling-metrics.js';
import { LOAD_SOURCE } from './load-source.js';

/** Capacity following load (DESIGN §5): the loop around `decide`, scaling events and "explain". */
@Module({
  imports: [ClustersModule, FleetModule, ComputeModule, MetricsModule, ClusterMetricsModule],
  controllers: [AutoscalingController],
  providers: [
    AutoscalerService,
    AutoscalingMetrics,
    { provide: LOAD_SOURCE, useExisting: ClusterMetricsService },
  ],
})
export class AutoscalingModule {}
