// The view of storage a data command gets, and the typed reads and writes the handlers share.
import type { Reply } from '../../../../libs/resp/src/reply.js';
import { isExpired, type StoredValue } from './stored-value.js';

/**
 * What a handler sees of storage. Any key may be read at any time: in the engine, a key not
 * fetched yet ends the run (a sentinel the handler must not catch), and the engine fetches it
 * with everything else the run asked for and runs the group again from the start. So handlers
 * are pure and deterministic (same reads, `nowMs` and `random()` → same replies and writes),
 * and ask for element keys in batches (`readElements`): each round of fetching is a round trip.
 */
export interface DataCommandContext {
  /** Unix time in whole milliseconds, the same for every command of one transaction. */
  nowMs: number;
  /** The key's stored value (a header for collections), or null when absent. Expired values may be returned: treat them as absent. */
  read(key: string): StoredValue | null;
  /** Replace (null = delete) the key's value; later reads in the same context see it. */
  write(key: string, value: StoredValue | null): void;
  /** An internal element key's bytes (collections/layout.ts `elementKey`), or null. */
  readElement(key: string): Uint8Array | null;
  /** Many element keys, fetched in one round. */
  readElements(keys: readonly string[]): (Uint8Array | null)[];
  /** Replace (null = delete) an element key's bytes; later reads in the same context see them. */
  writeElement(key: string, bytes: Uint8Array | null): void;
  /** [0, 1), deterministic within one attempt of a transaction. */
  random(): number;
  /** A fresh collection id (8 bytes as a latin1 string), deterministic within one attempt. */
  newCollectionId(): string;
}

export type StringValue = Extract<StoredValue, { type: 'string' }>;
export type HashValue = Extract<StoredValue, { fields: Map<string, Buffer> }>;
export type DataCommandHandler = (args: Buffer[], context: DataCommandContext) => Reply;

/** The key's value, or null when it is absent or expired. */
export function readLive(context: DataCommandContext, key: string): StoredValue | null {
  const value = context.read(key);
  return value === null || isExpired(value, context.nowMs) ? null : value;
}

/** A hash stored whole (the layout before ADR 0008). */
export function isWholeHash(value: StoredValue): value is HashValue {
  return value.type === 'hash' && 'fields' in value;
}

export function nowBigInt(context: DataCommandContext): bigint {
  return BigInt(Math.floor(context.nowMs));
}

/** Stored values own their bytes: argument buffers may be views of a connection's read buffer. */
export function stringValue(value: Buffer, expireAtMs: number | null): StringValue {
  return { type: 'string', value: Buffer.from(value), expireAtMs };
}

export function hashValue(fields: Map<string, Buffer>, previous: HashValue | null): HashValue {
  return { type: 'hash', fields, expireAtMs: previous?.expireAtMs ?? null };
}
