// Commands the benches run to completion (redis-benchmark, apt-get, child writers): output
// captured, bounded in time, and stopped by Ctrl-C like everything else a bench starts.
import { execFile } from 'node:child_process';
import { registerCleanup } from './cleanup.js';

/** Runs a command to completion, capturing its output; kills it (by PID) after `timeoutMs`. */
export function runCommand(
  command: string,
  args: string[],
  options: { timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { env: options.env ?? process.env, timeout: options.timeoutMs, maxBuffer: 16 * 2 ** 20 },
      (error, stdout, stderr) => {
        unregister();
        const output = `${stdout}${stderr}`;
        if (error && typeof error.code !== 'number' && !error.killed) reject(error);
        else resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, output });
      },
    );
    const unregister = registerCleanup(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    });
  });
}

/** The output of a command that must exit 0 within `timeoutMs`; anything else throws, with its output. */
export async function commandOutput(command: string, args: string[], timeoutMs: number): Promise<string> {
  const { code, output } = await runCommand(command, args, { timeoutMs });
  if (code !== 0) throw new Error(`${command} failed (exit ${code}): ${output.trim().slice(0, 500)}`);
  return output;
}

/**
 * What a bench's helper script measured in a Node.js process of its own (so that no measurement
 * runs on a heap another left behind): the JSON object on the last line of its output that holds one.
 */
export async function measuredInOwnProcess<T>(nodeArgs: string[], timeoutMs: number): Promise<T> {
  const output = await commandOutput(process.execPath, nodeArgs, timeoutMs);
  const line = output
    .trim()
    .split('\n')
    .findLast((candidate) => candidate.startsWith('{'));
  if (line === undefined)
    throw new Error(`node ${nodeArgs.join(' ')} printed no measurement: ${output.slice(0, 500)}`);
  return JSON.parse(line) as T;
}
