// The node's HTTP side: health, Prometheus metrics and the lifecycle calls the control plane's
// driver makes (attach, resize, drain, detach, credential). JSON in, JSON out, one error shape;
// bodies are bounded. Everything but GET /health and GET /metrics needs
// `Authorization: Bearer <token>` (BOREALIS_NODE_TOKEN, docs/security.md), checked before the
// route or the body is looked at: an unknown caller learns nothing and changes nothing.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  NODE_TOKEN_CHALLENGE,
  NodeTokenGuard,
  PROCESS_INSTANCE_ID,
} from '../../../../libs/health/src/index.js';
import type { StorageNodeAddress } from '../../../../libs/storage-client/src/index.js';
import type { WriterCredential } from '../../../../libs/wire/src/index.js';
import { type AttachRequest, type DataNode, LifecycleError } from '../data-node.js';

const BODY_BYTES_MAX = 64 * 1024;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface AdminServerOptions {
  host: string;
  port: number;
  node: DataNode;
  /** Required: a node never serves its lifecycle calls without a token. */
  token: string;
}

class BadRequest extends Error {}

export async function startAdminServer(
  options: AdminServerOptions,
): Promise<{ port: number; close(): Promise<void> }> {
  const guard = new NodeTokenGuard(options.token);
  const server: Server = createServer(
    { requestTimeout: 60_000, headersTimeout: 5_000 },
    (request, response) => {
      handle(request, response, options.node, guard).catch((cause: unknown) => {
        const status =
          cause instanceof LifecycleError ? cause.status : cause instanceof BadRequest ? 400 : 500;
        send(response, status, {
          statusCode: status,
          error: statusName(status),
          message: (cause as Error).message,
          details: null,
        });
      });
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause) =>
      reject(new Error(`admin server cannot listen on ${options.host}:${options.port}: ${cause.message}`)),
    );
    server.listen({ host: options.host, port: options.port }, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  node: DataNode,
  guard: NodeTokenGuard,
): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  const method = request.method ?? 'GET';
  if (path === '/health' && method !== 'GET') {
    send(response, 405, {
      statusCode: 405,
      error: 'Method Not Allowed',
      message: 'use GET /health',
      details: null,
    });
    return;
  }
  if (path === '/health') {
    send(response, 200, {
      status: 'ok',
      app: 'data-node',
      pid: process.pid,
      // Tells this process from a later one with the same PID when the control plane re-adopts (ADR 0006).
      instanceId: PROCESS_INSTANCE_ID,
      uptimeSeconds: Math.floor(process.uptime()),
      ...node.describe(),
    });
    return;
  }
  if (path === '/metrics' && method === 'GET') {
    const body = await node.metrics.registry.metrics();
    response.writeHead(200, { 'content-type': node.metrics.registry.contentType });
    response.end(body);
    return;
  }
  // Every other route, known or not, needs the token: a refused call is answered alone (the
  // connection stays usable) and its body is never parsed.
  const tokenCheck = guard.check(request.headers);
  if (tokenCheck !== 'ok') {
    send(
      response,
      401,
      {
        statusCode: 401,
        error: 'Unauthorized',
        message: NodeTokenGuard.refusal(tokenCheck),
        details: null,
      },
      NODE_TOKEN_CHALLENGE,
    );
    return;
  }
  const lifecycle = ['/attach', '/resize', '/drain', '/detach', '/credential'];
  if (path === undefined || !lifecycle.includes(path)) {
    send(response, 404, {
      statusCode: 404,
      error: 'Not Found',
      message: `no route ${method} ${path}; routes: GET /health, GET /metrics, POST ${lifecycle.join(', POST ')}`,
      details: null,
    });
    return;
  }
  if (method !== 'POST') {
    send(response, 405, {
      statusCode: 405,
      error: 'Method Not Allowed',
      message: `use POST ${path}`,
      details: null,
    });
    return;
  }
  const body = await readJson(request);
  switch (path) {
    case '/attach':
      await node.attach(attachRequest(body));
      break;
    case '/resize':
      node.resize(numberField(body, 'cu'));
      break;
    case '/drain': {
      const timeoutMs = body.timeoutMs === undefined ? 30_000 : numberField(body, 'timeoutMs');
      await node.drain(timeoutMs);
      break;
    }
    case '/detach':
      await node.detach();
      break;
    case '/credential':
      node.renewCredential(credentialField(body.credential));
      break;
  }
  send(response, 200, node.describe());
}

