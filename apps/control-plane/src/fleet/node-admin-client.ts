// The HTTP calls the fleet manager makes to its processes: health, and the nodes' admin calls
// (apps/data-node/src/admin/admin-server.ts, apps/storage-node/src/admin-routes.ts), which carry
// the process's node token (NodeTokens). Every call is bounded in time.
import type { WriterCredential } from '../../../../libs/wire/src/index.js';

const CALL_TIMEOUT_MS = 10_000;
/** A drain waits for the commands in flight; its own limit is passed in the body. */
const DRAIN_TIMEOUT_MS = 45_000;

export class NodeCallError extends Error {
  override readonly name = 'NodeCallError';
  constructor(
    message: string,
    /** HTTP status, or null when the node did not answer. */
    readonly status: number | null,
  ) {
    super(message);
  }
}

/** A node's admin API: its base URL and the token its admin calls need. */
export interface NodeAdminTarget {
  adminUrl: string;
  token: string;
}

async function call<T>(
  url: string,
  method: string,
  body: unknown,
  timeoutMs: number,
  token: string | null,
): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new NodeCallError(`${method} ${url} got no answer: ${(error as Error).message}`, null);
  }
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {}
  if (!response.ok) {
    const message = (parsed as { message?: string } | null)?.message ?? text.slice(0, 200);
    throw new NodeCallError(`${method} ${url} answered ${response.status}: ${message}`, response.status);
  }
  return parsed as T;
}

/** What a data node's /health and lifecycle calls report about it (the fields used here). */
export interface DataNodeReport {
  instanceId?: string;
  state: 'unattached' | 'attaching' | 'attached' | 'draining' | 'drained';
  attachedCluster: string | null;
  cu: number;
  respPort: number | null;
  connections: number;
}

export interface AttachCall {
  clusterId: string;
  volume: string;
  cu: number;
  readConsistency: 'instance' | 'cluster';
  password: string;
  storageNodes: { id: string; host: string; port: number }[];
  /** Minted for the node's coordinator id at the attach (FleetSecrets). */
  credential?: WriterCredential;
}

export const nodeAdmin = {
  /** Open on every node: no token sent. */
  health: <T = Record<string, unknown>>(adminUrl: string, timeoutMs = 3_000) =>
    call<T>(`${adminUrl}/health`, 'GET', undefined, timeoutMs, null),
  attach: (node: NodeAdminTarget, request: AttachCall) =>
    call<DataNodeReport>(`${node.adminUrl}/attach`, 'POST', request, CALL_TIMEOUT_MS + 5_000, node.token),
  renewCredential: (node: NodeAdminTarget, credential: WriterCredential) =>
    call<DataNodeReport>(`${node.adminUrl}/credential`, 'POST', { credential }, CALL_TIMEOUT_MS, node.token),
  resize: (node: NodeAdminTarget, cu: number) =>
    call<DataNodeReport>(`${node.adminUrl}/resize`, 'POST', { cu }, CALL_TIMEOUT_MS, node.token),
  drain: (node: NodeAdminTarget, timeoutMs: number) =>
    call<DataNodeReport>(
      `${node.adminUrl}/drain`,
      'POST',
      { timeoutMs },
      Math.max(DRAIN_TIMEOUT_MS, timeoutMs + 5_000),
      node.token,
    ),
  detach: (node: NodeAdminTarget) =>
    call<DataNodeReport>(`${node.adminUrl}/detach`, 'POST', {}, DRAIN_TIMEOUT_MS, node.token),
  deleteVolume: (node: NodeAdminTarget, volume: string) =>
    call<{ volume: string; existed: boolean }>(
      `${node.adminUrl}/volumes/${encodeURIComponent(volume)}`,
      'DELETE',
      undefined,
      CALL_TIMEOUT_MS,
      node.token,
    ),
};
