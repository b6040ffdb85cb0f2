// Decoded msgpack values with their byte strings copied out of the bytes they were decoded from:
// for the wire's frames (frames.ts) and the storage node's log records and snapshots.

/**
 * `decoded` with every byte string in it (at any depth) replaced by a copy in Node's pooled
 * memory, where small Buffers share 8 KiB slabs. msgpackr's own `copyBuffers` gives each byte
 * string an ArrayBuffer of its own, and an ArrayBuffer costs its allocation and then the
 * collector's work on memory outside the heap: 2.9 against 1.5 us to decode a 1-key PROPOSE
 * (docs/performance.md, "Decoded byte strings copied into pooled memory"). Nothing that keeps a
 * value for long keeps it as decoded: replicas keep values as strings (libs/quorum/src/
 * stored-value.ts) and the data node's cache copies them into memory of their own (`ownBytes` in
 * that file). What holds a decoded value longest is a replica's record of a transaction, until
 * all six replicas know its decision and it is forgotten; proposals decoded together share slabs.
 */
export function withPooledCopies(decoded: unknown, copied: readonly object[] = NONE_COPIED): unknown {
  if (copied.length > 0) return skippingCopied(decoded, copied);
  if (decoded instanceof Uint8Array) {
    const copy = Buffer.allocUnsafe(decoded.byteLength);
    copy.set(decoded);
    return copy;
  }
  if (Array.isArray(decoded)) {
    for (let index = 0; index < decoded.length; index++) {
      const item: unknown = decoded[index];
      if (typeof item === 'object' && item !== null) decoded[index] = withPooledCopies(item);
    }
  } else if (typeof decoded === 'object' && decoded !== null) {
    const map = decoded as Record<string, unknown>;
    for (const key in map) {
      const item = map[key];
      if (typeof item === 'object' && item !== null) map[key] = withPooledCopies(item);
    }
  }
  return decoded;
}

const NONE_COPIED: readonly object[] = [];

/**
 * `withPooledCopies` for a value where `copied` (in decoding order) hold their own copies already:
 * the value itself, or items of a top-level array (a batch). A copied value met deeper is walked
 * and copied again, which is harmless.
 */
function skippingCopied(decoded: unknown, copied: readonly object[]): unknown {
  if (decoded === copied[0]) return decoded;
  if (!Array.isArray(decoded)) return withPooledCopies(decoded);
  let next = 0;
  for (let index = 0; index < decoded.length; index++) {
    const item: unknown = decoded[index];
    if (item === copied[next]) next++;
    else if (typeof item === 'object' && item !== null) decoded[index] = withPooledCopies(item);
  }
  return decoded;
}
