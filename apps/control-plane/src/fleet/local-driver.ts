// The `local` compute driver: fleet processes are child processes of this machine, started
// detached (their own process group, output to a log file), so that they outlive the control
// plane. Each writes a registry entry once ready (libs/health/registry.ts); a restarted control
// plane finds them there and adopts those whose health answer carries the same instance id.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_TOKEN_ENV } from '../../../../libs/health/src/node-token.js';
import { isAlive } from '../../../../libs/health/src/process-lifecycle.js';
import type { RegistryEntry } from '../../../../libs/health/src/registry.js';
import type { CapacityUnit } from '../../../../libs/limits/src/index.js';
import type { ComputeDriver, ExitListener, FleetInstance, FleetRole, ProcessSpec } from './compute-driver.js';

/** A process must be ready (registry entry written, health answering) within this time. */
const START_TIMEOUT_MS = 60_000;
const REGISTRY_POLL_MS = 20;
/** How often processes this driver did not start itself (adopted) are checked for life. */
const LIVENESS_POLL_MS = 250;
const HEALTH_TIMEOUT_MS = 2_000;
/** A log file above this size is rotated (one old copy kept) when its process starts. */
const LOG_BYTES_MAX = 16 * 1024 * 1024;
const LOG_TAIL_BYTES = 4_000;

/** Variables of the control plane's own environment that fleet processes inherit. */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'TZ', 'NODE_OPTIONS', 'BOREALIS_EXIT_WITH_PID'];
/** Prefixes of settings passed through to the process of that role (its own tuning knobs). */
const ROLE_ENV_PREFIXES: Record<FleetRole, string[]> = {
  'storage-node': ['STORAGE_'],
  'data-node': ['DATA_NODE_'],
  proxy: ['PROXY_', 'ENDPOINT_BIND_HOST'],
};

export interface LocalDriverOptions {
  /** Holds `fleet/` (registry entries) and `logs/`. */
  dataDir: string;
  /** Address the processes bind to. */
  host: string;
  redisUrl: string;
  /** Prefix of the platform's Redis keys and channels. */
  redisPrefix: string;
  /** What one CU buys, for the data nodes (BOREALIS_CU_*). */
  capacityUnit: CapacityUnit;
  /** The environment fleet processes inherit from (the control plane's own). */
  environment: NodeJS.ProcessEnv;
  /** The certificate and key the proxy serves TLS clients with (docs/adr/0012); null: none. */
  proxyTls: { certFile: string; keyFile: string } | null;
  log: (line: string) => void;
  /** The fleet secrets file, for storage nodes only (data nodes get credentials, never this). */
  fleetSecretsFile?: string;
  /** Revoked writer credentials, for storage nodes only. */
  revocationsFile?: string;
  /**
   * The admin-API token of a data node or storage node (NodeTokens), passed in its environment:
   * a command line can be read by every user of the host, a process's environment only by its own.
   */
  nodeToken: (role: FleetRole, id: string) => string;
  /** TLS on the storage links (docs/adr/0014): storage nodes serve with the cert, all verify with the CA. */
  internalTls?: { caFile: string; certFile: string; keyFile: string } | null;
}

interface Tracked {
  instance: FleetInstance;
  pid: number;
  child: ChildProcess | null;
  stopping: boolean;
}

function entryPoint(role: FleetRole): string {
  // This file runs from dist/apps/control-plane/src/fleet/; the apps are its siblings.
  return fileURLToPath(new URL(`../../../${role}/src/main.js`, import.meta.url));
}

export class LocalDriver implements ComputeDriver {
  readonly name = 'local';
  private readonly tracked = new Map<string, Tracked>();
  /** Processes started and not yet ready. */
  private readonly starting = new Set<ChildProcess>();
  private closed = false;
  private readonly exitListeners: ExitListener[] = [];
  private readonly livenessTimer: NodeJS.Timeout;
  private readonly registryDir: string;
  private readonly logsDir: string;

