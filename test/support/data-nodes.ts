// Real data-node processes attached to a storage fleet, for tests and benchmarks that talk to
// them with real clients (ioredis, redis-cli, redis-benchmark). Each gets a random admin token
// (BOREALIS_NODE_TOKEN) unless the test gives one; `admin()` sends it.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { StorageNodeAddress } from '../../libs/storage-client/src/index.js';
import { formatFleet } from '../../libs/wire/src/index.js';
import { repoRoot } from './environment.js';
import { freePort, type RunningProcess, startProcess } from './processes.js';

const STARTUP_TIMEOUT_MS = 30_000;

export interface DataNodeSpec {
  id: string;
  storage: StorageNodeAddress[];
  cluster?: string;
  volume?: string;
  cu?: number;
  readConsistency?: 'instance' | 'cluster';
  password?: string;
  /** Distinct per writer of one cluster; 7 + a small index is fine in tests. */
  coordinatorId: number;
  redisUrl?: string;
  /** Start unattached (a warm-pool process): attach later through the admin API. */
  unattached?: boolean;
  /** The compiled entry point to run; a test may point it at a deliberately broken copy. */
  entry?: string;
  /** Environment on top of this process's, e.g. DATA_NODE_CU_* for what one CU buys. */
  env?: Record<string, string>;
  /** The node's admin token; a random one by default. */
  token?: string;
}

export interface RunningDataNode {
  id: string;
  respPort: number;
  adminUrl: string;
  /** What its admin calls need: `Authorization: Bearer <token>`. */
  token: string;
  process: RunningProcess;
  /** POSTs a lifecycle call with the node's token; resolves with status and JSON body. */
  admin(path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  health(): Promise<Record<string, unknown>>;
  /** SIGKILL. */
  kill(): void;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

export async function startDataNode(spec: DataNodeSpec): Promise<RunningDataNode> {
  const respPort = await freePort();
  const token = spec.token ?? randomBytes(24).toString('hex');
  const args = [
    spec.entry ?? join(repoRoot, 'dist/apps/data-node/src/main.js'),
    '--id',
    spec.id,
    '--port',
    String(respPort),
    '--storage',
    formatFleet(spec.storage),
    '--coordinator-id',
    String(spec.coordinatorId),
  ];
  if (spec.redisUrl !== undefined) args.push('--redis-url', spec.redisUrl);
  if (spec.unattached !== true) {
    const cluster = spec.cluster ?? 'test-cluster';
    args.push('--cluster', cluster, '--volume', spec.volume ?? cluster, '--cu', String(spec.cu ?? 8));
    args.push('--read-consistency', spec.readConsistency ?? 'instance');
    if (spec.password !== undefined) args.push(`--password=${spec.password}`);
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HEALTH_PORT: '0',
    HOST: '127.0.0.1',
    BOREALIS_EXIT_WITH_PARENT: '1',
    BOREALIS_NODE_TOKEN: token,
    ...spec.env,
  };
  delete env.REDIS_URL;
  const running = startProcess(process.execPath, args, { env });
  const health = await running.waitFor(/health at (http:\/\/\S+)\/health/, STARTUP_TIMEOUT_MS);
  const adminUrl = health[1] as string;
  if (spec.unattached !== true) await running.waitFor(/serving RESP on/, STARTUP_TIMEOUT_MS);
  return {
    id: spec.id,
    respPort,
    adminUrl,
    token,
    process: running,
    async admin(path, body) {
      const response = await fetch(`${adminUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body ?? {}),
        signal: AbortSignal.timeout(60_000),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
    async health() {
      const response = await fetch(`${adminUrl}/health`, { signal: AbortSignal.timeout(10_000) });
      return (await response.json()) as Record<string, unknown>;
    },
    kill: () => running.kill(),
    async stop() {
      if (running.child.exitCode !== null || running.child.signalCode !== null) return;
      running.child.kill('SIGTERM');
      await running.waitForExit(15_000).catch(() => running.kill());
    },
  };
}

/**
 * Writers in `instance` read consistency over the storage nodes `storage()` gives (read when each
 * starts, so a fleet started in `before` will do), with ids and coordinator ids distinct across the
 * writers this factory started; `started` lists them for the test's `after`.
 */
export function instanceWriters(
  storage: () => StorageNodeAddress[],
  env: Record<string, string> = {},
): {
  start(cluster: string, index: number, entry?: string): Promise<RunningDataNode>;
  started: RunningDataNode[];
} {
  const started: RunningDataNode[] = [];
  const start = async (cluster: string, index: number, entry?: string) => {
    const node = await startDataNode({
      id: `${cluster}-w${index + 1}`,
      storage: storage(),
      coordinatorId: 7 + started.length,
      cluster,
      readConsistency: 'instance',
      env,
      ...(entry !== undefined ? { entry } : {}),
    });
    started.push(node);
    return node;
  };
  return { start, started };
}
