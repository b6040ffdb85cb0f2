// What a replica takes as a well-formed proposal (`isWellFormed`, which refuses the rest with a NO
// vote): the rule as stated, for proposals in the shape a writer's group makes (each write at its
// read's index) and any other, whatever the order, duplicates, flags and numbers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isWellFormed, type Proposal, type ReadEntry, type WriteEntry } from '../../libs/quorum/src/index.js';

/** The rule as ADR 0004 and ADR 0016 state it, one check at a time. */
function ruleHolds(proposal: Proposal): boolean {
  const readKeys = proposal.reads.map((read) => read.key);
  const writeKeys = proposal.writes.map((write) => write.key);
  const distinct = (keys: unknown[]) => new Set(keys).size === keys.length;
  return (
    proposal.reads.every(
      (read) =>
        typeof read.key === 'string' &&
        Number.isSafeInteger(read.seq) &&
        read.seq >= 0 &&
        (read.blind === undefined ||
          (read.shared !== true && read.seq < Number.MAX_SAFE_INTEGER && writeKeys.includes(read.key))),
    ) &&
    distinct(readKeys) &&
    distinct(writeKeys) &&
    writeKeys.every((key) => readKeys.includes(key))
  );
}

// Few key names, so that duplicates and shared keys are common.
const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j');
const seq = fc.oneof(
  { weight: 8, arbitrary: fc.nat({ max: 100 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      -1,
      0.5,
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER - 1,
      2 ** 60,
      Number.NaN,
    ),
  },
);
const read: fc.Arbitrary<ReadEntry> = fc
  .record({
    key,
    seq,
    shared: fc.option(fc.constant(true as const), { nil: undefined, freq: 4 }),
    blind: fc.option(fc.constant({ mask: 0x7f, firstBytes: [1] }), { nil: undefined, freq: 2 }),
  })
  .map(({ key: name, seq: number, shared, blind }) => ({
    key: name,
    seq: number,
    ...(shared === undefined ? {} : { shared }),
    ...(blind === undefined ? {} : { blind }),
  }));

/**
 * Writes in the group's shape (a prefix of the reads' keys, maybe with one key changed), picked
 * from the reads' keys in any order (twice, sometimes), or any keys at all.
 */
const proposal: fc.Arbitrary<Proposal> = fc
  .record({
    reads: fc.array(read, { maxLength: 14 }),
    shape: fc.constantFrom('aligned', 'picked', 'any'),
    writeCount: fc.nat({ max: 15 }),
    changeAt: fc.option(fc.nat({ max: 14 }), { nil: null }),
    changeTo: key,
    picks: fc.array(fc.nat(), { maxLength: 12 }),
    anyKeys: fc.array(key, { maxLength: 12 }),
  })
  .map(({ reads, shape, writeCount, changeAt, changeTo, picks, anyKeys }) => {
    const keys =
      shape === 'aligned'
        ? reads.slice(0, writeCount).map((entry, index) => (index === changeAt ? changeTo : entry.key))
        : shape === 'picked' && reads.length > 0
          ? picks.map((pick) => (reads[pick % reads.length] as ReadEntry).key)
          : anyKeys;
    const writes: WriteEntry[] = keys.map((name) => ({ key: name, value: null }));
    return { txid: 'w.1', reads, writes, proposedAtMs: 1 };
  });

describe('a well-formed proposal', () => {
  it('is what the rule says, for the group shape and any other', () => {
    fc.assert(
      fc.property(proposal, (candidate) => {
        assert.equal(isWellFormed(candidate), ruleHolds(candidate));
      }),
      { numRuns: 20_000 },
    );
  });

  it('takes a large group of blind writes, and refuses it with one key twice', () => {
    const keys = Array.from({ length: 64 }, (_, index) => `key:${index}`);
    const group = (names: string[]): Proposal => ({
      txid: 'w.2',
      reads: names.map((name) => ({ key: name, seq: 7, blind: { mask: 0x7f, firstBytes: [1] } })),
      writes: names.map((name) => ({ key: name, value: Buffer.from('v') })),
      proposedAtMs: 1,
    });
    assert.equal(isWellFormed(group(keys)), true);
    assert.equal(isWellFormed(group([...keys.slice(0, 63), 'key:5'])), false);
  });
});