  constructor(private readonly options: LocalDriverOptions) {
    this.registryDir = join(options.dataDir, 'fleet');
    this.logsDir = join(options.dataDir, 'logs');
    this.livenessTimer = setInterval(() => this.checkAdopted(), LIVENESS_POLL_MS);
    this.livenessTimer.unref();
  }

  onExit(listener: ExitListener): void {
    this.exitListeners.push(listener);
  }

  async discover(): Promise<FleetInstance[]> {
    await mkdir(this.registryDir, { recursive: true, mode: 0o700 });
    const found: FleetInstance[] = [];
    for (const name of await readdir(this.registryDir)) {
      if (!name.endsWith('.json')) continue;
      const file = join(this.registryDir, name);
      const entry = await readEntry(file);
      const instance = entry === null ? null : await this.adopt(entry);
      if (instance === null) await this.removeStale(file, entry);
      else found.push(instance);
    }
    return found;
  }

  async start(spec: ProcessSpec): Promise<FleetInstance> {
    await mkdir(this.registryDir, { recursive: true, mode: 0o700 });
    await mkdir(this.logsDir, { recursive: true, mode: 0o700 });
    const registryFile = join(this.registryDir, `${spec.id}.json`);
    await rm(registryFile, { force: true });
    const logFile = join(this.logsDir, `${spec.id}.log`);
    const child = await this.spawnDetached(spec, registryFile, logFile);
    const pid = child.pid as number;
    this.starting.add(child);
    let exitReason: string | null = null;
    child.once('exit', (code, signal) => {
      exitReason = signal === null ? `exited with code ${code}` : `killed by ${signal}`;
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const entry = await readEntry(registryFile);
      if (entry !== null && entry.pid === pid && (await this.healthOf(entry)) !== null) {
        this.starting.delete(child);
        const instance = instanceOf(spec.role, entry);
        this.track(instance, pid, child);
        return instance;
      }
      if (exitReason !== null || Date.now() > deadline || this.closed) {
        this.starting.delete(child);
        if (exitReason === null) process.kill(pid, 'SIGKILL');
        const why =
          exitReason ??
          (this.closed
            ? 'the control plane stopped meanwhile'
            : `not ready within ${START_TIMEOUT_MS / 1000} s`);
        throw new Error(
          `${spec.role} ${spec.id} did not start (${why}); its log ${logFile} ends:\n${await tail(logFile)}`,
        );
      }
      await sleep(REGISTRY_POLL_MS);
    }
  }

  async stop(instance: FleetInstance, graceMs: number): Promise<void> {
    const tracked = this.tracked.get(instance.id);
    if (tracked === undefined || tracked.instance.instanceId !== instance.instanceId) return;
    tracked.stopping = true;
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(tracked.pid, name);
      } catch {}
    };
    signal('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (this.running(tracked) && Date.now() < deadline) await sleep(20);
    if (this.running(tracked)) signal('SIGKILL');
    while (this.running(tracked)) await sleep(20);
    this.tracked.delete(instance.id);
    await rm(join(this.registryDir, `${instance.id}.json`), { force: true });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.livenessTimer);
    // A process still starting has no registry entry yet: no later control plane could adopt
    // it, so it must not outlive this one.
    for (const child of this.starting) child.kill('SIGKILL');
    this.starting.clear();
  }

  private async spawnDetached(
    spec: ProcessSpec,
    registryFile: string,
    logFile: string,
  ): Promise<ChildProcess> {
    await rotateLog(logFile);
    const log = await open(logFile, 'a', 0o600);
    try {
      const child = spawn(process.execPath, [entryPoint(spec.role), ...argumentsOf(spec)], {
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
        env: this.environmentOf(spec, registryFile),
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (error) =>
          reject(new Error(`could not start ${spec.role} ${spec.id}: ${error.message}`)),
        );
      });
      child.unref();
      return child;
    } finally {
      await log.close();
    }
  }

  private environmentOf(spec: ProcessSpec, registryFile: string): NodeJS.ProcessEnv {
    const source = this.options.environment;
    const env: NodeJS.ProcessEnv = {};
    for (const name of INHERITED_ENV) if (source[name] !== undefined) env[name] = source[name];
    for (const [name, value] of Object.entries(source)) {
      if (ROLE_ENV_PREFIXES[spec.role].some((prefix) => name.startsWith(prefix))) env[name] = value;
    }
    return {
      ...env,
      HOST: this.options.host,
      HEALTH_PORT: '0',
      REDIS_URL: this.options.redisUrl,
      BOREALIS_REDIS_PREFIX: this.options.redisPrefix,
      BOREALIS_REGISTRY_FILE: registryFile,
      ...(spec.role === 'proxy' ? { PROXY_ID: spec.id, ...this.tlsEnvironment() } : {}),
      ...(spec.role === 'storage-node' && this.options.fleetSecretsFile !== undefined
        ? {
            BOREALIS_FLEET_SECRETS_FILE: this.options.fleetSecretsFile,
            ...(this.options.revocationsFile !== undefined
              ? { BOREALIS_REVOKED_CREDENTIALS_FILE: this.options.revocationsFile }
              : {}),
          }
        : {}),
      // The proxy serves no admin calls: it gets no token.
      ...(spec.role === 'proxy' ? {} : { [NODE_TOKEN_ENV]: this.options.nodeToken(spec.role, spec.id) }),
      ...this.internalTlsEnvironment(spec.role),
      ...(spec.role === 'data-node'
        ? {
            DATA_NODE_CU_COMMANDS_PER_SECOND: String(this.options.capacityUnit.commandsPerSecond),
            DATA_NODE_CU_CACHE_BYTES: String(this.options.capacityUnit.cacheBytes),
            DATA_NODE_CU_CONNECTIONS: String(this.options.capacityUnit.connections),
          }
        : {}),
    };
  }

  private tlsEnvironment(): NodeJS.ProcessEnv {
    const tls = this.options.proxyTls;
    return tls === null ? {} : { BOREALIS_TLS_CERT_FILE: tls.certFile, BOREALIS_TLS_KEY_FILE: tls.keyFile };
  }

  /** Storage nodes serve TLS and verify their peers; data nodes verify the storage nodes. */
  private internalTlsEnvironment(role: FleetRole): NodeJS.ProcessEnv {
    const tls = this.options.internalTls;
    if (tls === null || tls === undefined || role === 'proxy') return {};
    return role === 'storage-node'
      ? {
          BOREALIS_INTERNAL_TLS_CERT_FILE: tls.certFile,
          BOREALIS_INTERNAL_TLS_KEY_FILE: tls.keyFile,
          BOREALIS_INTERNAL_TLS_CA_FILE: tls.caFile,
        }
      : { BOREALIS_INTERNAL_TLS_CA_FILE: tls.caFile };
  }

  private async adopt(entry: RegistryEntry): Promise<FleetInstance | null> {
    if (!isAlive(entry.pid)) return null;
    const health = await this.healthOf(entry);
    if (health === null || health.instanceId !== entry.instanceId) return null;
    const role = entry.app as FleetRole;
    const instance = instanceOf(role, entry);
    this.track(instance, entry.pid, null);
    this.options.log(
      `adopted ${role} ${entry.id} (pid ${entry.pid}), left running by an earlier control plane`,
    );
    return instance;
  }

  /** An entry whose process is gone, or no longer answers as itself: forget it (and end a hung one of ours). */
  private async removeStale(file: string, entry: RegistryEntry | null): Promise<void> {
    if (entry !== null && isAlive(entry.pid) && (await isOurProcess(entry))) {
      this.options.log(
        `${entry.app} ${entry.id} (pid ${entry.pid}) does not answer its health check: stopping it`,
      );
      try {
        process.kill(entry.pid, 'SIGKILL');
      } catch {}
    }
    await rm(file, { force: true });
  }

  private async healthOf(entry: RegistryEntry): Promise<{ instanceId?: string } | null> {
    try {
      const response = await fetch(`http://${urlHost(entry.host)}:${entry.adminPort}/health`, {
        signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS),
      });
      return response.ok ? ((await response.json()) as { instanceId?: string }) : null;
    } catch {
      return null;
    }
  }

  private track(instance: FleetInstance, pid: number, child: ChildProcess | null): void {
    const tracked: Tracked = { instance, pid, child, stopping: false };
    this.tracked.set(instance.id, tracked);
    child?.once('exit', (code, signal) => {
      this.exited(tracked, signal === null ? `exited with code ${code}` : `killed by ${signal}`);
    });
  }

  private running(tracked: Tracked): boolean {
    if (tracked.child !== null) return tracked.child.exitCode === null && tracked.child.signalCode === null;
    return isAlive(tracked.pid);
  }

  private checkAdopted(): void {
    for (const tracked of this.tracked.values()) {
      if (tracked.child === null && !tracked.stopping && !isAlive(tracked.pid)) this.exited(tracked, 'ended');
    }
  }

  private exited(tracked: Tracked, reason: string): void {
    if (tracked.stopping || this.tracked.get(tracked.instance.id) !== tracked) return;
    this.tracked.delete(tracked.instance.id);
    void rm(join(this.registryDir, `${tracked.instance.id}.json`), { force: true });
    for (const listener of this.exitListeners) listener(tracked.instance, reason);
  }
}

