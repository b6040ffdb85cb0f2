export { type EventLoopStats, EventLoopWatch } from './event-loop-watch.js';
export { exitWithError, type HealthOnlyProcessOptions, runHealthOnlyProcess } from './health-only-process.js';
export {
  HEALTH_PATH,
  type HealthErrorBody,
  type HealthServer,
  type HealthServerOptions,
  type HealthServerRoute,
  HttpError,
  healthUrl,
  ROUTE_BODY_BYTES_MAX,
  type RouteAnswer,
  type RouteRequest,
  startHealthServer,
} from './health-server.js';
export {
  NODE_TOKEN_CHALLENGE,
  NODE_TOKEN_CHARS_MIN,
  NODE_TOKEN_ENV,
  NODE_TOKEN_MISSING,
  NODE_TOKEN_WRONG,
  type NodeTokenCheck,
  NodeTokenGuard,
  readNodeToken,
} from './node-token.js';
export {
  type Env,
  exitWithParentIfAsked,
  isAlive,
  onShutdown,
  readHost,
  readPort,
  SHUTDOWN_TIMEOUT_MS,
  type ShutdownOptions,
} from './process-lifecycle.js';
export { PROCESS_INSTANCE_ID, type RegistryEntry, writeRegistryEntry } from './registry.js';
