// A real proxy process for end-to-end tests, with routes written into Redis the way the control
// plane writes them (HSET + PUBLISH on borealis:routes, docs/adr/0006) and the proxy's events read
// from borealis:proxy-events.
//
// Each test file gives its proxy a Redis of its own (`startPrivateRedis`): a proxy serves every
// route it finds, so proxies sharing one Redis (test files run at once, and the control plane's
// tests publish routes too) would listen on each other's ports and answer each other's pauses.
// `ProxyStack` starts all a test file runs against: that Redis, storage, writers and the proxy.
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { hashPassword } from '../../libs/secrets/src/index.js';
import { ClientSet } from './clients.js';
import { type DataNodeSpec, type RunningDataNode, startDataNode } from './data-nodes.js';
import { repoRoot } from './environment.js';
import { freePort, type RunningProcess, startProcess } from './processes.js';
import { type StorageFleet, startStorageFleet } from './storage-fleet.js';
import { waitUntil } from './wait.js';

const STARTUP_TIMEOUT_MS = 20_000;
export const ROUTES_KEY = 'borealis:routes';
export const ROUTES_CHANNEL = 'borealis:routes';
export const EVENTS_CHANNEL = 'borealis:proxy-events';

export interface RouteWriterSpec {
  id: string;
  host: string;
  port: number;
}

export interface TestRoute {
  clusterId: string;
  name: string;
  port: number;
  passwordHash: string;
  writerPassword: string;
  version: number;
  mode: 'open' | 'pausing' | 'paused';
  /** Left out: the proxy takes the default, `optional`. */
  tls?: 'required' | 'optional' | 'off';
  writers: RouteWriterSpec[];
}

export interface PrivateRedis {
  url: string;
  port: number;
  pid(): number;
  /** SIGKILLs it (data gone: it keeps nothing). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

// A port found free can be taken before the process meant for it binds it (by another test's
// listener, or as the local port of an outgoing connection: the proxy tests open thousands). The
// starters below try again on a fresh port instead of failing the file.
const START_ATTEMPTS = 3;

/** A redis-server on a free loopback port, persisting nothing, stopped by its PID. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisOnce();
    } catch (cause) {
      if (attempt >= START_ATTEMPTS) throw cause;
    }
  }
}

/** startStorageFleet, tried again (after killing what the failed try started) if a port was taken. */
export async function startFleet(): Promise<StorageFleet> {
  for (let attempt = 1; ; attempt++) {
    const dataRoot = await mkdtemp(join(tmpdir(), 'borealis-proxy-fleet-'));
    try {
      const fleet = await startStorageFleet({ dataRoot });
      const stop = fleet.stop;
      fleet.stop = async () => {
        await stop();
        await rm(dataRoot, { recursive: true, force: true });
      };
      return fleet;
    } catch (cause) {
      killChildrenMentioning(dataRoot);
      await rm(dataRoot, { recursive: true, force: true });
      if (attempt >= START_ATTEMPTS) throw cause;
    }
  }
}

/** startDataNode, tried again if its port was taken. */
export async function startWriter(spec: DataNodeSpec): Promise<RunningDataNode> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDataNode(spec);
    } catch (cause) {
      if (attempt >= START_ATTEMPTS) throw cause;
    }
  }
}