function argumentsOf(spec: ProcessSpec): string[] {
  switch (spec.role) {
    case 'storage-node':
      return [
        '--id',
        spec.id,
        '--az',
        spec.az,
        '--port',
        String(spec.port),
        '--data-dir',
        spec.dataDir,
        '--members',
        spec.members,
      ];
    case 'data-node':
      return [
        '--id',
        spec.id,
        '--port',
        '0',
        '--storage',
        spec.storage,
        '--coordinator-id',
        String(spec.coordinatorId),
      ];
    case 'proxy':
      return [];
  }
}

function instanceOf(role: FleetRole, entry: RegistryEntry): FleetInstance {
  return {
    role,
    id: entry.id,
    adminUrl: `http://${urlHost(entry.host)}:${entry.adminPort}`,
    instanceId: entry.instanceId,
    startedAt: new Date(entry.startedAt),
    location: `pid ${entry.pid}`,
  };
}

async function readEntry(file: string): Promise<RegistryEntry | null> {
  try {
    const entry = JSON.parse(await readFile(file, 'utf8')) as Partial<RegistryEntry>;
    const valid =
      typeof entry.app === 'string' &&
      typeof entry.id === 'string' &&
      Number.isInteger(entry.pid) &&
      typeof entry.instanceId === 'string' &&
      typeof entry.host === 'string' &&
      Number.isInteger(entry.adminPort);
    return valid ? (entry as RegistryEntry) : null;
  } catch {
    return null;
  }
}

/** Whether `entry.pid` runs this platform's entry point for that id (PIDs are reused). */
async function isOurProcess(entry: RegistryEntry): Promise<boolean> {
  try {
    const commandLine = (await readFile(`/proc/${entry.pid}/cmdline`, 'utf8')).split('\0');
    const app = entry.app as FleetRole;
    return commandLine.includes(entryPoint(app)) && (app === 'proxy' || commandLine.includes(entry.id));
  } catch {
    return false;
  }
}

async function rotateLog(file: string): Promise<void> {
  const size = await stat(file).then(
    (info) => info.size,
    () => 0,
  );
  if (size > LOG_BYTES_MAX) await rename(file, `${file}.1`);
}

async function tail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.slice(-LOG_TAIL_BYTES).trim();
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
