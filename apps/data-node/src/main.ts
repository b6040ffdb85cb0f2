// Data-node (writer) process: serves its admin/health HTTP port at once and RESP once attached
// to a cluster (by POST /attach, or at start with --cluster). See ../ARCHITECTURE.md.
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  exitWithError,
  exitWithParentIfAsked,
  healthUrl,
  onShutdown,
  readHost,
  readNodeToken,
  readPort,
  writeRegistryEntry,
} from '../../../libs/health/src/index.js';
import { type CapacityUnit, PER_CAPACITY_UNIT } from '../../../libs/limits/src/index.js';
import type { StorageNodeAddress } from '../../../libs/storage-client/src/index.js';
import {
  DEFAULT_FLEET,
  type LinkTlsClient,
  parseFleet,
  readLinkTlsCa,
  writerTlsCaFile,
} from '../../../libs/wire/src/index.js';
import { startAdminServer } from './admin/admin-server.js';
import { CACHE_ENTRY_AGE_MAX_MS } from './cache/versioned-cache.js';
import { type AttachRequest, DataNode } from './data-node.js';

const APP = 'data-node';
const DEFAULT_ADMIN_PORT = 7701;
const DEFAULT_RESP_PORT = 7401;
const USAGE =
  'usage: data-node [--id d1] [--port <resp port>] [--storage s1=host:port,…six in all] [--coordinator-id <7..1048575>] ' +
  '[--redis-url redis://…] [--cluster <id> [--volume <name>] [--cu 1] [--read-consistency instance|cluster] [--password <pw>]] ' +
  '(env: DATA_NODE_ID, RESP_PORT, HEALTH_PORT for the admin port, STORAGE_MEMBERS, COORDINATOR_ID, REDIS_URL, DATA_NODE_PASSWORD, ' +
  'BOREALIS_INTERNAL_TLS_CA_FILE for TLS to the storage nodes; BOREALIS_NODE_TOKEN is required)';

function usageError(problem: string): never {
  return exitWithError(APP, `${problem}. ${USAGE}`, 2);
}

function parseStorage(text: string): StorageNodeAddress[] {
  try {
    return parseFleet(text);
  } catch (error) {
    return usageError(`--storage: ${(error as Error).message}`);
  }
}

/** What one CU buys, from DATA_NODE_CU_* (the platform's setting, passed on by the control plane). */
function capacityUnitOf(env: NodeJS.ProcessEnv): CapacityUnit {
  const read = (name: string, fallback: number, what: string): number => {
    const text = env[name]?.trim();
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < 1 || !Number.isSafeInteger(value)) {
      throw new Error(`${name} must be a whole number of ${what}, at least 1`);
    }
    return value;
  };
  return {
    commandsPerSecond: read(
      'DATA_NODE_CU_COMMANDS_PER_SECOND',
      PER_CAPACITY_UNIT.commandsPerSecond,
      'commands per second',
    ),
    cacheBytes: read('DATA_NODE_CU_CACHE_BYTES', PER_CAPACITY_UNIT.cacheBytes, 'bytes'),
    connections: read('DATA_NODE_CU_CONNECTIONS', PER_CAPACITY_UNIT.connections, 'connections'),
  };
}

/**
 * DATA_NODE_CACHE_ENTRY_AGE_MS: how long a cache entry is served whatever the notices (ADR 0020),
 * at most CACHE_ENTRY_AGE_MAX_MS (a session moved here waits that long out). Shorter makes reads
 * in `instance` mode fresher when notices are cut off, at the cost of more storage reads.
 */
function cacheEntryAgeOf(env: NodeJS.ProcessEnv): number | undefined {
  const text = env.DATA_NODE_CACHE_ENTRY_AGE_MS?.trim();
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > CACHE_ENTRY_AGE_MAX_MS) {
    throw new Error(
      `DATA_NODE_CACHE_ENTRY_AGE_MS must be a whole number of milliseconds from 1 to ${CACHE_ENTRY_AGE_MAX_MS}`,
    );
  }
  return value;
}

