// Storage-node process. Today it only serves a health endpoint; see ../ARCHITECTURE.md.
import { parseArgs } from 'node:util';
import { exitWithError, runHealthOnlyProcess } from '../../../libs/health/src/index.js';

const APP = 'storage-node';
const DEFAULT_HEALTH_PORT = 7801;
const NAME_PATTERN = /^[a-z0-9-]{1,32}$/;
const USAGE =
  'usage: storage-node --id <id> --az <az> (or env STORAGE_NODE_ID, STORAGE_NODE_AZ); ' +
  'id and az are 1-32 characters of a-z, 0-9 and -, e.g. --id s1 --az az-a';

interface Identity {
  nodeId: string;
  az: string;
}

function usageError(problem: string): never {
  return exitWithError(APP, `${problem}. ${USAGE}`, 2);
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

function readIdentity(argv: string[], env: NodeJS.ProcessEnv): Identity {
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
  return {
    nodeId: readName(values.id ?? env.STORAGE_NODE_ID, '--id', 'STORAGE_NODE_ID'),
    az: readName(values.az ?? env.STORAGE_NODE_AZ, '--az', 'STORAGE_NODE_AZ'),
  };
}

const { nodeId, az } = readIdentity(process.argv.slice(2), process.env);
void runHealthOnlyProcess({
  app: APP,
  label: `${APP} ${nodeId} (az ${az})`,
  defaultHealthPort: DEFAULT_HEALTH_PORT,
  details: () => ({ nodeId, az }),
});
