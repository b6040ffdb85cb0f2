// Configuration of the control plane, read once from the environment at start.
// Parsing is pure so that every rule (and its error message) is unit-tested.
import { join, resolve } from 'node:path';
import { PER_CAPACITY_UNIT } from '../../../../libs/limits/src/index.js';

export interface ControlPlaneConfig {
  /** Interface the REST API listens on. */
  host: string;
  /** REST API port; 0 picks a free port (tests). */
  port: number;
  databaseUrl: string;
  redisUrl: string;
  /** Where the bootstrap admin key is written (mode 600). */
  adminKeyFile: string;
  /** Host name clients use to reach cluster endpoints. */
  endpointHost: string;
  /** Inclusive range of TCP ports handed out to cluster endpoints. */
  endpointPortMin: number;
  endpointPortMax: number;
  /** Largest JSON request body accepted, in bytes. */
  requestBodyLimitBytes: number;
  /** Where the fleet keeps its state on this machine: storage data, registry, logs. */
  dataDir: string;
  /**
   * How compute runs: `local` child processes (the default), or `none`, a control plane that
   * keeps the catalogue only and runs no fleet (for tests of the REST API alone).
   */
  computeDriver: 'local' | 'none';
  /** Unattached data nodes kept started, so that a resume is an attach, not a boot. */
  warmPoolSize: number;
  /** On a clean shutdown: stop the fleet (`stop`, what Ctrl-C of `npm start` wants) or leave it running (`keep`). */
  fleetOnExit: 'stop' | 'keep';
  /** Address fleet processes (storage nodes, data nodes, the proxy's admin port) bind to. */
  fleetHost: string;
  /**
   * Prefix of every Redis key and channel of this platform (routes, proxy events, metrics), so
   * that platforms sharing a Redis never see each other's.
   */
  redisPrefix: string;
  /**
   * Commands per second one capacity unit buys (DESIGN §1; 2,000 by default). The data nodes the
   * fleet starts enforce it and the autoscaler sizes clusters by it. Tests lower it so that this
   * machine can drive several CU of load.
   */
  cuCommandsPerSecond: number;
  /** Writer cache bytes one capacity unit buys (64 MiB by default). */
  cuCacheBytes: number;
  /** Client connections one capacity unit buys at a writer (200 by default). */
  cuConnections: number;
  /** How often the autoscaler looks at every cluster (DESIGN §5). */
  autoscalerTickMs: number;
  /** The share of a CU's command rate the autoscaler aims to use (DESIGN §5: 0.7). */
  targetUtilization: number;
  /** The certificate the proxy serves TLS clients with (docs/adr/0012); null: no TLS (no fleet). */
  endpointTls: EndpointTls | null;
  /**
   * TLS on the storage links (BOREALIS_INTERNAL_TLS=1, docs/adr/0014): the certificate the platform
   * makes for its storage nodes with its own CA, under `<data dir>/tls`; null: plain TCP.
   */
  internalTls: InternalTls | null;
}

export interface InternalTls {
  /** The platform's CA (the endpoints' too when the platform makes those): what links verify with. */
  caFile: string;
  /** The storage nodes' certificate and key. */
  certFile: string;
  keyFile: string;
}

export interface EndpointTls {
  certFile: string;
  keyFile: string;
  /** The CA clients verify the certificate with, when known: shown in the banner. */
  caFile: string | null;
  /** Made (once) by the platform under the data directory, rather than given by the user. */
  madeByPlatform: boolean;
}

export const CONTROL_PLANE_CONFIG = Symbol('CONTROL_PLANE_CONFIG');

export const configDefaults = {
  host: '127.0.0.1',
  port: 7400,
  adminKeyFile: '.data/admin.key',
  endpointHost: '127.0.0.1',
  endpointPortMin: 7500,
  endpointPortMax: 7999,
  requestBodyLimitBytes: 64 * 1024,
  dataDir: '.data',
  computeDriver: 'local',
  warmPoolSize: 2,
  fleetOnExit: 'stop',
  fleetHost: '127.0.0.1',
  redisPrefix: 'borealis',
  cuCommandsPerSecond: PER_CAPACITY_UNIT.commandsPerSecond,
  cuCacheBytes: PER_CAPACITY_UNIT.cacheBytes,
  cuConnections: PER_CAPACITY_UNIT.connections,
  autoscalerTickMs: 250,
  targetUtilization: 0.7,
  endpointTls: null,
  internalTls: null,
} as const;

export class ConfigError extends Error {}

function required(env: NodeJS.ProcessEnv, name: string, hint: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} is not set: ${hint}`);
  return value;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(
      `${name}=${JSON.stringify(raw)} is invalid: use a whole number from ${min} to ${max}`,
    );
  }
  return Number(raw);
}

function fraction(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^(0|1)?(\.\d+)?$/.test(raw) || !(value > 0 && value <= 1)) {
    throw new ConfigError(
      `${name}=${JSON.stringify(raw)} is invalid: use a fraction above 0 and at most 1, e.g. 0.7`,
    );
  }
  return value;
}

function oneOf<T extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: T,
  allowed: readonly T[],
): T {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: use one of ${allowed.join(', ')}`);
  }
  return raw as T;
}

function redisPrefix(env: NodeJS.ProcessEnv): string {
  const raw = env.BOREALIS_REDIS_PREFIX?.trim();
  if (raw === undefined || raw === '') return configDefaults.redisPrefix;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(raw)) {
    throw new ConfigError(
      `BOREALIS_REDIS_PREFIX=${JSON.stringify(raw)} is invalid: use 1 to 64 letters, digits, '_', '.' or '-'`,
    );
  }
  return raw;
}

