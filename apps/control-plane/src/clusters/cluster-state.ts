// A cluster's life as explicit states. Each transition is one conditional update
// (`UPDATE … WHERE id = $1 AND state = $from`) so that two actors can never both
// move a cluster from the same state; this table says which moves exist at all.
import type { ClusterState } from '../../../../generated/prisma/client.js';

export const clusterTransitions: Readonly<Record<ClusterState, readonly ClusterState[]>> = {
  creating: ['available', 'paused', 'failed', 'deleting'],
  available: ['modifying', 'pausing', 'migrating', 'failed', 'deleting'],
  modifying: ['available', 'failed'],
  pausing: ['paused', 'available', 'failed'],
  paused: ['resuming', 'migrating', 'deleting'],
  resuming: ['available', 'failed'],
  migrating: ['available', 'paused', 'failed'],
  failed: ['available', 'deleting'],
  deleting: [],
};

/** Every state, in the order of the table above. */
export const clusterStates = Object.keys(clusterTransitions) as ClusterState[];

export function canTransition(from: ClusterState, to: ClusterState): boolean {
  return clusterTransitions[from].includes(to);
}

/** States in which the user may change settings; a migration owns them while it runs. */
export const settingsEditableStates: readonly ClusterState[] = [
  'creating',
  'available',
  'modifying',
  'pausing',
  'paused',
  'resuming',
  'failed',
];
