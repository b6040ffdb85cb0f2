// Real child processes for end-to-end tests: output captured, waits bounded, and every
// process stopped by its own PID when the test ends.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { claimPortRange } from './port-claims.js';

export interface RunningProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output, or rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal name), or rejects after `timeoutMs`. */
  waitForExit(timeoutMs: number): Promise<number | string>;
  /** SIGKILLs the process if it still runs. */
  kill(): void;
}

export function startProcess(
  command: string,
  args: string[],
  options: {
    env: NodeJS.ProcessEnv;
    cwd?: string;
    /** Leads a process group of its own, as a terminal's foreground job does: Ctrl-C signals the group. */
    ownProcessGroup?: boolean;
  },
): RunningProcess {
  const child = spawn(command, args, {
    env: options.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.ownProcessGroup ?? false,
  });
  let output = '';
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });

  return {
    child,
    output: () => output,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = output.match(pattern);
          if (!match) return;
          cleanup();
          resolve(match);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(`no output matching ${pattern} within ${timeoutMs} ms; output so far:\n${output}`),
          );
        }, timeoutMs);
        const onExit = () => {
          check();
          if (!listeners.has(check)) return;
          cleanup();
          reject(new Error(`process exited before printing ${pattern}; output:\n${output}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
        };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    waitForExit(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`process did not exit within ${timeoutMs} ms; output:\n${output}`)),
          timeoutMs,
        );
      });
      return Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** A loopback port claimed for this test process (see port-claims.ts), for a process told its port. */
export function freePort(): Promise<number> {
  return claimPortRange(1);
}

/** `count` consecutive loopback ports claimed for this test process (see port-claims.ts). */
export function freePortRange(count: number): Promise<number> {
  return claimPortRange(count);
}

/**
 * Whether the process runs: it exists and is not a zombie. An orphan that exited stays a zombie
 * until whatever adopted it reaps it, and counts as gone.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
