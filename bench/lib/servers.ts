// The two servers the data-path benches compare, started the same way in each: Redis fsyncing
// every write (`appendfsync always`), and one Borealis data node at its largest size over six
// storage-node processes, with a budget that never throttles. Both register their stop in the
// caller's `stops` (bench/lib/cleanup.ts), so an interrupted run ends them too.
import { join } from 'node:path';
import { CU_PER_WRITER_MAX } from '../../libs/limits/src/index.js';
import { startDataNode } from '../../test/support/data-nodes.js';
import { freePort, startProcess } from '../../test/support/processes.js';
import { startStorageFleet } from '../../test/support/storage-fleet.js';

/**
 * The largest writer (libs/limits), and a CU that buys far more commands/s than the platform's
 * default, so that the budget never throttles a bench: what is measured is the data path, not
 * the token bucket.
 */
export const BENCH_CU = CU_PER_WRITER_MAX;
export const BENCH_CU_COMMANDS_PER_SECOND = 1_000_000;

type Stop = () => Promise<void>;

export interface FsyncingRedis {
  port: number;
  pid: number;
  /** Ends it now (the stop registered in `stops` then does nothing). */
  kill(): void;
}

/** redis-server with `appendonly yes, appendfsync always`, its files under `root`. */
export async function startFsyncingRedis(root: string, stops: Stop[]): Promise<FsyncingRedis> {
  const port = await freePort();
  const redis = startProcess(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      root,
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--save',
      '',
    ],
    { env: process.env },
  );
  stops.push(async () => redis.kill());
  await redis.waitFor(/Ready to accept connections/, 20_000);
  return { port, pid: redis.child.pid as number, kill: () => redis.kill() };
}

export interface BenchDataNode {
  port: number;
  dataNodePid: number;
  storagePids: number[];
  health(): Promise<Record<string, unknown>>;
  /** Its Prometheus text (GET /metrics). */
  metrics(): Promise<string>;
  /** Quorum commits the data node's engine has made since it started. */
  commits(): Promise<number>;
}

/** Six storage nodes under `root`, and one data node over them (`BENCH_CU`, instance reads). */
export async function startBenchDataNode(root: string, stops: Stop[]): Promise<BenchDataNode> {
  const fleet = await startStorageFleet({ dataRoot: join(root, 'storage') });
  stops.push(() => fleet.stop());
  const node = await startDataNode({
    id: 'd1',
    storage: fleet.nodes,
    coordinatorId: 7,
    cu: BENCH_CU,
    cluster: 'bench',
    env: { DATA_NODE_CU_COMMANDS_PER_SECOND: String(BENCH_CU_COMMANDS_PER_SECOND) },
  });
  stops.push(() => node.stop());
  return {
    port: node.respPort,
    dataNodePid: node.process.child.pid as number,
    storagePids: fleet.nodes.map((_, index) => fleet.process(index).child.pid as number),
    health: () => node.health(),
    metrics: async () => {
      const response = await fetch(`${node.adminUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`GET /metrics of the data node answered ${response.status}`);
      return response.text();
    },
    commits: async () => {
      const engine = (await node.health()).engine as { commits?: number } | null;
      return engine?.commits ?? 0;
    },
  };
}
