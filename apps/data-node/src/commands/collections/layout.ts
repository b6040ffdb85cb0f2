// The collection layout (docs/adr/0008-collection-layout.md): a collection's Redis key holds a
// header (type, id, size, expiry, the family's meta bytes); its elements live in element keys
// `elementKey(id, suffix)`, internal keys of the volume that no Redis key can name.
//
// Internal keys begin with 0xff and a letter ('e' for elements). A Redis key that itself begins
// with 0xff is stored behind one more 0xff byte (`storageKey`), so its second byte is 0xff and
// it can never equal an internal key; `userKeyOf` undoes that and answers null for internal keys.
// The escape byte and the internal prefixes fit the storage nodes' key limit
// (`STORAGE_KEY_BYTES_MAX` in libs/limits), so a Redis key of `KEY_BYTES_MAX` bytes still works.
import type { DataCommandContext } from '../context-access.js';
import {
  COLLECTION_ID_BYTES,
  type CollectionHeader,
  type CollectionType,
  isCollectionHeader,
  type StoredValue,
} from '../stored-value.js';

export type { CollectionHeader, CollectionType } from '../stored-value.js';
export { COLLECTION_ID_BYTES, isCollectionHeader } from '../stored-value.js';

/** The first byte of every internal key of the volume (and of escaped Redis keys). */
export const INTERNAL_KEY_MARK = '\xff';
const ELEMENT_KEY_PREFIX = `${INTERNAL_KEY_MARK}e`;

/** The storage key of one element (or bucket, or node) of the collection `id`. */
export function elementKey(id: string, suffix: string): string {
  return ELEMENT_KEY_PREFIX + id + suffix;
}

/** The id of the collection an element key belongs to, or null for any other key. */
export function collectionIdOf(storageKey: string): string | null {
  if (!storageKey.startsWith(ELEMENT_KEY_PREFIX)) return null;
  const end = ELEMENT_KEY_PREFIX.length + COLLECTION_ID_BYTES;
  return storageKey.length >= end ? storageKey.slice(ELEMENT_KEY_PREFIX.length, end) : null;
}

/**
 * The volume's generation (ADR 0008, decision 7): FLUSHDB and FLUSHALL increment it, and every
 * transaction reads it, so that the Redis keys of older generations are gone at once.
 */
export const GENERATION_KEY = `${INTERNAL_KEY_MARK}g`;
const GENERATION_PREFIX = `${INTERNAL_KEY_MARK}v`;
/**
 * A walk over the volume is owed (engine/generation-sweeper.ts): a flush writes the generation it
 * started here, and the walk that finishes after it removes it. A writer that attaches and finds
 * it walks the volume, so the keys of a flushed generation are reclaimed even if the writer that
 * flushed stopped mid-walk.
 */
export const FLUSH_WALK_KEY = `${INTERNAL_KEY_MARK}w`;
const GENERATION_BYTES = 4;

/** The generation a GENERATION_KEY value holds (absent: 0). */
export function decodeGeneration(bytes: Uint8Array | null): number {
  return bytes === null ? 0 : Number(Buffer.from(bytes).toString('latin1'));
}

export function encodeGeneration(generation: number): Uint8Array {
  return Buffer.from(String(generation), 'latin1');
}

/**
 * The volume key that holds the Redis key `userKey`'s value in `generation`: the key itself
 * (escaped when it begins with 0xff) in generation 0, so volumes never flushed keep their
 * keys; `0xff 'v'`, 4 bytes of generation and the key after that.
 */
export function storageKey(userKey: string, generation = 0): string {
  if (generation > 0) {
    const prefix = Buffer.alloc(GENERATION_BYTES);
    prefix.writeUInt32BE(generation, 0);
    return GENERATION_PREFIX + prefix.toString('latin1') + userKey;
  }
  return userKey.startsWith(INTERNAL_KEY_MARK) ? INTERNAL_KEY_MARK + userKey : userKey;
}

/** The Redis key a volume key holds (in whatever generation), or null for an internal key. */
export function userKeyOf(key: string): string | null {
  if (!key.startsWith(INTERNAL_KEY_MARK)) return key;
  if (key.charCodeAt(1) === 0xff) return key.slice(1);
  return key.startsWith(GENERATION_PREFIX) ? key.slice(GENERATION_PREFIX.length + GENERATION_BYTES) : null;
}

/** The generation of a volume key that holds a Redis key (0 for keys outside any prefix). */
export function generationOf(key: string): number {
  if (!key.startsWith(GENERATION_PREFIX)) return 0;
  return Buffer.from(
    key.slice(GENERATION_PREFIX.length, GENERATION_PREFIX.length + GENERATION_BYTES),
    'latin1',
  ).readUInt32BE(0);
}

/**
 * What the keyspace-wide commands (DEL's reclaim, COPY, MEMORY USAGE, FLUSHDB) need of each
 * family. Element keys are `elementKey(header.id, suffix)`, and their bytes never embed the id,
 * so a copy is the same suffixes under a new id with the same meta.
 */
export interface CollectionFamily {
  readonly type: CollectionType;
  /** Every element key of the collection; may read element keys (through `context`) to find them. */
  elementKeys(context: DataCommandContext, header: CollectionHeader): string[];
  /**
   * The element keys at `[from, from + count)` of an order in which deleting a prefix never hides
   * the rest (reclaim deletes one batch per step), in time proportional to `count`, not to the
   * collection: a step over a huge collection must not list all of it.
   */
  reclaimBatch(context: DataCommandContext, header: CollectionHeader, from: number, count: number): string[];
}

/** A new, empty collection's header: a fresh id, no expiry. */
export function newHeader(context: DataCommandContext, type: CollectionType, meta: Buffer): CollectionHeader {
  return { type, id: context.newCollectionId(), size: 0, expireAtMs: null, meta };
}

/** The header when `value` is a collection of `type`. */
export function headerOfType(value: StoredValue | null, type: CollectionType): CollectionHeader | null {
  return value !== null && isCollectionHeader(value) && value.type === type ? value : null;
}
