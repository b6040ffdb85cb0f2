// A storage node's snapshot is read and encoded a chunk at a time, over many turns, while its
// replica goes on changing (ReplicaSnapshotReader, encodeSnapshotChunks). Whatever changes between
// the chunks, the snapshot must hold the state of the moment it began, exactly: the records after
// that moment are in the log segments it does not cover, and a restart replays them onto it.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import * as codec from '../../apps/storage-node/src/record-codec.js';
import type { Proposal, ReplicaRecord, ReplicaSnapshot } from '../../libs/quorum/src/index.js';
import * as quorum from '../../libs/quorum/src/index.js';
import { patchedCopy } from '../support/compiled-copy.js';

const { encodeSnapshot, encodeSnapshotChunks, decodeSnapshot } = codec;

const MEMBERS = ['s1', 's2', 's3', 's4', 's5', 's6'];
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

/** The replica and the codec under test: the build's, or a broken copy's. */
interface Subject {
  quorum: typeof quorum;
  codec: typeof codec;
}

/** A transaction voted for in an earlier step, and whether it was decided since. */
interface Voted {
  txid: string;
  volume: string;
  decided: boolean;
}

/**
 * Records of the kinds that change keys, transactions, unconfirmed decisions and forgotten txids.
 * `txids` holds the transactions voted for so far, for promises, acceptances and decisions of
 * earlier ones.
 */
type Step = (counter: () => number, txids: Voted[]) => ReplicaRecord[];

const step: fc.Arbitrary<Step> = fc.oneof(
  fc
    .record({
      key: fc.constantFrom(...KEYS),
      seq: fc.integer({ min: 1, max: 40 }),
      value: fc.option(fc.uint8Array({ maxLength: 6 }), { nil: null }),
    })
    .map(
      ({ key, seq, value }): Step =>
        () => [{ kind: 'adopt', volume: 'v', entries: [{ key, version: { seq, txid: `r.${seq}` }, value }] }],
    ),
  // A transaction voted for, then (in the same step, a later one or never) decided and forgotten.
  // Some read the volume's generation first, shared and not written, as a data node's commits do.
  fc
    .record({
      keys: fc.uniqueArray(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 3 }),
      value: fc.uint8Array({ maxLength: 6 }),
      decision: fc.constantFrom('commit', 'abort', 'none', 'forget'),
      volume: fc.constantFrom('v', 'w'),
      sharedRead: fc.boolean(),
    })
    .map(
      ({ keys, value, decision, volume, sharedRead }): Step =>
        (counter, txids) => {
          const txid = `dn1.${counter()}`;
          txids.push({ txid, volume, decided: decision !== 'none' });
          const proposal: Proposal = {
            txid,
            reads: [
              ...(sharedRead ? [{ key: 'generation', seq: 0, shared: true as const }] : []),
              ...keys.map((key) => ({ key, seq: 0 })),
            ],
            writes: keys.map((key) => ({ key, value })),
            proposedAtMs: 0,
          };
          const records: ReplicaRecord[] = [{ kind: 'vote', volume, txid, vote: 'yes', proposal, atMs: 1 }];
          if (decision === 'none') return records;
          const decided = decision === 'abort' ? 'abort' : 'commit';
          records.push({ kind: 'decide', volume, txid, decision: decided, proposal, atMs: 2 });
          if (decision === 'forget') records.push({ kind: 'forget', volume, txids: [txid], atMs: 3 });
          return records;
        },
    ),
  // A recovery's promise or acceptance for an earlier transaction (or one never seen here).
  fc
    .record({
      pick: fc.nat(),
      ballot: fc.integer({ min: 1, max: 9 }),
      kind: fc.constantFrom('promise', 'accept'),
      volume: fc.constantFrom('v', 'w'),
    })
    .map(
      ({ pick, ballot, kind, volume }): Step =>
        (counter, txids) => {
          const txid = txids.length === 0 ? `dn2.${counter()}` : (txids[pick % txids.length] as Voted).txid;
          return kind === 'promise'
            ? [{ kind: 'promise', volume, txid, ballot, atMs: 4 }]
            : [{ kind: 'accept', volume, txid, ballot, decision: 'commit', proposal: null, atMs: 5 }];
        },
    ),
  // The commit of a transaction voted for in an earlier step and left undecided: its writes are
  // applied to keys its vote held, perhaps before a snapshot began and after.
  fc.nat().map(
    (pick): Step =>
      (_counter, txids) => {
        const undecided = txids.filter((voted) => !voted.decided);
        const chosen = undecided[pick % Math.max(1, undecided.length)];
        if (chosen === undefined) return [];
        chosen.decided = true;
        return [
          {
            kind: 'decide',
            volume: chosen.volume,
            txid: chosen.txid,
            decision: 'commit',
            proposal: null,
            atMs: 6,
          },
        ];
      },
  ),
);

