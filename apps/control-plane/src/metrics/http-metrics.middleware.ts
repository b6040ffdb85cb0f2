import type { NextFunction, Request, Response } from 'express';
import type { MetricsService } from './metrics.service.js';

/** Records every request once it finished, labelled by its route pattern (never the raw URL). */
export function httpMetricsMiddleware(metrics: MetricsService) {
  return (request: Request, response: Response, next: NextFunction): void => {
    const startedAt = process.hrtime.bigint();
    response.on('finish', () => {
      const routePath = (request.route as { path?: string } | undefined)?.path;
      const route = routePath ? `${request.baseUrl}${routePath}` : 'unmatched';
      const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      metrics.httpRequests.inc({ method: request.method, route, status: String(response.statusCode) });
      metrics.httpRequestSeconds.observe({ method: request.method, route }, seconds);
    });
    next();
  };
}
