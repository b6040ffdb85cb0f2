// What the disk did while a bench row ran: a small append and an fdatasync every PROBE_INTERVAL_MS
// on the data dir's disk, timed. On a machine whose disk now and then holds every fdatasync for
// a tenth of a second or more, every log on it waits at once (the six storage nodes', the floor's
// replicas', Redis's AOF), and a row's tail latency follows those stalls more than anything the
// server does. The probe's own load (about 50 syncs of 200 bytes a second) is the same in every row.
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createHistogram, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { round } from './report.js';

const PROBE_INTERVAL_MS = 20;
const PROBE_RECORD = Buffer.alloc(200, 0x2e);
/** An fdatasync at least this long is a stall: over ten times a sync's p99 here with six processes syncing (the disk bench). */
export const STALL_MS = 50;

export interface DiskProbeResult {
  syncs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Syncs of STALL_MS or more, and the time spent in them. */
  stalls: number;
  stalledMs: number;
}

export interface DiskProbe {
  /** Stops after the sync in progress, removes the probe's file and reports. */
  stop(): Promise<DiskProbeResult>;
}

/** Starts probing the disk of `dir` (a file of its own there, removed at stop). */
export async function startDiskProbe(dir: string, name: string): Promise<DiskProbe> {
  const path = join(dir, `disk-probe-${name}.bin`);
  const handle = await open(path, 'w');
  // Microseconds, whole: perf_hooks' histogram records integers.
  const latencyUs = createHistogram();
  let stalls = 0;
  let stalledMs = 0;
  let running = true;
  const loop = (async () => {
    let offset = 0;
    while (running) {
      await handle.write(PROBE_RECORD, 0, PROBE_RECORD.length, offset);
      offset += PROBE_RECORD.length;
      const startedMs = performance.now();
      await handle.datasync();
      const tookMs = performance.now() - startedMs;
      latencyUs.record(Math.max(1, Math.round(tookMs * 1000)));
      if (tookMs >= STALL_MS) {
        stalls++;
        stalledMs += tookMs;
      }
      await sleep(PROBE_INTERVAL_MS);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop.finally(() => handle.close());
      await rm(path, { force: true });
      const ms = (us: number) => round(us / 1000, 2);
      return {
        syncs: latencyUs.count,
        p50Ms: ms(latencyUs.percentile(50)),
        p99Ms: ms(latencyUs.percentile(99)),
        maxMs: ms(latencyUs.max),
        stalls,
        stalledMs: Math.round(stalledMs),
      };
    },
  };
}