/** SIGKILLs this process's children whose command line contains `text` (a unique directory). */
function killChildrenMentioning(text: string): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (Number(/PPid:\s+(\d+)/.exec(status)?.[1]) !== process.pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text))
        process.kill(Number(entry), 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

async function startRedisOnce(): Promise<PrivateRedis> {
  const port = await freePort();
  let running: RunningProcess | null = null;
  const launch = async () => {
    running = startProcess(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { env: process.env },
    );
    await running.waitFor(/Ready to accept connections/, STARTUP_TIMEOUT_MS);
  };
  const kill = async () => {
    const current = running as RunningProcess | null;
    if (current === null) return;
    current.kill();
    await current.waitForExit(10_000).catch(() => undefined);
    running = null;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: () => (running as RunningProcess | null)?.child.pid ?? 0,
    kill,
    restart: launch,
    stop: kill,
  };
}

export interface RunningProxy {
  process: RunningProcess;
  adminUrl: string;
  pid: number;
  health(): Promise<Record<string, any>>;
  /** One cluster's part of /health, or undefined while the proxy has no route for it. */
  cluster(clusterId: string): Promise<Record<string, any> | undefined>;
  /** The value of a Prometheus series (summed over its labels when `labels` is omitted). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  rssBytes(): number;
  kill(): void;
  stop(): Promise<void>;
}

export async function startProxy(options: {
  redisUrl: string;
  env?: NodeJS.ProcessEnv;
}): Promise<RunningProxy> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: options.redisUrl,
    HOST: '127.0.0.1',
    HEALTH_PORT: '0',
    PROXY_ID: `p-${process.pid}`,
    BOREALIS_EXIT_WITH_PARENT: '1',
    ...options.env,
  };
  const running = startProcess(process.execPath, [join(repoRoot, 'dist/apps/proxy/src/main.js')], { env });
  const match = await running.waitFor(/health at (http:\/\/\S+)\/health/, STARTUP_TIMEOUT_MS);
  const adminUrl = match[1] as string;
  const get = async (path: string) => {
    const response = await fetch(`${adminUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
    return response;
  };
  const pid = running.child.pid as number;
  return {
    process: running,
    adminUrl,
    pid,
    health: async () => (await (await get('/health')).json()) as Record<string, any>,
    async cluster(clusterId) {
      const health = (await (await get('/health')).json()) as { clusters: Record<string, any>[] };
      return health.clusters.find((cluster) => cluster.clusterId === clusterId);
    },
    async metric(name, labels) {
      return metricValue(await (await get('/metrics')).text(), name, labels);
    },
    rssBytes: () => rssBytes(pid),
    kill: () => running.kill(),
    async stop() {
      if (running.child.exitCode !== null || running.child.signalCode !== null) return;
      running.child.kill('SIGTERM');
      await running.waitForExit(15_000).catch(() => running.kill());
    },
  };
}

/** Sums the samples of `name` whose labels include `labels`, from Prometheus text. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const labelText = match[2] ?? '';
    if (Object.entries(labels).every(([key, value]) => labelText.includes(`${key}="${value}"`)))
      total += Number(match[3]);
  }
  return total;
}

/** The process's resident set size; 0 without /proc. */
export function rssBytes(pid: number): number {
  if (!existsSync(`/proc/${pid}/status`)) return 0;
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? 0 : Number(match[1]) * 1024;
}

/** Writes routes as the control plane does: the hash, then the channel, in one MULTI. */
export class RouteWriter {
  private readonly redis: Redis;

  constructor(redisUrl: string) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    this.redis.on('error', () => undefined);
  }

  async publish(route: TestRoute): Promise<void> {
    const text = JSON.stringify(route);
    await this.redis.multi().hset(ROUTES_KEY, route.clusterId, text).publish(ROUTES_CHANNEL, text).exec();
  }

  /** A new version of `route` with `changes`; returns it. */
  async update(route: TestRoute, changes: Partial<TestRoute>): Promise<TestRoute> {
    const next = { ...route, ...changes, version: route.version + 1 };
    await this.publish(next);
    return next;
  }

  async remove(route: TestRoute): Promise<void> {
    const text = JSON.stringify({ clusterId: route.clusterId, deleted: true, version: route.version + 1 });
    await this.redis.multi().hdel(ROUTES_KEY, route.clusterId).publish(ROUTES_CHANNEL, text).exec();
  }

  close(): void {
    this.redis.disconnect();
  }
}

export interface ProxyEventMessage {
  type: 'wake' | 'quiesced' | 'released';
  clusterId: string;
  proxyId: string;
  version?: number;
  writerId?: string;
}

/** Every event the proxy publishes, as it arrives. */
export class ProxyEventLog {
  readonly events: ProxyEventMessage[] = [];
  private readonly redis: Redis;

  private constructor(redisUrl: string) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    this.redis.on('error', () => undefined);
    this.redis.on('message', (_channel: string, text: string) => {
      this.events.push(JSON.parse(text) as ProxyEventMessage);
    });
  }

  /** Every event on the channel (a test's Redis serves one proxy, unless the test starts more). */
  static async open(redisUrl: string): Promise<ProxyEventLog> {
    const log = new ProxyEventLog(redisUrl);
    await log.redis.subscribe(EVENTS_CHANNEL);
    return log;
  }

  of(clusterId: string, type?: ProxyEventMessage['type']): ProxyEventMessage[] {
    return this.events.filter(
      (event) => event.clusterId === clusterId && (type === undefined || event.type === type),
    );
  }

  async waitFor(
    what: string,
    predicate: (event: ProxyEventMessage) => boolean,
    timeoutMs = 10_000,
  ): Promise<ProxyEventMessage> {
    let found: ProxyEventMessage | undefined;
    await waitUntil(what, timeoutMs, () => {
      found = this.events.find(predicate);
      return found !== undefined;
    });
    return found as ProxyEventMessage;
  }

  close(): void {
    this.redis.disconnect();
  }
}

/** A new cluster's route on a free port, with `password` as its data password. */
export async function newRoute(options: {
  password: string;
  writerPassword: string;
  writers: RouteWriterSpec[];
  name?: string;
}): Promise<TestRoute> {
  return {
    clusterId: randomUUID(),
    name: options.name ?? `c${Math.floor(Math.random() * 1e6)}`,
    port: await freePort(),
    passwordHash: await hashPassword(options.password),
    writerPassword: options.writerPassword,
    version: 1,
    mode: 'open',
    writers: options.writers,
  };
}

