// The quorum table against brute force over every subset of the six replicas: the properties
// the protocol's safety and availability arguments rely on (DESIGN §3–§4).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QUORUM, REPLICA_COUNT, tallyVotes, zoneOf } from '../../libs/quorum/src/quorum-table.js';

const ALL = (1 << REPLICA_COUNT) - 1;
const subsets = Array.from({ length: ALL + 1 }, (_, mask) => mask);

function size(mask: number): number {
  let count = 0;
  for (let bits = mask; bits !== 0; bits &= bits - 1) count++;
  return count;
}

function describe(mask: number): string {
  const members = [];
  for (let index = 0; index < REPLICA_COUNT; index++) if (mask & (1 << index)) members.push(`s${index + 1}`);
  return `{${members.join(',')}}`;
}

/** Every set of at least `threshold` replicas. */
function quorums(threshold: number): number[] {
  return subsets.filter((mask) => size(mask) >= threshold);
}

function zoneMask(zone: number): number {
  let mask = 0;
  for (let index = 0; index < REPLICA_COUNT; index++) if (zoneOf(index) === zone) mask |= 1 << index;
  return mask;
}

function assertAllIntersect(left: number[], right: number[], what: string): void {
  for (const a of left) {
    for (const b of right) {
      assert.notEqual(a & b, 0, `${what}: ${describe(a)} and ${describe(b)} share no replica`);
    }
  }
}

test('six replicas, two per availability zone', () => {
  assert.equal(REPLICA_COUNT, 6);
  assert.deepEqual(
    Array.from({ length: REPLICA_COUNT }, (_, index) => zoneOf(index)),
    [0, 0, 1, 1, 2, 2],
  );
});

test('any two commit-vote sets intersect: two conflicting transactions cannot both get a certificate', () => {
  assertAllIntersect(quorums(QUORUM.commitVotes), quorums(QUORUM.commitVotes), 'two commit certificates');
});

test('any read set intersects every commit-vote set: a read sees every committed write pending or applied', () => {
  assertAllIntersect(
    quorums(QUORUM.reads),
    quorums(QUORUM.commitVotes),
    'a read set and a commit certificate',
  );
});

test('abort votes make a certificate impossible, and are the fewest that do', () => {
  for (const noVoters of quorums(QUORUM.abortVotes)) {
    const couldStillVoteYes = ALL & ~noVoters;
    assert.ok(
      size(couldStillVoteYes) < QUORUM.commitVotes,
      `NO from ${describe(noVoters)} still leaves ${describe(couldStillVoteYes)} for a certificate`,
    );
  }
  // One NO fewer and a certificate is still possible: aborting then would be premature.
  for (const noVoters of subsets.filter((mask) => size(mask) === QUORUM.abortVotes - 1)) {
    assert.ok(size(ALL & ~noVoters) >= QUORUM.commitVotes);
  }
});

test('tallyVotes decides exactly when the outcome is settled', () => {
  for (let yes = 0; yes <= REPLICA_COUNT; yes++) {
    for (let no = 0; yes + no <= REPLICA_COUNT; no++) {
      const unanswered = REPLICA_COUNT - yes - no;
      const expected =
        yes >= QUORUM.commitVotes ? 'won' : yes + unanswered < QUORUM.commitVotes ? 'lost' : 'pending';
      assert.equal(tallyVotes(yes, no), expected, `${yes} YES, ${no} NO`);
    }
  }
});

test('promise sets intersect accept sets, and accept sets intersect each other', () => {
  assertAllIntersect(
    quorums(QUORUM.promises),
    quorums(QUORUM.acceptances),
    'a promise set and an accept set',
  );
  assertAllIntersect(quorums(QUORUM.acceptances), quorums(QUORUM.acceptances), 'two accept sets');
  assertAllIntersect(
    quorums(QUORUM.promises),
    quorums(QUORUM.commitVotes),
    'a promise set and a certificate',
  );
});

test('fast commit: any promise set among the fast voters holds a certificate, and one vote fewer does not', () => {
  // All voted YES before promising (a replica that had not voted records a permanent NO), so a
  // recovery's promises report YES from every fast voter among them: it can only choose COMMIT.
  for (const fastVoters of quorums(QUORUM.fastCommitVotes)) {
    for (const promisers of quorums(QUORUM.promises)) {
      assert.ok(
        size(fastVoters & promisers) >= QUORUM.commitVotes,
        `promises from ${describe(promisers)} see YES only from ${describe(fastVoters & promisers)}`,
      );
    }
  }
  const fewer = subsets.filter((mask) => size(mask) === QUORUM.fastCommitVotes - 1);
  assert.ok(
    fewer.some((voters) =>
      quorums(QUORUM.promises).some((promisers) => size(voters & promisers) < QUORUM.commitVotes),
    ),
    'with one vote fewer, some recovery could choose ABORT: the threshold would be loose',
  );
});

test('with any AZ plus one more replica down, reads work and writes do not', () => {
  for (let zone = 0; zone < 3; zone++) {
    for (let extra = 0; extra < REPLICA_COUNT; extra++) {
      if (zoneOf(extra) === zone) continue;
      const up = ALL & ~zoneMask(zone) & ~(1 << extra);
      assert.equal(size(up), 3, describe(up));
      assert.ok(size(up) >= QUORUM.reads, `reads need ${QUORUM.reads}, ${describe(up)} is up`);
      assert.ok(size(up) < QUORUM.commitVotes, `a certificate from ${describe(up)} alone would be unsafe`);
      assert.ok(size(up) < QUORUM.acceptances);
    }
  }
});

test('with one AZ down, writes and recovery work', () => {
  for (let zone = 0; zone < 3; zone++) {
    const up = ALL & ~zoneMask(zone);
    for (const threshold of [QUORUM.commitVotes, QUORUM.acceptances, QUORUM.promises, QUORUM.reads]) {
      assert.ok(size(up) >= threshold, `${describe(up)} is up, ${threshold} are needed`);
    }
  }
});
