// The contract between the control plane, the proxy and the data nodes (docs/adr/0006, 0010), in
// one place: where routes, proxy events and load reports live in Redis, what they hold, and how
// each side reads what the other wrote. Every message is checked field by field: one that does
// not fit is ignored (and reported), never half applied.

/** Redis keys and channels of a platform, under its prefix (BOREALIS_REDIS_PREFIX, `borealis` by default). */
export function platformRedisNames(prefix: string) {
  return {
    /** Hash: cluster id → route JSON. */
    routesKey: `${prefix}:routes`,
    /** Channel: every new route, or a deletion notice. */
    routesChannel: `${prefix}:routes`,
    /** Channel: wake, quiesced and released events from proxies. */
    proxyEventsChannel: `${prefix}:proxy-events`,
    /** A proxy's activity report (`SET … PX`), for the autoscaler. */
    proxyActivityKey: (proxyId: string) => `${prefix}:proxy-metrics:${proxyId}`,
    /** Channel: every proxy activity report, as it is stored. */
    proxyActivityChannel: `${prefix}:proxy-metrics`,
    /** Channel: every data node's interval report (load, latency, sessions in MULTI/WATCH). */
    dataNodeMetricsChannel: `${prefix}:metrics`,
    /** A data node's latest interval report (`SET … PX`). */
    dataNodeMetricsKey: (clusterId: string, nodeId: string) => `${prefix}:metrics:${clusterId}:${nodeId}`,
  };
}

export type RouteMode = 'open' | 'pausing' | 'paused';

/**
 * What the endpoint accepts (docs/adr/0012): `required` TLS only (a plain client is told to use
 * rediss:// and closed), `optional` both on the same port (told apart by the first byte), `off`
 * plain only.
 */
export type TlsPolicy = 'required' | 'optional' | 'off';
export const TLS_POLICIES: readonly TlsPolicy[] = ['required', 'optional', 'off'];
/** A route that does not say (one written before TLS was part of routes) gets the clusters' default. */
export const TLS_POLICY_DEFAULT: TlsPolicy = 'optional';

export interface RouteWriter {
  id: string;
  host: string;
  port: number;
  /**
   * The writer's capacity units: new sessions spread in proportion to it, so that a writer of
   * half the size gets half the sessions. A route that does not say (one stored before it was
   * part of the route) weighs every writer the same, as 1.
   */
  cu: number;
}

/** The largest CU a route may give one writer (a bound on what is parsed, well above any plan). */
const ROUTE_WRITER_CU_MAX = 1_024;

export interface ClusterRoute {
  clusterId: string;
  name: string;
  /** The endpoint port, for the cluster's whole life. */
  port: number;
  /** scrypt hash of the data password (libs/secrets). */
  passwordHash: string;
  /** What the proxy sends as AUTH to the cluster's writers. */
  writerPassword: string;
  /** Grows with every change of this cluster's route. */
  version: number;
  mode: RouteMode;
  /** Whether clients must, may or may not speak TLS; applies to connections accepted from then on. */
  tls: TlsPolicy;
  writers: readonly RouteWriter[];
}

export interface RouteDeletion {
  clusterId: string;
  deleted: true;
  version: number;
}

export type RouteMessage = ClusterRoute | RouteDeletion;

const MODES: readonly string[] = ['open', 'pausing', 'paused'];
const TEXT_MAX = 1024;

/** The route or deletion in `text`, or the reason it is not one. */
export function parseRouteMessage(text: string): RouteMessage | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { problem: 'not an object' };
  const fields = value as Record<string, unknown>;
  const { clusterId, version } = fields;
  if (!isText(clusterId)) return { problem: 'clusterId is not a non-empty string' };
  if (!isCount(version)) return { problem: `version of ${clusterId} is not a non-negative integer` };
  if (fields.deleted === true) return { clusterId, deleted: true, version };
  return parseRoute(fields, clusterId, version);
}