/** Waits until the proxy serves `route` at its version (and listens on its port). */
export async function waitForRoute(proxy: RunningProxy, route: TestRoute, timeoutMs = 10_000): Promise<void> {
  await waitUntil(
    `the proxy to apply route version ${route.version} of ${route.name}`,
    timeoutMs,
    async () => {
      const cluster = await proxy.cluster(route.clusterId);
      return cluster !== undefined && cluster.version >= route.version && cluster.listening === true;
    },
  );
}

export function writerOf(id: string, port: number): RouteWriterSpec {
  return { id, host: '127.0.0.1', port };
}

export interface ProxyStackOptions {
  /** Started one after the other on one storage fleet (none: no fleet), coordinator ids 7, 8 and on. */
  writers: Omit<DataNodeSpec, 'storage' | 'coordinatorId' | 'password'>[];
  /** Every writer's password, and what each route from `newRoute` tells the proxy to log in with. */
  writerPassword?: string;
  /** The proxy's environment beyond what startProxy sets. */
  proxyEnv?: NodeJS.ProcessEnv;
  /** Subscribes to the proxy's events (`events`) before any route is published. */
  events?: boolean;
}

/**
 * What a proxy test file runs against: a Redis of its own, a storage fleet, writers on it, the
 * proxy, a route writer and (if asked) the proxy's event log, started in that order by `start`.
 * `stop` closes the clients opened through `clients`, then stops whatever started, in reverse
 * order, even if a later part failed to start.
 */
export class ProxyStack {
  readonly clients = new ClientSet();
  readonly writers: RunningDataNode[] = [];
  private ownRedis: PrivateRedis | undefined;
  private fleet: StorageFleet | undefined;
  private runningProxy: RunningProxy | undefined;
  private routeWriter: RouteWriter | undefined;
  private eventLog: ProxyEventLog | undefined;

  constructor(private readonly options: ProxyStackOptions) {}

  async start(): Promise<void> {
    const { writers, writerPassword, proxyEnv, events } = this.options;
    const redis = await startPrivateRedis();
    this.ownRedis = redis;
    if (writers.length > 0) {
      const fleet = await startFleet();
      this.fleet = fleet;
      for (const spec of writers) {
        this.writers.push(
          await startWriter({
            ...spec,
            storage: fleet.nodes,
            coordinatorId: 7 + this.writers.length,
            password: writerPassword,
          }),
        );
      }
    }
    this.runningProxy = await startProxy({ redisUrl: redis.url, env: proxyEnv });
    this.routeWriter = new RouteWriter(redis.url);
    if (events === true) this.eventLog = await ProxyEventLog.open(redis.url);
  }

  get redis(): PrivateRedis {
    return started(this.ownRedis, 'the private Redis');
  }

  get proxy(): RunningProxy {
    return started(this.runningProxy, 'the proxy');
  }

  get routes(): RouteWriter {
    return started(this.routeWriter, 'the route writer');
  }

  get events(): ProxyEventLog {
    return started(this.eventLog, 'the proxy event log');
  }

  /** Route entries for `nodes` (every writer by default). */
  writersOf(nodes: RunningDataNode[] = this.writers): RouteWriterSpec[] {
    return nodes.map((node) => writerOf(node.id, node.respPort));
  }

  /** A new cluster's route on a free port, to `writers` (every writer by default). */
  newRoute(options: { password: string; name?: string; writers?: RunningDataNode[] }): Promise<TestRoute> {
    return newRoute({
      password: options.password,
      writerPassword: this.options.writerPassword ?? '',
      writers: this.writersOf(options.writers),
      name: options.name,
    });
  }

  /** Publishes each route in turn, waiting until the proxy serves it. */
  async publish(...routes: TestRoute[]): Promise<void> {
    for (const route of routes) {
      await this.routes.publish(route);
      await waitForRoute(this.proxy, route);
    }
  }

  /** Publishes a new version of `route` with `changes` and waits until the proxy serves it. */
  async update(route: TestRoute, changes: Partial<TestRoute>): Promise<TestRoute> {
    const next = await this.routes.update(route, changes);
    await waitForRoute(this.proxy, next);
    return next;
  }

  async stop(): Promise<void> {
    this.clients.closeAll();
    this.eventLog?.close();
    await this.runningProxy?.stop();
    this.routeWriter?.close();
    await Promise.all(this.writers.map((writer) => writer.stop()));
    await this.fleet?.stop();
    await this.ownRedis?.stop();
  }
}

function started<T>(part: T | undefined, what: string): T {
  if (part === undefined) throw new Error(`${what} did not start`);
  return part;
}
