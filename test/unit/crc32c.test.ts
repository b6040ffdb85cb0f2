import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32c, crc32cUpdate } from '../../apps/storage-node/src/storage/crc32c.js';

/** Bit-at-a-time CRC32C: slow, but obviously the definition, to check the sliced tables against. */
function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

describe('crc32c', () => {
  it('matches published check values', () => {
    // RFC 3720 (iSCSI) appendix B.4 and the common "123456789" check value.
    assert.equal(crc32c(Buffer.from('123456789', 'ascii')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
    assert.equal(crc32c(Buffer.from('The quick brown fox jumps over the lazy dog', 'ascii')), 0x22620404);
  });

  it('agrees with the bitwise definition for every length and alignment up to 64 bytes', () => {
    const bytes = Uint8Array.from({ length: 80 }, (_, i) => (i * 131 + 7) & 0xff);
    for (let start = 0; start < 8; start++) {
      for (let length = 0; length <= 64; length++) {
        const slice = bytes.subarray(start, start + length);
        assert.equal(
          crc32c(bytes, start, start + length),
          crc32cBitwise(slice),
          `start ${start} length ${length}`,
        );
        assert.equal(crc32c(slice), crc32cBitwise(slice));
      }
    }
  });

  it('extends a CRC across pieces', () => {
    const bytes = Buffer.from('split across several calls to check incremental use', 'ascii');
    for (const cut of [0, 1, 7, 8, 9, 20, bytes.length]) {
      assert.equal(crc32cUpdate(crc32c(bytes, 0, cut), bytes, cut), crc32c(bytes));
    }
  });

  it('rejects a range outside the array', () => {
    assert.throws(() => crc32c(new Uint8Array(4), 0, 5), RangeError);
    assert.throws(() => crc32c(new Uint8Array(4), 3, 2), RangeError);
  });
});
