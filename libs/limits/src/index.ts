// Limits that more than one part of Borealis must agree on, defined once (DESIGN §1): what a
// capacity unit buys, how a writer's size is stepped and bounded, and how long a key may be.
// Plain constants and one pure check, so that any app or library may import it, the pure
// protocol core included (the purity lint applies here too).

/** What one capacity unit buys: a platform setting, these being its defaults. */
export interface CapacityUnit {
  commandsPerSecond: number;
  cacheBytes: number;
  connections: number;
}

/** What one capacity unit (CU) buys a writer by default (DESIGN §1). */
export const PER_CAPACITY_UNIT = {
  /** The command budget: a token bucket refilled at this rate, holding one second of commands. */
  commandsPerSecond: 2_000,
  /** The writer's cache. */
  cacheBytes: 64 * 1024 * 1024,
  /** Client connections the writer admits. */
  connections: 200,
} as const;

/** Capacity is set in steps of half a capacity unit. */
export const CU_STEP = 0.5;

/**
 * One writer process holds at most this much capacity; above it a cluster runs more writers
 * (the control plane's `cuPerWriterMax`). A data node refuses to be attached or resized above it.
 */
export const CU_PER_WRITER_MAX = 8;

/**
 * Longest key, in bytes (keys travel as latin1 strings, one character per byte). The data node
 * refuses longer keys with a clear error; the storage nodes drop messages carrying them.
 */
export const KEY_BYTES_MAX = 64 * 1024;

/**
 * Longest key of the volume, in bytes. A data node stores a Redis key that begins with 0xff
 * behind one more 0xff byte (so that it never collides with the node's internal keys, which
 * begin with 0xff and a letter), and internal keys are a short prefix, a collection id and a
 * short suffix; this headroom keeps a Redis key of `KEY_BYTES_MAX` bytes storable.
 */
export const STORAGE_KEY_BYTES_MAX = KEY_BYTES_MAX + 64;

/**
 * Bytes one transaction may write (keys and values together): its proposal must fit a 16 MiB frame
 * to the storage nodes, with room for the versions read and the other messages of its batch. The
 * data node's engine refuses a larger write; commands that grow a string (SETRANGE, APPEND, SETBIT,
 * BITFIELD) refuse before building it.
 */
export const WRITE_BYTES_MAX = 8 * 1024 * 1024;

/** Why `cu` is not a valid size for one writer, or null. */
export function writerCapacityProblem(cu: unknown): string | null {
  if (typeof cu !== 'number' || !Number.isFinite(cu)) return 'cu must be a number';
  if (cu < CU_STEP || cu > CU_PER_WRITER_MAX) {
    return (
      `cu must be between ${CU_STEP} and ${CU_PER_WRITER_MAX}: one writer holds at most ` +
      `${CU_PER_WRITER_MAX} capacity units; a larger cluster runs more writers`
    );
  }
  if (!Number.isInteger(cu / CU_STEP)) return `cu must be a multiple of ${CU_STEP}`;
  return null;
}