/** Transactions and forgotten txids in a fixed order: a restored replica may list them in another. */
function canonical(snapshot: ReplicaSnapshot): unknown {
  const byFirst = (a: [string, unknown], b: [string, unknown]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  const decoded = decodeSnapshot(encodeSnapshot(snapshot));
  return {
    ...decoded,
    volumes: decoded.volumes.map((volume) => ({
      ...volume,
      transactions: [...volume.transactions].sort(byFirst),
      forgotten: [...volume.forgotten].sort(byFirst),
    })),
  };
}

/**
 * Runs of: records, a snapshot begun, then chunks read and encoded with more records applied
 * between them. The snapshot must decode to the state at its beginning, and that state with the
 * later records replayed onto it must be the live state.
 */
function checkChunkedSnapshots(subject: Subject, numRuns: number): void {
  fc.assert(
    fc.property(
      fc.array(step, { maxLength: 30 }),
      fc.array(step, { maxLength: 30 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 4 }),
      (before, after, entriesPerChunk, stepsPerChunk) => {
        let next = 0;
        const counter = () => ++next;
        const txids: Voted[] = [];
        const live = replica(subject);
        for (const make of before) for (const record of make(counter, txids)) live.applyRecord(record);
        const atBegin = live.snapshot();

        const reader = live.beginSnapshot();
        const chunks: Uint8Array[] = [];
        const later: ReplicaRecord[] = [];
        const pending = [...after];
        for (const chunk of subject.codec.encodeSnapshotChunks(reader, entriesPerChunk)) {
          chunks.push(Uint8Array.from(chunk));
          for (const make of pending.splice(0, stepsPerChunk)) {
            for (const record of make(counter, txids)) {
              live.applyRecord(record);
              later.push(record);
            }
          }
        }
        for (const make of pending) {
          for (const record of make(counter, txids)) {
            live.applyRecord(record);
            later.push(record);
          }
        }
        const read = subject.codec.decodeSnapshot(Buffer.concat(chunks));
        assert.deepEqual(canonical(read), canonical(atBegin));

        const restarted = replica(subject);
        restarted.restore(read);
        for (const record of later) restarted.applyRecord(record);
        assert.deepEqual(canonical(restarted.snapshot()), canonical(live.snapshot()));
      },
    ),
    { numRuns },
  );
}

function replica(subject: Subject): quorum.StorageReplica {
  return new subject.quorum.StorageReplica({ members: MEMBERS, selfIndex: 0 });
}

describe('a snapshot read in chunks while the replica changes', () => {
  it('holds the state of the moment it began, and replaying the later records onto it gives the live state', () => {
    checkChunkedSnapshots({ quorum, codec }, 400);
  });

  it('closes its reader when the chunks end, so that the next snapshot can begin', () => {
    const live = replica({ quorum, codec });
    live.applyRecord({
      kind: 'adopt',
      volume: 'v',
      entries: [{ key: 'a', version: { seq: 1, txid: 'r.1' }, value: null }],
    });
    for (const _chunk of encodeSnapshotChunks(live.beginSnapshot(), 1)) {
      assert.throws(() => live.beginSnapshot(), /already being read/);
    }
    const again = live.beginSnapshot();
    again.close();
    assert.throws(() => again.keys(0, 0, 1), /closed/);
  });

  it('encodes the same document as the whole snapshot at once', () => {
    const live = replica({ quorum, codec });
    for (let index = 0; index < 100; index++) {
      live.applyRecord({
        kind: 'adopt',
        volume: index % 2 === 0 ? 'v' : 'w',
        entries: [
          { key: `k${index}`, version: { seq: index + 1, txid: `r.${index}` }, value: Uint8Array.of(index) },
        ],
      });
    }
    const whole = decodeSnapshot(encodeSnapshot(live.snapshot()));
    const chunked = decodeSnapshot(Buffer.concat([...encodeSnapshotChunks(live.beginSnapshot(), 7)]));
    assert.deepEqual(chunked, whole);
    assert.equal(
      chunked.volumes.reduce((sum, volume) => sum + volume.keys.length, 0),
      100,
    );
  });

  it('a reader that keeps no preimage of a key changed while it reads is caught', async () => {
    // The reader then reads a key changed after the snapshot began as it is now.
    await assertCaught(
      /if \(preimages !== null && !preimages\.has\(key\)\)\s*preimages\.set\(key, \{ \.\.\.state \}\);/,
    );
  });

  it('a reader that keeps no preimage of a transaction record changed or deleted while it reads is caught', async () => {
    await assertCaught(
      /if \(preimages !== null && !preimages\.has\(txid\)\)\s*preimages\.set\(txid, \{ \.\.\.record \}\);/,
    );
  });
});

/** Removes `anchor` from a copy of the compiled replica: the property must then fail. */
async function assertCaught(anchor: RegExp): Promise<void> {
  const copy = patchedCopy(
    ['libs', 'apps/storage-node'],
    [{ file: 'libs/quorum/src/replica.js', anchor, replacement: '' }],
  );
  try {
    const broken: Subject = {
      quorum: (await import(
        pathToFileURL(join(copy.root, 'libs/quorum/src/index.js')).href
      )) as typeof quorum,
      codec: (await import(
        pathToFileURL(join(copy.root, 'apps/storage-node/src/record-codec.js')).href
      )) as typeof codec,
    };
    assert.throws(() => checkChunkedSnapshots(broken, 400), /Property failed/);
  } finally {
    copy.remove();
  }
}

/** Besides `step`: a volume dropped, a peer written off and taken back (fields of the whole snapshot). */
const stepOrWhole: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: step },
  fc.constantFrom<Step>(
    () => [{ kind: 'dropVolume', volume: 'w', atMs: 6 }],
    () => [{ kind: 'writeOff', volume: quorum.EVERY_VOLUME, peer: 's3', atMs: 7 }],
    () => [{ kind: 'readmit', volume: quorum.EVERY_VOLUME, peer: 's3', since: 7, atMs: 8 }],
  ),
);

