// A key's value as the data node stores it in the quorum store, and its binary encoding.
//
// Layout: one tag byte (the type in the low bits, 0x80 set when an expiry follows), then the
// expiry as a little-endian float64 of Unix milliseconds when present, then the payload:
// - string: the raw bytes, so that encoding and decoding a string is one copy;
// - hash (stored whole, the layout before ADR 0008): a varint field count, then for each field a
//   varint length and its bytes followed by a varint length and the value's bytes, in insertion order;
// - a collection's header (ADR 0008; one tag per type): the 8-byte collection id, a varint element
//   count, then the family's meta bytes to the end.
// Varints are unsigned LEB128. A float64 holds every expiry Redis can set exactly up to 2^53 ms
// (the year 287,396) and keeps a larger one as the nearest representable integer.

import type { BlindGuard } from '../../../../libs/quorum/src/index.js';

export type CollectionType = 'hash' | 'set' | 'list' | 'zset';

/**
 * The value at a collection's Redis key (ADR 0008): its elements live in element keys under
 * `id` (collections/layout.ts); `meta` is the family's own bytes (bucket count, list head, …).
 */
export interface CollectionHeader {
  type: CollectionType;
  /** 8 bytes as a latin1 string, fixed for the life of the collection. */
  id: string;
  /** Element count. */
  size: number;
  expireAtMs: number | null;
  meta: Buffer;
}

export type StoredValue =
  | { type: 'string'; value: Buffer; expireAtMs: number | null }
  /** Field names are latin1 strings holding the field's bytes; the Map keeps insertion order. */
  | { type: 'hash'; fields: Map<string, Buffer>; expireAtMs: number | null }
  | CollectionHeader;

export const COLLECTION_ID_BYTES = 8;

const STRING_TAG = 0x01;
const HASH_TAG = 0x02;
const COLLECTION_TAGS: Readonly<Record<CollectionType, number>> = {
  hash: 0x03,
  set: 0x04,
  list: 0x05,
  zset: 0x06,
};
const COLLECTION_TYPE_BY_TAG = new Map<number, CollectionType>(
  Object.entries(COLLECTION_TAGS).map(([type, tag]) => [tag, type as CollectionType]),
);
const HAS_EXPIRY_FLAG = 0x80;
const TYPE_MASK = 0x7f;

/**
 * The values a blind write may replace (ADR 0016): those stored whole, strings and old-layout
 * hashes, whatever their expiry. A collection's header is not among them: replacing it means
 * reclaiming its elements, which takes reading it.
 */
export const INLINE_VALUE_GUARD: BlindGuard = { mask: TYPE_MASK, firstBytes: [STRING_TAG, HASH_TAG] };
const EXPIRY_BYTES = 8;
/** Five LEB128 bytes hold 35 bits, enough for any length below 2^32. */
const VARINT_BYTES_MAX = 5;

/** A value's leading bytes that hold its type and expiry: enough for `decodeStoredHeader`. */
export const STORED_HEADER_BYTES_MAX = 1 + EXPIRY_BYTES;

/** Type and expiry from a value's first `STORED_HEADER_BYTES_MAX` bytes (or all of it). */
export function decodeStoredHeader(bytes: Uint8Array): {
  type: StoredValue['type'];
  expireAtMs: number | null;
} {
  const tag = bytes[0];
  if (tag === undefined) throw new Error('corrupt stored value: truncated type tag');
  // Most values have no expiry: their header is the tag alone, read without a reader (a listing
  // decodes one header per key).
  if ((tag & HAS_EXPIRY_FLAG) === 0) return { type: typeOfTag(tag), expireAtMs: null };
  const reader = new ByteReader(bytes);
  reader.byte('type tag');
  const expireAtMs = reader.expiry();
  return { type: typeOfTag(tag), expireAtMs };
}

function typeOfTag(tag: number): StoredValue['type'] {
  const masked = tag & TYPE_MASK;
  if (masked === STRING_TAG) return 'string';
  if (masked === HASH_TAG) return 'hash';
  const collection = COLLECTION_TYPE_BY_TAG.get(masked);
  if (collection !== undefined) return collection;
  throw new Error(`corrupt stored value: unknown type tag 0x${tag.toString(16).padStart(2, '0')}`);
}

