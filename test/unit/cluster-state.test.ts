import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canTransition,
  clusterTransitions,
  settingsEditableStates,
} from '../../apps/control-plane/src/clusters/cluster-state.js';
import type { ClusterState } from '../../generated/prisma/client.js';

describe('cluster state transitions', () => {
  const states = Object.keys(clusterTransitions) as ClusterState[];

  it('has no way out of deleting and no self-loops', () => {
    assert.deepEqual(clusterTransitions.deleting, []);
    for (const state of states) assert.equal(canTransition(state, state), false, state);
  });

  it('lets every state but deleting reach deleting, directly or through another state', () => {
    for (const start of states.filter((state) => state !== 'deleting')) {
      const seen = new Set<ClusterState>([start]);
      const queue: ClusterState[] = [start];
      while (queue.length > 0) {
        for (const next of clusterTransitions[queue.shift() ?? start]) {
          if (!seen.has(next)) seen.add(next) && queue.push(next);
        }
      }
      assert.ok(seen.has('deleting'), `${start} cannot reach deleting`);
    }
  });

  it('does not let settings change while deleting or migrating', () => {
    assert.equal(settingsEditableStates.includes('deleting'), false);
    assert.equal(settingsEditableStates.includes('migrating'), false);
  });
});
