/** Environment variables as read by the helpers below (e.g. `process.env`). */
export type Env = Readonly<Record<string, string | undefined>>;

/** How long `close` may take after a shutdown signal before the process exits with code 1. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * Reads a TCP port from `env[name]`. Unset or empty gives `defaultPort`; otherwise the value
 * must be a decimal integer from 0 to 65535 (0 lets the operating system pick a free port).
 * Throws an Error naming the variable and showing a valid value.
 */
export function readPort(env: Env, name: string, defaultPort: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') {
    return defaultPort;
  }
  const text = raw.trim();
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(port) || port > 65_535) {
    throw new Error(
      `${name} must be an integer from 0 to 65535 (0 picks a free port), e.g. ${name}=${defaultPort}; got ${JSON.stringify(raw)}`,
    );
  }
  return port;
}

/**
 * Reads a bind address from `env[name]`; unset or empty gives `defaultHost`. Only rejects
 * values with whitespace: whether the address can be bound is found out when listening.
 */
export function readHost(env: Env, name: string, defaultHost: string): string {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') {
    return defaultHost;
  }
  const host = raw.trim();
  if (/\s/.test(host)) {
    throw new Error(
      `${name} must be a host name or IP address, e.g. ${name}=${defaultHost}; got ${JSON.stringify(raw)}`,
    );
  }
  return host;
}

export interface ShutdownOptions {
  /** Longest time `close` may take; defaults to {@link SHUTDOWN_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * On the first SIGINT or SIGTERM: logs one line, calls `close`, then exits with code 0, or
 * with code 1 if `close` throws or takes longer than the timeout. A second signal while
 * shutting down exits with code 1 at once. Returns a function that removes the handlers.
 */
export function onShutdown(
  close: () => Promise<void>,
  log: (line: string) => void,
  { timeoutMs = SHUTDOWN_TIMEOUT_MS }: ShutdownOptions = {},
): () => void {
  let shuttingDown = false;

  const handler = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      log(`received ${signal} again during shutdown; exiting now with code 1`);
      process.exit(1);
    }
    shuttingDown = true;
    log(`received ${signal}, shutting down`);
    void shutDown(close, log, timeoutMs);
  };

  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

async function shutDown(close: () => Promise<void>, log: (line: string) => void, timeoutMs: number) {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timed-out'>((resolve) => {
    timer = setTimeout(() => resolve('timed-out'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([
      Promise.resolve()
        .then(close)
        .then(() => 'closed' as const),
      timedOut,
    ]);
    if (outcome === 'timed-out') {
      log(`shutdown did not finish within ${timeoutMs} ms; exiting with code 1`);
      process.exit(1);
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    log(`shutdown failed: ${reason}; exiting with code 1`);
    process.exit(1);
  } finally {
    clearTimeout(timer);
  }
  process.exit(0);
}

/**
 * With BOREALIS_EXIT_WITH_PARENT=1 (set by test fleets and benches), the process exits once its
 * parent is gone, so that a test runner killed mid-run leaves no servers behind. With
 * BOREALIS_EXIT_WITH_PID=<pid> it exits once that process is gone: fleet processes of a control
 * plane under test outlive the control plane (which a test may kill) but not the test runner.
 */
export function exitWithParentIfAsked(env: Env = process.env): void {
  const parentPid = process.ppid;
  const watchedPid = Number(env.BOREALIS_EXIT_WITH_PID ?? '');
  const watchParent = env.BOREALIS_EXIT_WITH_PARENT === '1';
  const watchPid = Number.isInteger(watchedPid) && watchedPid > 0;
  if (!watchParent && !watchPid) return;
  setInterval(() => {
    if (watchParent && process.ppid !== parentPid) process.exit(1);
    if (watchPid && !isAlive(watchedPid)) process.exit(1);
  }, 500).unref();
}

/** Whether a process with this PID exists (EPERM: it does, under another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
