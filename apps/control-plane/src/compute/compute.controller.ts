import { Controller, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ClustersService } from '../clusters/clusters.service.js';
import { ClusterViewDto } from '../clusters/dto/cluster.view.js';
import { ApiAuthenticatedErrors, ErrorBodyDto } from '../common/api-error.responses.js';
import { uuidParam } from '../common/uuid-param.js';
import { ComputeService } from './compute.service.js';

const clusterId = uuidParam('cluster id');

@ApiTags('clusters')
@ApiAuthenticatedErrors()
@Controller('v1/clusters')
export class ComputeController {
  constructor(
    private readonly compute: ComputeService,
    private readonly clusters: ClustersService,
  ) {}

  @Post(':id/pause')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Pause a serverless cluster: its writers are drained and return to the warm pool; its data stays. Client connections stay open, and the next command resumes it.',
  })
  @ApiOkResponse({ type: ClusterViewDto })
  @ApiNotFoundResponse({ type: ErrorBodyDto })
  @ApiConflictResponse({ description: 'The cluster is provisioned, or not available.', type: ErrorBodyDto })
  async pause(@Param('id', clusterId) id: string): Promise<ClusterViewDto> {
    return this.clusters.toView(await this.compute.pause(id));
  }

  @Post(':id/resume')
  @HttpCode(200)
  @ApiOperation({ summary: 'Resume a paused serverless cluster: a writer from the warm pool is attached.' })
  @ApiOkResponse({ type: ClusterViewDto })
  @ApiNotFoundResponse({ type: ErrorBodyDto })
  @ApiConflictResponse({ description: 'The cluster is provisioned, or not paused.', type: ErrorBodyDto })
  async resume(@Param('id', clusterId) id: string): Promise<ClusterViewDto> {
    return this.clusters.toView(await this.compute.resume(id));
  }
}
