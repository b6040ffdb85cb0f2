import { Module } from '@nestjs/common';
import { EndpointsModule } from '../endpoints/endpoints.module.js';
import { ClusterChanges } from './cluster-changes.js';
import { ClustersController } from './clusters.controller.js';
import { ClustersRepository } from './clusters.repository.js';
import { ClustersService } from './clusters.service.js';

@Module({
  imports: [EndpointsModule],
  controllers: [ClustersController],
  providers: [ClustersRepository, ClustersService, ClusterChanges],
  exports: [ClustersRepository, ClustersService, ClusterChanges],
})
export class ClustersModule {}
