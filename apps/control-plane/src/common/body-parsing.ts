import type { INestApplication } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';
import { errorBody } from './error-body.js';

interface BodyParserError extends Error {
  status?: number;
  type?: string;
}

function describe(error: BodyParserError, limitBytes: number): { status: number; message: string } {
  switch (error.type) {
    case 'entity.parse.failed':
      return {
        status: 400,
        message: `request body is not valid JSON (${error.message}); send a JSON object`,
      };
    case 'entity.too.large':
      return { status: 413, message: `request body is larger than ${limitBytes} bytes; send a smaller body` };
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return { status: 415, message: 'request body encoding is not supported; send UTF-8 JSON' };
    case 'request.aborted':
      return { status: 400, message: 'request body was cut off before it ended; send it again' };
    default:
      return { status: error.status && error.status < 500 ? error.status : 400, message: error.message };
  }
}

/** No request of this API nests; deep nesting only serves to exhaust recursive code downstream. */
export const maxBodyDepth = 16;

/** True when `value` nests deeper than `limit` levels (checked without recursion). */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop() as [unknown, number];
    if (typeof current !== 'object' || current === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(current)) pending.push([child, depth + 1]);
  }
  return false;
}

/**
 * JSON body parsing with a size bound and a nesting bound, whose failures get the API's error body
 * (Express would otherwise answer with an HTML page).
 */
export function installJsonBodyParser(app: INestApplication, limitBytes: number): void {
  app.use(
    express.json({ limit: limitBytes, strict: true, type: ['application/json', 'application/*+json'] }),
  );
  app.use((error: BodyParserError, _request: Request, response: Response, next: NextFunction) => {
    if (!error) return next();
    const { status, message } = describe(error, limitBytes);
    response.status(status).json(errorBody(status, message));
  });
  app.use((request: Request, response: Response, next: NextFunction) => {
    if (!nestsDeeperThan(request.body, maxBodyDepth)) return next();
    const message = `request body nests deeper than ${maxBodyDepth} levels; the API's bodies are flat JSON objects`;
    response.status(400).json(errorBody(400, message));
  });
}
