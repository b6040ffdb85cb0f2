// A storage node's start on a snapshot of a large state, one way of restoring it, measured in a
// process of its own (bench/snapshot-restore.bench.ts starts one per state and way, so that
// neither way runs on a heap the other left behind, and the peak RSS is the way's own):
//   node --expose-gc restore-way.js write <keys> <directory>   writes the state's snapshot there
//   node --expose-gc restore-way.js <whole|paged> <directory>   restores it; prints JSON last
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DEFAULT_HEAP_GROWING_PERCENT, heapGrowingFlag } from '../../apps/storage-node/src/heap-growth.js';
import {
  decodeSnapshot,
  encodeSnapshotChunks,
  readSnapshot,
} from '../../apps/storage-node/src/record-codec.js';
import { DurableLog } from '../../apps/storage-node/src/storage/durable-log.js';
import { StorageReplica } from '../../libs/quorum/src/index.js';
import { collectGarbage, largeReplica } from './snapshot-way.js';

export type RestoreWay = 'whole' | 'paged';

/** Flags a storage node starts with by default (apps/storage-node/src/heap-growth.ts). */
export const STORAGE_NODE_V8_FLAGS = [heapGrowingFlag(DEFAULT_HEAP_GROWING_PERCENT)];

export interface Restored {
  keys: number;
  cpuS: number;
  wallS: number;
  gcPauseMs: number;
  peakRssMiB: number;
  heapAfterMiB: number;
}

const MEMBERS = ['s1', 's2', 's3', 's4', 's5', 's6'];

/** How each way hands a snapshot's body to the replica. */
const WAYS: Record<RestoreWay, (replica: StorageReplica, body: Uint8Array) => void> = {
  // As a storage node did before: the whole document decoded, then restored from it.
  whole: (replica, body) => replica.restore(decodeSnapshot(body)),
  paged: (replica, body) => readSnapshot(body, replica.beginRestore()),
};

async function write(keys: number, dir: string): Promise<void> {
  const replica = largeReplica(keys);
  const { log } = await DurableLog.open(dir, { onRecord: () => undefined });
  const segment = log.rotate();
  await log.writeSnapshot(encodeSnapshotChunks(replica.beginSnapshot()), segment);
  await log.close();
}

async function restore(way: RestoreWay, dir: string): Promise<Restored> {
  collectGarbage();
  let gcPauseMs = 0;
  const collections = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcPauseMs += entry.duration;
  });
  collections.observe({ entryTypes: ['gc'] });
  const replica = new StorageReplica({ members: MEMBERS, selfIndex: 0 });
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  // The log's own start-up path: it reads and checks the snapshot file, then hands its body over.
  const { log } = await DurableLog.open(dir, {
    onRecord: () => undefined,
    onSnapshot: (body) => WAYS[way](replica, body),
  });
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  // Entries of collections that ended in the window are delivered in a later turn.
  await new Promise((resolve) => setImmediate(resolve));
  collections.disconnect();
  await log.close();
  return {
    keys: replica.stats().keys,
    cpuS: (cpu.user + cpu.system) / 1e6,
    wallS,
    gcPauseMs,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    heapAfterMiB: process.memoryUsage().heapUsed / 2 ** 20,
  };
}

async function main(): Promise<void> {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode === 'write' && rest.length === 2) {
    const keys = Number(rest[0]);
    if (!Number.isSafeInteger(keys) || keys < 1) throw new Error(`not a count of keys: ${rest[0]}`);
    mkdirSync(rest[1] as string, { recursive: true });
    await write(keys, rest[1] as string);
    return;
  }
  if ((mode === 'whole' || mode === 'paged') && rest.length === 1) {
    process.stdout.write(`${JSON.stringify(await restore(mode, rest[0] as string))}\n`);
    return;
  }
  throw new Error(
    'usage: node --expose-gc restore-way.js write <keys> <directory> | <whole|paged> <directory>',
  );
}

// Run as a script; imported (by the bench, for its types and constants), it does nothing.
if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) await main();
