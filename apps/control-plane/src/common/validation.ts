import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { ValidateIf } from 'class-validator';
import { ApiError } from './api-error.js';
import { FieldProblem } from './error-body.js';

function flatten(errors: ValidationError[], parent = ''): FieldProblem[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = error.constraints ? [{ field, problems: Object.values(error.constraints) }] : [];
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

function describeJson(value: unknown): string {
  if (value === undefined) return 'no JSON body (is Content-Type application/json?)';
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : `a ${typeof value}`;
}

/** Refuses bodies that are not JSON objects before the DTO rules look at them. */
class ApiValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      throw ApiError.badRequest(
        `request body must be a JSON object sent with Content-Type: application/json; got ${describeJson(value)}`,
      );
    }
    return super.transform(value, metadata);
  }
}

/**
 * Validates bodies and queries against their DTO classes: unknown fields are refused
 * (a typo must not be silently ignored), and every field reports its first problem.
 */
export function createValidationPipe(): ValidationPipe {
  return new ApiValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    stopAtFirstError: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => ApiError.invalidFields(flatten(errors)),
  });
}

/**
 * Like @IsOptional, but only an absent field is skipped: an explicit null is checked
 * (and refused) instead of being silently treated as "not sent".
 */
export const IsOptionalNotNull = (): PropertyDecorator => ValidateIf((_object, value) => value !== undefined);
