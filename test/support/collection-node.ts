// The shared in-memory keyspace (memory-context.ts) with a command runner that plays the engine's
// part of contract 3 (reads during a command) the way engine/transaction-engine.ts does: a
// command runs over an overlay; a read of a key not fetched yet aborts the run, every key the run
// asked for is fetched, and the command runs again from the start; the overlay is applied once a
// run completes. So tests see how many rounds of reads a command took and how many element keys
// it read and wrote, and that handlers give the same result when run again.
import { COLLECTION_FAMILIES } from '../../apps/data-node/src/commands/collections/families.js';
import { collectionIdOf } from '../../apps/data-node/src/commands/collections/layout.js';
import { keysOf } from '../../apps/data-node/src/commands/command-keys.js';
import {
  type DataCommandContext,
  executeDataCommand,
} from '../../apps/data-node/src/commands/data-commands.js';
import {
  encodeListMeta,
  type ListHeader,
  listElementKey,
  listElementKeys,
} from '../../apps/data-node/src/commands/list-layout.js';
import { resolveCommand } from '../../apps/data-node/src/commands/served-commands.js';
import {
  type CollectionHeader,
  isCollectionHeader,
  type StoredValue,
} from '../../apps/data-node/src/commands/stored-value.js';
import type { Reply } from '../../libs/resp/src/reply.js';
import { MemoryKeyspace } from './memory-context.js';

const ROUNDS_MAX = 64;

/** Thrown inside a run when it read a key not fetched yet; caught only by `reply`. */
class Missing extends Error {}

export interface RunStats {
  rounds: number;
  /** Element keys fetched, and element keys written, by the command. */
  elementsRead: number;
  elementsWritten: number;
}

export class CollectionNode {
  readonly keyspace = new MemoryKeyspace();
  nowMs: number;
  stats: RunStats = { rounds: 0, elementsRead: 0, elementsWritten: 0 };
  private commandNumber = 0;

  constructor(nowMs = Date.now()) {
    this.nowMs = nowMs;
  }

  reply(...words: (string | Buffer)[]): Reply {
    return this.replyAll([words])[0] as Reply;
  }

