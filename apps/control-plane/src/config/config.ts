// Configuration of the control plane, read once from the environment at start.
// Parsing is pure so that every rule (and its error message) is unit-tested.

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

export function loadConfig(env: NodeJS.ProcessEnv): ControlPlaneConfig {
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
  };
  if (config.endpointPortMin > config.endpointPortMax) {
    throw new ConfigError(
      `ENDPOINT_PORT_MIN (${config.endpointPortMin}) is above ENDPOINT_PORT_MAX (${config.endpointPortMax}): swap them`,
    );
  }
  return config;
}
