// A fleet process tells whoever runs it where it is, once it is ready: a registry entry
// written to the file named by BOREALIS_REGISTRY_FILE (docs/adr/0006). The control plane's
// local driver reads these entries to find, and after a restart re-adopt, the processes it
// started. `instanceId` tells a process from a later one that reuses its PID.
import { randomBytes } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import type { Env } from './process-lifecycle.js';

/** Random for each process start; every health answer carries it. */
export const PROCESS_INSTANCE_ID = randomBytes(12).toString('hex');

export interface RegistryEntry {
  app: string;
  id: string;
  pid: number;
  instanceId: string;
  host: string;
  /** The port of the process's HTTP side (health, metrics, lifecycle calls). */
  adminPort: number;
  startedAt: string;
}

/**
 * Writes this process's registry entry if BOREALIS_REGISTRY_FILE names a file: to a temporary
 * file first, then renamed over it, so a reader never sees half an entry.
 */
export async function writeRegistryEntry(
  entry: Omit<RegistryEntry, 'pid' | 'instanceId' | 'startedAt'>,
  env: Env = process.env,
): Promise<void> {
  const file = env.BOREALIS_REGISTRY_FILE;
  if (file === undefined || file === '') return;
  const record: RegistryEntry = {
    ...entry,
    pid: process.pid,
    instanceId: PROCESS_INSTANCE_ID,
    startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(),
  };
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  await rename(temporary, file);
}
