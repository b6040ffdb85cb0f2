// The replica's set of forgotten txids (bitmaps per writer, a map for the rest) against a map of
// txid → time, the structure it replaced, under random forgets, forgets again and expiries, with
// txids of every shape: writers' counters in and out of order, leading zeros, no dot, counters
// too long for a number, counters far outside a bitmap's window.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ForgottenTxids } from '../../libs/quorum/src/forgotten-txids.js';

/** The map it replaced: a txid forgotten again moves to the back; expiry walks from the front. */
class ReferenceForgotten {
  readonly map = new Map<string, number>();
  add(txid: string, atMs: number): void {
    this.map.delete(txid);
    this.map.set(txid, atMs);
  }
  expire(nowMs: number, retentionMs: number): void {
    for (const [txid, atMs] of this.map) {
      if (nowMs - atMs <= retentionMs) break;
      this.map.delete(txid);
    }
  }
}

const txid: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(fc.constantFrom('dn1-a1b2', 'dn2-c3d4', 'w.x'), fc.nat({ max: 90 }))
      .map(([w, n]) => `${w}.${n}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'dn1-a1b2.007',
      'dn1-a1b2.',
      'no-dot',
      '.5',
      'a.b.c',
      'dn1-a1b2.1e3',
      'dn1-a1b2.12345678901234567890',
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom('dn1-a1b2.99999999', 'dn1-a1b2.300000000', 'dn2-c3d4.0') },
);

type Step =
  | { kind: 'add'; txid: string; advanceMs: number }
  | { kind: 'expire' }
  | { kind: 'check'; txid: string };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('add' as const),
      txid,
      advanceMs: fc.integer({ min: 0, max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('check' as const), txid }) },
);

describe('forgotten txids', () => {
  it('answers as the map did while time moves forward', () => {
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 300 }),
        fc.integer({ min: 0, max: 40 }),
        (steps, retentionMs) => {
          const forgotten = new ForgottenTxids();
          const reference = new ReferenceForgotten();
          let nowMs = 0;
          for (const current of steps) {
            if (current.kind === 'add') {
              nowMs += current.advanceMs;
              forgotten.add(current.txid, nowMs);
              reference.add(current.txid, nowMs);
            } else if (current.kind === 'expire') {
              forgotten.expire(nowMs, retentionMs);
              reference.expire(nowMs, retentionMs);
            } else {
              assert.equal(forgotten.has(current.txid), reference.map.has(current.txid), current.txid);
            }
            assert.equal(forgotten.size, reference.map.size);
          }
          const held = new Map(forgotten.entries());
          assert.equal(held.size, forgotten.entries().length, 'each txid once');
          assert.deepEqual(held, reference.map);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('never lets go of a txid before its latest forget is older than the retention, whatever the times', () => {
    // Replayed and repaired forgets carry their own times, which may go back.
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('add' as const), txid, atMs: fc.integer({ min: 0, max: 60 }) }),
            fc.record({ kind: fc.constant('expire' as const), nowMs: fc.integer({ min: 0, max: 90 }) }),
          ),
          { maxLength: 200 },
        ),
        fc.integer({ min: 0, max: 30 }),
        (steps, retentionMs) => {
          const forgotten = new ForgottenTxids();
          /** txid → its latest forget time, for those no expiry could have dropped yet. */
          const mustHold = new Map<string, number>();
          const ever = new Set<string>();
          for (const current of steps) {
            if (current.kind === 'add') {
              forgotten.add(current.txid, current.atMs);
              mustHold.set(current.txid, current.atMs);
              ever.add(current.txid);
            } else {
              forgotten.expire(current.nowMs, retentionMs);
              for (const [held, atMs] of mustHold)
                if (current.nowMs - atMs > retentionMs) mustHold.delete(held);
            }
            for (const held of mustHold.keys()) assert.ok(forgotten.has(held), held);
          }
          for (const [held] of forgotten.entries()) assert.ok(ever.has(held), held);
          assert.ok(forgotten.size <= ever.size);
          assert.equal(forgotten.entries().length, forgotten.size);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('lists, frozen, what it held when frozen, in pages of any size, whatever happens after', () => {
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 150 }),
        fc.array(step, { maxLength: 150 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 0, max: 40 }),
        (before, after, pageSize, retentionMs) => {
          const forgotten = new ForgottenTxids();
          let nowMs = 0;
          const apply = (current: Step) => {
            if (current.kind === 'add') {
              nowMs += current.advanceMs;
              forgotten.add(current.txid, nowMs);
            } else if (current.kind === 'expire') forgotten.expire(nowMs, retentionMs);
          };
          for (const current of before) apply(current);
          const held = forgotten.entries();
          const frozen = forgotten.frozen();
          for (const current of after) apply(current);
          const pages = [...frozen.pages(pageSize)];
          for (const page of pages) assert.ok(page.length >= 1 && page.length <= pageSize);
          assert.deepEqual(pages.flat(), held);
          assert.equal(frozen.size, held.length);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('lets a writer go once all its runs expired, and takes it again after', () => {
    const forgotten = new ForgottenTxids();
    for (let counter = 1; counter <= 30_000; counter++)
      forgotten.add(`dn1-0123456789abcdef.${counter}`, counter >> 8);
    forgotten.add('dn1-0123456789abcdef.5', 200);
    assert.equal(forgotten.size, 30_000);
    assert.ok(forgotten.has('dn1-0123456789abcdef.29999'));
    assert.ok(!forgotten.has('dn1-0123456789abcdef.30001'));
    forgotten.expire(150, 10);
    assert.ok(forgotten.has('dn1-0123456789abcdef.5'), 'forgotten again at 200');
    assert.ok(!forgotten.has('dn1-0123456789abcdef.6'));
    assert.equal(forgotten.size, 1);
    forgotten.expire(1_000, 10);
    assert.equal(forgotten.size, 0);
    assert.deepEqual(forgotten.entries(), []);
    forgotten.add('dn1-0123456789abcdef.1', 2_000);
    assert.deepEqual(forgotten.entries(), [['dn1-0123456789abcdef.1', 2_000]]);
  });
});
