import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { PROCESS_INSTANCE_ID } from './registry.js';

/** Path of the one route the health server answers. */
export const HEALTH_PATH = '/health';

/** A whole request (headers and any body) must arrive within this time. */
const REQUEST_TIMEOUT_MS = 10_000;
/** The request headers must arrive within this time. */
const HEADERS_TIMEOUT_MS = 5_000;
/** An idle keep-alive connection is closed after this time. */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Request headers larger than this are rejected with 431. */
const MAX_HEADER_BYTES = 8 * 1024;
/** Paths echoed back in error messages are cut to this length. */
const MAX_ECHOED_PATH_CHARS = 200;
/** Request bodies of extra routes larger than this are refused with 413. */
export const ROUTE_BODY_BYTES_MAX = 64 * 1024;

/** Fields of the health body that `details()` cannot replace. */
const RESERVED_FIELDS = ['status', 'app', 'pid', 'instanceId', 'uptimeSeconds'] as const;

export interface HealthServerOptions {
  /** Name of the process, reported as `app`. */
  app: string;
  /** Address to bind, e.g. `127.0.0.1`. */
  host: string;
  /** TCP port to bind; 0 lets the operating system choose a free one. */
  port: number;
  /**
   * Extra fields merged into every health response. Called once per request; a field
   * named like a fixed field (status, app, pid, uptimeSeconds) is ignored.
   */
  details?: () => Record<string, unknown>;
  /** More routes on the same port, e.g. a node's admin calls. `/health` stays the server's own. */
  routes?: readonly HealthServerRoute[];
}

/** A request to an extra route: its body read in full (at most {@link ROUTE_BODY_BYTES_MAX}). */
export interface RouteRequest {
  method: string;
  path: string;
  /** The capture groups of the route's `path`, as they appear in the URL (not decoded). */
  params: string[];
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HealthServerRoute {
  method: string;
  /** Matched against the whole path, without the query string; groups become `params`. */
  path: RegExp;
  /** How the route is named in a 404's list of routes, e.g. `DELETE /volumes/<name>`. */
  summary: string;
  /** Answers with a status and a JSON body; throws {@link HttpError} to answer an error. */
  handle(request: RouteRequest): Promise<RouteAnswer> | RouteAnswer;
}

export interface RouteAnswer {
  statusCode: number;
  /** Sent as JSON; or, with `contentType`, a string sent as it is (Prometheus text, say). */
  body: unknown;
  contentType?: string;
}

/** Thrown by a route handler: answered as `{ statusCode, error, message, details }`. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly statusCode: number,
    message: string,
    readonly details: Record<string, unknown> | null = null,
    /** Extra response headers, e.g. `WWW-Authenticate`. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface HealthServer {
  /** The port actually bound (the chosen one when `port` was 0). */
  port: number;
  /** Stops accepting connections, closes open ones and resolves once the server is closed. */
  close(): Promise<void>;
}

export interface HealthErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details: Record<string, unknown> | null;
}

/** `http://host:port/health`, with brackets around an IPv6 host. */
export function healthUrl(host: string, port: number): string {
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return `http://${urlHost}:${port}${HEALTH_PATH}`;
}

/**
 * Starts a minimal HTTP server that answers `GET /health` with
 * `{ status: 'ok', app, pid, instanceId, uptimeSeconds, ...details() }`, and the extra `routes`.
 * Every other path gets 404 and every other method on a known path 405, both with a JSON error
 * body. Bodies sent to /health are discarded unread; an extra route's body is read up to
 * {@link ROUTE_BODY_BYTES_MAX} (413 beyond). Rejects if the address cannot be bound.
 */
