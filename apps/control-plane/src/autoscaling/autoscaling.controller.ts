import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { ScalingEvent } from '../../../../generated/prisma/client.js';
import { ClustersService } from '../clusters/clusters.service.js';
import { decodeCursor, encodeCursor } from '../clusters/page-cursor.js';
import { ApiError } from '../common/api-error.js';
import { ApiAuthenticatedErrors, ErrorBodyDto } from '../common/api-error.responses.js';
import { uuidParam } from '../common/uuid-param.js';
import { ScalingEventsRepository } from '../compute/scaling-events.repository.js';
import { AutoscalerService } from './autoscaler.service.js';
import {
  AutoscalingViewDto,
  ListEventsQuery,
  ScalingEventDto,
  ScalingEventPageDto,
} from './autoscaling.dto.js';

const clusterId = uuidParam('cluster id');
const defaultPageSize = 20;

@ApiTags('clusters')
@ApiAuthenticatedErrors()
@Controller('v1/clusters')
export class AutoscalingController {
  constructor(
    private readonly clusters: ClustersService,
    private readonly scalingEvents: ScalingEventsRepository,
    private readonly autoscaler: AutoscalerService,
  ) {}

  @Get(':id/events')
  @ApiOperation({
    summary:
      'Scaling events of a cluster, newest first: created, scale-up/down, scale-out/in, pause, resume; each with from and to, the reason, when it was decided and when it took effect.',
  })
  @ApiOkResponse({ type: ScalingEventPageDto })
  @ApiNotFoundResponse({ type: ErrorBodyDto })
  async events(
    @Param('id', clusterId) id: string,
    @Query() query: ListEventsQuery,
  ): Promise<ScalingEventPageDto> {
    const before = query.cursor === undefined ? null : decodeCursor(query.cursor);
    if (query.cursor !== undefined && before === null) {
      throw ApiError.badRequest('cursor is invalid: pass the nextCursor value of the previous page');
    }
    await this.clusters.get(id);
    const limit = query.limit ?? defaultPageSize;
    // One extra row tells whether another page follows.
    const rows = await this.scalingEvents.page(id, limit + 1, before);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map(eventView),
      nextCursor: rows.length > limit && last ? encodeCursor(last) : null,
    };
  }

  @Get(':id/autoscaling')
  @ApiOperation({
    summary:
      'Why the cluster has its size: current and desired capacity, the demand behind it, the window peak, idle time and time to pause, and in plain words what keeps it from being smaller or paused.',
  })
  @ApiOkResponse({ type: AutoscalingViewDto })
  @ApiNotFoundResponse({ type: ErrorBodyDto })
  async autoscaling(@Param('id', clusterId) id: string): Promise<AutoscalingViewDto> {
    const { cluster, view, decision, atMs } = await this.autoscaler.explain(await this.clusters.get(id));
    const explanation = decision.explanation;
    return {
      clusterId: cluster.id,
      name: cluster.name,
      mode: cluster.mode,
      state: cluster.state,
      at: new Date(atMs).toISOString(),
      currentCu: explanation.current.cu,
      currentWriters: explanation.current.writers,
      desiredCu: explanation.desired.cu,
      desiredWriters: explanation.desired.writers,
      demandPerSecond: explanation.demandPerSecond,
      demandCu: explanation.demandCu,
      cuCommandsPerSecond: view.cuCommandsPerSecond,
      targetUtilization: view.settings.targetUtilization,
      windowPeakCu: explanation.windowPeakCu,
      scaleDownWindowSeconds: cluster.scaleDownWindowSeconds,
      idleSeconds: explanation.idleSeconds,
      secondsToPause: explanation.secondsToPause,
      holders: [...explanation.holders],
      summary: explanation.summary,
    };
  }
}

function eventView(event: ScalingEvent): ScalingEventDto {
  return {
    id: event.id,
    kind: event.kind,
    fromCu: event.fromCu,
    toCu: event.toCu,
    fromWriters: event.fromWriterCount,
    toWriters: event.toWriterCount,
    reason: event.reason,
    decidedAt: event.decidedAt?.toISOString() ?? null,
    effectiveAt: event.effectiveAt?.toISOString() ?? null,
    durationMs: event.durationMs,
  };
}
