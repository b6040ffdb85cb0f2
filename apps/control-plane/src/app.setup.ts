import type { Server } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { installJsonBodyParser } from './common/body-parsing.js';
import { HttpExceptionFilter } from './common/http-exception.filter.js';
import { requestIdMiddleware } from './common/request-id.js';
import { createValidationPipe } from './common/validation.js';
import type { ControlPlaneConfig } from './config/config.js';
import { httpMetricsMiddleware } from './metrics/http-metrics.middleware.js';
import { MetricsService } from './metrics/metrics.service.js';
import { serveOpenApi } from './openapi.js';

/**
 * Everything an application instance needs besides its modules; shared by `main.ts`
 * and the tests, so that tests run the same HTTP stack users get.
 * The app must be created with `bodyParser: false`: parsing is installed here, bounded.
 */
export function configureApp(app: INestApplication, config: ControlPlaneConfig): void {
  app.use(requestIdMiddleware);
  app.use(httpMetricsMiddleware(app.get(MetricsService)));
  installJsonBodyParser(app, config.requestBodyLimitBytes);
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new HttpExceptionFilter());
  serveOpenApi(app);
  boundHttpTimeouts(app);
}

/** Slow or stalled clients must not hold connections forever. */
function boundHttpTimeouts(app: INestApplication): void {
  const server: Server = app.getHttpServer();
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
}
