import { spawn } from 'node:child_process';
import { basename } from 'node:path';

/** What the operating system's refusal to start a program means, for the common codes. */
const spawnErrorMeanings = {
  ENOENT: 'it does not exist, or the interpreter its first line names does not',
  EACCES: 'permission denied: it is not executable, or this user cannot reach its directory',
  ENOEXEC: 'it is not a program this machine can run',
  EMFILE: 'this process has too many open files',
  EAGAIN: 'the system refused to start another process right now',
};

/**
 * One line that says which program could not be started, why, and what to do about it: the
 * failure to start a child must never reach the user as an unhandled 'error' event.
 * @param {string} command @param {NodeJS.ErrnoException} error @param {string} [hint]
 */
export function spawnFailure(command, error, hint) {
  const meaning = spawnErrorMeanings[/** @type {keyof typeof spawnErrorMeanings} */ (error.code ?? '')];
  const why = meaning ? `${meaning} (${error.code})` : error.message;
  const advice = hint ?? `Check that ${basename(command)} is installed and on PATH.`;
  return new Error(`could not start ${command}: ${why}. ${advice}`);
}

/**
 * Starts a long-running child and resolves once the operating system has started it; rejects with
 * spawnFailure's one-line error when it cannot be started.
 * @param {string} command @param {string[]} args @param {import('node:child_process').SpawnOptions} options
 * @param {string} [hint] what to do when it cannot be started
 * @returns {Promise<import('node:child_process').ChildProcess>}
 */
export function startChild(command, args, options, hint) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, options);
    const onError = (/** @type {NodeJS.ErrnoException} */ error) =>
      reject(spawnFailure(command, error, hint));
    child.once('error', onError);
    child.once('spawn', () => {
      child.off('error', onError);
      // After a successful start, 'error' only reports a failed kill() of a child already gone;
      // its 'exit' event is what the callers act on.
      child.on('error', () => {});
      resolve(child);
    });
  });
}

/**
 * Runs a Node.js script in the foreground, on this terminal, and resolves with its exit status once
 * it exited (130 after SIGINT, 1 after another signal). SIGINT and SIGTERM sent to this process are
 * passed on while it runs: the script stops what it started, then exits. Rejects with
 * spawnFailure's one-line error when it cannot be started.
 * @param {string} script @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, hint?: string }} [options] hint: what failing to start means
 * @returns {Promise<number>}
 */
export function runNodeScript(script, args, options = {}) {
  const { cwd, env = process.env, hint } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd, env, stdio: 'inherit' });
    for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
      process.on(signal, () => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      });
    }
    child.on('error', (error) => reject(spawnFailure(process.execPath, error, hint)));
    child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 1)));
  });
}

/**
 * Runs a command to completion with inherited or captured output; rejects with
 * the command's own output when it fails, so the user sees why.
 * @param {string} command @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, quiet?: boolean, timeoutMs?: number, uid?: number,
 *   gid?: number, hint?: string }} [options] hint: what to do when the command cannot be started
 * @returns {Promise<string>} the captured stdout
 */
export function run(command, args, options = {}) {
  const { cwd, env = process.env, quiet = true, timeoutMs = 15 * 60_000, uid, gid, hint } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env,
      uid,
      gid,
      stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    });
    let output = '';
    let stdout = '';
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(spawnFailure(command, error, hint));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else {
        // After a failed start 'close' follows 'error'; the promise then holds that error already.
        const tail = output.trim().split('\n').slice(-30).join('\n');
        reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`})\n${tail}`));
      }
    });
  });
}
