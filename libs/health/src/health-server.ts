import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';

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

/** Fields of the health body that `details()` cannot replace. */
const RESERVED_FIELDS = ['status', 'app', 'pid', 'uptimeSeconds'] as const;

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
 * `{ status: 'ok', app, pid, uptimeSeconds, ...details() }`. Every other path gets 404 and
 * every other method on /health gets 405, both with a JSON error body. Request bodies are
 * discarded unread. Rejects if the address cannot be bound.
 */
export async function startHealthServer({
  app,
  host,
  port,
  details,
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
    (request, response) => handle(request, response, app, details),
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

function handle(
  request: IncomingMessage,
  response: ServerResponse,
  app: string,
  details: (() => Record<string, unknown>) | undefined,
): void {
  // Bodies are never needed: let them drain so the connection can be reused.
  request.resume();

  const method = request.method ?? 'GET';
  const path = (request.url ?? '/').split('?', 1)[0] ?? '/';

  if (path !== HEALTH_PATH) {
    sendError(
      response,
      404,
      `No route for ${method} ${truncate(path)}; this server only serves GET ${HEALTH_PATH}`,
    );
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
