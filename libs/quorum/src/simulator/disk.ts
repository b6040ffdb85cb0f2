// A replica's simulated disk. It holds exactly what the shell handed it: the records of each
// ready batch, appended and fsynced before that batch's messages are sent. A crash therefore keeps
// all of it, and anything the replica never handed over is lost. Snapshots are deep-copied when
// taken and everything is deep-copied when read back, as encoding to a real disk would, so a
// restarted replica shares no object with the old one. Records are kept as handed over (copying
// each one costs more than the rest of the simulation): the replica never changes a record after
// handing it to the shell.
import type { ReplicaRecord, ReplicaSnapshot } from '../replica.js';

export class SimulatedDisk {
  private snapshot: ReplicaSnapshot | null = null;
  private records: ReplicaRecord[] = [];
  /** Records were lost to damage and the state has not been repaired since (the log's marker). */
  needsRepair = false;

  /**
   * Damage found at a restart, kept out of the state as the storage node's log does: the records
   * from a damaged one on are gone, or (a damaged snapshot) everything is. `pick(n)` chooses an
   * integer in [0, n).
   */
  damage(pick: (n: number) => number): string {
    this.needsRepair = true;
    if (this.records.length === 0 || pick(5) === 0) {
      const lost = `${this.snapshot === null ? 'no snapshot' : 'its snapshot'} and ${this.records.length} records`;
      this.snapshot = null;
      this.records = [];
      return `lost ${lost}`;
    }
    const keep = pick(this.records.length);
    const lost = this.records.length - keep;
    this.records.length = keep;
    return `lost its last ${lost} records`;
  }

  append(records: readonly ReplicaRecord[]): void {
    for (const record of records) this.records.push(record);
  }

  /** Replaces everything so far by a snapshot of the state it produced. */
  compact(snapshot: ReplicaSnapshot): void {
    this.snapshot = deepCopy(snapshot);
    this.records = [];
  }

  read(): { snapshot: ReplicaSnapshot | null; records: ReplicaRecord[] } {
    return { snapshot: deepCopy(this.snapshot), records: deepCopy(this.records) };
  }

  describe(): string {
    return `${this.snapshot === null ? 'no snapshot' : 'a snapshot'} + ${this.records.length} records`;
  }
}

/**
 * A deep copy of plain data (objects, arrays, byte arrays, primitives): what encoding and decoding
 * would give, several times faster than structuredClone for many small objects. Anything else
 * (a Map, a class instance) throws instead of being copied wrongly.
 */
export function deepCopy<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(deepCopy) as T;
  if (value instanceof Uint8Array) return value.slice() as T;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    throw new TypeError(
      `cannot copy a ${prototype?.constructor?.name ?? 'non-plain'} object to the simulated disk`,
    );
  }
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = deepCopy((value as Record<string, unknown>)[key]);
  return copy as T;
}
