// Starts the floor of the data-path benches (bench/lib/floor-node.ts): six bare replicas with
// their logs under `root`, and for the data-node benches a bare front over them (the quorum bench
// drives the replicas itself, bench/lib/floor-link.ts). Each registers its stop in `stops`.
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
  replicaPorts: number[];
  /** Commits the front has made, and its cache's hits and misses, since it started. */
  stats(): Promise<{ commits: number; hits: number; misses: number }>;
}

async function startFloorProcess(args: string[], stops: Stop[]) {
  const child = startProcess(process.execPath, [FLOOR_NODE, ...args], { env: process.env });
  stops.push(async () => child.kill());
  const match = await child.waitFor(/listening on (\d+)/, START_TIMEOUT_MS);
  return { port: Number(match[1]), pid: child.child.pid as number };
}

/** Six bare replicas with their logs under `root`: their ports and PIDs. */
export async function startFloorReplicas(
  root: string,
  stops: Stop[],
): Promise<{ ports: number[]; pids: number[] }> {
  const replicas = await Promise.all(
    Array.from({ length: REPLICAS }, (_, index) =>
      startFloorProcess(['storage', join(root, `floor-replica-${index + 1}.log`)], stops),
    ),
  );
  return { ports: replicas.map((replica) => replica.port), pids: replicas.map((replica) => replica.pid) };
}

/** Six bare replicas and a bare front (RESP) over them. */
export async function startFloor(root: string, stops: Stop[]): Promise<Floor> {
  const replicas = await startFloorReplicas(root, stops);
  const front = await startFloorProcess(['front', replicas.ports.join(',')], stops);
  return {
    port: front.port,
    frontPid: front.pid,
    replicaPids: replicas.pids,
    replicaPorts: replicas.ports,
    stats: async () =>
      JSON.parse(
        await commandOutput('redis-cli', ['-h', '127.0.0.1', '-p', String(front.port), 'FLOORSTATS'], 10_000),
      ),
  };
}
