// Storage-node process: replays its log, then serves the quorum protocol over TCP and a
// health/stats endpoint over HTTP. See ../ARCHITECTURE.md.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import {
  EventLoopWatch,
  exitWithError,
  exitWithParentIfAsked,
  healthUrl,
  onShutdown,
  readHost,
  readNodeToken,
  readPort,
  startHealthServer,
  writeRegistryEntry,
} from '../../../libs/health/src/index.js';
import type { ReplicaTiming } from '../../../libs/quorum/src/index.js';
import {
  DEFAULT_FLEET,
  type FleetSecret,
  type LinkTlsClient,
  type LinkTlsServer,
  parseFleet,
  type RevocationList,
  readLinkTlsCa,
  storageNodeTlsFiles,
  watchFleetSecretsFile,
  watchLinkTlsServer,
  watchRevocationsFile,
} from '../../../libs/wire/src/index.js';
import { adminRoutes } from './admin-routes.js';
import { DEFAULT_HEAP_GROWING_PERCENT, heapGrowingFlag } from './heap-growth.js';
import { type PeerAddress, StorageNodeServer } from './storage-node.js';

const APP = 'storage-node';
const DEFAULT_HEALTH_PORT = 7801;
const DEFAULT_QUORUM_PORT = 7811;
const NAME_PATTERN = /^[a-z0-9-]{1,32}$/;
const USAGE =
  'usage: storage-node --id <id> --az <az> [--port <port>] [--data-dir <dir>] [--members s1=host:port,…six in all] ' +
  '(or env STORAGE_NODE_ID, STORAGE_NODE_AZ, QUORUM_PORT, STORAGE_DATA_DIR, STORAGE_MEMBERS; ' +
  'BOREALIS_FLEET_SECRETS_FILE authenticates every link; BOREALIS_INTERNAL_TLS_CERT_FILE, _KEY_FILE and ' +
  '_CA_FILE serve the port over TLS and verify peers; BOREALIS_REVOKED_CREDENTIALS_FILE names revoked writer ' +
  'credentials; BOREALIS_NODE_TOKEN is required for the admin routes); ' +
  'id and az are 1-32 characters of a-z, 0-9 and -, e.g. --id s1 --az az-a';

interface Settings {
  nodeId: string;
  az: string;
  port: number;
  dataDir: string;
  members: PeerAddress[];
  timing: Partial<ReplicaTiming>;
}

/**
 * Protocol timings a deployment (or a test) may shorten: how old a proposal may be and how long a
 * key may stay pending before the replica recovers it. Both set the quiet period of a repair
 * (ADR 0009), so tests of repair shorten them.
 */
const TIMING_ENV = {
  STORAGE_PROPOSAL_MAX_AGE_MS: 'proposalMaxAgeMs',
  STORAGE_PENDING_TIMEOUT_MS: 'pendingTimeoutMs',
} as const;

function readTiming(env: NodeJS.ProcessEnv): Partial<ReplicaTiming> {
  const timing: Partial<ReplicaTiming> = {};
  for (const [name, field] of Object.entries(TIMING_ENV)) {
    const value = readWholeNumber(env, name, { min: 100, max: 3_600_000, unit: ' of milliseconds' });
    if (value !== undefined) timing[field] = value;
  }
  timing.unconfirmedBytesMax =
    readWholeNumber(env, 'STORAGE_UNCONFIRMED_BYTES_MAX', { min: 1, max: 2 ** 40, unit: ' of bytes' }) ??
    Math.floor(getHeapStatistics().heap_size_limit * UNCONFIRMED_SHARE_OF_HEAP);
  return timing;
}

/**
 * Of the heap V8 allows this process, the share decisions awaiting an absent peer's confirmation
 * may keep before the replica writes that peer off (ADR 0022). Measured with a peer down under
 * pipelined SETs (docs/performance.md): about 800 bytes of RSS per write held, 7 MiB a second, so
 * a node with V8's 4 GiB heap would otherwise run out of memory within ten minutes of such load.
 * RSS grows by 1.3-1.4 times the estimate: a quarter of the heap leaves room for that and the keys.
 */
const UNCONFIRMED_SHARE_OF_HEAP = 0.25;

