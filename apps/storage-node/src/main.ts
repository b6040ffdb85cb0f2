// Storage-node process. Today it only serves a health endpoint; see ../ARCHITECTURE.md.
import { parseArgs } from 'node:util';
import {
  healthUrl,
  onShutdown,
  readHost,
  readPort,
  startHealthServer,
} from '../../../libs/health/src/index.js';

const APP = 'storage-node';
const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_HEALTH_PORT = 7801;
const NAME_PATTERN = /^[a-z0-9-]{1,32}$/;
const USAGE =
  'usage: storage-node --id <id> --az <az> (or env STORAGE_NODE_ID, STORAGE_NODE_AZ); ' +
  'id and az are 1-32 characters of a-z, 0-9 and -, e.g. --id s1 --az az-a';

interface Config {
  nodeId: string;
  az: string;
  host: string;
  healthPort: number;
}

function fail(message: string, exitCode: number): never {
  process.stderr.write(`${APP}: ${message}\n`);
  process.exit(exitCode);
}

function usageError(problem: string): never {
  return fail(`${problem}. ${USAGE}`, 2);
}

function readName(value: string | undefined, flag: string, envName: string): string {
  if (value === undefined || value === '') {
    return usageError(`missing ${flag} (or ${envName})`);
  }
  if (!NAME_PATTERN.test(value)) {
    return usageError(`invalid ${flag} ${JSON.stringify(value)}`);
  }
  return value;
}

function readConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  let values: { id?: string; az?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { id: { type: 'string' }, az: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return usageError(error instanceof Error ? error.message : String(error));
  }
  const nodeId = readName(values.id ?? env.STORAGE_NODE_ID, '--id', 'STORAGE_NODE_ID');
  const az = readName(values.az ?? env.STORAGE_NODE_AZ, '--az', 'STORAGE_NODE_AZ');
  try {
    return {
      nodeId,
      az,
      host: readHost(env, 'HOST', DEFAULT_HOST),
      healthPort: readPort(env, 'HEALTH_PORT', DEFAULT_HEALTH_PORT),
    };
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error), 2);
  }
}

async function main(): Promise<void> {
  const { nodeId, az, host, healthPort } = readConfig(process.argv.slice(2), process.env);
  const health = await startHealthServer({
    app: APP,
    host,
    port: healthPort,
    details: () => ({ nodeId, az }),
  });
  onShutdown(health.close, (line) => console.log(`${APP} ${nodeId}: ${line}`));
  console.log(`${APP} ${nodeId} (az ${az}) health at ${healthUrl(host, health.port)}`);
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error), 1));
