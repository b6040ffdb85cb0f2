import { HttpException } from '@nestjs/common';
import { ErrorBody, errorBody, FieldProblem } from './error-body.js';

/** An HTTP error whose body is already in the API's error shape. */
export class ApiError extends HttpException {
  constructor(statusCode: number, message: string, details: ErrorBody['details'] = null) {
    super(errorBody(statusCode, message, details), statusCode);
  }

  static badRequest(message: string, details: ErrorBody['details'] = null): ApiError {
    return new ApiError(400, message, details);
  }

  static invalidFields(problems: FieldProblem[]): ApiError {
    const summary = problems.flatMap((p) => p.problems).join('; ');
    return new ApiError(400, `request is invalid: ${summary}`, problems);
  }

  static notFound(message: string): ApiError {
    return new ApiError(404, message);
  }

  static conflict(message: string, details: ErrorBody['details'] = null): ApiError {
    return new ApiError(409, message, details);
  }
}
