// How often a storage node checks its replica's timers: a quarter of the shortest of them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { replicaTickMs } from '../../apps/storage-node/src/storage-node.js';

describe('storage node tick', () => {
  it('is a quarter of the shortest timer of the default replica timing (the 100 ms sync interval)', () => {
    assert.equal(replicaTickMs(), 25);
    assert.equal(replicaTickMs({}), 25);
  });

  it('follows the shorter timers a deployment sets, so that none fires more than a quarter late', () => {
    assert.equal(replicaTickMs({ retransmitMs: 40 }), 10);
    assert.equal(replicaTickMs({ syncIntervalMs: 20, retransmitMs: 200 }), 5);
  });

  it('never reaches zero, and longer timers do not stretch it past a quarter of the shortest', () => {
    assert.equal(replicaTickMs({ syncIntervalMs: 2, retransmitMs: 2 }), 1);
    assert.equal(replicaTickMs({ syncIntervalMs: 1_000, retransmitMs: 1_000 }), 250);
  });
});
