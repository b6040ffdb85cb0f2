import { Body, Controller, Delete, Get, Param, Patch, Post, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiAuthenticatedErrors, ErrorBodyDto } from '../common/api-error.responses.js';
import { uuidParam } from '../common/uuid-param.js';
import { ClustersService } from './clusters.service.js';
import { ClusterPageDto, ClusterViewDto, CreatedClusterDto } from './dto/cluster.view.js';
import { CreateClusterDto } from './dto/create-cluster.dto.js';
import { ListClustersQuery } from './dto/list-clusters.query.js';
import { UpdateClusterDto } from './dto/update-cluster.dto.js';

const clusterId = uuidParam('cluster id');

@ApiTags('clusters')
@ApiAuthenticatedErrors()
@Controller('v1/clusters')
export class ClustersController {
  constructor(private readonly clusters: ClustersService) {}

  @Post()
  @ApiOperation({ summary: 'Create a cluster. The data password is returned only in this response.' })
  @ApiCreatedResponse({ type: CreatedClusterDto })
  @ApiConflictResponse({ description: 'The name is taken, or no endpoint port is free.', type: ErrorBodyDto })
  create(@Body() body: CreateClusterDto): Promise<CreatedClusterDto> {
    return this.clusters.create(body);
  }

  @Get()
  @ApiOperation({ summary: 'List clusters in creation order, a page at a time.' })
  @ApiOkResponse({ type: ClusterPageDto })
  list(@Query() query: ListClustersQuery): Promise<ClusterPageDto> {
    return this.clusters.list(query.limit, query.cursor);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get one cluster.' })
  @ApiOkResponse({ type: ClusterViewDto })
  @ApiNotFoundResponse({ type: ErrorBodyDto })
  async get(@Param('id', clusterId) id: string): Promise<ClusterViewDto> {
    return this.clusters.toView(await this.clusters.get(id));
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change capacity range, auto-pause, writers or read consistency.' })
  @ApiOkResponse({ type: ClusterViewDto })
  @ApiNotFoundResponse({ type: ErrorBodyDto })
  @ApiConflictResponse({
    description: 'The cluster is in a state that does not allow changes.',
    type: ErrorBodyDto,
  })
  async update(@Param('id', clusterId) id: string, @Body() body: UpdateClusterDto): Promise<ClusterViewDto> {
    return this.clusters.toView(await this.clusters.update(id, body));
  }

  @Delete(':id')
  @ApiOperation({
    summary:
      'Delete a cluster: its writers are drained and stopped, its data deleted from the storage nodes, its endpoint port freed.',
  })
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiAcceptedResponse({
    type: ClusterViewDto,
    description: 'Deletion under way (it took longer than 30 s); GET the cluster until it answers 404.',
  })
  @ApiNotFoundResponse({ type: ErrorBodyDto })
  @ApiConflictResponse({
    description: 'The cluster is in a state that cannot be deleted now.',
    type: ErrorBodyDto,
  })
  async delete(
    @Param('id', clusterId) id: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<ClusterViewDto | undefined> {
    const remaining = await this.clusters.delete(id);
    if (remaining === null) {
      response.status(204);
      return undefined;
    }
    response.status(202);
    return this.clusters.toView(remaining);
  }
}