/** An optional whole number from the environment within bounds; undefined when unset or empty. */
function readWholeNumber(
  env: NodeJS.ProcessEnv,
  name: string,
  bounds: { min: number; max: number; unit?: string },
): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < bounds.min || value > bounds.max) {
    return usageError(
      `${name} must be a whole number${bounds.unit ?? ''} from ${bounds.min} to ${bounds.max}, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/** Applies STORAGE_HEAP_GROWING_PERCENT (0–300; 0 leaves V8's own choice) before the log is replayed. */
function boundHeapGrowth(env: NodeJS.ProcessEnv): void {
  const percent =
    readWholeNumber(env, 'STORAGE_HEAP_GROWING_PERCENT', { min: 0, max: 300 }) ??
    DEFAULT_HEAP_GROWING_PERCENT;
  if (percent > 0) setFlagsFromString(heapGrowingFlag(percent));
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

function parseMembers(text: string): PeerAddress[] {
  try {
    return parseFleet(text);
  } catch (error) {
    return usageError(`--members: ${(error as Error).message}`);
  }
}

function readSettings(argv: string[], env: NodeJS.ProcessEnv): Settings {
  let values: { id?: string; az?: string; port?: string; 'data-dir'?: string; members?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        id: { type: 'string' },
        az: { type: 'string' },
        port: { type: 'string' },
        'data-dir': { type: 'string' },
        members: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return usageError(error instanceof Error ? error.message : String(error));
  }
  const nodeId = readName(values.id ?? env.STORAGE_NODE_ID, '--id', 'STORAGE_NODE_ID');
  const az = readName(values.az ?? env.STORAGE_NODE_AZ, '--az', 'STORAGE_NODE_AZ');
  let port: number;
  try {
    port = readPort({ QUORUM_PORT: values.port ?? env.QUORUM_PORT }, 'QUORUM_PORT', DEFAULT_QUORUM_PORT);
  } catch (error) {
    return usageError((error as Error).message);
  }
  const members = parseMembers(values.members ?? env.STORAGE_MEMBERS ?? DEFAULT_FLEET);
  if (!members.some((member) => member.id === nodeId)) {
    return usageError(
      `node ${nodeId} is not among the members ${members.map((member) => member.id).join(',')}`,
    );
  }
  const dataDir = resolve(values['data-dir'] ?? env.STORAGE_DATA_DIR ?? `.data/storage/${nodeId}`);
  return { nodeId, az, port, dataDir, members, timing: readTiming(env) };
}

async function main(): Promise<void> {
  exitWithParentIfAsked();
  const settings = readSettings(process.argv.slice(2), process.env);
  boundHeapGrowth(process.env);
  // Before the log is replayed: the admin routes are never served without a token.
  let token: string;
  try {
    token = readNodeToken(process.env);
  } catch (error) {
    return exitWithError(APP, (error as Error).message, 2);
  }
  const label = `${APP} ${settings.nodeId} (az ${settings.az})`;
  let host: string;
  let healthPort: number;
  try {
    host = readHost(process.env, 'HOST', '127.0.0.1');
    healthPort = readPort(process.env, 'HEALTH_PORT', DEFAULT_HEALTH_PORT);
  } catch (error) {
    return exitWithError(APP, (error as Error).message, 2);
  }
  // The fleet secrets authenticate every link (docs/security.md); without the file, links are open.
  let fleetSecrets: (() => readonly FleetSecret[]) | undefined;
  const secretsFile = process.env.BOREALIS_FLEET_SECRETS_FILE;
  if (secretsFile !== undefined && secretsFile !== '') {
    try {
      fleetSecrets = watchFleetSecretsFile(secretsFile, (line) => console.log(`${label}: ${line}`));
    } catch (error) {
      return exitWithError(APP, (error as Error).message, 2);
    }
  }
  // Writer credentials revoked before their expiry (docs/security.md), beside the fleet secrets.
  let revocations: (() => RevocationList) | undefined;
  const revocationsFile = process.env.BOREALIS_REVOKED_CREDENTIALS_FILE;
  if (revocationsFile !== undefined && revocationsFile !== '') {
    try {
      revocations = watchRevocationsFile(revocationsFile, (line) => console.log(`${label}: ${line}`));
    } catch (error) {
      return exitWithError(APP, (error as Error).message, 2);
    }
  }
  // Internal TLS (docs/adr/0014): the port serves TLS only, and peer links verify with the CA.
  let tls: { server: () => LinkTlsServer; client: LinkTlsClient } | undefined;
  try {
    const files = storageNodeTlsFiles(process.env);
    if (files !== null) {
      tls = {
        server: watchLinkTlsServer(files, (line) => console.log(`${label}: ${line}`)),
        client: readLinkTlsCa(files.caFile),
      };
    }
  } catch (error) {
    return exitWithError(APP, (error as Error).message, 2);
  }
  const node = new StorageNodeServer({
    ...settings,
    host,
    log: (line) => console.log(line),
    ...(fleetSecrets !== undefined ? { fleetSecrets } : {}),
    ...(revocations !== undefined ? { revocations } : {}),
    ...(tls !== undefined ? { tls } : {}),
  });
  try {
    await node.start();
  } catch (error) {
    return exitWithError(APP, `cannot start: ${(error as Error).message}`, 1);
  }
  // A stalled loop answers no peer or writer meanwhile: /health says for how long it was held.
  const eventLoop = new EventLoopWatch();
  const health = await startHealthServer({
    app: APP,
    host,
    port: healthPort,
    details: () => ({
      nodeId: settings.nodeId,
      az: settings.az,
      ...node.stats(),
      memory: memoryStats(),
      eventLoop: eventLoop.stats(),
    }),
    routes: adminRoutes(node, token),
  }).catch((error: unknown) => exitWithError(APP, (error as Error).message, 1));
  onShutdown(
    async () => {
      await health.close();
      await node.stop();
      eventLoop.stop();
    },
    (line) => console.log(`${label}: ${line}`),
  );
  // Replayed and listening on both ports: now whoever started the node may find it (ADR 0006).
  await writeRegistryEntry({ app: APP, id: settings.nodeId, host, adminPort: health.port }).catch(
    (error: unknown) => exitWithError(APP, `cannot write its registry entry: ${(error as Error).message}`, 1),
  );
  console.log(
    `${label} serving the quorum protocol ${tls === undefined ? 'over plain TCP' : `over TLS (certificate valid to ${tls.server().validTo})`} on ${host}:${node.listeningPort} (data in ${settings.dataDir})`,
  );
  console.log(`${label} health at ${healthUrl(host, health.port)}`);
}

void main();

/** The process's memory in bytes: what it takes from the machine (rss) and what its heap holds. */
function memoryStats(): {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
} {
  const usage = process.memoryUsage();
  return {
    rssBytes: usage.rss,
    heapUsedBytes: usage.heapUsed,
    heapTotalBytes: usage.heapTotal,
    externalBytes: usage.external,
  };
}
