// Hedged point reads: a read round asks 3 replicas, and the other 3 only when those have not all
// answered in time. A replica a hedge ran out on is not asked first again until it answers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WriterEvent } from '../../libs/quorum/src/index.js';
import { MEMBERS, ReplicaGroup, TICK_MS } from '../support/replica-group.js';

const VOLUME = 'v';

/** Replies each replica has sent to reads so far. */
function readReplies(group: ReplicaGroup): Map<string, number> {
  const counts = new Map<string, number>(MEMBERS.map((member) => [member, 0]));
  for (const { from, message } of group.sent) {
    if (message.type === 'readReply') counts.set(from, (counts.get(from) ?? 0) + 1);
  }
  return counts;
}

function total(counts: Map<string, number>): number {
  let sum = 0;
  for (const count of counts.values()) sum += count;
  return sum;
}

/** Starts a read of `keys` and lets the group run until it is answered (bounded); returns the answer. */
function read(group: ReplicaGroup, keys: string[]): Extract<WriterEvent, { type: 'read' }> {
  const requestId = group.writer.read(VOLUME, keys, group.nowMs);
  group.pump();
  const answer = () =>
    group.events.find(
      (event) => (event.type === 'read' || event.type === 'readFailed') && event.requestId === requestId,
    );
  for (let waitedMs = 0; answer() === undefined && waitedMs < 2_000; waitedMs += TICK_MS) group.run(TICK_MS);
  const event = answer();
  assert.equal(event?.type, 'read', JSON.stringify(event));
  return event as Extract<WriterEvent, { type: 'read' }>;
}

describe('hedged reads', () => {
  it('a read asks 3 replicas; reads of one millisecond ask the same 3, and reads over time all six', () => {
    const group = new ReplicaGroup({});
    group.write(VOLUME, ['a']);
    const before = readReplies(group);
    const answer = read(group, ['a']);
    assert.equal(Buffer.from(answer.values[0]?.value ?? []).toString(), 'a!');
    const first = readReplies(group);
    assert.equal(total(first) - total(before), 3, 'exactly three replicas were asked');
    const askedFirst = MEMBERS.filter((member) => (first.get(member) ?? 0) > (before.get(member) ?? 0));
    // More reads in the same millisecond (the group's clock has not moved): the same three.
    for (let i = 0; i < 4; i++) read(group, ['a']);
    const same = readReplies(group);
    for (const member of MEMBERS) {
      const asked = (same.get(member) ?? 0) - (before.get(member) ?? 0);
      assert.equal(asked, askedFirst.includes(member) ? 5 : 0, `${member} in the same millisecond`);
    }
    // One read per millisecond from here: the three move on by one each time.
    for (let i = 0; i < 6; i++) {
      group.nowMs += 1;
      read(group, ['a']);
    }
    const spread = readReplies(group);
    for (const member of MEMBERS) {
      const asked = (spread.get(member) ?? 0) - (same.get(member) ?? 0);
      assert.equal(asked, 3, `${member} answered 3 of the 6 reads of 6 milliseconds`);
    }
  });

  it('a read whose first replicas include one that is down asks the others, and later reads skip it', () => {
    const group = new ReplicaGroup({});
    group.write(VOLUME, ['a']);
    group.down.add('s1');
    // A new writer's first read asks s1, s2 and s3, so it waits for the hedge.
    const startedAtMs = group.nowMs;
    assert.equal(Buffer.from(read(group, ['a']).values[0]?.value ?? []).toString(), 'a!');
    assert.ok(group.nowMs > startedAtMs, 'the answer needed the hedge, after time passed');
    // Later reads do not ask s1 first: each is answered without any time passing, wherever the
    // cursor stands.
    for (let i = 0; i < 6; i++) {
      group.nowMs += 1;
      const requestId = group.writer.read(VOLUME, ['a'], group.nowMs);
      group.pump();
      assert.ok(
        group.events.some((event) => event.type === 'read' && event.requestId === requestId),
        `read ${i} was answered by the replicas it asked first`,
      );
    }
  });

  it('with three replicas down, a read still gets its quorum from the other three', () => {
    const group = new ReplicaGroup({});
    group.write(VOLUME, ['a', 'b']);
    for (const member of ['s2', 's3', 's4']) group.down.add(member);
    const answer = read(group, ['a', 'b']);
    assert.deepEqual(
      answer.values.map((value) => Buffer.from(value.value ?? []).toString()),
      ['a!', 'b!'],
    );
  });

  it('a replica that answers again is asked first again', () => {
    const group = new ReplicaGroup({});
    group.write(VOLUME, ['a']);
    group.down.add('s1');
    read(group, ['a']);
    group.down.delete('s1');
    // s1 answers the next hedged or resent read only if asked; a read with s2 down hedges to it.
    group.down.add('s2');
    read(group, ['a']);
    group.down.delete('s2');
    const answeredBefore = readReplies(group).get('s1') ?? 0;
    for (let i = 0; i < 6; i++) {
      group.nowMs += 1;
      read(group, ['a']);
    }
    assert.ok((readReplies(group).get('s1') ?? 0) > answeredBefore, 's1 is asked again');
  });
});
