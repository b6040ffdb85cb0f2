// When a storage node snapshots: after `snapshotEveryRecords` log records at least, and once its
// state is larger, after as many records as the state holds keys and transactions, so that what a
// snapshot costs per record logged does not grow with the state. The node's core, with a log and
// an environment of plain callbacks.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { type NodeLog, StorageNodeCore } from '../../apps/storage-node/src/node-core.js';
import { decodeRecords } from '../../apps/storage-node/src/record-codec.js';

const MEMBERS = ['s1', 's2', 's3', 's4', 's5', 's6'];
const SNAPSHOT_EVERY_RECORDS = 40;
const NOW_MS = 1_000_000;

it('snapshots after the base count of records while the state is small, then after as many records as the state holds', () => {
  let records = 0;
  let segment = 0;
  const snapshots: { atRecord: number; state: number }[] = [];
  const deferred: (() => void)[] = [];
  const log: NodeLog = {
    append: (payloads, done) => {
      for (const payload of payloads) records += decodeRecords(payload).length;
      done(null);
    },
    rotate: () => ++segment,
    writeSnapshot: (_body, _segment, done) => {
      const { keys, transactions } = core.replica.stats();
      snapshots.push({ atRecord: records, state: keys + transactions });
      done(null);
    },
    clearRepairMarker: (done) => done(null),
  };
  const core: StorageNodeCore = new StorageNodeCore(
    { nodeId: 's1', members: MEMBERS, snapshotEveryRecords: SNAPSHOT_EVERY_RECORDS },
    log,
    {
      nowMs: () => NOW_MS,
      random: () => 0.5, // no jitter: the threshold is exactly the rule's
      defer: (run) => deferred.push(run),
      send: () => {},
      failStop: (reason) => assert.fail(reason),
      logLine: () => {},
    },
  );
  // A writer commits new keys one by one; with no peers' confirmations its decided transactions
  // stay in the state, beside the keys.
  for (let index = 0; index < 600; index++) {
    const key = `k${index}`;
    const txid = `w1.${index}`;
    const proposal = {
      txid,
      reads: [{ key, seq: 0 }],
      writes: [{ key, value: Buffer.from('v') }],
      proposedAtMs: NOW_MS,
    };
    core.receive('w1', { type: 'propose', volume: 'v', proposal });
    core.receive('w1', { type: 'decided', volume: 'v', txid, decision: 'commit' });
    while (deferred.length > 0) (deferred.shift() as () => void)();
  }
  assert.ok(snapshots.length >= 3, `${snapshots.length} snapshots in ${records} records`);
  let previous = { atRecord: 0, state: 0 };
  for (const snapshot of snapshots) {
    const threshold = Math.max(SNAPSHOT_EVERY_RECORDS, previous.state);
    assert.ok(
      snapshot.atRecord - previous.atRecord >= threshold,
      `a snapshot ${snapshot.atRecord - previous.atRecord} records after the one before, whose state held ${previous.state}`,
    );
    previous = snapshot;
  }
  // The state outgrew the base count: the last gaps follow it, not the base.
  const last = snapshots.at(-1) as { atRecord: number };
  const beforeLast = snapshots.at(-2) as { atRecord: number; state: number };
  assert.ok(beforeLast.state > 4 * SNAPSHOT_EVERY_RECORDS, `state ${beforeLast.state}`);
  assert.ok(last.atRecord - beforeLast.atRecord >= beforeLast.state);
});
