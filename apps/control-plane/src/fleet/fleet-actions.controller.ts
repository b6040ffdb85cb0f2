import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsUUID, Max, Min } from 'class-validator';
import { toInteger } from '../clusters/dto/list-clusters.query.js';
import { ApiAuthenticatedErrors } from '../common/api-error.responses.js';
import { IsOptionalNotNull } from '../common/validation.js';
import { FleetRepository } from './fleet.repository.js';

const actionsLimitMax = 200;

export class ListFleetActionsQuery {
  @ApiPropertyOptional({ description: 'Only the actions taken for this cluster.' })
  @IsOptionalNotNull()
  @IsUUID('all', { message: 'clusterId must be a UUID such as 3f1c2d4e-5b6a-4c8d-9e0f-1a2b3c4d5e6f' })
  clusterId?: string;

  @ApiPropertyOptional({ description: `How many, newest first: 1 to ${actionsLimitMax}. Default 50.` })
  @IsOptionalNotNull()
  @Transform(toInteger)
  @Min(1, { message: 'limit must be at least 1' })
  @Max(actionsLimitMax, { message: `limit must be at most ${actionsLimitMax}` })
  @IsInt({ message: 'limit must be a whole number' })
  limit?: number;
}

export class FleetActionDto {
  @ApiProperty({ example: 'attach', description: 'What was done.' }) action!: string;
  @ApiProperty({ example: 'd12', description: 'The process or volume it was done to.' }) target!: string;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) clusterId!: string | null;
  @ApiProperty({ example: 'a client sent a command while it was paused' }) reason!: string;
  @ApiProperty({ enum: ['ok', 'failed'] }) outcome!: string;
  @ApiProperty({ nullable: true, type: String }) error!: string | null;
  @ApiProperty({ example: 42 }) durationMs!: number;
  @ApiProperty({ format: 'date-time' }) at!: string;
}

export class FleetActionListDto {
  @ApiProperty({ type: [FleetActionDto] }) items!: FleetActionDto[];
}

@ApiTags('fleet')
@ApiAuthenticatedErrors()
@Controller('v1/fleet/actions')
export class FleetActionsController {
  constructor(private readonly fleet: FleetRepository) {}

  @Get()
  @ApiOperation({ summary: 'What the fleet manager did, why and how long it took, newest first.' })
  @ApiOkResponse({ type: FleetActionListDto })
  async list(@Query() query: ListFleetActionsQuery): Promise<FleetActionListDto> {
    const actions = await this.fleet.recentActions(query.limit ?? 50, query.clusterId);
    return {
      items: actions.map((action) => ({
        action: action.action,
        target: action.target,
        clusterId: action.clusterId,
        reason: action.reason,
        outcome: action.outcome,
        error: action.error,
        durationMs: action.durationMs,
        at: action.createdAt.toISOString(),
      })),
    };
  }
}
