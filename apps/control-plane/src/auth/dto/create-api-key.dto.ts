import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, Length, Matches } from 'class-validator';
import type { ApiKeyRole } from '../../../../../generated/prisma/client.js';

const roles: ApiKeyRole[] = ['admin', 'viewer'];

export class CreateApiKeyDto {
  @ApiProperty({ description: 'A label to recognise the key by, 1 to 64 characters.', example: 'ci-reader' })
  @Length(1, 64, { message: 'name must be 1 to 64 characters long' })
  @Matches(/^[\x20-\x7e]+$/, { message: 'name must use printable ASCII characters only' })
  @IsString({ message: 'name must be a string' })
  name!: string;

  @ApiProperty({ enum: roles, description: 'admin may change everything; viewer may only read clusters.' })
  @IsIn(roles, { message: `role must be one of: ${roles.join(', ')}` })
  role!: ApiKeyRole;
}