export async function startHealthServer({
  app,
  host,
  port,
  details,
  routes = [],
}: HealthServerOptions): Promise<HealthServer> {
  if (app.length === 0) {
    throw new TypeError('startHealthServer: app must be a non-empty name');
  }
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(`startHealthServer: port must be an integer from 0 to 65535, got ${port}`);
  }

  const server = createServer(
    {
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      maxHeaderSize: MAX_HEADER_BYTES,
    },
    (request, response) => {
      const route = findRoute(routes, request);
      if (route === null) {
        handle(request, response, app, details, routes);
        return;
      }
      handleRoute(request, response, route).catch((error: unknown) => answerRouteError(response, error));
    },
  );
  server.maxRequestsPerSocket = 100;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      server.off('listening', onListening);
      reject(new Error(`health server cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port });
  });

  const boundPort = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;

  return {
    port: boundPort,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function pathOf(request: IncomingMessage): string {
  return (request.url ?? '/').split('?', 1)[0] ?? '/';
}

/** The route for this method and path; null when none matches both (`handle` answers then). */
function findRoute(
  routes: readonly HealthServerRoute[],
  request: IncomingMessage,
): { route: HealthServerRoute; params: string[] } | null {
  const path = pathOf(request);
  for (const route of routes) {
    if (route.method !== request.method) continue;
    const match = route.path.exec(path);
    if (match !== null && match[0] === path) return { route, params: match.slice(1) };
  }
  return null;
}

async function handleRoute(
  request: IncomingMessage,
  response: ServerResponse,
  { route, params }: { route: HealthServerRoute; params: string[] },
): Promise<void> {
  const body = await readBody(request, response);
  if (body === null) return;
  const answer = await route.handle({
    method: route.method,
    path: pathOf(request),
    params,
    headers: request.headers,
    body,
  });
  if (answer.contentType !== undefined && typeof answer.body === 'string') {
    response.writeHead(answer.statusCode, {
      'Content-Type': answer.contentType,
      'Content-Length': Buffer.byteLength(answer.body),
      'Cache-Control': 'no-store',
    });
    response.end(answer.body);
    return;
  }
  sendJson(response, answer.statusCode, answer.body);
}

/**
 * The whole body; or null once answered 413 because it is larger than the bound, or when the
 * client went away. A declared length over the bound is refused before a byte of the body is read.
 * Either way the 413 closes the connection, so that no more than what is already in flight of an
 * oversized body is read (and discarded).
 */
function readBody(request: IncomingMessage, response: ServerResponse): Promise<Buffer | null> {
  const tooLarge = (): null => {
    response.setHeader('Connection', 'close');
    sendError(response, 413, `The request body is larger than ${ROUTE_BODY_BYTES_MAX} bytes`, {
      bodyBytesMax: ROUTE_BODY_BYTES_MAX,
    });
    return null;
  };
  if (Number(request.headers['content-length'] ?? 0) > ROUTE_BODY_BYTES_MAX) {
    return Promise.resolve(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes <= ROUTE_BODY_BYTES_MAX) {
        chunks.push(chunk);
        return;
      }
      stopReading();
      // Discarded from here on, until the connection closes after the 413.
      request.resume();
      resolve(tooLarge());
    };
    const onEnd = (): void => {
      stopReading();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error): void => {
      stopReading();
      reject(error);
    };
    const onClose = (): void => {
      stopReading();
      resolve(null);
    };
    const stopReading = (): void => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('close', onClose);
  });
}

function answerRouteError(response: ServerResponse, error: unknown): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  if (error instanceof HttpError) {
    for (const [name, value] of Object.entries(error.headers)) response.setHeader(name, value);
    sendError(response, error.statusCode, error.message, error.details);
    return;
  }
  const reason = error instanceof Error ? error.message : String(error);
  sendError(response, 500, `The request failed: ${reason}`);
}

function handle(
  request: IncomingMessage,
  response: ServerResponse,
  app: string,
  details: (() => Record<string, unknown>) | undefined,
  routes: readonly HealthServerRoute[],
): void {
  // Bodies are never needed here: let them drain so the connection can be reused.
  request.resume();

  const method = request.method ?? 'GET';
  const path = pathOf(request);

  const allowed = routes.filter((route) => route.path.exec(path)?.[0] === path).map((route) => route.method);
  if (allowed.length > 0) {
    response.setHeader('Allow', allowed.join(', '));
    sendError(
      response,
      405,
      `Method ${method} is not allowed on ${truncate(path)}; use ${allowed.join(' or ')}`,
    );
    return;
  }
  if (path !== HEALTH_PATH) {
    const served = [`GET ${HEALTH_PATH}`, ...routes.map((route) => route.summary)].join(', ');
    sendError(response, 404, `No route for ${method} ${truncate(path)}; this server serves ${served}`);
    return;
  }
  if (method !== 'GET') {
    response.setHeader('Allow', 'GET');
    sendError(response, 405, `Method ${method} is not allowed on ${HEALTH_PATH}; use GET`);
    return;
  }

  let extra: Record<string, unknown>;
  try {
    extra = details?.() ?? {};
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    sendError(response, 500, `${app} could not report its health details: ${reason}`);
    return;
  }

  const body: Record<string, unknown> = {
    status: 'ok',
    app,
    pid: process.pid,
    instanceId: PROCESS_INSTANCE_ID,
    uptimeSeconds: Math.floor(process.uptime()),
  };
  for (const [key, value] of Object.entries(extra)) {
    if (!(RESERVED_FIELDS as readonly string[]).includes(key)) {
      body[key] = value;
    }
  }
  sendJson(response, 200, body);
}

function sendError(
  response: ServerResponse,
  statusCode: number,
  message: string,
  details: Record<string, unknown> | null = null,
): void {
  const body: HealthErrorBody = {
    statusCode,
    error: STATUS_CODES[statusCode] ?? 'Error',
    message,
    details,
  };
  sendJson(response, statusCode, body);
}

function sendJson(response: ServerResponse, statusCode: number, body: unknown): void {
  const payload = JSON.stringify(body);
  response.writeHead(statusCode, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(payload),
    'Cache-Control': 'no-store',
  });
  response.end(payload);
}

function truncate(path: string): string {
  return path.length > MAX_ECHOED_PATH_CHARS ? `${path.slice(0, MAX_ECHOED_PATH_CHARS)}…` : path;
}
