// What benches started and must stop when the run is interrupted (Ctrl-C, SIGTERM): each
// resource registers its stop here and unregisters once it stopped on its own.

import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';

type Cleanup = () => Promise<void>;

const cleanups = new Set<Cleanup>();

/** Registers `cleanup`; the returned function unregisters it. */
export function registerCleanup(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}

/** Runs every registered cleanup once, newest first; `report` hears about the ones that fail. */
export async function runCleanups(report: (error: unknown) => void): Promise<void> {
  for (const cleanup of [...cleanups].reverse()) {
    cleanups.delete(cleanup);
    await cleanup().catch(report);
  }
}

/**
 * A bench's scratch directory under `parent` and the stops of what it starts there: `cleanup`
 * (registered, so that Ctrl-C runs it too) stops them newest first and removes the directory.
 */
export async function scratchRun(
  parent: string,
  prefix: string,
): Promise<{ root: string; stops: Cleanup[]; cleanup: Cleanup }> {
  const root = await mkdtemp(join(parent, prefix));
  const stops: Cleanup[] = [];
  const cleanup = async () => {
    unregister();
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  };
  const unregister = registerCleanup(cleanup);
  return { root, stops, cleanup };
}
