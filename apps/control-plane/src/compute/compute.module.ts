import { Module } from '@nestjs/common';
import { ClustersModule } from '../clusters/clusters.module.js';
import { EndpointsModule } from '../endpoints/endpoints.module.js';
import { FleetModule } from '../fleet/fleet.module.js';
import { ComputeController } from './compute.controller.js';
import { ComputeService } from './compute.service.js';
import { ScalingEventsRepository } from './scaling-events.repository.js';

/** Clusters' compute through their life: provisioning, pause and resume, writer replacement, deletion. */
@Module({
  imports: [ClustersModule, FleetModule, EndpointsModule],
  controllers: [ComputeController],
  providers: [ComputeService, ScalingEventsRepository],
  exports: [ComputeService, ScalingEventsRepository],
})
export class ComputeModule {}
