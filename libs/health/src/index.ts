export { exitWithError, type HealthOnlyProcessOptions, runHealthOnlyProcess } from './health-only-process.js';
export {
  HEALTH_PATH,
  type HealthErrorBody,
  type HealthServer,
  type HealthServerOptions,
  healthUrl,
  startHealthServer,
} from './health-server.js';
export {
  type Env,
  exitWithParentIfAsked,
  onShutdown,
  readHost,
  readPort,
  SHUTDOWN_TIMEOUT_MS,
  type ShutdownOptions,
} from './process-lifecycle.js';
