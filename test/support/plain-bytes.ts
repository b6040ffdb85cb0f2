/**
 * `value` with every byte string (decoded ones are Buffers, a Uint8Array subclass) as a plain
 * Uint8Array, at any depth: what was sent and what was decoded then compare as equal.
 */
export function plainBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(plainBytes);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, plainBytes(field)]));
  }
  return value;
}
