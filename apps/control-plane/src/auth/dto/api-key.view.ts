import { ApiProperty } from '@nestjs/swagger';

export class ApiKeyViewDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ['admin', 'viewer'] }) role!: string;
  @ApiProperty({ description: 'Public part of the key.' }) prefix!: string;
  @ApiProperty({ description: 'True for the key made by `npm start` or `npm run admin:reset-key`.' })
  bootstrap!: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) lastUsedAt!: string | null;
}

export class CreatedApiKeyDto extends ApiKeyViewDto {
  @ApiProperty({ description: 'The key itself. It is shown only in this response: store it now.' })
  key!: string;
}
