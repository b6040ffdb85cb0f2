// The proxy's settings, from its environment (ARCHITECTURE.md, configuration). Every value is
// checked here, at start, with an error that names the variable and shows a valid value.
import { type Env, readHost, readPort } from '../../../libs/health/src/index.js';
import type { HoldLimits } from './hold/hold-budget.js';
import type { TlsFiles } from './tls/certificate.js';

export interface ProxyConfig {
  proxyId: string;
  redisUrl: string;
  /** Address of the admin server (health, metrics). */
  host: string;
  healthPort: number;
  /** Address the cluster endpoints listen on. */
  endpointHost: string;
  holdLimits: HoldLimits;
  resumeDeadlineMs: number;
  /** A session's link to its writer idle this long is closed (reopened at its next command). */
  idleLinkCloseMs: number;
  /** Client connections over all endpoints; past it a new one is refused. */
  clientConnectionsMax: number;
  /** Prefix of the platform's Redis keys and channels (BOREALIS_REDIS_PREFIX, as the control plane's). */
  redisPrefix: string;
  /** The certificate and key TLS clients are served with; null: TLS connections are refused. */
  tls: TlsFiles | null;
  /** A TLS handshake not done within this is abandoned (the connection closed). */
  tlsHandshakeTimeoutMs: number;
  /** A new connection looks for renewed certificate files at most this often. */
  tlsReloadCheckMs: number;
}

export const DEFAULT_HEALTH_PORT = 7601;
const MiB = 1024 * 1024;

export function readConfig(env: Env): ProxyConfig {
  const redisUrl = env.REDIS_URL?.trim() ?? '';
  if (redisUrl === '')
    throw new Error(
      'REDIS_URL is required (where routes are read and events published), e.g. REDIS_URL=redis://127.0.0.1:6379',
    );
  if (!/^rediss?:\/\//.test(redisUrl))
    throw new Error(`REDIS_URL must be a redis:// or rediss:// URL; got ${JSON.stringify(redisUrl)}`);
  const proxyId = env.PROXY_ID?.trim() || 'p1';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(proxyId))
    throw new Error(
      `PROXY_ID must be letters, digits, '.', '_' or '-' (at most 64), e.g. PROXY_ID=p1; got ${JSON.stringify(proxyId)}`,
    );
  return {
    proxyId,
    redisUrl,
    host: readHost(env, 'HOST', '127.0.0.1'),
    healthPort: readPort(env, 'HEALTH_PORT', DEFAULT_HEALTH_PORT),
    endpointHost: readHost(env, 'ENDPOINT_BIND_HOST', '127.0.0.1'),
    holdLimits: {
      connectionsPerCluster: readCount(env, 'PROXY_HOLD_CONNECTIONS_PER_CLUSTER', 1_000),
      bytesPerCluster: readCount(env, 'PROXY_HOLD_BYTES_PER_CLUSTER', 16 * MiB),
      connectionsMax: readCount(env, 'PROXY_HOLD_CONNECTIONS_MAX', 10_000),
      bytesMax: readCount(env, 'PROXY_HOLD_BYTES_MAX', 256 * MiB),
    },
    resumeDeadlineMs: readCount(env, 'PROXY_RESUME_DEADLINE_MS', 30_000),
    idleLinkCloseMs: readCount(env, 'PROXY_IDLE_LINK_CLOSE_MS', 60_000),
    clientConnectionsMax: readCount(env, 'PROXY_CLIENT_CONNECTIONS_MAX', 50_000),
    redisPrefix: readPrefix(env),
    tls: readTlsFiles(env),
    tlsHandshakeTimeoutMs: readCount(env, 'PROXY_TLS_HANDSHAKE_TIMEOUT_MS', 10_000),
    tlsReloadCheckMs: readCount(env, 'PROXY_TLS_RELOAD_CHECK_MS', 5_000),
  };
}

/** Both files or neither: a certificate without its key (or the reverse) is a mistake to report. */
function readTlsFiles(env: Env): TlsFiles | null {
  const certFile = env.BOREALIS_TLS_CERT_FILE?.trim() ?? '';
  const keyFile = env.BOREALIS_TLS_KEY_FILE?.trim() ?? '';
  if (certFile === '' && keyFile === '') return null;
  if (certFile === '' || keyFile === '')
    throw new Error(
      `set both BOREALIS_TLS_CERT_FILE and BOREALIS_TLS_KEY_FILE (PEM files), or neither; got only ${certFile === '' ? 'BOREALIS_TLS_KEY_FILE' : 'BOREALIS_TLS_CERT_FILE'}`,
    );
  return { certFile, keyFile };
}

function readPrefix(env: Env): string {
  const prefix = env.BOREALIS_REDIS_PREFIX?.trim() || 'borealis';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix))
    throw new Error(
      `BOREALIS_REDIS_PREFIX must be 1 to 64 letters, digits, '_', '.' or '-', e.g. BOREALIS_REDIS_PREFIX=borealis; got ${JSON.stringify(prefix)}`,
    );
  return prefix;
}

/** A positive integer from `env[name]`, or `fallback` when unset. */
function readCount(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(
      `${name} must be a positive integer, e.g. ${name}=${fallback}; got ${JSON.stringify(raw)}`,
    );
  return value;
}
