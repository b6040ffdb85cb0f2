import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { databaseUnavailableReason } from '../database/database-errors.js';
import { ErrorBody, errorBody } from './error-body.js';
import { requestIdOf } from './request-id.js';

function isErrorBody(value: unknown): value is ErrorBody {
  return typeof value === 'object' && value !== null && 'statusCode' in value && 'details' in value;
}

/** Turns every exception into the API's error body; unexpected ones are logged, never leaked. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const body = this.toBody(exception, requestIdOf(host.switchToHttp().getRequest<Request>()));
    if (body.statusCode === 401) response.setHeader('WWW-Authenticate', 'Bearer');
    response.status(body.statusCode).json(body);
  }

  private toBody(exception: unknown, requestId: string): ErrorBody {
    if (exception instanceof HttpException) {
      const payload = exception.getResponse();
      if (isErrorBody(payload)) return payload;
      const status = exception.getStatus();
      const message =
        typeof payload === 'string'
          ? payload
          : String((payload as { message?: unknown }).message ?? exception.message);
      // Nest's own 404 for unknown routes: say where the routes are listed.
      if (status === 404 && message.startsWith('Cannot ')) {
        return errorBody(404, `${message}: no such route; the routes are listed at /docs`);
      }
      return errorBody(status, message);
    }
    const databaseProblem = databaseUnavailableReason(exception);
    if (databaseProblem) {
      this.logger.error(`request ${requestId}: metadata database unavailable: ${databaseProblem}`);
      return errorBody(
        503,
        'the metadata database is not reachable right now: try again shortly (GET /ready shows why)',
      );
    }
    this.logger.error(
      `request ${requestId}: ${exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)}`,
    );
    return errorBody(
      500,
      `the server failed to handle this request; try again, and if it persists report request id ${requestId}`,
    );
  }
}
