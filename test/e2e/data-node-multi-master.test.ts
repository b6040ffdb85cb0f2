// Three data-node processes (writers) on one volume over six real storage-node processes, driven
// by real ioredis connections: hot-key INCRs from 150 clients lose no update and hand out every
// value once, WATCH/MULTI/EXEC detects a change made through another writer (and only then),
// and a write through one writer reaches another writer's cache within a bound (at once for a
// connection in cluster consistency). Last, with the storage quorum gone, WATCH answers
// UNAVAILABLE and the connection keeps answering the requests pipelined behind it.
//
// The key and writer choices come from a fixed seed; FAULT_SEED=<n> or FAULT_SEED=random (as in
// the Jepsen-style tests) draws others.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { type RunningDataNode, startDataNode } from '../support/data-nodes.js';
import { mulberry32, seedFromEnvironment, sleep } from '../support/prng.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';
import { waitUntil } from '../support/wait.js';

const CLUSTER = 'multi-master';
const WRITERS = 3;
const CLIENTS_PER_WRITER = 50;
const HOT_KEYS = ['hot:0', 'hot:1', 'hot:2', 'hot:3'];
const INCRS_PER_CLIENT = 12;
const CAS_ROUNDS = 45;
const INVALIDATION_ROUNDS = 8;
/** A write through one writer must reach another writer's cache within this (instance reads). */
const INVALIDATION_BOUND_MS = 1_000;
/** No single command may take longer: the storage layer's own deadlines are 10 s. */
const COMMAND_TIMEOUT_MS = 15_000;
const SEED = seedFromEnvironment('FAULT_SEED', 20261123);

