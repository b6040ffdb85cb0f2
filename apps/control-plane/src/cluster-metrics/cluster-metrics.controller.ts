import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ClustersService } from '../clusters/clusters.service.js';
import { ApiError } from '../common/api-error.js';
import { ApiAuthenticatedErrors, ErrorBodyDto } from '../common/api-error.responses.js';
import { uuidParam } from '../common/uuid-param.js';
import { ClusterMetricsService } from './cluster-metrics.service.js';
import { MetricsQuery, metricsRange } from './metrics-query.js';
import type { MetricsPoint } from './metrics-series.js';

const clusterId = uuidParam('cluster id');

class MetricsPointDto {
  @ApiProperty({ description: 'Start of the step, milliseconds since the epoch.' }) t!: number;
  @ApiProperty({ description: 'Commands/s the writers served (mean over the step).' })
  commandsPerSecond!: number;
  @ApiProperty({ description: 'Commands/s delayed by the capacity budget (mean).' })
  throttledPerSecond!: number;
  @ApiProperty({ description: 'Commands/s clients sent to the endpoint (mean).' })
  proxyCommandsPerSecond!: number;
  @ApiProperty({ description: 'Highest writer p50 latency in the step, ms.' }) p50LatencyMs!: number;
  @ApiProperty({ description: 'Highest writer p99 latency in the step, ms.' }) p99LatencyMs!: number;
  @ApiProperty({ description: 'Client connections at the endpoint (highest).' }) connections!: number;
  @ApiProperty({ description: 'Connections held while the cluster resumed (highest).' })
  heldConnections!: number;
  @ApiProperty({ description: 'Sessions inside MULTI or holding a WATCH (highest).' })
  sessionsInTransaction!: number;
  @ApiProperty({ description: 'Share of reads served by the writer caches (mean).' }) cacheHitRatio!: number;
  @ApiProperty({ description: 'Highest writer CPU, percent of one core.' }) cpuPercent!: number;
  @ApiProperty({ description: 'Capacity units of the reporting writers (last in the step).' }) cu!: number;
  @ApiProperty({ description: 'Writers reporting (last in the step).' }) writers!: number;
}

class ClusterMetricsDto {
  @ApiProperty({ format: 'uuid' }) clusterId!: string;
  @ApiProperty({ description: 'Milliseconds since the epoch.' }) from!: number;
  @ApiProperty({ description: 'Milliseconds since the epoch (excluded).' }) to!: number;
  @ApiProperty() stepSeconds!: number;
  @ApiProperty({ type: [MetricsPointDto], description: 'Steps with at least one point, oldest first.' })
  points!: MetricsPoint[];
}

@ApiTags('clusters')
@ApiAuthenticatedErrors()
@Controller('v1/clusters')
export class ClusterMetricsController {
  constructor(
    private readonly clusters: ClustersService,
    private readonly metrics: ClusterMetricsService,
  ) {}

  @Get(':id/metrics')
  @ApiOperation({
    summary:
      'The cluster’s load over time, kept one hour at one point per second: commands/s, throttled, latency, connections, sessions in MULTI/WATCH, CU and writers.',
  })
  @ApiOkResponse({ type: ClusterMetricsDto })
  @ApiNotFoundResponse({ type: ErrorBodyDto })
  async series(@Param('id', clusterId) id: string, @Query() query: MetricsQuery): Promise<ClusterMetricsDto> {
    const range = metricsRange(query, Date.now());
    if (!range.ok) throw ApiError.invalidFields(range.problems);
    await this.clusters.get(id);
    const points = await this.metrics.points(id, range.fromMs, range.toMs, range.stepMs).catch(() => {
      throw new ApiError(503, 'the metrics store (Redis) does not answer: try again shortly');
    });
    return { clusterId: id, from: range.fromMs, to: range.toMs, stepSeconds: range.stepMs / 1_000, points };
  }
}