function parseRoute(
  fields: Record<string, unknown>,
  clusterId: string,
  version: number,
): ClusterRoute | { problem: string } {
  const { name, port, passwordHash, writerPassword, mode, tls, writers } = fields;
  const problem = (what: string) => ({ problem: `route of ${clusterId}: ${what}` });
  if (!isText(name)) return problem('name is not a non-empty string');
  if (!isPort(port)) return problem('port is not an integer from 1 to 65535');
  if (!isText(passwordHash)) return problem('passwordHash is not a non-empty string');
  if (typeof writerPassword !== 'string' || writerPassword.length > TEXT_MAX)
    return problem('writerPassword is not a string');
  if (typeof mode !== 'string' || !MODES.includes(mode))
    return problem('mode is not open, pausing or paused');
  if (tls !== undefined && !(TLS_POLICIES as readonly unknown[]).includes(tls))
    return problem('tls is not required, optional or off');
  if (!Array.isArray(writers)) return problem('writers is not an array');
  const parsedWriters: RouteWriter[] = [];
  for (const writer of writers) {
    const parsed = parseWriter(writer);
    if (parsed === null)
      return problem(`writer ${JSON.stringify(writer)} is not { id, host, port, cu (optional) }`);
    parsedWriters.push(parsed);
  }
  if (new Set(parsedWriters.map((writer) => writer.id)).size !== parsedWriters.length)
    return problem('two writers have the same id');
  return {
    clusterId,
    name,
    port,
    passwordHash,
    writerPassword,
    version,
    mode: mode as RouteMode,
    tls: (tls as TlsPolicy | undefined) ?? TLS_POLICY_DEFAULT,
    writers: parsedWriters,
  };
}

function parseWriter(value: unknown): RouteWriter | null {
  if (typeof value !== 'object' || value === null) return null;
  const { id, host, port, cu } = value as Record<string, unknown>;
  if (!isText(id) || !isText(host) || !isPort(port)) return null;
  if (cu === undefined) return { id, host, port, cu: 1 };
  if (typeof cu !== 'number' || !Number.isFinite(cu) || cu <= 0 || cu > ROUTE_WRITER_CU_MAX) return null;
  return { id, host, port, cu };
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= TEXT_MAX;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65_535;
}

export function isDeletion(message: RouteMessage): message is RouteDeletion {
  return 'deleted' in message;
}

export type ProxyEvent =
  | { type: 'wake'; clusterId: string; proxyId: string }
  | { type: 'quiesced'; clusterId: string; version: number; proxyId: string }
  | { type: 'released'; clusterId: string; writerId: string; version: number; proxyId: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The event in `text`, or null if it is not one this control plane knows (it is then ignored). */
export function parseProxyEvent(text: string): ProxyEvent | null {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { type, clusterId, proxyId, version, writerId } = value;
  if (typeof clusterId !== 'string' || !UUID.test(clusterId) || typeof proxyId !== 'string') return null;
  if (type === 'wake') return { type, clusterId, proxyId };
  if (typeof version !== 'number' || !Number.isInteger(version)) return null;
  if (type === 'quiesced') return { type, clusterId, version, proxyId };
  if (type === 'released' && typeof writerId === 'string')
    return { type, clusterId, writerId, version, proxyId };
  return null;
}

/** A data node's interval report, as it publishes it on `dataNodeMetricsChannel` (JSON). */
export interface DataNodeIntervalReport {
  nodeId: string;
  clusterId: string | null;
  state: string;
  cu: number;
  atMs: number;
  intervalMs: number;
  opsPerSecond: number;
  commands: number;
  throttledCommands: number;
  p50LatencyMs: number;
  p99LatencyMs: number;
  connections: number;
  /** Sessions inside MULTI or holding a WATCH: the cluster must not pause under them. */
  sessionsInTransaction: number;
  cacheHitRatio: number;
  conflicts: number;
  retries: number;
  cpuPercent: number;
  /** When the last command arrived (ms since the epoch), 0 if none yet. */
  lastCommandAtMs: number;
}

/** What a proxy saw of one cluster's endpoint since its last report. */
export interface ProxyClusterActivity {
  connections: number;
  heldConnections: number;
  heldBytes: number;
  /** Commands received since the last report. */
  commands: number;
  lastCommandAtMs: number;
  /** Sessions inside MULTI or holding a WATCH: the cluster must not pause under them. */
  sessionsInTransaction: number;
}

/** A proxy's activity report, as it publishes it on `proxyActivityChannel` (JSON). */
export interface ProxyActivityReport {
  proxyId: string;
  atMs: number;
  intervalMs: number;
  /** Cluster id → its endpoint's activity. */
  clusters: Record<string, ProxyClusterActivity>;
}