/**
 * Whether stored bytes hold a collection's header, from the type tag alone: a writer replacing a
 * string learns it has no elements to reclaim without decoding (and copying) the value.
 */
export function holdsCollectionHeader(bytes: Uint8Array): boolean {
  const tag = bytes[0];
  return tag !== undefined && COLLECTION_TYPE_BY_TAG.has(tag & TYPE_MASK);
}

/** A collection header, as opposed to a value stored whole. */
export function isCollectionHeader(value: StoredValue): value is CollectionHeader {
  return 'id' in value;
}

/** True when the value's expiry has passed: Redis keeps a key alive through its expiry millisecond. */
export function isExpired(value: { expireAtMs: number | null }, nowMs: number): boolean {
  return value.expireAtMs !== null && nowMs > value.expireAtMs;
}

export function encodeStoredValue(value: StoredValue): Uint8Array {
  const headerLength = 1 + (value.expireAtMs === null ? 0 : EXPIRY_BYTES);
  if (value.type === 'string') {
    const bytes = Buffer.allocUnsafe(headerLength + value.value.length);
    const offset = writeHeader(bytes, STRING_TAG, value.expireAtMs);
    value.value.copy(bytes, offset);
    return bytes;
  }
  if (isCollectionHeader(value)) return encodeHeader(value, headerLength);
  const fieldBytes: Buffer[] = [];
  let payloadLength = varintLength(value.fields.size);
  for (const [field, fieldValue] of value.fields) {
    const name = Buffer.from(field, 'latin1');
    fieldBytes.push(name);
    payloadLength +=
      varintLength(name.length) + name.length + varintLength(fieldValue.length) + fieldValue.length;
  }
  const bytes = Buffer.allocUnsafe(headerLength + payloadLength);
  let offset = writeHeader(bytes, HASH_TAG, value.expireAtMs);
  offset = writeVarint(bytes, offset, value.fields.size);
  let index = 0;
  for (const fieldValue of value.fields.values()) {
    const name = fieldBytes[index++] as Buffer;
    offset = writeVarint(bytes, offset, name.length);
    offset += name.copy(bytes, offset);
    offset = writeVarint(bytes, offset, fieldValue.length);
    offset += fieldValue.copy(bytes, offset);
  }
  return bytes;
}

/**
 * Decodes what `encodeStoredValue` produced. The result owns its buffers (nothing aliases
 * `bytes`), so the caller may reuse `bytes`. Throws on anything that is not a whole, valid value.
 */
export function decodeStoredValue(bytes: Uint8Array): StoredValue {
  const reader = new ByteReader(bytes);
  const tag = reader.byte('type tag');
  const expireAtMs = (tag & HAS_EXPIRY_FLAG) !== 0 ? reader.expiry() : null;
  const type = typeOfTag(tag);
  if (type === 'string') return { type, value: reader.rest(), expireAtMs };
  if ((tag & TYPE_MASK) === HASH_TAG) return { type: 'hash', fields: decodeHashFields(reader), expireAtMs };
  const id = reader.bytes(COLLECTION_ID_BYTES, 'collection id').toString('latin1');
  const size = reader.varint('collection size');
  return { type, id, size, expireAtMs, meta: reader.rest() };
}

/**
 * As `decodeStoredValue`, but a string without an expiry (the common value) is a view of `bytes`,
 * not a copy of them: for a read-only command answered from the writer's cache, where the copy
 * was about a tenth of a cached GET's work. The bytes are the cache's: a command run this way
 * must not change them, as no read-only command does (it reads a value, and its reply is
 * encoded, so copied, before anything else runs). Every other value is decoded as a copy.
 */
export function decodeStoredValueView(bytes: Uint8Array): StoredValue {
  if (bytes[0] !== STRING_TAG) return decodeStoredValue(bytes);
  return { type: 'string', value: asBuffer(bytes).subarray(1), expireAtMs: null };
}

