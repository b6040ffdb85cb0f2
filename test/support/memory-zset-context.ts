// An in-memory store behind DataCommandContext that counts what a command costs, for the
// sorted-set tests: Redis keys hold values or collection headers, element keys hold bytes. `run`
// executes a command as the engine does: a read of a key not fetched yet ends the run, the keys
// it asked for are fetched in one round, and the command runs again from the start over a fresh
// overlay; writes reach the store only when a run completes. (test/support/memory-context.ts is
// the shared store for replies; this one is for rounds and keys.)
import type { DataCommandContext } from '../../apps/data-node/src/commands/context-access.js';
import type { StoredValue } from '../../apps/data-node/src/commands/stored-value.js';
import { mulberry32 } from './prng.js';

type Value = StoredValue;

class NeedKeys {
  constructor(readonly keys: string[]) {}
}

export interface RunCost {
  /** Rounds of fetching: each is one round trip to the replicas. */
  rounds: number;
  /** Distinct keys read (Redis keys and element keys). */
  keysRead: number;
  /** Keys written (set or deleted). */
  keysWritten: number;
}

export class MemoryZsetStore {
  readonly values = new Map<string, Value>();
  readonly elements = new Map<string, Uint8Array>();
  private idCounter = 0;
  private readonly random: () => number;

  constructor(seed = 1) {
    this.random = mulberry32(seed);
  }

  /** A context that reads and writes the store directly, every key available at once. */
  direct(nowMs = Date.now()): DataCommandContext {
    return {
      nowMs,
      read: (key) => this.values.get(key) ?? null,
      write: (key, value) => {
        if (value === null) this.values.delete(key);
        else this.values.set(key, value);
      },
      readElement: (key) => this.elements.get(key) ?? null,
      readElements: (keys) => keys.map((key) => this.elements.get(key) ?? null),
      writeElement: (key, bytes) => {
        if (bytes === null) this.elements.delete(key);
        else this.elements.set(key, Uint8Array.from(bytes));
      },
      random: this.random,
      newCollectionId: () => this.newId(),
    };
  }

  /** Runs `command` as the engine would, and reports what it cost. */
  run<T>(command: (context: DataCommandContext) => T, nowMs = Date.now()): { result: T; cost: RunCost } {
    const fetched = new Set<string>();
    let rounds = 0;
    for (let attempt = 0; attempt < 1_000; attempt++) {
      const valueWrites = new Map<string, Value | null>();
      const elementWrites = new Map<string, Uint8Array | null>();
      const wanted: string[] = [];
      // Ids are deterministic within an attempt, as the engine's are: a rerun asks for the same keys.
      let idsHandedOut = 0;
      const seed = this.random();
      const random = mulberry32(Math.floor(seed * 2 ** 32));
      const minted = (key: string): boolean => {
        const id = key.slice(2, 10);
        for (let index = 1; index <= idsHandedOut; index++)
          if (this.idAt(this.idCounter + index) === id) return true;
        return false;
      };
      const check = (key: string): boolean => {
        if (fetched.has(key)) return true;
        wanted.push(key);
        return false;
      };
      const context: DataCommandContext = {
        nowMs,
        read: (key) => {
          if (valueWrites.has(key)) return valueWrites.get(key) ?? null;
          if (!check(key)) throw new NeedKeys(wanted);
          return this.values.get(key) ?? null;
        },
        // As in the engine, a key is written only once fetched (its version goes into the
        // commit), except the element keys of a collection created in this attempt.
        write: (key, value) => {
          if (!valueWrites.has(key) && !check(key)) throw new NeedKeys(wanted);
          valueWrites.set(key, value);
        },
        readElement: (key) => context.readElements([key])[0] ?? null,
        readElements: (keys) => {
          const missing = keys.filter((key) => !elementWrites.has(key) && !minted(key) && !check(key));
          if (missing.length > 0) throw new NeedKeys(wanted);
          return keys.map((key) =>
            elementWrites.has(key) ? (elementWrites.get(key) ?? null) : (this.elements.get(key) ?? null),
          );
        },
        writeElement: (key, bytes) => {
          if (!elementWrites.has(key) && !minted(key) && !check(key)) throw new NeedKeys(wanted);
          elementWrites.set(key, bytes === null ? null : Uint8Array.from(bytes));
        },
        random,
        newCollectionId: () => this.idAt(this.idCounter + ++idsHandedOut),
      };
      let result: T;
      try {
        result = command(context);
      } catch (caught) {
        if (!(caught instanceof NeedKeys)) throw caught;
        rounds++;
        for (const key of caught.keys) fetched.add(key);
        continue;
      }
      this.idCounter += idsHandedOut;
      for (const [key, value] of valueWrites) {
        if (value === null) this.values.delete(key);
        else this.values.set(key, value);
      }
      for (const [key, bytes] of elementWrites) {
        if (bytes === null) this.elements.delete(key);
        else this.elements.set(key, bytes);
      }
      return {
        result,
        cost: { rounds, keysRead: fetched.size, keysWritten: valueWrites.size + elementWrites.size },
      };
    }
    throw new Error('a command kept asking for keys');
  }

  private newId(): string {
    return this.idAt(++this.idCounter);
  }

  private idAt(counter: number): string {
    const bytes = Buffer.alloc(8);
    bytes.writeUInt32BE(counter, 4);
    return bytes.toString('latin1');
  }
}
