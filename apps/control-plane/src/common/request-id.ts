import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

export const requestIdHeader = 'x-request-id';
const acceptedRequestId = /^[\w.:-]{1,128}$/;

/** The request's id: the caller's X-Request-Id when it is sane, else a new UUID. */
export function requestIdOf(request: Request): string {
  return (request as Request & { requestId?: string }).requestId ?? 'unknown';
}

/** Tags every request with an id, echoed in the response header and in error logs. */
export function requestIdMiddleware(request: Request, response: Response, next: NextFunction): void {
  const offered = request.header(requestIdHeader);
  const requestId = offered && acceptedRequestId.test(offered) ? offered : randomUUID();
  (request as Request & { requestId?: string }).requestId = requestId;
  response.setHeader(requestIdHeader, requestId);
  next();
}
