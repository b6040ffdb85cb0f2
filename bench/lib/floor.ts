// Starts the data-node bench's floor (bench/lib/floor-node.ts): six bare replicas with their logs
// under `root`, and a bare front over them. Each registers its stop in the caller's `stops`.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess } from '../../test/support/processes.js';
import { commandOutput } from './command.js';

type Stop = () => Promise<void>;

const FLOOR_NODE = fileURLToPath(new URL('./floor-node.js', import.meta.url));
const REPLICAS = 6;
const START_TIMEOUT_MS = 20_000;

export interface Floor {
  port: number;
  frontPid: number;
  replicaPids: number[];
  /** Commits the front has made, and its cache's hits and misses, since it started. */
  stats(): Promise<{ commits: number; hits: number; misses: number }>;
}

async function startFloorProcess(args: string[], stops: Stop[]) {
  const child = startProcess(process.execPath, [FLOOR_NODE, ...args], { env: process.env });
  stops.push(async () => child.kill());
  const match = await child.waitFor(/listening on (\d+)/, START_TIMEOUT_MS);
  return { port: Number(match[1]), pid: child.child.pid as number };
}

export async function startFloor(root: string, stops: Stop[]): Promise<Floor> {
  const replicas = await Promise.all(
    Array.from({ length: REPLICAS }, (_, index) =>
      startFloorProcess(['storage', join(root, `floor-replica-${index + 1}.log`)], stops),
    ),
  );
  const front = await startFloorProcess(['front', replicas.map((replica) => replica.port).join(',')], stops);
  return {
    port: front.port,
    frontPid: front.pid,
    replicaPids: replicas.map((replica) => replica.pid),
    stats: async () =>
      JSON.parse(
        await commandOutput('redis-cli', ['-h', '127.0.0.1', '-p', String(front.port), 'FLOORSTATS'], 10_000),
      ),
  };
}
