// When a storage node ticks: when its replica's timers are next due, within a quarter and the whole
// of the shortest of them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tickDelayMs } from '../../apps/storage-node/src/storage-node.js';
import { StorageReplica } from '../../libs/quorum/src/index.js';

describe('storage node tick', () => {
  it('waits at least a quarter of the shortest timer of the default replica timing (the 100 ms sync interval)', () => {
    assert.equal(tickDelayMs(1_000, Number.NEGATIVE_INFINITY), 25, 'a timer already due waits the floor');
    assert.equal(tickDelayMs(1_000, 1_010), 25);
  });

  it('sleeps until the replica is next due, and never longer than its shortest timer', () => {
    assert.equal(tickDelayMs(1_000, 1_060), 60);
    assert.equal(tickDelayMs(1_000, 1_060.2), 61, 'never early');
    assert.equal(tickDelayMs(1_000, 3_000), 100);
  });

  it('follows the shorter timers a deployment sets', () => {
    assert.equal(tickDelayMs(0, Number.NEGATIVE_INFINITY, { retransmitMs: 40 }), 10);
    assert.equal(tickDelayMs(0, 1_000, { retransmitMs: 40 }), 40);
    assert.equal(tickDelayMs(0, Number.NEGATIVE_INFINITY, { syncIntervalMs: 20, retransmitMs: 200 }), 5);
    assert.equal(tickDelayMs(0, Number.NEGATIVE_INFINITY, { syncIntervalMs: 2, retransmitMs: 2 }), 1);
  });

  it('an idle replica is next due at its decision confirmation, a sync interval after a tick', () => {
    const replica = new StorageReplica({ members: ['s1', 's2', 's3', 's4', 's5', 's6'], selfIndex: 0 });
    assert.equal(replica.nextTickAtMs(), Number.NEGATIVE_INFINITY, 'due at once before its first tick');
    replica.tick(5_000);
    assert.equal(replica.nextTickAtMs(), 5_100);
    assert.equal(tickDelayMs(5_000, replica.nextTickAtMs()), 100);
    replica.tick(5_100);
    assert.equal(replica.nextTickAtMs(), 5_200);
  });
});
