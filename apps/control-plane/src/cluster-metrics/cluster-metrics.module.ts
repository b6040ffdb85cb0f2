import { Module } from '@nestjs/common';
import { ClustersModule } from '../clusters/clusters.module.js';
import { MetricsModule } from '../metrics/metrics.module.js';
import { ClusterMetricsController } from './cluster-metrics.controller.js';
import { ClusterMetricsService } from './cluster-metrics.service.js';

/** Load reports of data nodes and proxies: the latest per cluster, and an hour of them per second. */
@Module({
  imports: [ClustersModule, MetricsModule],
  controllers: [ClusterMetricsController],
  providers: [ClusterMetricsService],
  exports: [ClusterMetricsService],
})
export class ClusterMetricsModule {}
