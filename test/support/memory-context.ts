// One in-memory store behind the data-command core for every test: the `DataCommandContext`
// the transaction engine gives handlers (contract 3 of issue 12), over Maps instead of replicas.
//
// Values are kept encoded, so every value also makes an encode/decode trip, and under the same
// volume keys the engine uses (`storageKey`: Redis keys beginning with 0xff are escaped), so
// tests see the layout as the storage nodes would. Randomness is seeded: a test replays exactly.
import {
  COLLECTION_ID_BYTES,
  decodeGeneration,
  GENERATION_KEY,
  generationOf,
  storageKey as storageKeyAt,
  userKeyOf,
} from '../../apps/data-node/src/commands/collections/layout.js';
import type { DataCommandContext } from '../../apps/data-node/src/commands/data-commands.js';
import {
  decodeStoredValue,
  encodeStoredValue,
  type StoredValue,
} from '../../apps/data-node/src/commands/stored-value.js';
import { mulberry32 } from './prng.js';

export class MemoryKeyspace {
  /** Every key of the volume (escaped Redis keys and internal keys) → its stored bytes. */
  readonly entries = new Map<string, Uint8Array>();
  /** Calls of readElement/readElements: each is a round trip in the engine. */
  elementReadRounds = 0;
  private readonly random: () => number;
  private idsMinted = 0;

  constructor(seed = 1) {
    this.random = mulberry32(seed);
  }

  /** The volume's generation (FLUSHDB increments it). */
  generation(): number {
    return decodeGeneration(this.entries.get(GENERATION_KEY) ?? null);
  }

  context(nowMs: number): DataCommandContext {
    const storageKey = (key: string): string => storageKeyAt(key, this.generation());
    return {
      nowMs,
      read: (key) => {
        const bytes = this.entries.get(storageKey(key));
        return bytes === undefined ? null : decodeStoredValue(bytes);
      },
      write: (key, value: StoredValue | null) => {
        if (value === null) this.entries.delete(storageKey(key));
        else this.entries.set(storageKey(key), encodeStoredValue(value));
      },
      readElement: (key) => {
        this.elementReadRounds++;
        return this.entries.get(key) ?? null;
      },
      readElements: (keys) => {
        this.elementReadRounds++;
        return keys.map((key) => this.entries.get(key) ?? null);
      },
      writeElement: (key, bytes) => {
        if (bytes === null) this.entries.delete(key);
        else this.entries.set(key, Uint8Array.from(bytes));
      },
      random: this.random,
      newCollectionId: () => {
        const id = Buffer.alloc(COLLECTION_ID_BYTES);
        id.writeUInt32BE(0x7e57_1d5, 0);
        id.writeUInt32BE(++this.idsMinted, 4);
        return id.toString('latin1');
      },
    };
  }

  /** An independent copy of the stored entries (randomness is not copied: a new seed). */
  clone(): MemoryKeyspace {
    const copy = new MemoryKeyspace(this.idsMinted + 1);
    for (const [key, bytes] of this.entries) copy.entries.set(key, bytes);
    copy.idsMinted = this.idsMinted;
    return copy;
  }

  /** The Redis keys present in the current generation (values and collection headers, expired ones too). */
  keys(): string[] {
    const generation = this.generation();
    return [...this.entries.keys()].flatMap((key) => {
      const userKey = userKeyOf(key);
      return userKey === null || generationOf(key) !== generation ? [] : [userKey];
    });
  }

  /** The volume's internal keys (collection elements). */
  internalKeys(): string[] {
    return [...this.entries.keys()].filter((key) => userKeyOf(key) === null);
  }

  has(key: string): boolean {
    return this.entries.has(storageKeyAt(key, this.generation()));
  }

  value(key: string): StoredValue | null {
    const bytes = this.entries.get(storageKeyAt(key, this.generation()));
    return bytes === undefined ? null : decodeStoredValue(bytes);
  }
}
