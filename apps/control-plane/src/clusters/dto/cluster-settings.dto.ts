import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { IsOptionalNotNull } from '../../common/validation.js';
import {
  capacityLimits,
  ReadConsistency,
  serverlessDefaults,
  TlsPolicy,
  tlsDefault,
  tlsPolicies,
} from '../cluster-rules.js';
import { IsCapacityUnits } from './capacity.validators.js';

const consistencies: ReadConsistency[] = ['instance', 'cluster'];
const {
  stepCu,
  cuPerWriterMax,
  writerCountMax,
  autoPauseSecondsMin,
  autoPauseSecondsMax,
  scaleDownWindowSecondsMin,
  scaleDownWindowSecondsMax,
} = capacityLimits;

/** Settings shared by create and update; what applies depends on the cluster's mode. */
export class ClusterSettingsDto {
  @ApiPropertyOptional({
    description: `Serverless: lowest capacity in CU (0 to 256, steps of 0.5). 0 lets the cluster pause. Default ${serverlessDefaults.minCu}.`,
    example: 0,
  })
  @IsOptionalNotNull()
  @IsCapacityUnits(capacityLimits.minCu, capacityLimits.maxCu)
  minCu?: number;

  @ApiPropertyOptional({
    description: `Serverless: highest capacity in CU (0.5 to 256, steps of 0.5). Default ${serverlessDefaults.maxCu} (or minCu if higher).`,
    example: 4,
  })
  @IsOptionalNotNull()
  @IsCapacityUnits(stepCu, capacityLimits.maxCu)
  maxCu?: number;

  @ApiPropertyOptional({
    description: `Serverless with minCu 0: seconds without commands before the cluster pauses (${autoPauseSecondsMin} to ${autoPauseSecondsMax}). Default ${serverlessDefaults.autoPauseSeconds}.`,
    nullable: true,
    type: Number,
    example: 300,
  })
  @IsOptional() // null is allowed: it turns auto-pause off where that is possible
  @Min(autoPauseSecondsMin, { message: `autoPauseSeconds must be at least ${autoPauseSecondsMin}` })
  @Max(autoPauseSecondsMax, { message: `autoPauseSeconds must be at most ${autoPauseSecondsMax} (one day)` })
  @IsInt({ message: 'autoPauseSeconds must be a whole number of seconds' })
  autoPauseSeconds?: number | null;

  @ApiPropertyOptional({
    description: `Serverless: the largest writer in CU (0.5 to ${cuPerWriterMax}, steps of 0.5); above it the cluster runs more writers, below it fewer. Default ${serverlessDefaults.cuPerWriterMax}.`,
    example: 8,
  })
  @IsOptionalNotNull()
  @IsCapacityUnits(stepCu, cuPerWriterMax)
  cuPerWriterMax?: number;

  @ApiPropertyOptional({
    description: `Serverless: scale-down goes to the highest capacity needed within this many seconds (${scaleDownWindowSecondsMin} to ${scaleDownWindowSecondsMax}). Default ${serverlessDefaults.scaleDownWindowSeconds}.`,
    example: 30,
  })
  @IsOptionalNotNull()
  @Min(scaleDownWindowSecondsMin, {
    message: `scaleDownWindowSeconds must be at least ${scaleDownWindowSecondsMin}`,
  })
  @Max(scaleDownWindowSecondsMax, {
    message: `scaleDownWindowSeconds must be at most ${scaleDownWindowSecondsMax} (one hour)`,
  })
  @IsInt({ message: 'scaleDownWindowSeconds must be a whole number of seconds' })
  scaleDownWindowSeconds?: number;

  @ApiPropertyOptional({
    description: `Provisioned: number of writers (1 to ${writerCountMax}). Default 1.`,
    example: 1,
  })
  @IsOptionalNotNull()
  @Min(1, { message: 'writerCount must be at least 1' })
  @Max(writerCountMax, { message: `writerCount must be at most ${writerCountMax}` })
  @IsInt({ message: 'writerCount must be a whole number' })
  writerCount?: number;

  @ApiPropertyOptional({
    description: `Provisioned: capacity of each writer in CU (0.5 to ${cuPerWriterMax}, steps of 0.5). Default 2.`,
    example: 2,
  })
  @IsOptionalNotNull()
  @IsCapacityUnits(stepCu, cuPerWriterMax)
  cuPerWriter?: number;

  @ApiPropertyOptional({
    enum: consistencies,
    description:
      'instance: reads may come from a writer cache (read-your-writes); cluster: every read is linearizable. Default instance.',
  })
  @IsOptionalNotNull()
  @IsIn(consistencies, { message: `readConsistency must be one of: ${consistencies.join(', ')}` })
  readConsistency?: ReadConsistency;

  @ApiPropertyOptional({
    enum: tlsPolicies,
    description: `What the endpoint accepts. required: TLS only (rediss://), a plain client gets an error telling it to use TLS; optional: TLS and plain RESP on the same port; off: plain only. A change applies to new connections; open ones stay. Default ${tlsDefault}.`,
  })
  @IsOptionalNotNull()
  @IsIn(tlsPolicies, { message: `tls must be one of: ${tlsPolicies.join(', ')}` })
  tls?: TlsPolicy;
}