describe('data nodes: three writers on one volume', { timeout: 120_000 }, () => {
  let fleet: StorageFleet | undefined;
  const writers: RunningDataNode[] = [];
  const clients = new Set<Redis>();

  /** A connected ioredis client of writer `index`; it never reconnects or queues offline. */
  const connect = async (index: number, consistency?: 'cluster' | 'instance'): Promise<Redis> => {
    const writer = writers[index] as RunningDataNode;
    const client = new Redis({
      host: '127.0.0.1',
      port: writer.respPort,
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: 10_000,
    });
    client.on('error', () => undefined);
    clients.add(client);
    await client.connect();
    if (consistency !== undefined) {
      assert.equal(await client.call('BOREALIS', 'CONSISTENCY', consistency.toUpperCase()), 'OK');
    }
    return client;
  };

  const close = (client: Redis) => {
    client.disconnect();
    clients.delete(client);
  };

  before(async () => {
    if (process.env.FAULT_SEED === 'random') console.log(`data-node multi-master test: FAULT_SEED=${SEED}`);
    fleet = await startStorageFleet();
    const storage = fleet.nodes;
    const started = await Promise.all(
      Array.from({ length: WRITERS }, (_, index) =>
        startDataNode({
          id: `w${index + 1}`,
          storage,
          coordinatorId: 7 + index,
          cluster: CLUSTER,
          volume: CLUSTER,
          cu: 8,
          readConsistency: 'instance',
        }),
      ),
    );
    writers.push(...started);
  });

  after(async () => {
    for (const client of clients) client.disconnect();
    clients.clear();
    await Promise.all(writers.map((writer) => writer.stop()));
    await fleet?.stop();
  });

  it('loses no INCR from 150 clients on three writers and hands out every value once', async () => {
    const random = mulberry32(SEED);
    const connections = await Promise.all(
      Array.from({ length: WRITERS * CLIENTS_PER_WRITER }, (_, index) => connect(index % WRITERS)),
    );
    // The whole schedule is drawn up front so that the seed alone decides it.
    const plans = connections.map(() =>
      Array.from(
        { length: INCRS_PER_CLIENT },
        () => HOT_KEYS[Math.floor(random() * HOT_KEYS.length)] as string,
      ),
    );
    const acknowledged = new Map<string, number[]>(HOT_KEYS.map((key) => [key, []]));
    const refused: string[] = [];
    const indeterminate: string[] = [];

    await Promise.all(
      connections.map(async (client, index) => {
        for (const key of plans[index] as string[]) {
          try {
            (acknowledged.get(key) as number[]).push(await client.incr(key));
          } catch (error) {
            const message = (error as Error).message;
            // Definite refusals did nothing; anything else may have been applied.
            if (/^(UNAVAILABLE |ERR the transaction conflicted)/.test(message)) refused.push(message);
            else indeterminate.push(message);
          }
        }
      }),
    );
    for (const client of connections) close(client);

    assert.deepEqual(indeterminate, [], 'no fault was injected, so every INCR has a known outcome');
    const total = [...acknowledged.values()].reduce((sum, values) => sum + values.length, 0);
    assert.equal(total + refused.length, WRITERS * CLIENTS_PER_WRITER * INCRS_PER_CLIENT);
    assert.ok(
      refused.length <= total / 20,
      `${refused.length} INCRs were refused (${refused.slice(0, 3).join(' | ')}), ${total} acknowledged`,
    );

    for (let index = 0; index < WRITERS; index++) {
      const reader = await connect(index, 'cluster');
      for (const key of HOT_KEYS) {
        const values = acknowledged.get(key) as number[];
        const final = Number(await reader.get(key));
        assert.equal(final, values.length, `${key} through w${index + 1}: counter vs acknowledged INCRs`);
      }
      close(reader);
    }
    for (const key of HOT_KEYS) {
      const values = [...(acknowledged.get(key) as number[])].sort((a, b) => a - b);
      // Each acknowledged INCR saw its own value: together exactly 1..n, each once.
      const duplicates = values.filter((value, position) => position > 0 && values[position - 1] === value);
      assert.deepEqual(duplicates, [], `${key}: INCR replies handed out twice`);
      assert.deepEqual(
        values,
        Array.from({ length: values.length }, (_, position) => position + 1),
        `${key}: the acknowledged replies are not exactly 1..${values.length}`,
      );
    }
  });

  it('aborts EXEC exactly when another writer changed a WATCHed key', async () => {
    const random = mulberry32(SEED ^ 0x5eed);
    const key = 'cas:register';
    const watchers = await Promise.all(Array.from({ length: WRITERS }, (_, index) => connect(index)));
    const others = await Promise.all(Array.from({ length: WRITERS }, (_, index) => connect(index)));
    const seeder = watchers[0] as Redis;
    assert.equal(await seeder.set(key, 'initial'), 'OK');
    let model = 'initial';
    const mismatches: string[] = [];
    let aborted = 0;

    for (let round = 0; round < CAS_ROUNDS; round++) {
      const a = round % WRITERS;
      const b = (a + 1 + Math.floor(random() * (WRITERS - 1))) % WRITERS;
      const watcher = watchers[a] as Redis;
      const other = others[b] as Redis;
      // What the client on writer b does between A's WATCH and A's EXEC.
      const draw = random();
      const action = draw < 0.3 ? 'set' : draw < 0.45 ? 'set-same' : draw < 0.7 ? 'read' : 'none';

      assert.equal(await watcher.watch(key), 'OK');
      const seen = await watcher.get(key);
      if (seen !== model)
        mismatches.push(`round ${round}: w${a + 1} read ${seen} after WATCH, expected ${model}`);
      let changed = false;
      if (action === 'set') {
        assert.equal(await other.set(key, `b-${round}`), 'OK');
        model = `b-${round}`;
        changed = true;
      } else if (action === 'set-same') {
        // Redis counts a write of the same value as a modification too.
        assert.equal(await other.set(key, model), 'OK');
        changed = true;
      } else if (action === 'read') {
        const read = await other.get(key);
        if (read !== model) mismatches.push(`round ${round}: w${b + 1} read ${read}, expected ${model}`);
      }
      const result = await watcher.multi().set(key, `a-${round}`).exec();
      if (changed) {
        assert.equal(result, null, `round ${round}: EXEC on w${a + 1} after a ${action} on w${b + 1}`);
        aborted++;
      } else {
        assert.deepEqual(
          result,
          [[null, 'OK']],
          `round ${round}: EXEC on w${a + 1} after a ${action} on w${b + 1}`,
        );
        model = `a-${round}`;
      }
    }
    assert.deepEqual(mismatches, []);
    assert.ok(aborted > 5 && aborted < CAS_ROUNDS - 5, `${aborted} of ${CAS_ROUNDS} rounds changed the key`);
    for (let index = 0; index < WRITERS; index++) {
      const reader = await connect(index, 'cluster');
      assert.equal(await reader.get(key), model, `the final value through w${index + 1}`);
      close(reader);
    }
    for (const client of [...watchers, ...others]) close(client);
  });

  it("reaches another writer's cache within a bound, and cluster reads at once", async () => {
    const key = 'cache:probe';
    const instance = await Promise.all(
      Array.from({ length: WRITERS }, (_, index) => connect(index, 'instance')),
    );
    const cluster = await Promise.all(
      Array.from({ length: WRITERS }, (_, index) => connect(index, 'cluster')),
    );
    assert.equal(await (instance[0] as Redis).set(key, 'v-initial'), 'OK');
    let current = 'v-initial';
    const delays: number[] = [];
    const hitsOf = async (client: Redis) =>
      Number(/keyspace_hits:(\d+)/.exec(await client.info('stats'))?.[1]);

    for (let round = 0; round < INVALIDATION_ROUNDS; round++) {
      const a = round % WRITERS;
      const b = (a + 1) % WRITERS;
      const c = (a + 2) % WRITERS;
      // Warm the caches of b and c with the current value; the second GET must be a cache hit.
      for (const index of [b, c]) {
        const reader = instance[index] as Redis;
        const deadline = Date.now() + 5_000;
        while ((await reader.get(key)) !== current) {
          assert.ok(Date.now() < deadline, `round ${round}: w${index + 1} never caught up with ${current}`);
          await sleep(10);
        }
        const hitsBefore = await hitsOf(reader);
        assert.equal(await reader.get(key), current);
        assert.ok(
          (await hitsOf(reader)) > hitsBefore,
          `round ${round}: the GET on w${index + 1} missed the cache`,
        );
      }

      const next = `v-${round}`;
      assert.equal(await (instance[a] as Redis).set(key, next), 'OK');
      const writtenAt = performance.now();
      // Cluster consistency is linearizable: the acknowledged write is visible at once, even
      // through a writer whose cache holds the old value. (A cluster read refreshes that
      // writer's cache, so the instance reads below go through the other one, b.)
      assert.equal(await (cluster[c] as Redis).get(key), next, `round ${round}: cluster read on w${c + 1}`);
      const readerB = instance[b] as Redis;
      let seen = await readerB.get(key);
      for (let polls = 0; seen !== next && polls < 1_000; polls++) {
        if (performance.now() - writtenAt > INVALIDATION_BOUND_MS) break;
        await sleep(5);
        seen = await readerB.get(key);
      }
      const delay = performance.now() - writtenAt;
      assert.equal(
        seen,
        next,
        `round ${round}: w${b + 1} still serves ${seen} ${Math.round(delay)} ms after the write`,
      );
      delays.push(delay);
      current = next;
    }
    for (const client of [...instance, ...cluster]) close(client);
    assert.ok(
      Math.max(...delays) < INVALIDATION_BOUND_MS,
      `invalidation delays ${delays.map(Math.round).join(', ')} ms`,
    );
  });

  // Last, because it takes the storage quorum away for good (after() stops what is left).
  it('answers WATCH with UNAVAILABLE when too few storage nodes are up, and keeps serving the pipeline', async () => {
    const currentFleet = fleet as StorageFleet;
    const client = await connect(0);
    for (const index of [0, 1, 2, 3]) await currentFleet.kill(index);
    const writer = writers[0] as RunningDataNode;
    await waitUntil(
      'the writer to see only two storage nodes',
      10_000,
      async () => (await writer.health()).storageNodesConnected === 2,
      50,
    );
    // One write carrying all three: the PING must be answered without anything sent after it.
    // (The key was never read, so the GET cannot be served from the writer's cache.)
    const key = 'unavailable:probe';
    const replies = await client.pipeline().watch(key).get(key).ping().exec();
    const [watchReply, getReply, pingReply] = replies ?? [];
    assert.match(String(watchReply?.[0]?.message), /^UNAVAILABLE only 2 of 6 storage nodes are reachable/);
    assert.match(String(getReply?.[0]?.message), /^UNAVAILABLE /);
    assert.deepEqual(pingReply, [null, 'PONG']);
    // The failed WATCH watches nothing, so this EXEC has nothing to check with the storage nodes.
    const exec = await client.multi().ping().exec();
    assert.deepEqual(exec, [[null, 'PONG']]);
    close(client);
  });
});
