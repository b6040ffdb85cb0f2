// CRC32C (Castagnoli), the checksum of log records and snapshots. Node has no built-in CRC32C,
// so this is the table-driven slicing-by-8 form: eight table lookups per eight bytes instead of
// one lookup per byte, which keeps checksumming far below the cost of reading the log.

// Reflected form of the Castagnoli polynomial 0x1EDC6F41.
const POLYNOMIAL = 0x82f63b78;

// TABLES[k * 256 + b]: the CRC contribution of byte b followed by k zero bytes.
const TABLES = buildTables();

function buildTables(): Uint32Array {
  const tables = new Uint32Array(8 * 256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    tables[byte] = crc >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    for (let byte = 0; byte < 256; byte++) {
      const previous = tables[(k - 1) * 256 + byte];
      tables[k * 256 + byte] = (previous >>> 8) ^ tables[previous & 0xff];
    }
  }
  return tables;
}

/** CRC32C of `bytes[start, end)`, as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32cUpdate(0, bytes, start, end);
}

/**
 * Extends `crc` (the CRC32C of some preceding bytes, 0 for none) over `bytes[start, end)`:
 * `crc32cUpdate(crc32c(a), b)` equals the CRC32C of `a` followed by `b`.
 */
export function crc32cUpdate(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (start < 0 || end > bytes.length || start > end) {
    throw new RangeError(`crc32c range [${start}, ${end}) is outside a ${bytes.length}-byte array`);
  }
  const t = TABLES;
  let c = ~crc;
  let i = start;
  const wordsEnd = start + ((end - start) & ~7);
  while (i < wordsEnd) {
    const low = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    c =
      t[1792 + (low & 0xff)] ^
      t[1536 + ((low >>> 8) & 0xff)] ^
      t[1280 + ((low >>> 16) & 0xff)] ^
      t[1024 + (low >>> 24)] ^
      t[768 + bytes[i + 4]] ^
      t[512 + bytes[i + 5]] ^
      t[256 + bytes[i + 6]] ^
      t[bytes[i + 7]];
    i += 8;
  }
  while (i < end) {
    c = (c >>> 8) ^ t[(c ^ bytes[i]) & 0xff];
    i++;
  }
  return ~c >>> 0;
}
