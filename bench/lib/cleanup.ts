// What benches started and must stop when the run is interrupted (Ctrl-C, SIGTERM): each
// resource registers its stop here and unregisters once it stopped on its own.

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
