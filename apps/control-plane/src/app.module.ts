import { DynamicModule, Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module.js';
import { AutoscalingModule } from './autoscaling/autoscaling.module.js';
import { ClusterMetricsModule } from './cluster-metrics/cluster-metrics.module.js';
import { ClustersModule } from './clusters/clusters.module.js';
import { ComputeModule } from './compute/compute.module.js';
import type { ControlPlaneConfig } from './config/config.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { EndpointsModule } from './endpoints/endpoints.module.js';
import { FleetModule } from './fleet/fleet.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { RedisModule } from './redis/redis.module.js';
import { TlsModule } from './tls/tls.module.js';

/** The control plane: one module per bounded context, wired to one configuration. */
@Module({})
export class AppModule {
  static forRoot(config: ControlPlaneConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule.forRoot(config.databaseUrl),
        RedisModule.forRoot(config.redisUrl),
        AuthModule,
        ClustersModule,
        EndpointsModule,
        FleetModule,
        ComputeModule,
        ClusterMetricsModule,
        AutoscalingModule,
        HealthModule,
        MetricsModule,
        TlsModule,
      ],
    };
  }
}
