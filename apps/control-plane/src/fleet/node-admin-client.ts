// The HTTP calls the fleet manager makes to its processes: health, and the data node's
// lifecycle calls (apps/data-node/src/admin/admin-server.ts). Every call is bounded in time.
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

async function call<T>(url: string, method: string, body: unknown, timeoutMs: number): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
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
  health: <T = Record<string, unknown>>(adminUrl: string, timeoutMs = 3_000) =>
    call<T>(`${adminUrl}/health`, 'GET', undefined, timeoutMs),
  attach: (adminUrl: string, request: AttachCall) =>
    call<DataNodeReport>(`${adminUrl}/attach`, 'POST', request, CALL_TIMEOUT_MS + 5_000),
  renewCredential: (adminUrl: string, credential: WriterCredential) =>
    call<DataNodeReport>(`${adminUrl}/credential`, 'POST', { credential }, CALL_TIMEOUT_MS),
  resize: (adminUrl: string, cu: number) =>
    call<DataNodeReport>(`${adminUrl}/resize`, 'POST', { cu }, CALL_TIMEOUT_MS),
  drain: (adminUrl: string, timeoutMs: number) =>
    call<DataNodeReport>(
      `${adminUrl}/drain`,
      'POST',
      { timeoutMs },
      Math.max(DRAIN_TIMEOUT_MS, timeoutMs + 5_000),
    ),
  detach: (adminUrl: string) => call<DataNodeReport>(`${adminUrl}/detach`, 'POST', {}, DRAIN_TIMEOUT_MS),
  deleteVolume: (adminUrl: string, volume: string) =>
    call<{ volume: string; existed: boolean }>(
      `${adminUrl}/volumes/${encodeURIComponent(volume)}`,
      'DELETE',
      undefined,
      CALL_TIMEOUT_MS,
    ),
};
