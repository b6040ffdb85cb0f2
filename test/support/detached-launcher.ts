// Stands in for the control plane's local driver in the detached-fleet test: starts each process
// it is given the way the driver does (ADR 0006) — detached in its own process group, stdin
// closed, stdout and stderr to a log file — prints their PIDs as one JSON line, then waits to be
// killed. Its children must not notice.
//
// usage: node detached-launcher.js '<JSON array of { name, args, env, logFile }>'
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

interface LaunchSpec {
  name: string;
  args: string[];
  env: Record<string, string>;
  logFile: string;
}

// The test kills this process long before; the limit only stops an orphan.
const LIFETIME_MS_MAX = 5 * 60_000;

const specs = JSON.parse(process.argv[2] ?? '[]') as LaunchSpec[];
const pids: Record<string, number> = {};
for (const spec of specs) {
  const log = openSync(spec.logFile, 'a');
  const child = spawn(process.execPath, spec.args, {
    detached: true,
    stdio: ['ignore', log, log],
    env: spec.env,
  });
  // The child keeps its own copy of the descriptor; this process needs neither it nor the child.
  closeSync(log);
  child.unref();
  if (child.pid === undefined) {
    process.stderr.write(`could not start ${spec.name}\n`);
    process.exit(1);
  }
  pids[spec.name] = child.pid;
}
process.stdout.write(`${JSON.stringify(pids)}\n`);
setTimeout(() => process.exit(0), LIFETIME_MS_MAX);
