// How a replica holds its keys and values in memory (docs/performance.md, "Memory").
//
// A value is kept as a one-byte string holding its bytes 1:1 (latin1), not as a Uint8Array. A
// heap snapshot of a storage node showed a 100-byte value costing 105 bytes of data plus a
// Buffer and an ArrayBuffer object (184 bytes), with the data in a separate allocation outside
// the V8 heap that the GC never compacts. A one-byte string is one object of 12 + n bytes inside
// the heap. Values cross the replica's edges as bytes: converted on the way in and out.
import { Buffer } from 'node:buffer';

/** A value's bytes as a one-byte string, or null for a deleted key. */
export type StoredValue = string | null;

export function storeValue(bytes: Uint8Array | null): StoredValue {
  if (bytes === null) return null;
  // The wire decoder's byte strings are Buffers already: no view to make (one object per value
  // fewer, about a tenth of the bytes a storage node allocates under pipelined SETs).
  if (Buffer.isBuffer(bytes)) return bytes.toString('latin1');
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** The bytes of a stored value, optionally only its first `prefixBytes`. */
export function valueBytes(stored: StoredValue, prefixBytes?: number): Uint8Array | null {
  if (stored === null) return null;
  const text =
    prefixBytes === undefined || prefixBytes >= stored.length ? stored : stored.slice(0, prefixBytes);
  const buffer = Buffer.from(text, 'latin1');
  // A plain Uint8Array view (small Buffers share a pool): callers compare and copy it as bytes.
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** The first byte of a present value; undefined when it is empty. */
export function firstByte(stored: string): number | undefined {
  return stored.length > 0 ? stored.charCodeAt(0) : undefined;
}

/** Bytes a stored value holds. */
export function storedLength(stored: StoredValue): number {
  return stored === null ? 0 : stored.length;
}

/**
 * A copy of `text` that shares no memory with the string it came from. The wire decoder cuts the
 * strings of a message out of one string it decodes in bulk, and V8 keeps such a cut as a view
 * that keeps the whole message's string alive: a key or txid kept for good must not. Encoding
 * and decoding makes a fresh string; the comparison guards the rare string the round trip would
 * change (a lone surrogate), which is then kept as it is.
 */
export function ownCopy(text: string): string {
  const copy = Buffer.from(text, 'utf8').toString('utf8');
  return copy === text ? copy : text;
}

/**
 * `bytes` in memory of its own, exactly its size: a copy, unless they have such memory already.
 * The wire decoder gives each byte string its own memory (libs/wire/src/frames.ts), but a value
 * kept for long, as in a cache, must not keep a larger buffer alive whatever store it came from.
 */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength) return bytes;
  const copy = Buffer.allocUnsafeSlow(bytes.byteLength);
  copy.set(bytes);
  return copy;
}