/** What a replica's stats say of its state (not its counters of events, which a restore starts over). */
function stateFigures(subject: quorum.StorageReplica): unknown {
  const { writeOffs, droppedVolumeMessages: _events, ...figures } = subject.stats();
  return { ...figures, writtenOff: writeOffs.peers };
}

describe('a snapshot restored as it is decoded, a page at a time', () => {
  it('gives the replica that restoring the decoded document whole gives, from either encoding', () => {
    fc.assert(
      fc.property(
        fc.array(stepOrWhole, { maxLength: 40 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        (steps, entriesPerChunk, entriesPerPage, chunked) => {
          let next = 0;
          const counter = () => ++next;
          const txids: Voted[] = [];
          const live = replica({ quorum, codec });
          for (const make of steps) for (const record of make(counter, txids)) live.applyRecord(record);
          const body = chunked
            ? Buffer.concat([...encodeSnapshotChunks(live.beginSnapshot(), entriesPerChunk)])
            : encodeSnapshot(live.snapshot());

          const whole = replica({ quorum, codec });
          whole.restore(decodeSnapshot(body));
          const paged = replica({ quorum, codec });
          codec.readSnapshot(body, paged.beginRestore(), entriesPerPage);
          assert.deepEqual(canonical(paged.snapshot()), canonical(whole.snapshot()));
          assert.deepEqual(paged.stats(), whole.stats());
          assert.deepEqual(canonical(paged.snapshot()), canonical(live.snapshot()));
          assert.deepEqual(stateFigures(paged), stateFigures(live));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('reads a snapshot written before the later fields (unconfirmed, forgotten, dropped volumes, write-offs)', () => {
    const older = encodeSnapshot({
      volumes: [
        {
          name: 'v',
          keys: [['a', { seq: 1, txid: 'dn1.1', value: Uint8Array.of(1, 2), pendingTxid: null }]],
          transactions: [],
        },
      ],
    } as unknown as ReplicaSnapshot);
    const restored = replica({ quorum, codec });
    codec.readSnapshot(older, restored.beginRestore());
    assert.deepEqual(restored.inspectKey('v', 'a'), {
      seq: 1,
      txid: 'dn1.1',
      value: Uint8Array.of(1, 2),
      pendingTxid: null,
    });
  });

  it('refuses a damaged or cut snapshot with an error that says where', () => {
    const live = replica({ quorum, codec });
    live.applyRecord({
      kind: 'adopt',
      volume: 'v',
      entries: [{ key: 'a', version: { seq: 1, txid: 'r.1' }, value: Uint8Array.of(7) }],
    });
    const body = encodeSnapshot(live.snapshot());
    const restore = (bytes: Uint8Array) =>
      codec.readSnapshot(bytes, replica({ quorum, codec }).beginRestore());
    assert.throws(
      () => restore(body.subarray(0, body.length - 3)),
      /snapshot damaged at byte \d+: it ends early|Unexpected end/,
    );
    assert.throws(
      () => restore(Buffer.concat([body, Uint8Array.of(0xc0)])),
      /snapshot damaged at byte \d+: 1 bytes after its end/,
    );
    assert.throws(
      () => restore(Uint8Array.of(0x91, 0xc0)),
      /snapshot damaged at byte 1: a map where 0x91 is/,
    );
  });
});
