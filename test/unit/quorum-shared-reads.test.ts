// Shared reads (ReadEntry.shared): one replica, proposals sent to it directly. A shared read is
// checked at the vote like any read but not held, so transactions that only share it do not
// exclude one another; a key read plainly, or written, is held as before.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Proposal, type ReadEntry, StorageReplica } from '../../libs/quorum/src/index.js';
import { MEMBERS, voteOn } from '../support/replica-group.js';

const VOLUME = 'v';
const NOW_MS = 1_000;

function replica(): StorageReplica {
  return new StorageReplica({ members: MEMBERS, selfIndex: 0 });
}

let txids = 0;
function propose(target: StorageReplica, reads: ReadEntry[], writes: string[]): 'yes' | 'no' {
  const proposal: Proposal = {
    txid: `w.${++txids}`,
    reads,
    writes: writes.map((key) => ({ key, value: Buffer.from('x') })),
    proposedAtMs: NOW_MS,
  };
  return voteOn(target, 'w', { type: 'propose', volume: VOLUME, proposal }, NOW_MS).vote;
}

describe('shared reads', () => {
  it('two transactions sharing a read both get YES; a plain read of the same key is held', () => {
    const node = replica();
    const generation = { key: 'gen', seq: 0, shared: true } as const;
    assert.equal(propose(node, [generation, { key: 'a', seq: 0 }], ['a']), 'yes');
    assert.equal(propose(node, [generation, { key: 'b', seq: 0 }], ['b']), 'yes', 'not held by the first');
    assert.equal(propose(node, [{ key: 'gen', seq: 0 }], []), 'yes', 'a plain read of it is free too');
    assert.equal(propose(node, [generation], []), 'no', 'the plain read above holds it');
  });

  it('a transaction that writes the shared key holds it, and later shared reads of it get NO', () => {
    const node = replica();
    assert.equal(propose(node, [{ key: 'gen', seq: 0, shared: true }], ['gen']), 'yes');
    assert.equal(
      propose(
        node,
        [
          { key: 'gen', seq: 0, shared: true },
          { key: 'a', seq: 0 },
        ],
        ['a'],
      ),
      'no',
    );
  });

  it('a shared read of a key held by another transaction, or of an older version, gets NO', () => {
    const node = replica();
    assert.equal(propose(node, [{ key: 'k', seq: 0 }], ['k']), 'yes');
    assert.equal(propose(node, [{ key: 'k', seq: 0, shared: true }], []), 'no');
  });

  it('keys written are held even when their read is marked shared', () => {
    const node = replica();
    assert.equal(propose(node, [{ key: 'k', seq: 0, shared: true }], ['k']), 'yes');
    assert.equal(propose(node, [{ key: 'k', seq: 0, shared: true }], ['k']), 'no');
  });
});
