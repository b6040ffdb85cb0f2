import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsString, Max, MaxLength, Min } from 'class-validator';
import { IsOptionalNotNull } from '../../common/validation.js';

export const pageSizeMax = 100;

/** Query strings arrive as text: convert digits only, so that "abc" fails validation instead of becoming NaN. */
export function toInteger({ value }: { value: unknown }): unknown {
  return typeof value === 'string' && /^-?\d{1,9}$/.test(value) ? Number(value) : value;
}

export class ListClustersQuery {
  @ApiPropertyOptional({ description: `Page size, 1 to ${pageSizeMax}. Default 20.`, example: 20 })
  @IsOptionalNotNull()
  @Transform(toInteger)
  @Min(1, { message: 'limit must be at least 1' })
  @Max(pageSizeMax, { message: `limit must be at most ${pageSizeMax}` })
  @IsInt({ message: 'limit must be a whole number' })
  limit?: number;

  @ApiPropertyOptional({ description: 'The nextCursor of the previous page.' })
  @IsOptionalNotNull()
  @MaxLength(200, { message: 'cursor is too long: pass the nextCursor value of the previous page' })
  @IsString({ message: 'cursor must be a string' })
  cursor?: string;
}
