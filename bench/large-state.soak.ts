// `npm run soak`: sustained SETs over a key space far larger than a benchmark's, until each
// storage node holds most of a million keys and has snapshotted it more than once. The failure it
// was written for (docs/performance.md, "Snapshots of a large state"): a storage node's snapshot
// held its event loop for seconds, several nodes did so at once, and a SET failed UNKNOWN because
// fewer than four of six answered within the writer's 10 s. It reports, each round, the rate, the
// storage nodes' CPU per SET, their snapshots and keys, and the seconds in which a node's loop was
// held over 100 ms and over 1 s (their /health); it fails if a SET failed or a loop was held over
// `--stall-limit-ms`. One data node (its command budget lifted) over six storage nodes, all on this
// machine, on loopback; bounded by its rounds, each by redis-benchmark's request count.
//
//   npm run soak [-- --rounds 20 --requests 100000 --keyspace 1000000 --stall-limit-ms 5000]
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { startDataNode } from '../test/support/data-nodes.js';
import { startStorageFleet } from '../test/support/storage-fleet.js';
import { processesCpuMs } from './lib/process-cpu.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    requests: { type: 'string', default: '100000' },
    keyspace: { type: 'string', default: '1000000' },
    clients: { type: 'string', default: '50' },
    'stall-limit-ms': { type: 'string', default: '5000' },
  },
  strict: true,
});

function positiveInteger(name: keyof typeof values): number {
  const value = Number(values[name]);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(values[name])}`);
  }
  return value;
}

interface EventLoopStats {
  delayMaxMs: number;
  secondsOver100Ms: number;
  secondsOver1S: number;
}

interface NodeHealth {
  replica: { keys: number };
  counters: { snapshots: number };
  eventLoop: EventLoopStats;
}

/** redis-benchmark's errors: a line per failed request it shows (it prints the first of each kind). */
function failures(output: string): string[] {
  return output
    .replace(/\r/g, '\n')
    .split('\n')
    .filter((line) => /error|UNKNOWN/i.test(line));
}

function benchmarkArguments(port: number, clients: number, requests: number, keyspace: number): string[] {
  const pairs = { '-p': port, '-t': 'set', '-c': clients, '-n': requests, '-r': keyspace, '-d': 100 };
  return [...Object.entries(pairs).flatMap(([flag, value]) => [flag, String(value)]), '-q'];
}

/** Ctrl-C or SIGTERM: the running round is cut short and what the soak started is stopped. */
const interrupted = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => interrupted.abort());

async function main(): Promise<void> {
  const rounds = positiveInteger('rounds');
  const requests = positiveInteger('requests');
  const keyspace = positiveInteger('keyspace');
  const clients = positiveInteger('clients');
  const stallLimitMs = positiveInteger('stall-limit-ms');
  const dataRoot = await mkdtemp(join(tmpdir(), 'borealis-soak-'));
  const fleet = await startStorageFleet({ dataRoot: join(dataRoot, 'storage') });
  let failedRounds = 0;
  let longestStallMs = 0;
  try {
    const dataNode = await startDataNode({
      id: 'soak-dn',
      storage: fleet.nodes,
      coordinatorId: 11,
      cu: 1,
      cluster: 'soak',
      // The point is the storage nodes under a sustained load, not the data node's budget.
      env: { DATA_NODE_CU_COMMANDS_PER_SECOND: '1000000' },
    });
    try {
      const healths = async (): Promise<NodeHealth[]> =>
        (await Promise.all(fleet.nodes.map((_, index) => fleet.health(index)))) as unknown as NodeHealth[];
      const storagePids = fleet.nodes.map((_, index) => fleet.process(index).child.pid as number);
      console.log(
        `soak: ${rounds} rounds of ${requests.toLocaleString('en-US')} SETs of 100 bytes from ${clients} clients ` +
          `over ${keyspace.toLocaleString('en-US')} keys; one data node at 1 CU over six storage nodes`,
      );
      let before = await healths();
      for (let round = 0; round < rounds && !interrupted.signal.aborted; round++) {
        const cpuBeforeMs = processesCpuMs(storagePids);
        const started = process.hrtime.bigint();
        const { stdout, stderr } = await promisify(execFile)(
          'redis-benchmark',
          benchmarkArguments(dataNode.respPort, clients, requests, keyspace),
          { maxBuffer: 64 * 1024 * 1024, timeout: 30 * 60_000, signal: interrupted.signal },
        ).catch((error: unknown) => {
          if (interrupted.signal.aborted) return { stdout: '', stderr: '' };
          throw error;
        });
        // A round cut short says nothing: no line for it.
        if (interrupted.signal.aborted) break;
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const cpuMs = processesCpuMs(storagePids) - cpuBeforeMs;
        const after = await healths();
        const failed = failures(stdout + stderr);
        if (failed.length > 0) failedRounds++;
        const over100 = after.map(
          (node, i) => node.eventLoop.secondsOver100Ms - (before[i] as NodeHealth).eventLoop.secondsOver100Ms,
        );
        const over1s = after.map(
          (node, i) => node.eventLoop.secondsOver1S - (before[i] as NodeHealth).eventLoop.secondsOver1S,
        );
        longestStallMs = Math.max(longestStallMs, ...after.map((node) => node.eventLoop.delayMaxMs));
        console.log(
          `round ${String(round).padStart(2)}: ${Math.round(requests / seconds).toLocaleString('en-US')} SET/s, ` +
            `storage CPU ${Math.round((cpuMs / requests) * 1000)} us per SET, ` +
            `keys ${(after[0] as NodeHealth).replica.keys.toLocaleString('en-US')}, ` +
            `snapshots [${after.map((node) => node.counters.snapshots).join(' ')}], ` +
            `seconds held >100 ms [${over100.join(' ')}], >1 s [${over1s.join(' ')}]` +
            (failed.length > 0 ? `; FAILED: ${failed.slice(0, 3).join(' | ')}` : ''),
        );
        before = after;
      }
    } finally {
      await dataNode.stop();
    }
  } finally {
    await fleet.stop();
    await rm(dataRoot, { recursive: true, force: true });
  }
  if (interrupted.signal.aborted) {
    console.log('soak interrupted: stopped what it started');
    process.exitCode = 130;
    return;
  }
  const verdict = failedRounds === 0 && longestStallMs <= stallLimitMs;
  console.log(
    `soak ${verdict ? 'passed' : 'FAILED'}: ${failedRounds} rounds with a failed SET; ` +
      `the longest a storage node's loop was held: ${longestStallMs.toLocaleString('en-US')} ms (limit ${stallLimitMs.toLocaleString('en-US')})`,
  );
  if (!verdict) process.exitCode = 1;
}

await main().catch((error: unknown) => {
  const { code, path } = error as NodeJS.ErrnoException;
  const missing = code === 'ENOENT' && path === 'redis-benchmark';
  console.error(
    missing
      ? 'soak: redis-benchmark is not on the PATH; install Redis (its tools include it) and run again'
      : `soak: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exitCode = 2;
});
