// A real three-member etcd cluster on 127.0.0.1 for the benches to compare against: Debian's
// etcd-server (installed with apt-get when missing and run as root), default durability (the
// WAL is fsynced for every batch of entries), data in a fresh directory removed on stop.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { registerCleanup } from './cleanup.js';
import { runCommand } from './command.js';

/** Member i listens for clients on 7911 + 2i and for its peers on 7912 + 2i (not etcd's standard 2379/2380). */
const FIRST_PORT = 7911;
const MEMBERS = 3;
const HOST = '127.0.0.1';
const HEALTHY_WITHIN_MS = 30_000;
const STOP_WITHIN_MS = 10_000;

/** etcd is not installed and could not be: the benches that need it are skipped, with this reason. */
export class EtcdUnavailableError extends Error {}

export interface EtcdCluster {
  /** Client URLs of the members, e.g. http://127.0.0.1:7911. */
  endpoints: string[];
  /** From `etcd --version`, e.g. 3.4.23. */
  version: string;
  /** etcdctl's path, or null when it is not installed. */
  etcdctl: string | null;
  /** Process ids of the members, in endpoint order (e.g. to read their CPU time). */
  pids: number[];
  /** Stops every member (SIGTERM by PID, then SIGKILL after 10 s) and removes the data. Idempotent. */
  stop(): Promise<void>;
}

export interface StartEtcdOptions {
  /** Under which to make the data directory (default: the OS temp dir). */
  parentDir?: string;
  log?: (message: string) => void;
}

async function findOnPath(name: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, 1 /* X_OK */);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** The package's own service (standard ports) is of no use here: stop it if installing started it. */
async function stopPackagedService(): Promise<void> {
  if (existsSync('/run/systemd/system')) {
    await runCommand('systemctl', ['disable', '--now', 'etcd.service'], { timeoutMs: 30_000 }).catch(
      () => {},
    );
  } else if (existsSync('/etc/init.d/etcd')) {
    await runCommand('invoke-rc.d', ['etcd', 'stop'], { timeoutMs: 30_000 }).catch(() => {});
  }
}

/** etcd's path, installing Debian's etcd-server and etcd-client first when missing and run as root. */
async function ensureEtcd(log: (message: string) => void): Promise<string> {
  const found = await findOnPath('etcd');
  if (found) return found;
  if (process.getuid?.() !== 0 || !(await findOnPath('apt-get'))) {
    throw new EtcdUnavailableError(
      'etcd is not on PATH and cannot be installed here (that needs root and apt-get): ' +
        'install it (Debian: `apt-get install etcd-server etcd-client`) to run this bench.',
    );
  }
  log(
    "etcd is not installed: installing Debian's etcd-server and etcd-client with apt-get (non-interactive)",
  );
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const steps: string[][] = [
    ['update'],
    ['install', '-y', '--no-install-recommends', 'etcd-server', 'etcd-client'],
  ];
  for (const args of steps) {
    const { code, output } = await runCommand('apt-get', args, { env, timeoutMs: 10 * 60_000 }).catch(
      (error: unknown) => ({ code: null, output: error instanceof Error ? error.message : String(error) }),
    );
    if (code !== 0) {
      const tail = output.trim().split('\n').slice(-5).join(' / ');
      throw new EtcdUnavailableError(`\`apt-get ${args.join(' ')}\` failed (${code ?? 'killed'}): ${tail}`);
    }
  }
  await stopPackagedService();
  const installed = await findOnPath('etcd');
  if (!installed) throw new EtcdUnavailableError('etcd-server was installed but `etcd` is still not on PATH');
  return installed;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

function healthy(endpoint: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get(`${endpoint}/health`, { timeout: 1000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve(response.statusCode === 200 && /"health"\s*:\s*"true"/.test(body)));
      response.on('error', () => resolve(false));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

/** This process's environment without ETCD_* / ETCDCTL_* (etcd refuses a flag that a variable also sets). */
export function etcdEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^ETCD(CTL)?_/.test(key)));
}

interface Member {
  name: string;
  child: ChildProcess;
  output: string;
}

/**
 * Starts a new three-member cluster on 127.0.0.1 (client ports 7911, 7913, 7915; peer ports 7912,
 * 7914, 7916) and resolves once every member reports healthy (within 30 s). Throws
 * EtcdUnavailableError when etcd is not installed and cannot be.
 */
