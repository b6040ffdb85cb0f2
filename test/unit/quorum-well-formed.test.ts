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
const FEW_KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
// Enough for proposals past the pairwise checks' bound (16 reads) with distinct keys, whose
// keys are checked with sets instead.
const MANY_KEYS = Array.from({ length: 28 }, (_, index) => `k${index}`);
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
const readOf = (key: fc.Arbitrary<string>): fc.Arbitrary<ReadEntry> =>
  fc
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
const proposalOver = (names: readonly string[], readsMax: number): fc.Arbitrary<Proposal> => {
  const key = fc.constantFrom(...names);
  return fc
    .record({
      // Distinct keys half of the time: long lists of reads would otherwise nearly always name
      // one key twice.
      reads: fc.oneof(
        fc.array(readOf(key), { maxLength: readsMax }),
        fc.uniqueArray(readOf(key), { maxLength: readsMax, selector: (entry) => entry.key }),
      ),
      shape: fc.constantFrom('aligned', 'picked', 'any'),
      writeCount: fc.nat({ max: readsMax + 1 }),
      changeAt: fc.option(fc.nat({ max: readsMax }), { nil: null }),
      changeTo: key,
      picks: fc.array(fc.nat(), { maxLength: readsMax }),
      anyKeys: fc.array(key, { maxLength: readsMax }),
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
};

/**
 * A writer's group of up to 24 distinct keys, every one written (blind or read first), and then,
 * half of the time, one thing changed that may break the rule: a key read twice, or written
 * twice, a write dropped, or a blind read shared.
 */
const groupOfMany: fc.Arbitrary<Proposal> = fc
  .record({
    names: fc.uniqueArray(fc.constantFrom(...MANY_KEYS), { minLength: 1, maxLength: 24, size: 'max' }),
    blind: fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
    change: fc.constantFrom(
      'none',
      'none',
      'none',
      'read twice',
      'written twice',
      'write dropped',
      'shared blind',
    ),
    at: fc.nat(),
  })
  .map(({ names, blind, change, at }) => {
    const reads: ReadEntry[] = names.map((name, index) =>
      blind[index] === true
        ? { key: name, seq: 3, blind: { mask: 0x7f, firstBytes: [1] } }
        : { key: name, seq: 3 },
    );
    const writes: WriteEntry[] = names.map((name) => ({ key: name, value: null }));
    const index = at % names.length;
    const name = names[index] as string;
    if (change === 'read twice') reads.push({ key: name, seq: 3 });
    if (change === 'written twice') writes.push({ key: name, value: null });
    if (change === 'write dropped') writes.splice(index, 1);
    if (change === 'shared blind')
      reads[index] = { key: name, seq: 3, shared: true, blind: { mask: 0x7f, firstBytes: [1] } };
    return { txid: 'w.3', reads, writes, proposedAtMs: 1 };
  });

describe('a well-formed proposal', () => {
  it('is what the rule says, for the group shape and any other', () => {
    fc.assert(
      fc.property(proposalOver(FEW_KEYS, 14), (candidate) => {
        assert.equal(isWellFormed(candidate), ruleHolds(candidate));
      }),
      { numRuns: 20_000 },
    );
  });

  it('is what the rule says for groups of up to 24 keys, checked pair by pair or with sets', () => {
    let wellFormedLarge = 0;
    let refusedLarge = 0;
    fc.assert(
      fc.property(fc.oneof(proposalOver(MANY_KEYS, 24), groupOfMany), (candidate) => {
        const holds = ruleHolds(candidate);
        if (candidate.reads.length > 16) {
          if (holds) wellFormedLarge++;
          else refusedLarge++;
        }
        assert.equal(isWellFormed(candidate), holds);
      }),
      { numRuns: 20_000 },
    );
    // Both answers were reached past the pairwise bound, or the sets' branch went untried.
    assert.ok(wellFormedLarge > 0, 'no well-formed proposal of more than 16 reads was generated');
    assert.ok(refusedLarge > 0, 'no ill-formed proposal of more than 16 reads was generated');
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
