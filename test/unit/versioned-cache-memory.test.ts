// The writer's cache is bounded by the bytes it charges its entries (64 MiB per CU): that bound is
// only worth something if the charge is about the memory an entry holds. Fills caches with
// entries shaped as the data node makes them and compares the live heap they hold (after full
// collections) with what the cache counted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { VersionedCache } from '../../apps/data-node/src/cache/versioned-cache.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

function liveBytes(): number {
  collectGarbage();
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

const ENTRIES = 20_000;
/** A read reply's values reach the cache in buffers of their own (the engine's `ownBytes`); a SET's are pooled. */
const source = Buffer.alloc(64 * 1024, 7);

type ValueShape = 'own' | 'pooled' | 'absent';

function cachedValue(shape: ValueShape, bytes: number, index: number): Uint8Array | null {
  if (shape === 'absent') return null;
  if (shape === 'pooled') return Buffer.allocUnsafe(bytes);
  const start = index % 1_000;
  return Uint8Array.prototype.slice.call(source, start, start + bytes);
}

/** Live bytes held per entry, and bytes charged per entry. */
function measure(shape: ValueShape, valueBytes: number): { live: number; charged: number } {
  const cache = new VersionedCache(Number.MAX_SAFE_INTEGER, 10_000);
  const before = liveBytes();
  for (let index = 0; index < ENTRIES; index++) {
    // Fresh strings of their own, as the data node keeps them (RESP's parser, or ownCopy).
    const key = Buffer.from(`key:${String(index).padStart(12, '0')}`).toString('latin1');
    const txid = Buffer.from(`dn1-0123456789abcdef.${index}`).toString('latin1');
    cache.offer(key, { seq: 1, txid, value: cachedValue(shape, valueBytes, index) }, 1_000);
  }
  const live = (liveBytes() - before) / ENTRIES;
  assert.equal(cache.size.entries, ENTRIES);
  return { live, charged: cache.size.bytes / ENTRIES };
}

describe('versioned cache memory', () => {
  for (const [shape, valueBytes] of [
    ['own', 100],
    ['pooled', 100],
    ['own', 10],
    ['own', 4_000],
    ['absent', 0],
  ] as const) {
    it(`charges about the memory an entry holds (${shape} values of ${valueBytes} bytes)`, () => {
      const { live, charged } = measure(shape, valueBytes);
      const ratio = live / charged;
      assert.ok(
        ratio <= 1.15 && ratio >= 0.7,
        `${Math.round(live)} live bytes per entry against ${Math.round(charged)} charged (${ratio.toFixed(2)}×)`,
      );
    });
  }
});
