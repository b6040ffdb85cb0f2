// The whole platform as users run it, for end-to-end tests: a real control-plane process over
// a database of its own and the test Redis, which starts its fleet (six storage nodes, the
// proxy, a warm pool) as detached processes under a temporary data directory. The fleet is
// tied to this test process (BOREALIS_EXIT_WITH_PID), not to the control plane, so a test may
// kill -9 and restart the control plane while clients keep working.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './database.js';
import { repoRoot, testEnvironment } from './environment.js';
import { ApiClient } from './http-client.js';
import { freePortRange, type RunningProcess, startProcess } from './processes.js';
import { waitUntil } from './wait.js';

const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;

export interface PlatformOptions {
  warmPoolSize?: number;
  /** Extra environment for the control plane (and through it, the fleet: PROXY_*, …). */
  env?: Record<string, string>;
  /** Endpoint ports to hand out; 20 from a free port by default. */
  endpointPorts?: number;
  /**
   * The database URL the control plane is given, from the test database's own: a test that must
   * take the database away from the control plane alone points it through a relay it can cut.
   */
  databaseUrlFor?: (url: string) => string;
}

/** What `POST /v1/clusters` answers (the fields tests use). */
export interface CreatedCluster {
  id: string;
  name: string;
  dataPassword: string;
  endpoint: { host: string; port: number };
}

export interface Platform {
  api: ApiClient;
  baseUrl: string;
  dataDir: string;
  database: TestDatabase;
  /** A connection to the platform's metadata database, for what the API does not show. */
  sql: pg.Client;
  /** Creates a cluster (asserting 201); with `waitFor`, also waits until it is in that state. */
  createCluster(
    body: Record<string, unknown>,
    waitFor?: { state: string; timeoutMs: number },
  ): Promise<CreatedCluster>;
  /** The cluster's writers as the fleet manager records them: data-node id and capacity. */
  writersOf(clusterId: string, states?: string[]): Promise<{ id: string; cu: number }[]>;
  controlPlane: RunningProcess;
  /** The fleet's processes as their registry entries say: role, id, pid, admin port. */
  registry(): { app: string; id: string; pid: number; adminPort: number }[];
  /** SIGKILLs the control plane only; the fleet keeps running. */
  killControlPlane(): Promise<void>;
  /** Starts a control plane again over the same database, data directory and fleet. */
  restartControlPlane(): Promise<void>;
  /** Stops the control plane (which stops its fleet), then anything left, and removes its data. */
  stop(): Promise<void>;
}

export async function startPlatform(options: PlatformOptions = {}): Promise<Platform> {
  const database = await createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'borealis-platform-'));
  const endpointPorts = options.endpointPorts ?? 20;
  const portMin = await freePortRange(endpointPorts);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NO_COLOR: '1',
    DATABASE_URL: options.databaseUrlFor?.(database.url) ?? database.url,
    REDIS_URL: testEnvironment.redisUrl(),
    PORT: '0',
    ADMIN_KEY_FILE: join(dataDir, 'admin.key'),
    BOREALIS_DATA_DIR: dataDir,
    ENDPOINT_PORT_MIN: String(portMin),
    ENDPOINT_PORT_MAX: String(portMin + endpointPorts - 1),
    WARM_POOL_SIZE: String(options.warmPoolSize ?? 2),
    BOREALIS_EXIT_WITH_PID: String(process.pid),
    // Test platforms share one Redis: each keeps its routes and events under its own prefix.
    BOREALIS_REDIS_PREFIX: `borealis-test-${database.name}`,
    ...options.env,
  };
  let controlPlane = await launch(env);
  const baseUrl = controlPlane.baseUrl;
  const adminKey = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
  const api = new ApiClient(baseUrl, adminKey);
  const sql = new pg.Client({ connectionString: database.url });
  await sql.connect();

  const registry = () => {
    const dir = join(dataDir, 'fleet');
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((name) => name.endsWith('.json'));
    } catch {}
    return names.flatMap((name) => {
      try {
        return [JSON.parse(readFileSync(join(dir, name), 'utf8'))];
      } catch {
        return [];
      }
    });
  };

  return {
    api,
    baseUrl,
    dataDir,
    database,
    sql,
    async createCluster(body, waitFor) {
      const response = await api.post('/v1/clusters', body);
      assert.equal(response.status, 201, JSON.stringify(response.body));
      if (waitFor !== undefined)
        await waitForClusterState(api, response.body.id, waitFor.state, waitFor.timeoutMs);
      return response.body as CreatedCluster;
    },
    async writersOf(clusterId, states = ['attaching', 'attached', 'detaching']) {
      const { rows } = await sql.query(
        `SELECT id, cu FROM "DataNode" WHERE "clusterId" = $1 AND state = ANY ($2::"DataNodeState"[]) ORDER BY id`,
        [clusterId, states],
      );
      return rows;
    },
    get controlPlane() {
      return controlPlane.process;
    },
    registry,
    async killControlPlane() {
      controlPlane.process.kill();
      await controlPlane.process.waitForExit(10_000);
    },
    async restartControlPlane() {
      controlPlane = await launch({ ...env, PORT: new URL(baseUrl).port });
    },
    async stop() {
      const running = controlPlane.process;
      if (running.child.exitCode === null && running.child.signalCode === null) {
        running.child.kill('SIGTERM');
        await running.waitForExit(STOP_TIMEOUT_MS).catch(() => running.kill());
      }
      // Whatever the control plane did not stop (it was killed, or a stop failed): by PID.
      for (const entry of registry()) {
        try {
          process.kill(entry.pid, 'SIGKILL');
        } catch {}
      }
      await sql.end().catch(() => undefined);
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function launch(env: NodeJS.ProcessEnv): Promise<{ process: RunningProcess; baseUrl: string }> {
  const running = startProcess(process.execPath, [join(repoRoot, 'dist/apps/control-plane/src/main.js')], {
    env,
  });
  const [, baseUrl] = await running.waitFor(
    /REST API:\s+(http:\/\/127\.0\.0\.1:\d+)\/v1\/clusters/,
    READY_TIMEOUT_MS,
  );
  await running.waitFor(/Admin API key:.*\n/, READY_TIMEOUT_MS);
  return { process: running, baseUrl: baseUrl as string };
}

/** Waits until the cluster is in `state` (bounded); returns its view. */
export async function waitForClusterState(api: ApiClient, id: string, state: string, timeoutMs: number) {
  let view: { state: string; failureReason: string | null } | null = null;
  await waitUntil(
    () => `cluster ${id} to be ${state} (last seen: ${JSON.stringify(view)})`,
    timeoutMs,
    async () => {
      view = (await api.get(`/v1/clusters/${id}`)).body;
      return view?.state === state;
    },
    25,
  );
  return view as unknown as Record<string, any>;
}

/** An ioredis client of the cluster's endpoint that never reconnects by itself (a lost connection is a failure). */
export function endpointClient(
  cluster: CreatedCluster,
  options: { password?: string; maxRetriesPerRequest?: number } = {},
): Redis {
  const redis = new Redis({
    host: '127.0.0.1',
    port: cluster.endpoint.port,
    password: options.password ?? cluster.dataPassword,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 0,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    commandTimeout: 30_000,
  });
  redis.on('error', () => undefined);
  return redis;
}
