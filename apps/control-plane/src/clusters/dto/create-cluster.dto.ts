import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, Matches, MaxLength } from 'class-validator';
import type { ClusterMode } from '../cluster-rules.js';
import { ClusterSettingsDto } from './cluster-settings.dto.js';

const modes: ClusterMode[] = ['serverless', 'provisioned'];
/** An RFC 1123 DNS label in lower case: the name can become part of a host name. */
export const dnsLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export class CreateClusterDto extends ClusterSettingsDto {
  @ApiProperty({
    description:
      'Unique name: a DNS label (1 to 63 lower-case letters, digits and hyphens; no hyphen at either end).',
    example: 'orders',
  })
  @MaxLength(63, { message: 'name must be at most 63 characters' })
  @Matches(dnsLabel, {
    message:
      'name must be a DNS label: lower-case letters, digits and hyphens, not starting or ending with a hyphen',
  })
  @IsString({ message: 'name must be a string' })
  name!: string;

  @ApiProperty({
    enum: modes,
    description: 'serverless: scales between minCu and maxCu and pauses; provisioned: fixed writers.',
  })
  @IsIn(modes, { message: `mode must be one of: ${modes.join(', ')}` })
  mode!: ClusterMode;
}