export async function startEtcdCluster(options: StartEtcdOptions = {}): Promise<EtcdCluster> {
  const log = options.log ?? (() => {});
  const binary = await ensureEtcd(log);
  const etcdctl = await findOnPath('etcdctl');
  const { output: versionOutput } = await runCommand(binary, ['--version'], { timeoutMs: 10_000 });
  const version = /Version:\s*(\S+)/.exec(versionOutput)?.[1] ?? 'of unknown version';

  const ports = Array.from({ length: MEMBERS * 2 }, (_, i) => FIRST_PORT + i);
  const taken: number[] = [];
  for (const port of ports) if (!(await portIsFree(port))) taken.push(port);
  if (taken.length > 0) {
    throw new Error(
      `ports ${taken.join(', ')} on ${HOST} are in use; the etcd cluster needs ${ports.join(', ')}`,
    );
  }

  const dataRoot = await mkdtemp(join(options.parentDir ?? tmpdir(), 'borealis-bench-etcd-'));
  const names = Array.from({ length: MEMBERS }, (_, i) => `m${i}`);
  const clientUrl = (i: number) => `http://${HOST}:${FIRST_PORT + 2 * i}`;
  const peerUrl = (i: number) => `http://${HOST}:${FIRST_PORT + 2 * i + 1}`;
  const initialCluster = names.map((name, i) => `${name}=${peerUrl(i)}`).join(',');
  const token = `borealis-bench-${process.pid}-${Date.now()}`;
  const env = etcdEnv();

  const members: Member[] = [];
  let stopping: Promise<void> | undefined;
  // A plain exit (process.exit, an uncaught error) must leave no member and no data behind;
  // 'exit' handlers are synchronous: kill outright, then remove.
  const killOnExit = () => {
    for (const { child } of members)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dataRoot, { recursive: true, force: true });
  };
  const stop = () => {
    stopping ??= (async () => {
      unregister();
      process.removeListener('exit', killOnExit);
      await Promise.all(members.map(({ child }) => stopChild(child)));
      await rm(dataRoot, { recursive: true, force: true });
    })();
    return stopping;
  };
  const unregister = registerCleanup(stop);
  process.on('exit', killOnExit);

  try {
    for (const [i, name] of names.entries()) {
      const args = [
        `--name=${name}`,
        `--data-dir=${join(dataRoot, name)}`,
        `--listen-client-urls=${clientUrl(i)}`,
        `--advertise-client-urls=${clientUrl(i)}`,
        `--listen-peer-urls=${peerUrl(i)}`,
        `--initial-advertise-peer-urls=${peerUrl(i)}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-token=${token}`,
        '--initial-cluster-state=new',
        '--logger=zap',
        '--log-outputs=stderr',
      ];
      const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const member: Member = { name, child, output: '' };
      // Drain its output for its whole life (a full pipe would block it), keeping the tail for errors.
      const collect = (chunk: Buffer) => {
        member.output = (member.output + chunk.toString()).slice(-8000);
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      child.on('error', (error) => {
        member.output += `\n${error.message}`;
      });
      members.push(member);
    }

    const endpoints = names.map((_, i) => clientUrl(i));
    const deadline = Date.now() + HEALTHY_WITHIN_MS;
    for (;;) {
      const dead = members.find(
        ({ child }) => child.exitCode !== null || child.signalCode !== null || !child.pid,
      );
      if (dead) throw new Error(`etcd member ${dead.name} exited while starting:\n${tail(dead.output)}`);
      const states = await Promise.all(endpoints.map(healthy));
      if (states.every(Boolean)) break;
      if (Date.now() > deadline) {
        const unhealthy = members.filter((_, i) => !states[i]);
        throw new Error(
          `the etcd cluster was not healthy within ${HEALTHY_WITHIN_MS / 1000} s ` +
            `(${unhealthy.map(({ name }) => name).join(', ')} not):\n${unhealthy.map(({ output }) => tail(output)).join('\n')}`,
        );
      }
      await sleep(200);
    }
    log(
      `etcd cluster healthy: ${endpoints.join(', ')} (pids ${members.map(({ child }) => child.pid).join(', ')})`,
    );
    return { endpoints, version, etcdctl, pids: members.map(({ child }) => child.pid as number), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function tail(output: string): string {
  return output.trim().split('\n').slice(-15).join('\n');
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const pid = child.pid;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  signal(pid, 'SIGTERM');
  const force = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) signal(pid, 'SIGKILL');
  }, STOP_WITHIN_MS);
  await exited;
  clearTimeout(force);
}

/** Signals a child by PID; one that already exited (ESRCH) is left alone. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
