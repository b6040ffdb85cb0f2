import { ParseUUIDPipe } from '@nestjs/common';
import { ApiError } from './api-error.js';

/** Validates an `:id` path parameter, with an error that names the parameter. */
export function uuidParam(what: string): ParseUUIDPipe {
  return new ParseUUIDPipe({
    exceptionFactory: () =>
      ApiError.badRequest(`${what} must be a UUID such as 3f1c2d4e-5b6a-4c8d-9e0f-1a2b3c4d5e6f`),
  });
}
