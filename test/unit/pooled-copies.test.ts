import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeRecords,
  decodeSnapshot,
  encodeRecords,
  encodeSnapshot,
} from '../../apps/storage-node/src/record-codec.js';
import { type ReplicaRecord, StorageReplica } from '../../libs/quorum/src/index.js';
import { withPooledCopies } from '../../libs/wire/src/pooled-copies.js';

/** A vote record carrying a proposal, as a storage node logs it. */
function voteRecord(index: number, value: Uint8Array): ReplicaRecord {
  return {
    kind: 'vote',
    volume: 'v',
    txid: `w1.${index}`,
    vote: 'yes',
    proposal: {
      txid: `w1.${index}`,
      reads: [{ key: `k${index}`, seq: 0 }],
      writes: [{ key: `k${index}`, value }],
      proposedAtMs: 1_000 + index,
    },
    atMs: 1_000 + index,
  };
}

describe('decoded byte strings copied into pooled memory', () => {
  it('replaces every byte string, at any depth, with a copy that shares no memory with its source', () => {
    const source = Buffer.from('abcdefghij');
    const decoded = withPooledCopies({
      top: source.subarray(0, 3),
      list: [source.subarray(3, 5), { deep: [source.subarray(5, 10)] }],
      keep: ['text', 7, null, true],
    }) as { top: Uint8Array; list: [Uint8Array, { deep: Uint8Array[] }]; keep: unknown[] };
    source.fill(0x7a);
    assert.equal(Buffer.from(decoded.top).toString(), 'abc');
    assert.equal(Buffer.from(decoded.list[0]).toString(), 'de');
    assert.equal(Buffer.from(decoded.list[1].deep[0] as Uint8Array).toString(), 'fghij');
    assert.deepEqual(decoded.keep, ['text', 7, null, true]);
  });

  it('decodes log records that keep no view of the payload (a replay buffer is reused or freed)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 20 }),
        (values) => {
          const records = values.map((value, index) => voteRecord(index, value));
          const payload = Buffer.from(encodeRecords(records));
          const decoded = decodeRecords(payload);
          payload.fill(0xee);
          assert.equal(decoded.length, records.length);
          decoded.forEach((record, index) => {
            assert.ok(record.kind === 'vote' && record.proposal !== null);
            const written = record.proposal.writes[0]?.value;
            assert.ok(written instanceof Uint8Array);
            assert.deepEqual(Buffer.from(written), Buffer.from(values[index] as Uint8Array));
          });
        },
      ),
    );
  });

  it('decodes a snapshot whose byte strings outlive its body', () => {
    // A replica that voted YES and has not yet heard the decision keeps the proposal, value and all.
    const replica = new StorageReplica({ members: ['s1', 's2', 's3', 's4', 's5', 's6'], selfIndex: 0 });
    replica.applyRecord(voteRecord(1, Buffer.from('kept value')));
    const body = Buffer.from(encodeSnapshot(replica.snapshot()));
    const decoded = decodeSnapshot(body);
    body.fill(0);
    const [, transaction] = decoded.volumes[0]?.transactions[0] ?? [];
    const value = transaction?.proposal?.writes[0]?.value;
    assert.ok(value instanceof Uint8Array);
    assert.equal(Buffer.from(value).toString(), 'kept value');
  });
});
