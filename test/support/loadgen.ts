// The load generator's CLI as `npm run loadgen` runs it (the compiled main.js, a process of its
// own), for the tests and benches that drive load through an endpoint.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SummaryJson } from '../../apps/loadgen/src/summary.js';
import { repoRoot } from './environment.js';

const MAIN = join(repoRoot, 'dist/apps/loadgen/src/main.js');

/** Runs the CLI with `args`; resolves with its exit code and output, whatever the code. */
export function runLoadgenCli(
  args: readonly string[],
  timeoutMs = 120_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number((error as { code?: number }).code ?? 1), stdout, stderr });
    });
  });
}

/**
 * Drives load at an endpoint on loopback (quietly, AUTH with `password`) and returns the run's
 * JSON summary, written to `jsonPath`; a run that does not complete is an error with its output.
 */
export async function runLoadgen(
  endpoint: { port: number; password: string },
  args: readonly string[],
  jsonPath: string,
): Promise<SummaryJson> {
  const run = await runLoadgenCli([
    '--endpoint',
    `127.0.0.1:${endpoint.port}`,
    // One argument: a generated password may start with '-', which the parser would take for a flag.
    `--password=${endpoint.password}`,
    '--quiet',
    '--json',
    jsonPath,
    ...args,
  ]);
  if (run.code !== 0) throw new Error(`loadgen exited ${run.code}\n${run.stdout}\n${run.stderr}`);
  return JSON.parse(readFileSync(jsonPath, 'utf8')) as SummaryJson;
}
