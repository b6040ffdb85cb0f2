import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { initialiseCluster, isInitialised, preparePostgres, startCluster } from './embedded-postgres.mjs';

const USER = 'borealis';

/**
 * Returns a PostgreSQL for Borealis: the server named by DATABASE_URL when set, otherwise an embedded
 * PostgreSQL kept in `${dataDir}/postgres` (shared with any other Borealis command already running it).
 * `scratch`: the data is throwaway (the test suite's), so it may move to the temp directory.
 * `ownProcessGroup`: the server it starts leads a process group of its own, so a terminal's Ctrl-C
 * (which signals the whole foreground group) does not reach it. For a caller that handles SIGINT and
 * needs the database until its own children have stopped, then calls stop().
 * @param {{ dataDir: string, port: number, database: string, scratch?: boolean, ownProcessGroup?: boolean,
 *   log?: (message: string) => void }} options
 * @returns {Promise<{ url: string, source: 'DATABASE_URL' | 'embedded', stop: () => Promise<void> }>}
 */
export async function ensurePostgres({
  dataDir,
  port,
  database,
  scratch = false,
  ownProcessGroup = false,
  log = () => {},
}) {
  const configured = process.env.DATABASE_URL;
  if (configured) return useConfigured(configured);
  return useEmbedded({ dataDir, port, database, scratch, ownProcessGroup, log });
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

/**
 * @param {{ dataDir: string, port: number, database: string, scratch: boolean, ownProcessGroup: boolean,
 *   log: (message: string) => void }} options
 */
async function useEmbedded({ dataDir, port, database, scratch, ownProcessGroup, log }) {
  const clusterDir = join(dataDir, 'postgres');
  // Only dataDir itself is private: a recursive mkdir would give missing parents 0700 as well.
  await mkdir(dirname(dataDir), { recursive: true });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // Run as root, the server runs as the `postgres` user: open Borealis's own data directory to it
  // for traversal only (what lies in it stays private); a closed parent is handled by preparePostgres.
  if (process.getuid?.() === 0) await chmod(dataDir, ((await stat(dataDir)).mode & 0o777) | 0o001);
  const initialised = await isInitialised(clusterDir);
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

  const prepared = await preparePostgres({ clusterDir, scratch, log });
  if (!initialised && (await isInitialised(prepared.dataDir))) {
    // Its link in dataDir is gone (dataDir was deleted), and the password file with it.
    await rm(join(dataDir, 'postgres.password'), { force: true });
    throw new Error(
      `${prepared.dataDir} holds the embedded PostgreSQL of ${clusterDir}, but its password file is gone. ` +
        `Delete ${prepared.dataDir} to start over with an empty database.`,
    );
  }
  if (!initialised) {
    log(`creating the embedded PostgreSQL cluster in ${prepared.dataDir}`);
    await initialiseCluster(prepared, { user: USER, password });
  }
  await removeStalePidFile(prepared.dataDir, port, log);
  const server = await startCluster(prepared, {
    port,
    ownProcessGroup,
    // While it starts it refuses connections or answers "starting up" (57P03): not yet.
    answers: () => answers(`${base}/postgres`, port).catch(() => false),
  });
  try {
    await createDatabase(`${base}/postgres`, database);
  } catch (error) {
    await server.stop();
    throw error;
  }
  // A plain exit (including process.exit()) must not leave the server running. 'exit' handlers must be
  // synchronous: signal the postmaster (SIGINT is a fast shutdown) and go.
  const killOnExit = () => {
    try {
      process.kill(server.pid, 'SIGINT');
    } catch {}
  };
  process.on('exit', killOnExit);
  result.stop = async () => {
    process.removeListener('exit', killOnExit);
    await server.stop();
  };
  return result;
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
    if (['ECONNREFUSED', 'ENETUNREACH', 'EADDRNOTAVAIL'].includes(error.code)) return false;
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