function attachRequest(body: Record<string, unknown>): AttachRequest {
  const known = new Set([
    'clusterId',
    'volume',
    'cu',
    'readConsistency',
    'password',
    'storageNodes',
    'credential',
  ]);
  for (const field of Object.keys(body))
    if (!known.has(field))
      throw new BadRequest(`unknown field ${JSON.stringify(field)}; allowed: ${[...known].join(', ')}`);
  const clusterId = nameField(body, 'clusterId');
  const volume = nameField(body, 'volume');
  const readConsistency = body.readConsistency ?? 'instance';
  if (readConsistency !== 'instance' && readConsistency !== 'cluster')
    throw new BadRequest('readConsistency must be "instance" or "cluster"');
  const password = body.password ?? null;
  if (password !== null && (typeof password !== 'string' || password.length === 0 || password.length > 512))
    throw new BadRequest('password must be a string of 1–512 characters, or null');
  const request: AttachRequest = {
    clusterId,
    volume,
    cu: numberField(body, 'cu'),
    readConsistency,
    password,
  };
  if (body.storageNodes !== undefined) request.storageNodes = storageNodes(body.storageNodes);
  if (body.credential !== undefined) {
    const credential = credentialField(body.credential);
    if (credential.claims.volume !== volume)
      throw new BadRequest(`credential is for volume ${credential.claims.volume}, not ${volume}`);
    request.credential = credential;
  }
  return request;
}

/** A writer credential's shape (the storage nodes judge whether it is genuine). */
function credentialField(value: unknown): WriterCredential {
  const credential = value as Partial<WriterCredential> | null;
  const claims = credential?.claims as Partial<WriterCredential['claims']> | undefined;
  if (
    typeof credential !== 'object' ||
    credential === null ||
    typeof credential.key !== 'string' ||
    credential.key.length > 128 ||
    typeof claims !== 'object' ||
    claims === null ||
    typeof claims.cluster !== 'string' ||
    typeof claims.volume !== 'string' ||
    !Number.isSafeInteger(claims.coordinatorId) ||
    !Number.isSafeInteger(claims.expiresAtMs) ||
    typeof claims.secretId !== 'string'
  ) {
    throw new BadRequest(
      'credential must be { claims: { cluster, volume, coordinatorId, expiresAtMs, secretId }, key } as the control plane mints it',
    );
  }
  return {
    claims: {
      cluster: claims.cluster,
      volume: claims.volume,
      coordinatorId: claims.coordinatorId as number,
      expiresAtMs: claims.expiresAtMs as number,
      secretId: claims.secretId,
    },
    key: credential.key,
  };
}

function storageNodes(value: unknown): StorageNodeAddress[] {
  if (!Array.isArray(value) || value.length !== 6)
    throw new BadRequest('storageNodes must list the 6 storage nodes of the volume');
  return value.map((entry: unknown) => {
    const node = entry as Partial<StorageNodeAddress>;
    if (typeof node?.id !== 'string' || typeof node.host !== 'string' || !Number.isInteger(node.port)) {
      throw new BadRequest('each storage node is { id, host, port }');
    }
    return { id: node.id, host: node.host, port: node.port as number };
  });
}

function nameField(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || !NAME_PATTERN.test(value))
    throw new BadRequest(`${field} must be 1–128 characters of letters, digits, '.', '_' and '-'`);
  return value;
}

function numberField(body: Record<string, unknown>, field: string): number {
  const value = body[field];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new BadRequest(`${field} must be a number`);
  return value;
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request) {
    bytes += (chunk as Buffer).length;
    if (bytes > BODY_BYTES_MAX) throw new BadRequest(`body larger than ${BODY_BYTES_MAX} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (bytes === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BadRequest('body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new BadRequest('body must be a JSON object');
  return value as Record<string, unknown>;
}

function send(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent) return;
  response.writeHead(status, { ...headers, 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function statusName(status: number): string {
  return (
    { 400: 'Bad Request', 401: 'Unauthorized', 409: 'Conflict', 503: 'Service Unavailable' }[status] ??
    'Internal Server Error'
  );
}
