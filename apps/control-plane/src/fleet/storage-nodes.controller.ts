import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ApiAuthenticatedErrors } from '../common/api-error.responses.js';
import { FleetRepository } from './fleet.repository.js';

export class StorageNodeViewDto {
  @ApiProperty({ example: 's1' }) id!: string;
  @ApiProperty({ example: 'az-a' }) az!: string;
  @ApiProperty({ example: '127.0.0.1' }) host!: string;
  @ApiProperty({ example: 7811 }) port!: number;
  @ApiProperty({ enum: ['starting', 'serving', 'down'] }) state!: string;
  @ApiProperty({
    nullable: true,
    type: Number,
    description: 'Bytes of its log and snapshot on disk, as last reported.',
  })
  logBytes!: number | null;
  @ApiProperty({ description: 'Times it was restarted after it ended.' }) restarts!: number;
  @ApiProperty({ nullable: true, type: String }) lastError!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) lastSeenAt!: string | null;
}

export class StorageNodeListDto {
  @ApiProperty({ type: [StorageNodeViewDto] }) items!: StorageNodeViewDto[];
}

@ApiTags('storage')
@ApiAuthenticatedErrors()
@Controller('v1/storage-nodes')
export class StorageNodesController {
  constructor(private readonly fleet: FleetRepository) {}

  @Get()
  @ApiOperation({
    summary: 'The storage fleet: six nodes, two per availability zone, with their health and log size.',
  })
  @ApiOkResponse({ type: StorageNodeListDto })
  async list(): Promise<StorageNodeListDto> {
    const nodes = await this.fleet.storageNodes();
    return {
      items: nodes.map((node) => ({
        id: node.id,
        az: node.az,
        host: node.host,
        port: node.port,
        state: node.state,
        logBytes: node.logBytes === null ? null : Number(node.logBytes),
        restarts: node.restarts,
        lastError: node.lastError,
        lastSeenAt: node.lastSeenAt?.toISOString() ?? null,
      })),
    };
  }
}
