// The context a read runs in when the writer's cache answers it whole (TransactionEngine's
// `readFromCache`): reads come from the cache, and anything else (a write, randomness, a key not
// cached) gives up, so that the command goes the scheduled way. One context serves every such
// read of an engine, set up again for each: a read answered from the cache allocates no context
// and no closures, which under cached GETs were a measurable share of a data node's garbage.
// Not re-entrant, and need not be: a handler runs to its end synchronously.

import type { VersionedCache } from '../cache/versioned-cache.js';
import { storageKey } from '../commands/collections/layout.js';
import type { DataCommandContext } from '../commands/context-access.js';
import { decodeStoredValueView, type StoredValue } from '../commands/stored-value.js';

/** Thrown inside the context when the command needs more than the cache can give it. */
const NOT_SERVED_FROM_CACHE = Symbol('not served from the cache');

function giveUp(): never {
  throw NOT_SERVED_FROM_CACHE;
}

export class CachedReadContext implements DataCommandContext {
  nowMs = 0;
  /** Cache entries read, the generation's included: counted as hits once the read is served. */
  hits = 0;
  private generation = 0;
  /** The command's own keys (user keys) and their values, looked up before the handler ran. */
  private ownKeys: readonly string[] = [];
  private readonly ownValues: (Uint8Array | null)[] = [];

  constructor(private readonly cache: VersionedCache) {}

  /** Starts a read at `nowMs` in `generation`; the caller then adds the command's own keys. */
  begin(nowMs: number, generation: number, ownKeys: readonly string[]): void {
    this.nowMs = nowMs;
    this.generation = generation;
    this.ownKeys = ownKeys;
    this.ownValues.length = 0;
    this.hits = 1;
  }

  /** The value of the next own key (in `ownKeys` order). */
  addOwnValue(value: Uint8Array | null): void {
    this.ownValues.push(value);
  }

  /** Lets go of the command's keys and values, so that the context holds none between reads. */
  end(): void {
    this.ownKeys = [];
    this.ownValues.length = 0;
  }

  read(userKey: string): StoredValue | null {
    const own = this.ownKeys.indexOf(userKey);
    let bytes: Uint8Array | null;
    if (own >= 0) {
      this.hits++;
      bytes = this.ownValues[own] as Uint8Array | null;
    } else bytes = this.readElement(storageKey(userKey, this.generation));
    // A view of the cache's bytes: the command is read-only (`readFromCache` runs no other).
    return bytes === null ? null : decodeStoredValueView(bytes);
  }

  readElement(key: string): Uint8Array | null {
    const entry = this.cache.peek(key, this.nowMs);
    if (entry === null) throw NOT_SERVED_FROM_CACHE;
    this.hits++;
    return entry.value;
  }

  readElements(keys: readonly string[]): (Uint8Array | null)[] {
    return keys.map((key) => this.readElement(key));
  }

  write = giveUp;
  writeElement = giveUp;
  random = giveUp;
  newCollectionId = giveUp;
}