  /**
   * Runs the requests as the engine runs one group (or one MULTI): in order, over one overlay,
   * the whole group again after each round of fetching. A request the table refuses (unknown,
   * wrong arity) is answered at once, as the session would.
   */
  replyAll(requests: readonly (readonly (string | Buffer)[])[]): Reply[] {
    const parsed = requests.map((words) => {
      const args = words.map((word) => (typeof word === 'string' ? Buffer.from(word, 'latin1') : word));
      return { args, resolution: resolveCommand(args) };
    });
    this.commandNumber++;
    const store = this.keyspace.context(this.nowMs);
    const fetchedKeys = new Set<string>();
    for (const { args, resolution } of parsed) {
      if (!('error' in resolution)) for (const key of keysOf(resolution.spec, args)) fetchedKeys.add(key);
    }
    const fetchedElements = new Set<string>();
    const minted = new Set<string>();
    for (let round = 0; round < ROUNDS_MAX; round++) {
      const values = new Map<string, StoredValue | null>();
      const elements = new Map<string, Uint8Array | null>();
      /** Collection headers as read from the store, by key: what reclaim compares writes with. */
      const headersRead = new Map<string, CollectionHeader>();
      const missingKeys = new Set<string>();
      const missingElements = new Set<string>();
      let ids = 0;
      const check = (): void => {
        if (missingKeys.size > 0 || missingElements.size > 0) throw new Missing();
      };
      // As in the engine, the element keys of a collection created in this group are known to be
      // absent: they need no fetching.
      const needElements = (keys: readonly string[]): void => {
        for (const key of keys) {
          if (fetchedElements.has(key)) continue;
          const id = collectionIdOf(key);
          if (id !== null && minted.has(id)) continue;
          missingElements.add(key);
        }
        check();
      };
      const readElementNow = (key: string): Uint8Array | null =>
        elements.has(key) ? (elements.get(key) ?? null) : store.readElement(key);
      const context: DataCommandContext = {
        nowMs: this.nowMs,
        read: (key) => {
          if (!fetchedKeys.has(key)) missingKeys.add(key);
          check();
          if (values.has(key)) return values.get(key) ?? null;
          const value = store.read(key);
          if (value !== null && isCollectionHeader(value)) headersRead.set(key, value);
          return value;
        },
        write: (key, value) => {
          if (!fetchedKeys.has(key)) missingKeys.add(key);
          check();
          values.set(key, value);
        },
        readElement: (key) => {
          needElements([key]);
          return readElementNow(key);
        },
        readElements: (keys) => {
          needElements(keys);
          return keys.map(readElementNow);
        },
        writeElement: (key, bytes) => {
          needElements([key]);
          elements.set(key, bytes === null ? null : Uint8Array.from(bytes));
        },
        random: () => 0.5,
        // The same ids on every run of one group, as the engine's are within an attempt.
        newCollectionId: () => {
          const id = `${this.commandNumber}:${ids++}`.padEnd(8, '.');
          minted.add(id);
          return id;
        },
      };
      try {
        const replies = parsed.map(({ args, resolution }) =>
          'error' in resolution ? resolution.error : executeDataCommand(resolution.spec, args, context),
        );
        for (const [key, value] of values) store.write(key, value);
        for (const [key, bytes] of elements) store.writeElement(key, bytes);
        this.reclaim(store, headersRead, values);
        this.stats = { rounds: round, elementsRead: fetchedElements.size, elementsWritten: elements.size };
        return replies;
      } catch (cause) {
        if (!(cause instanceof Missing)) throw cause;
        for (const key of missingKeys) fetchedKeys.add(key);
        for (const key of missingElements) fetchedElements.add(key);
      }
    }
    const names = parsed.map(({ args }) =>
      args.map((arg) => JSON.stringify(arg.toString('latin1'))).join(' '),
    );
    throw new Error(`more than ${ROUNDS_MAX} rounds of reads for ${names.join('; ')}`);
  }

  /**
   * What the engine and its reclaimer do after a commit (ADR 0008): a collection whose id was read
   * at a key the group wrote and that no written header holds any more loses its element keys
   * (here at once rather than in the background).
   */
  private reclaim(
    store: DataCommandContext,
    headersRead: ReadonlyMap<string, CollectionHeader>,
    written: ReadonlyMap<string, StoredValue | null>,
  ): void {
    const kept = new Set<string>();
    for (const value of written.values()) if (value !== null && isCollectionHeader(value)) kept.add(value.id);
    for (const [key, header] of headersRead) {
      if (!written.has(key) || kept.has(header.id)) continue;
      const family = COLLECTION_FAMILIES.get(header.type);
      for (const elementKey of family?.elementKeys(store, header) ?? []) store.writeElement(elementKey, null);
    }
  }

  /** A list of `size` elements `e0`, `e1`, … written straight into the store. */
  seed(key: string, size: number, head = -Math.floor(size / 2)): void {
    const id = `seed${key}`.slice(0, 8).padEnd(8, '#');
    const store = this.keyspace.context(this.nowMs);
    store.write(key, { type: 'list', id, size, expireAtMs: null, meta: encodeListMeta(head) });
    for (let position = 0; position < size; position++) {
      store.writeElement(listElementKey(id, head + position), Buffer.from(`e${position}`));
    }
  }

  /** The element keys no list header accounts for (should be none after list commands). */
  strayElements(): string[] {
    const live = new Set<string>();
    for (const key of this.keyspace.keys()) {
      const value = this.keyspace.value(key);
      if (value !== null && value.type === 'list' && isCollectionHeader(value)) {
        for (const elementKey of listElementKeys(value as ListHeader)) live.add(elementKey);
      }
    }
    return this.keyspace.internalKeys().filter((key) => !live.has(key));
  }
}
