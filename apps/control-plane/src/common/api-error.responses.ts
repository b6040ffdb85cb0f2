import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiProperty, ApiResponse } from '@nestjs/swagger';

export class ErrorBodyDto {
  @ApiProperty({ example: 400 }) statusCode!: number;
  @ApiProperty({ example: 'Bad Request' }) error!: string;
  @ApiProperty({ example: 'request is invalid: minCu must be a multiple of 0.5' }) message!: string;
  @ApiProperty({
    nullable: true,
    description: 'Per-field problems for validation errors ([{ field, problems }]), otherwise null.',
    type: 'array',
    items: { type: 'object' },
  })
  details!: unknown;
}

/** Documents the error responses every authenticated route can give. */
export function ApiAuthenticatedErrors(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiBearerAuth(),
    ApiResponse({
      status: 400,
      description: 'The request is invalid; the message says what to fix.',
      type: ErrorBodyDto,
    }),
    ApiResponse({ status: 401, description: 'Missing or invalid API key.', type: ErrorBodyDto }),
    ApiResponse({ status: 403, description: 'The API key may not do this.', type: ErrorBodyDto }),
  );
}
