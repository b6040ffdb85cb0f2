// Data-node (writer) process. Today it only serves a health endpoint; see ../ARCHITECTURE.md.
import {
  healthUrl,
  onShutdown,
  readHost,
  readPort,
  startHealthServer,
} from '../../../libs/health/src/index.js';

const APP = 'data-node';
const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_HEALTH_PORT = 7701;

function fail(message: string, exitCode: number): never {
  process.stderr.write(`${APP}: ${message}\n`);
  process.exit(exitCode);
}

function readConfig(env: NodeJS.ProcessEnv): { host: string; healthPort: number } {
  try {
    return {
      host: readHost(env, 'HOST', DEFAULT_HOST),
      healthPort: readPort(env, 'HEALTH_PORT', DEFAULT_HEALTH_PORT),
    };
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error), 2);
  }
}

async function main(): Promise<void> {
  const { host, healthPort } = readConfig(process.env);
  // There is no attach step yet, so the process is always an unattached worker.
  const health = await startHealthServer({
    app: APP,
    host,
    port: healthPort,
    details: () => ({ attachedCluster: null }),
  });
  onShutdown(health.close, (line) => console.log(`${APP}: ${line}`));
  console.log(`${APP} health at ${healthUrl(host, health.port)}`);
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error), 1));