async function main(): Promise<void> {
  exitWithParentIfAsked();
  const env = process.env;
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: Object.fromEntries(
        [
          'id',
          'port',
          'storage',
          'coordinator-id',
          'redis-url',
          'cluster',
          'volume',
          'cu',
          'read-consistency',
          'password',
        ].map((name) => [name, { type: 'string' as const }]),
      ),
      strict: true,
      allowPositionals: false,
    }) as { values: Record<string, string | undefined> });
  } catch (cause) {
    return usageError((cause as Error).message);
  }
  // Before anything listens: the lifecycle API is never served without a token.
  let token: string;
  try {
    token = readNodeToken(env);
  } catch (cause) {
    return exitWithError(APP, (cause as Error).message, 2);
  }
  const nodeId = values.id ?? env.DATA_NODE_ID ?? 'd1';
  if (!/^[a-z0-9-]{1,32}$/.test(nodeId)) return usageError(`invalid --id ${JSON.stringify(nodeId)}`);
  let host: string;
  let adminPort: number;
  let respPort: number;
  try {
    host = readHost(env, 'HOST', '127.0.0.1');
    adminPort = readPort(env, 'HEALTH_PORT', DEFAULT_ADMIN_PORT);
    respPort = readPort({ RESP_PORT: values.port ?? env.RESP_PORT }, 'RESP_PORT', DEFAULT_RESP_PORT);
  } catch (cause) {
    return exitWithError(APP, (cause as Error).message, 2);
  }
  const coordinatorText = values['coordinator-id'] ?? env.COORDINATOR_ID;
  // Writers of one cluster need distinct ids; the control plane assigns them. Random is only
  // a fallback for a node started by hand.
  const coordinatorId = coordinatorText === undefined ? randomInt(7, 2 ** 20) : Number(coordinatorText);
  if (!Number.isInteger(coordinatorId) || coordinatorId < 7 || coordinatorId >= 2 ** 20) {
    return usageError('--coordinator-id must be an integer from 7 to 1048575');
  }
  let capacityUnit: CapacityUnit;
  let cacheEntryAgeMsMax: number | undefined;
  try {
    capacityUnit = capacityUnitOf(env);
    cacheEntryAgeMsMax = cacheEntryAgeOf(env);
  } catch (cause) {
    return usageError((cause as Error).message);
  }
  // Internal TLS (docs/adr/0014): read once, a CA lives for years; a node with TLS serves no plain link.
  let storageTls: LinkTlsClient | undefined;
  const caFile = writerTlsCaFile(env);
  if (caFile !== null) {
    try {
      storageTls = readLinkTlsCa(caFile);
    } catch (cause) {
      return exitWithError(APP, (cause as Error).message, 2);
    }
  }
  const node = new DataNode({
    nodeId,
    host,
    respPort,
    storageNodes: parseStorage(values.storage ?? env.STORAGE_MEMBERS ?? DEFAULT_FLEET),
    coordinatorId,
    redisUrl: values['redis-url'] ?? env.REDIS_URL ?? null,
    redisPrefix: env.BOREALIS_REDIS_PREFIX?.trim() || 'borealis',
    capacityUnit,
    ...(storageTls !== undefined ? { storageTls } : {}),
    ...(cacheEntryAgeMsMax !== undefined ? { cacheEntryAgeMsMax } : {}),
  });
  const admin = await startAdminServer({
    host,
    port: adminPort,
    node,
    token,
  }).catch((cause: unknown) => exitWithError(APP, (cause as Error).message, 1));
  onShutdown(
    async () => {
      await admin.close();
      await node.stop();
    },
    (line) => console.log(`${APP} ${nodeId}: ${line}`),
  );
  // Ready for lifecycle calls: whoever started the node may find it now (ADR 0006). A node
  // attached at start (--cluster) is found unattached until the attach below finishes.
  await writeRegistryEntry({ app: APP, id: nodeId, host, adminPort: admin.port }).catch((cause: unknown) =>
    exitWithError(APP, `cannot write its registry entry: ${(cause as Error).message}`, 1),
  );
  console.log(`${APP} ${nodeId} health at ${healthUrl(host, admin.port)}`);
  if (values.cluster !== undefined) {
    const readConsistency = values['read-consistency'] ?? 'instance';
    if (readConsistency !== 'instance' && readConsistency !== 'cluster') {
      return usageError('--read-consistency must be instance or cluster');
    }
    const request: AttachRequest = {
      clusterId: values.cluster,
      volume: values.volume ?? values.cluster,
      cu: Number(values.cu ?? '1'),
      readConsistency,
      password: values.password ?? env.DATA_NODE_PASSWORD ?? null,
    };
    await node.attach(request).catch((cause: unknown) => exitWithError(APP, (cause as Error).message, 1));
  }
}

void main();
