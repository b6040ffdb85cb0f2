import { ApiProperty } from '@nestjs/swagger';
import { clusterStates } from '../cluster-state.js';

export class EndpointDto {
  @ApiProperty({ example: '127.0.0.1' }) host!: string;
  @ApiProperty({ example: 7500, description: 'Allocated once; never changes while the cluster exists.' })
  port!: number;
  @ApiProperty({
    example: 'redis://127.0.0.1:7500',
    description: 'How to connect: rediss:// when the cluster requires TLS, redis:// otherwise.',
  })
  uri!: string;
  @ApiProperty({
    nullable: true,
    type: String,
    example: 'rediss://127.0.0.1:7500',
    description: 'The same endpoint over TLS (same port); null when the cluster has TLS off.',
  })
  tlsUri!: string | null;
}

export class ClusterViewDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ['serverless', 'provisioned'] }) mode!: string;
  @ApiProperty({ enum: clusterStates })
  state!: string;
  @ApiProperty({ nullable: true, type: Number }) minCu!: number | null;
  @ApiProperty({ nullable: true, type: Number }) maxCu!: number | null;
  @ApiProperty({ nullable: true, type: Number }) autoPauseSeconds!: number | null;
  @ApiProperty({ nullable: true, type: Number }) cuPerWriterMax!: number | null;
  @ApiProperty({ nullable: true, type: Number }) scaleDownWindowSeconds!: number | null;
  @ApiProperty({ nullable: true, type: Number }) writerCount!: number | null;
  @ApiProperty({ nullable: true, type: Number }) cuPerWriter!: number | null;
  @ApiProperty({ enum: ['instance', 'cluster'] }) readConsistency!: string;
  @ApiProperty({ enum: ['required', 'optional', 'off'] }) tls!: string;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Why the cluster is failed, and what to do; null unless its state is failed.',
  })
  failureReason!: string | null;
  @ApiProperty({ type: EndpointDto }) endpoint!: EndpointDto;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

export class CreatedClusterDto extends ClusterViewDto {
  @ApiProperty({
    description: 'Password for AUTH on the endpoint. Shown only in this response: store it now.',
  })
  dataPassword!: string;
}

export class ClusterPageDto {
  @ApiProperty({ type: [ClusterViewDto] }) items!: ClusterViewDto[];
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Pass as `cursor` to get the next page; null on the last page.',
  })
  nextCursor!: string | null;
}