/**
 * The user's certificate and key (BOREALIS_TLS_CERT_FILE, BOREALIS_TLS_KEY_FILE, and the CA that
 * signed them, BOREALIS_TLS_CA_FILE, for the banner), or the platform's own under
 * `<data dir>/tls`, beside the admin key.
 */
function endpointTls(env: NodeJS.ProcessEnv, dataDir: string): EndpointTls {
  const certFile = env.BOREALIS_TLS_CERT_FILE?.trim() ?? '';
  const keyFile = env.BOREALIS_TLS_KEY_FILE?.trim() ?? '';
  const caFile = env.BOREALIS_TLS_CA_FILE?.trim() ?? '';
  if (certFile === '' && keyFile === '') {
    if (caFile !== '')
      throw new ConfigError(
        'BOREALIS_TLS_CA_FILE is set without BOREALIS_TLS_CERT_FILE and BOREALIS_TLS_KEY_FILE: set all three, or none to let the platform make its own',
      );
    const directory = join(dataDir, 'tls');
    return {
      certFile: join(directory, 'server.pem'),
      keyFile: join(directory, 'server.key'),
      caFile: join(directory, 'ca.pem'),
      madeByPlatform: true,
    };
  }
  if (certFile === '' || keyFile === '')
    throw new ConfigError(
      `${certFile === '' ? 'BOREALIS_TLS_CERT_FILE' : 'BOREALIS_TLS_KEY_FILE'} is not set: set both BOREALIS_TLS_CERT_FILE and BOREALIS_TLS_KEY_FILE (PEM files), or neither to let the platform make its own`,
    );
  return {
    certFile: resolve(certFile),
    keyFile: resolve(keyFile),
    caFile: caFile === '' ? null : resolve(caFile),
    madeByPlatform: false,
  };
}

/** BOREALIS_INTERNAL_TLS: `1` (or `true`) turns TLS on for the storage links; `0`, `false` or unset leave them plain. */
function internalTls(env: NodeJS.ProcessEnv, dataDir: string): InternalTls | null {
  const raw = env.BOREALIS_INTERNAL_TLS?.trim().toLowerCase() ?? '';
  if (raw === '' || raw === '0' || raw === 'false') return null;
  if (raw !== '1' && raw !== 'true') {
    throw new ConfigError(
      `BOREALIS_INTERNAL_TLS=${JSON.stringify(env.BOREALIS_INTERNAL_TLS)} is invalid: use 1 for TLS on the storage links, or 0`,
    );
  }
  const directory = join(dataDir, 'tls');
  return {
    caFile: join(directory, 'ca.pem'),
    certFile: join(directory, 'internal.pem'),
    keyFile: join(directory, 'internal.key'),
  };
}

export function loadConfig(env: NodeJS.ProcessEnv): ControlPlaneConfig {
  const dataDir = resolve(env.BOREALIS_DATA_DIR?.trim() || configDefaults.dataDir);
  const config: ControlPlaneConfig = {
    host: env.HOST?.trim() || configDefaults.host,
    port: integer(env, 'PORT', configDefaults.port, 0, 65535),
    databaseUrl: required(env, 'DATABASE_URL', 'start Borealis with `npm start`, which provides one'),
    redisUrl: required(env, 'REDIS_URL', 'start Borealis with `npm start`, which provides one'),
    adminKeyFile: env.ADMIN_KEY_FILE?.trim() || configDefaults.adminKeyFile,
    endpointHost: env.ENDPOINT_HOST?.trim() || configDefaults.endpointHost,
    endpointPortMin: integer(env, 'ENDPOINT_PORT_MIN', configDefaults.endpointPortMin, 1, 65535),
    endpointPortMax: integer(env, 'ENDPOINT_PORT_MAX', configDefaults.endpointPortMax, 1, 65535),
    requestBodyLimitBytes: configDefaults.requestBodyLimitBytes,
    dataDir,
    computeDriver: oneOf(env, 'COMPUTE_DRIVER', configDefaults.computeDriver, ['local', 'none'] as const),
    warmPoolSize: integer(env, 'WARM_POOL_SIZE', configDefaults.warmPoolSize, 0, 32),
    fleetOnExit: oneOf(env, 'BOREALIS_FLEET_ON_EXIT', configDefaults.fleetOnExit, ['stop', 'keep'] as const),
    fleetHost: env.FLEET_HOST?.trim() || configDefaults.fleetHost,
    redisPrefix: redisPrefix(env),
    cuCommandsPerSecond: integer(
      env,
      'BOREALIS_CU_COMMANDS_PER_SECOND',
      configDefaults.cuCommandsPerSecond,
      1,
      1_000_000,
    ),
    cuCacheBytes: integer(env, 'BOREALIS_CU_CACHE_BYTES', configDefaults.cuCacheBytes, 1_024, 2 ** 40),
    cuConnections: integer(env, 'BOREALIS_CU_CONNECTIONS', configDefaults.cuConnections, 1, 100_000),
    autoscalerTickMs: integer(env, 'AUTOSCALER_TICK_MS', configDefaults.autoscalerTickMs, 50, 10_000),
    targetUtilization: fraction(env, 'AUTOSCALER_TARGET_UTILIZATION', configDefaults.targetUtilization),
    endpointTls: endpointTls(env, dataDir),
    internalTls: internalTls(env, dataDir),
  };
  if (config.endpointPortMin > config.endpointPortMax) {
    throw new ConfigError(
      `ENDPOINT_PORT_MIN (${config.endpointPortMin}) is above ENDPOINT_PORT_MAX (${config.endpointPortMax}): swap them`,
    );
  }
  return config;
}
