// Sorted sets through real processes: six storage nodes, three data-node writers on one volume in
// cluster read consistency, ioredis clients over loopback.
//
// 1. MULTI/EXEC and WATCH on sorted sets: a transaction's commands see each other's writes, and
//    a WATCHed sorted set changed by another writer (a ZINCRBY that moves one member in the
//    order tree) makes EXEC answer null.
// 2. Jepsen-style: three writers' clients ZINCRBY members of one sorted set while a nemesis
//    kill -9s and restarts storage nodes (at most two down at once). Every increment is 1, so a
//    member's final score lies between the increments acknowledged and those plus the ones whose
//    outcome is unknown (an error that does not prove the command did nothing). Each acknowledged
//    reply is the member's score right after that increment, so no two acknowledged replies for
//    one member are equal, and none exceeds the final score. The set's order must agree with
//    its scores.
//
// FAULT_SEED=<n> picks another nemesis and workload seed, FAULT_SEED=random a new one, printed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { JepsenCluster, untilWorkloadEnds } from '../support/jepsen-cluster.js';
import { definitelyNotApplied } from '../support/jepsen-workload.js';
import { mulberry32, seedFromEnvironment, sleep } from '../support/prng.js';

const CLUSTER = 'jepsen-zsets';
const WRITERS = 3;
const CLIENTS_PER_WRITER = 2;
const MEMBERS = ['m0', 'm1', 'm2', 'm3', 'm4'];
/** The workload runs at least this long, and at least HEALED_MS after the nemesis has healed. */
const WORKLOAD_MS = 12_000;
/** Fault steps the nemesis takes, 400–1,100 ms apart: at least six storage kills. */
const NEMESIS_STEPS = 11;
/** The workload runs on at least this long after the nemesis has healed everything. */
const HEALED_MS = 2_500;
const COMMAND_TIMEOUT_MS = 12_000;
/** A worker's operations are sequential; this bounds each worker's history. */
const OPERATIONS_PER_WORKER_MAX = 5_000;
const SEED = seedFromEnvironment('FAULT_SEED', 20261202);
/** What storage faults may make of a command; anything else is a bug. */
const EXPECTED_ERRORS =
  /^(UNAVAILABLE |TRYAGAIN |UNKNOWN |ERR the transaction conflicted|Command timed out|Connection is closed|Stream isn't writeable)/;

interface MemberHistory {
  acknowledged: number;
  unknown: number;
  replies: number[];
}

describe('sorted sets on data nodes: transactions and ZINCRBY under storage faults', {
  timeout: 180_000,
}, () => {
  const cluster = new JepsenCluster({
    name: CLUSTER,
    writers: WRITERS,
    idPrefix: 'z',
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
  });
  const { writers } = cluster;
  const connect = (index: number): Promise<Redis> => cluster.connect(index);
  const drop = (client: Redis): void => cluster.drop(client);

  before(() => cluster.start());

  after(() => cluster.stop());

  it('runs sorted-set commands in MULTI/EXEC and aborts EXEC when a WATCHed sorted set changed', async () => {
    const first = await connect(0);
    const second = await connect(1);
    const seeded = Array.from({ length: 300 }, (_, index) => [index, `w${index}`]).flat();
    assert.equal(await first.zadd('tx', ...seeded), 300);

    const results = await first
      .multi()
      .zadd('tx', 1000, 'late')
      .zincrby('tx', 5, 'w0')
      .zrank('tx', 'w0')
      .zrange('tx', '-2', '-1', 'WITHSCORES')
      .zcard('tx')
      .exec();
    assert.deepEqual(
      results?.map(([error, value]) => (error === null ? value : error.message)),
      [1, '5', 4, ['w299', '299', 'late', '1000'], 301],
    );

    await first.watch('tx');
    await second.zincrby('tx', 1, 'w150');
    const aborted = await first.multi().zrem('tx', 'w1').exec();
    assert.equal(aborted, null, 'a change to the WATCHed sorted set aborts EXEC');
    assert.equal(await first.zscore('tx', 'w1'), '1');

    await first.watch('tx');
    const committed = await first.multi().zrem('tx', 'w1').zpopmin('tx').exec();
    assert.deepEqual(
      committed?.map(([error, value]) => (error === null ? value : error.message)),
      [1, ['w2', '2']],
    );
    assert.deepEqual(await second.zrange('tx', '0', '1'), ['w3', 'w4']);

    // Commands whose keys follow a count: the engine reads the keys the command asks for.
    await first.zadd('u1', 1, 'a', 2, 'b');
    await second.zadd('u2', 3, 'b', 4, 'c');
    // ioredis speaks RESP3 here: pairs come nested, as from Redis 7.
    const union = (await first.call('ZUNION', '2', 'u1', 'u2', 'WITHSCORES')) as string[][];
    assert.deepEqual(union.flat(), ['a', '1', 'c', '4', 'b', '5']);
    assert.equal(await second.call('ZUNIONSTORE', 'out', '2', 'u1', 'u2', 'AGGREGATE', 'MAX'), 3);
    assert.deepEqual(await first.zrange('out', '0', '-1', 'WITHSCORES'), ['a', '1', 'b', '3', 'c', '4']);
    assert.equal(await first.call('ZINTERCARD', '2', 'u1', 'u2'), 1);
    assert.deepEqual(await second.call('ZMPOP', '2', 'nothing', 'u1', 'MIN', 'COUNT', '1'), [
      'u1',
      [['a', '1']],
    ]);
    assert.deepEqual(await first.call('ZDIFF', '2', 'out', 'u1'), ['a', 'c']);
    drop(first);
    drop(second);
  });

  it(`keeps ZINCRBY sums through storage crashes (seed ${SEED})`, async (t) => {
    if (process.env.FAULT_SEED === 'random') console.log(`sorted-set Jepsen test: FAULT_SEED=${SEED}`);
    const random = mulberry32(SEED);
    const histories = new Map<string, MemberHistory>(
      MEMBERS.map((member) => [member, { acknowledged: 0, unknown: 0, replies: [] }]),
    );
    const sampleErrors: string[] = [];
    const unexpectedErrors: string[] = [];
    const startedAt = Date.now();
    let stopping = false;

    const worker = async (writer: number, workerSeed: number) => {
      const pick = mulberry32(workerSeed);
      let client: Redis | null = null;
      for (let operation = 0; operation < OPERATIONS_PER_WORKER_MAX && !stopping; operation++) {
        if (client === null) {
          try {
            client = await connect(writer);
          } catch {
            await sleep(100);
            continue;
          }
        }
        const member = MEMBERS[Math.floor(pick() * MEMBERS.length)] as string;
        const history = histories.get(member) as MemberHistory;
        try {
          const reply = await client.zincrby(CLUSTER, 1, member);
          history.acknowledged++;
          history.replies.push(Number(reply));
        } catch (error) {
          const message = (error as Error).message;
          if (sampleErrors.length < 5) sampleErrors.push(message);
          if (!EXPECTED_ERRORS.test(message)) unexpectedErrors.push(message);
          if (!definitelyNotApplied(error)) {
            history.unknown++;
            // The connection's state is unknown too: start a fresh one.
            drop(client);
            client = null;
          }
        }
      }
      if (client !== null) drop(client);
    };

    // Storage faults in a fixed cycle with random victims, at most two down at once.
    const nemesis = () => cluster.nemesis({ random, steps: NEMESIS_STEPS });

    const workers = writers.flatMap((_, writer) =>
      Array.from({ length: CLIENTS_PER_WRITER }, (_, index) => worker(writer, SEED + writer * 100 + index)),
    );
    const { kills } = await nemesis();
    await untilWorkloadEnds(() => Date.now() - startedAt, {
      workloadMs: WORKLOAD_MS,
      healedMs: HEALED_MS,
      workloadMaxMs: WORKLOAD_MS,
      enough: () => true,
    });
    stopping = true;
    await Promise.all(workers);

    const reader = await connect(0);
    const final = new Map<string, number>();
    const listed = await reader.zrange(CLUSTER, '0', '-1', 'WITHSCORES');
    for (let index = 0; index < listed.length; index += 2) {
      final.set(listed[index] as string, Number(listed[index + 1]));
    }
    drop(reader);

    const acknowledged = [...histories.values()].reduce((sum, history) => sum + history.acknowledged, 0);
    const unknown = [...histories.values()].reduce((sum, history) => sum + history.unknown, 0);
    t.diagnostic(`seed ${SEED}; storage kills ${kills}; acknowledged ${acknowledged}; unknown ${unknown}`);
    if (sampleErrors.length > 0) t.diagnostic(`some errors: ${sampleErrors.join(' | ')}`);
    assert.deepEqual(unexpectedErrors.slice(0, 5), [], 'only storage faults may fail a ZINCRBY');
    assert.ok(kills >= 3, `the nemesis killed only ${kills} storage nodes`);
    assert.ok(acknowledged >= 50, `only ${acknowledged} increments were acknowledged`);

    const scores = listed.filter((_, index) => index % 2 === 1).map(Number);
    assert.deepEqual(
      scores,
      [...scores].sort((a, b) => a - b),
      'ZRANGE lists members in score order',
    );
    for (const [member, history] of histories) {
      const score = final.get(member) ?? 0;
      assert.ok(
        score >= history.acknowledged && score <= history.acknowledged + history.unknown,
        `${member}: final score ${score}, ${history.acknowledged} acknowledged, ${history.unknown} unknown`,
      );
      assert.equal(new Set(history.replies).size, history.replies.length, `${member}: a reply repeated`);
      assert.ok(
        history.replies.every((reply) => reply <= score),
        `${member}: a reply above the final score`,
      );
    }
  });
});
