// The life of a process whose only service so far is its health endpoint: read HOST and
// HEALTH_PORT, serve /health, print one start-up line, stop cleanly on SIGINT/SIGTERM.
import { healthUrl, startHealthServer } from './health-server.js';
import { type Env, onShutdown, readHost, readPort } from './process-lifecycle.js';

export interface HealthOnlyProcessOptions {
  /** Name in /health and in error lines, e.g. "proxy". */
  app: string;
  /** What the start-up and shutdown lines call the process; defaults to `app`. */
  label?: string;
  defaultHealthPort: number;
  details: () => Record<string, unknown>;
}

const defaultHost = '127.0.0.1';

/** Prints `<app>: <message>` to stderr and exits (2: bad configuration, 1: failure). */
export function exitWithError(app: string, message: string, exitCode: number): never {
  process.stderr.write(`${app}: ${message}\n`);
  process.exit(exitCode);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function runHealthOnlyProcess(
  options: HealthOnlyProcessOptions,
  env: Env = process.env,
): Promise<void> {
  const { app, defaultHealthPort, details } = options;
  const label = options.label ?? app;
  let host: string;
  let port: number;
  try {
    host = readHost(env, 'HOST', defaultHost);
    port = readPort(env, 'HEALTH_PORT', defaultHealthPort);
  } catch (error) {
    return exitWithError(app, messageOf(error), 2);
  }
  try {
    const health = await startHealthServer({ app, host, port, details });
    onShutdown(health.close, (line) => console.log(`${label}: ${line}`));
    console.log(`${label} health at ${healthUrl(host, health.port)}`);
  } catch (error) {
    exitWithError(app, messageOf(error), 1);
  }
}
