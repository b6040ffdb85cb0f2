// The replica's scan index against the walk it replaced: every key hashed and sorted at each page.
// Keys arrive over time (the index catches up at each page), some are not listed (deleted), and a
// coarse hash makes many keys share one, so that pages end inside runs of equal hashes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { keyHash } from '../../libs/quorum/src/index.js';
import { ScanIndex } from '../../libs/quorum/src/scan-index.js';

/** The walk a scan page made before the index: all listed keys from the hash on, stably sorted. */
function referencePage(
  keyOrder: readonly string[],
  hash: (key: string) => number,
  fromHash: number,
  limit: number,
  listed: (key: string) => boolean,
): { keys: string[]; nextHash: number } {
  const candidates = keyOrder
    .filter((key) => listed(key) && hash(key) >= fromHash)
    .map((key) => ({ key, hash: hash(key) }))
    .sort((a, b) => a.hash - b.hash);
  let nextHash = 0;
  if (candidates.length > limit) {
    const lastHash = (candidates[limit - 1] as { hash: number }).hash;
    let end = limit;
    while (end < candidates.length && (candidates[end] as { hash: number }).hash === lastHash) end++;
    if (end < candidates.length) nextHash = lastHash + 1;
    candidates.length = end;
  }
  return { keys: candidates.map((candidate) => candidate.key), nextHash };
}

const coarseHash = (key: string): number => keyHash(key) % 64;

type Step =
  | { kind: 'add'; count: number }
  | { kind: 'unlist'; pick: number }
  | { kind: 'page'; fromHash: number; limit: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), count: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ kind: fc.constant('unlist' as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant('page' as const),
    fromHash: fc.integer({ min: 0, max: 70 }),
    limit: fc.integer({ min: 1, max: 120 }),
  }),
);

describe('scan index', () => {
  it('gives the pages of the full walk, as keys arrive and stop being listed', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
        const keyOrder: string[] = [];
        const unlisted = new Set<string>();
        const listed = (key: string): boolean => !unlisted.has(key);
        const index = new ScanIndex(coarseHash);
        for (const current of steps) {
          if (current.kind === 'add') {
            for (let i = 0; i < current.count; i++) keyOrder.push(`k${keyOrder.length}`);
          } else if (current.kind === 'unlist') {
            if (keyOrder.length > 0) unlisted.add(keyOrder[current.pick % keyOrder.length] as string);
          } else {
            assert.deepEqual(
              index.page(keyOrder, current.fromHash, current.limit, listed),
              referencePage(keyOrder, coarseHash, current.fromHash, current.limit, listed),
            );
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('walks a whole volume page by page, each key once, through both of its runs', () => {
    // 20,000 keys, then 3,000 more: the later ones stay in the small run (under an eighth of the
    // large one), so a full walk merges the two runs at every page.
    const keyOrder = Array.from({ length: 20_000 }, (_, i) => `key:${i}`);
    const index = new ScanIndex(keyHash);
    index.page(keyOrder, 0, 1, () => true);
    for (let i = 0; i < 3_000; i++) keyOrder.push(`late:${i}`);
    const seen: string[] = [];
    let cursor = 0;
    let pages = 0;
    do {
      const page = index.page(keyOrder, cursor, 1_000, () => true);
      seen.push(...page.keys);
      cursor = page.nextHash;
      pages++;
    } while (cursor !== 0);
    assert.equal(index.size, 23_000);
    assert.equal(seen.length, 23_000);
    assert.equal(new Set(seen).size, 23_000);
    assert.ok(pages >= 23, `${pages} pages`);
    const hashes = seen.map(keyHash);
    for (let i = 1; i < hashes.length; i++) assert.ok((hashes[i - 1] as number) <= (hashes[i] as number));
  });

  it('orders a large batch of new keys as the full walk does, ties included', () => {
    // Past RADIX_SORT_KEYS_MIN new keys the index sorts by radix: the same order, ties kept in
    // insertion order, as the comparison sort of smaller batches.
    const keyOrder = Array.from({ length: 12_000 }, (_, i) => `bulk:${i}`);
    const index = new ScanIndex(coarseHash);
    const listed = (key: string): boolean => !key.endsWith('7');
    for (const [fromHash, limit] of [
      [0, 500],
      [13, 2_000],
      [40, 7],
      [63, 10_000],
    ] as const) {
      assert.deepEqual(
        index.page(keyOrder, fromHash, limit, listed),
        referencePage(keyOrder, coarseHash, fromHash, limit, listed),
      );
    }
  });

  it('lists nothing past the last listed key', () => {
    const keyOrder = ['a', 'b', 'c', 'd'];
    const index = new ScanIndex(keyHash);
    const page = index.page(keyOrder, 0, 10, () => false);
    assert.deepEqual(page, { keys: [], nextHash: 0 });
  });
});
