// Loopback ports for the processes tests start, claimed machine-wide so that test files running
// in parallel never hand out the same port.
//
// Checking that a port is free and letting a process bind it later leaves a window: another test
// file can find the same port free in between, or while a process that owns it is down for a
// restart on it, and then one of the two fails with EADDRINUSE. So each port handed out is also
// claimed with a file named after it, created exclusively and holding the claimant's PID. A claim
// lasts as long as the test process that made it: its files are removed when it exits, and the
// claim of a process that died without removing them is taken over once no process has its PID.
// No library fits: port-finding packages check bindability only, which is the window above.
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Ports are taken from here: below 20000, where the control plane chooses its storage fleet's
 * ports (a fleet node's port is free while the node restarts), and far below the range the
 * operating system hands out to outgoing connections (32768 and up on Linux).
 */
export const TEST_PORT_MIN = 10_000;
export const TEST_PORT_LIMIT = 20_000;
const ATTEMPTS_MAX = 200;
/** A claim file without a PID, or a takeover file, older than this was left by a process that died. */
const UNFINISHED_CLAIM_MS = 10_000;

export const DEFAULT_CLAIMS_DIR = join(tmpdir(), 'borealis-test-port-claims');

/** The claim files this process holds, removed when it exits. */
const claimedHere = new Set<string>();
let releaseOnExit = false;

/**
 * `count` consecutive loopback ports, each claimed for this process and bindable a moment ago.
 * Random, so that parallel claimants rarely try the same ports first.
 */
export async function claimPortRange(count: number, claimsDir = DEFAULT_CLAIMS_DIR): Promise<number> {
  if (!Number.isInteger(count) || count < 1 || count > TEST_PORT_LIMIT - TEST_PORT_MIN)
    throw new RangeError(
      `count must be an integer from 1 to ${TEST_PORT_LIMIT - TEST_PORT_MIN}, got ${count}`,
    );
  for (let attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
    const base = TEST_PORT_MIN + Math.floor(Math.random() * (TEST_PORT_LIMIT - TEST_PORT_MIN - count + 1));
    const claimed: number[] = [];
    for (let port = base; port < base + count && claimPort(claimsDir, port); port++) claimed.push(port);
    if (claimed.length === count && (await allBindable(base, count))) return base;
    for (const port of claimed) releasePort(claimsDir, port);
  }
  throw new Error(
    `no ${count} consecutive ports between ${TEST_PORT_MIN} and ${TEST_PORT_LIMIT} could be claimed and bound ` +
      `after ${ATTEMPTS_MAX} tries: stop the processes holding them, or remove stale claims in ${claimsDir}`,
  );
}

/** Gives up a claim made by this process (the port may then go to another claimant). */
export function releasePort(claimsDir: string, port: number): void {
  const file = join(claimsDir, String(port));
  if (!claimedHere.has(file)) return;
  claimedHere.delete(file);
  removeQuietly(file);
}

/** Claims one port for this process: false if a live process holds its claim. */
export function claimPort(claimsDir: string, port: number): boolean {
  mkdirSync(claimsDir, { recursive: true });
  if (!releaseOnExit) {
    releaseOnExit = true;
    process.once('exit', releaseAllClaims);
  }
  const file = join(claimsDir, String(port));
  if (tryCreate(file)) return true;
  if (!claimIsStale(file)) return false;
  // Its claimant is gone: take the port over. One claimant at a time may try (the takeover file),
  // and it checks again under it, so two claimants that both saw the stale claim cannot both win;
  // the exclusive create stays the only way to win a claim.
  const takeover = `${file}.takeover`;
  if (!tryCreateTakeover(takeover)) return false;
  try {
    if (!claimIsStale(file)) return false;
    removeQuietly(file);
    return tryCreate(file);
  } finally {
    removeQuietly(takeover);
  }
}

/** The claim's process is gone, or the claim never got a PID and is older than a claimant takes. */
function claimIsStale(file: string): boolean {
  const owner = claimOwner(file);
  if (owner !== null) return !processExists(owner);
  return ageMs(file) > UNFINISHED_CLAIM_MS;
}

function tryCreateTakeover(file: string): boolean {
  try {
    closeSync(openSync(file, 'wx'));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  // A claimant that died while taking over leaves its takeover file: let it block the port a while only.
  if (ageMs(file) > UNFINISHED_CLAIM_MS) removeQuietly(file);
  return false;
}

function ageMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function tryCreate(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  claimedHere.add(file);
  return true;
}

function claimOwner(file: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function releaseAllClaims(): void {
  for (const file of claimedHere) removeQuietly(file);
  claimedHere.clear();
}

/** Removes a file another process may have removed first. */
function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}

async function allBindable(base: number, count: number): Promise<boolean> {
  const servers = [];
  try {
    for (let port = base; port < base + count; port++) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
      servers.push(server);
    }
    return true;
  } catch {
    return false;
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}