/** `bytes` as a Buffer over the same memory: values arrive as Buffers (msgpack's byte strings), wrapped only when not. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function encodeHeader(header: CollectionHeader, headerLength: number): Uint8Array {
  if (header.id.length !== COLLECTION_ID_BYTES)
    throw new Error(`a collection id is ${COLLECTION_ID_BYTES} bytes`);
  if (!Number.isSafeInteger(header.size) || header.size < 0 || header.size >= 2 ** 32) {
    throw new Error(`invalid collection size ${header.size}`);
  }
  const bytes = Buffer.allocUnsafe(
    headerLength + COLLECTION_ID_BYTES + varintLength(header.size) + header.meta.length,
  );
  let offset = writeHeader(bytes, COLLECTION_TAGS[header.type], header.expireAtMs);
  offset += bytes.write(header.id, offset, 'latin1');
  offset = writeVarint(bytes, offset, header.size);
  header.meta.copy(bytes, offset);
  return bytes;
}

function decodeHashFields(reader: ByteReader): Map<string, Buffer> {
  const count = reader.varint('field count');
  const fields = new Map<string, Buffer>();
  for (let index = 0; index < count; index++) {
    const name = reader.bytes(reader.varint('field name length'), 'field name').toString('latin1');
    const value = reader.bytes(reader.varint('field value length'), 'field value');
    if (fields.has(name)) throw new Error('corrupt stored value: duplicate hash field');
    fields.set(name, value);
  }
  reader.expectEnd();
  return fields;
}

function writeHeader(bytes: Buffer, typeTag: number, expireAtMs: number | null): number {
  if (expireAtMs === null) {
    bytes[0] = typeTag;
    return 1;
  }
  if (!Number.isInteger(expireAtMs)) throw new Error(`expiry must be an integer number of ms: ${expireAtMs}`);
  bytes[0] = typeTag | HAS_EXPIRY_FLAG;
  bytes.writeDoubleLE(expireAtMs, 1);
  return 1 + EXPIRY_BYTES;
}

function varintLength(value: number): number {
  let length = 1;
  for (let rest = value >>> 7; rest !== 0; rest >>>= 7) length++;
  return length;
}

function writeVarint(bytes: Buffer, start: number, value: number): number {
  let offset = start;
  let rest = value >>> 0;
  while (rest >= 0x80) {
    bytes[offset++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  bytes[offset++] = rest;
  return offset;
}

class ByteReader {
  private readonly buffer: Buffer;
  private offset = 0;

  constructor(bytes: Uint8Array) {
    this.buffer = asBuffer(bytes);
  }

  byte(what: string): number {
    this.need(1, what);
    return this.buffer[this.offset++] as number;
  }

  expiry(): number {
    this.need(EXPIRY_BYTES, 'expiry');
    const expireAtMs = this.buffer.readDoubleLE(this.offset);
    this.offset += EXPIRY_BYTES;
    if (!Number.isInteger(expireAtMs)) throw new Error('corrupt stored value: expiry is not an integer');
    return expireAtMs;
  }

  varint(what: string): number {
    let value = 0;
    for (let index = 0; index < VARINT_BYTES_MAX; index++) {
      const byte = this.byte(what);
      value += (byte & 0x7f) * 2 ** (7 * index);
      if (byte < 0x80) return value;
    }
    throw new Error(`corrupt stored value: ${what} is not a valid varint`);
  }

  /** A copy of the next `length` bytes. */
  bytes(length: number, what: string): Buffer {
    this.need(length, what);
    const copy = Buffer.from(this.buffer.subarray(this.offset, this.offset + length));
    this.offset += length;
    return copy;
  }

  rest(): Buffer {
    return this.bytes(this.buffer.length - this.offset, 'value');
  }

  expectEnd(): void {
    const trailing = this.buffer.length - this.offset;
    if (trailing !== 0) throw new Error(`corrupt stored value: ${trailing} trailing bytes`);
  }

  private need(length: number, what: string): void {
    if (this.buffer.length - this.offset < length) {
      throw new Error(`corrupt stored value: truncated ${what}`);
    }
  }
}
