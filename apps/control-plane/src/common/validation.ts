import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { getMetadataStorage, ValidateIf } from 'class-validator';
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

/** The properties a DTO class declares (its own and inherited validation rules). */
function declaredProperties(dto: abstract new (...args: never[]) => unknown): Set<string> {
  const rules = getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false);
  return new Set(rules.map((rule) => rule.propertyName));
}

/**
 * Refuses bodies that are not JSON objects, and fields the DTO does not declare, before
 * the DTO rules look at them. The own-key check matters for names such as `__proto__`,
 * `constructor` or `toString`: class-transformer skips them, so the whitelist would never
 * see them and the request would pass with the field silently dropped.
 */
class ApiValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      throw ApiError.badRequest(
        `request body must be a JSON object sent with Content-Type: application/json; got ${describeJson(value)}`,
      );
    }
    if ((metadata.type !== 'body' && metadata.type !== 'query') || !metadata.metatype || !value) {
      return super.transform(value, metadata);
    }
    const declared = declaredProperties(metadata.metatype);
    const unknown = declared.size === 0 ? [] : Object.keys(value).filter((key) => !declared.has(key));
    if (unknown.length === 0) return super.transform(value, metadata);
    // Report the unknown fields together with the problems of the declared ones.
    const problems: FieldProblem[] = unknown.map((key) => {
      // A field name is echoed back: keep a hostile 60 KiB one from filling the error body.
      const field = key.length > 80 ? `${key.slice(0, 80)}…` : key;
      return { field, problems: [`property ${field} should not exist`] };
    });
    const known = Object.fromEntries(Object.entries(value).filter(([key]) => declared.has(key)));
    try {
      await super.transform(known, metadata);
    } catch (error) {
      const details =
        error instanceof ApiError ? (error.getResponse() as { details?: unknown }).details : null;
      if (Array.isArray(details)) problems.push(...(details as FieldProblem[]));
    }
    throw ApiError.invalidFields(problems);
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
