// The view of storage a data command gets, and the typed reads and writes the handlers share.
import type { Reply } from '../../../../libs/resp/src/reply.js';
import { isExpired, type StoredValue } from './stored-value.js';

export interface DataCommandContext {
  /** Unix time in whole milliseconds, the same for every command of one transaction. */
  nowMs: number;
  /** The key's stored value, or null when absent. Expired values may be returned: treat them as absent. */
  read(key: string): StoredValue | null;
  /** Replace (null = delete) the key's value; later reads in the same context see it. */
  write(key: string, value: StoredValue | null): void;
}

export type StringValue = Extract<StoredValue, { type: 'string' }>;
export type HashValue = Extract<StoredValue, { type: 'hash' }>;
export type DataCommandHandler = (args: Buffer[], context: DataCommandContext) => Reply;

/** The key's value, or null when it is absent or expired. */
export function readLive(context: DataCommandContext, key: string): StoredValue | null {
  const value = context.read(key);
  return value === null || isExpired(value, context.nowMs) ? null : value;
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
