// Quorum thresholds for a protection group of six replicas, two per availability zone.
// Working these out by formula is easy to get wrong, so they are written out and checked
// against a brute-force enumeration of every subset of replicas (test/unit/quorum-table.test.ts).

export const REPLICA_COUNT = 6;

export const QUORUM = {
  /** YES votes that form a commit certificate. Any two sets of 4 share ≥ 2 replicas. */
  commitVotes: 4,
  /** NO votes that make a commit certificate impossible (6 − 3 < 4): the writer may abort. */
  abortVotes: 3,
  /**
   * YES votes that choose COMMIT with no ACCEPT round (ADR 0015). Every recovery hears from
   * `promises` replicas, so at least fastCommitVotes − (6 − promises) = 4 of them report YES and
   * recovery can only choose COMMIT: the decision is settled once the votes are on disk.
   */
  fastCommitVotes: 6,
  /** ACCEPTED replies that make a ballot's value chosen. */
  acceptances: 4,
  /** PROMISE replies a recovering coordinator needs; intersects every accept quorum. */
  promises: 4,
  /** READ replies needed; any 3 include at least one of a commit's 4 voters. */
  reads: 3,
} as const;

export type Tally = 'pending' | 'won' | 'lost';

/** Outcome of counting votes: won at `commitVotes` YES, lost at `abortVotes` NO. */
export function tallyVotes(yes: number, no: number, quorum: typeof QUORUM = QUORUM): Tally {
  if (yes >= quorum.commitVotes) return 'won';
  if (no >= quorum.abortVotes) return 'lost';
  return 'pending';
}

/** Availability zone of a replica index: 0-1 → 0, 2-3 → 1, 4-5 → 2. */
export function zoneOf(replica: number): number {
  return Math.floor(replica / 2);
}
