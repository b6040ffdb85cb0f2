import { ApiProperty } from '@nestjs/swagger';
import { ListClustersQuery } from '../clusters/dto/list-clusters.query.js';

/** The same paging as the cluster list: `limit` (1 to 100) and the previous page's `nextCursor`. */
export class ListEventsQuery extends ListClustersQuery {}

export class ScalingEventDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({
    enum: [
      'created',
      'scale-up',
      'scale-down',
      'scale-out',
      'scale-in',
      'resize',
      'pause',
      'resume',
      'failed',
    ],
  })
  kind!: string;
  @ApiProperty() fromCu!: number;
  @ApiProperty() toCu!: number;
  @ApiProperty() fromWriters!: number;
  @ApiProperty() toWriters!: number;
  @ApiProperty({ description: 'Why it happened, in a sentence.' }) reason!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When it was decided.' })
  decidedAt!: string | null;
  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'When the new capacity served; null if it did not take effect.',
  })
  effectiveAt!: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'From decision to effect, in milliseconds.' })
  durationMs!: number | null;
}

export class ScalingEventPageDto {
  @ApiProperty({ type: [ScalingEventDto], description: 'Newest first.' }) items!: ScalingEventDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as cursor for the next (older) page.' })
  nextCursor!: string | null;
}

export class AutoscalingViewDto {
  @ApiProperty({ format: 'uuid' }) clusterId!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ['serverless', 'provisioned'] }) mode!: string;
  @ApiProperty() state!: string;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty() currentCu!: number;
  @ApiProperty() currentWriters!: number;
  @ApiProperty({ description: 'What the autoscaler wants now, after the window and the range.' })
  desiredCu!: number;
  @ApiProperty() desiredWriters!: number;
  @ApiProperty({ nullable: true, type: Number, description: 'Demand behind the decision, commands/s.' })
  demandPerSecond!: number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'CU the demand alone needs.' })
  demandCu!: number | null;
  @ApiProperty({ description: 'Commands per second one CU serves (platform setting).' })
  cuCommandsPerSecond!: number;
  @ApiProperty() targetUtilization!: number;
  @ApiProperty({ description: 'Highest CU needed within the scale-down window.' }) windowPeakCu!: number;
  @ApiProperty({ nullable: true, type: Number }) scaleDownWindowSeconds!: number | null;
  @ApiProperty({ nullable: true, type: Number }) idleSeconds!: number | null;
  @ApiProperty({
    nullable: true,
    type: Number,
    description: 'Seconds until it pauses if no command arrives.',
  })
  secondsToPause!: number | null;
  @ApiProperty({
    type: [String],
    description:
      'What keeps it from being smaller or paused: demand, minimum, maximum, window, transaction, recent-command, auto-pause-off, busy, no-load-report, provisioned, not-available.',
  })
  holders!: string[];
  @ApiProperty({ description: 'The same, in plain sentences.' }) summary!: string;
}
