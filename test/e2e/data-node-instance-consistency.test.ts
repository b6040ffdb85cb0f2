// Instance read consistency on real processes, through the session-guarantees checker of
// libs/history: ioredis connections run INCR and GET against data nodes in `instance` mode over six
// storage-node processes, and every connection must read its own writes, never read back in time
// and never increment below what it saw. Three runs: one writer while storage nodes are killed and
// restarted; two writers, increments on one and reads on the other; and the same two-writer run on
// a broken copy of the data node whose cache ignores the storage nodes' `applied` notices, where
// reads on the second writer fall behind by seconds and the checker must say so.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import {
  checkSessionGuarantees,
  HistoryRecorder,
  type SessionInput,
  type SessionOutput,
} from '../../libs/history/src/index.js';
import { connectRedis } from '../support/clients.js';
import { patchedCopy } from '../support/compiled-copy.js';
import { instanceWriters, type RunningDataNode } from '../support/data-nodes.js';
import { mulberry32, sleep } from '../support/prng.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';
import { waitUntil } from '../support/wait.js';

const KEYS = ['c0', 'c1', 'c2'];
/**
 * A read must see increments acknowledged this long before it began. Applied notices keep other
 * writers' caches milliseconds behind; a cache that ignores them serves an entry for up to 10 s.
 */
const STALENESS_BOUND_MS = 3_000;
const WORKLOAD_MS = 8_000;
/** After faults, the workload runs on at least this long with every storage node back. */
const HEALED_MS = 1_000;
/**
 * Fault steps of the nemesis, 500–1,000 ms apart. It counts steps, not time: a slow machine
 * sees the same faults (the draws come from a fixed seed).
 */
const NEMESIS_STEPS = 9;

interface Role {
  writer: RunningDataNode;
  /** Share of INCR among the connection's commands (the rest are GET). */
  incrementShare: number;
}

/**
 * Runs connections in the given roles for `WORKLOAD_MS`, and on until `during` has finished and
 * `HEALED_MS` more; returns the recorded history.
 */
async function runWorkload(roles: Role[], seed: number, during?: () => Promise<void>) {
  const random = mulberry32(seed);
  const history = new HistoryRecorder<SessionInput, SessionOutput>();
  const startedAt = performance.now();
  const now = () => performance.now() - startedAt;
  let nextProcess = 0;
  const clients = new Set<Redis>();
  const connect = (writer: RunningDataNode): Promise<Redis> =>
    connectRedis(
      writer.respPort,
      { enableOfflineQueue: false, autoResendUnfulfilledCommands: false, commandTimeout: 5_000 },
      clients,
    );
  const counts = { acknowledged: 0, unknown: 0, failedReads: 0 };
  // With nothing running beside the workload, it ends at WORKLOAD_MS.
  let endsAt = during === undefined ? WORKLOAD_MS : Number.POSITIVE_INFINITY;

  const connection = async (role: Role) => {
    let client = await connect(role.writer);
    let process = nextProcess++;
    while (now() < endsAt) {
      const key = KEYS[Math.floor(random() * KEYS.length)] as string;
      const f = random() < role.incrementShare ? 'incr' : 'get';
      const handle = history.invoke(process, { f, key }, now());
      try {
        const reply = f === 'incr' ? await client.incr(key) : await client.get(key);
        history.complete(handle, { value: reply === null ? 0 : Number(reply) }, now());
        counts.acknowledged++;
      } catch {
        if (f === 'get') {
          // A read that failed changed nothing.
          history.fail(handle);
          counts.failedReads++;
        } else {
          // Any failed INCR may still take effect; the connection's session ends with it.
          history.unknown(handle);
          counts.unknown++;
          process = nextProcess++;
        }
        if (client.status !== 'ready') {
          clients.delete(client);
          client.disconnect();
          client = await connect(role.writer);
          process = nextProcess++;
        }
      }
    }
  };

  const beside = during?.().finally(() => {
    endsAt = Math.max(WORKLOAD_MS, now() + HEALED_MS);
  });
  try {
    await Promise.all([...roles.map((role) => connection(role)), beside]);
  } finally {
    for (const client of clients) client.disconnect();
  }
  return { operations: history.operations(), counts };
}

/** A copy of the compiled apps whose data node drops every `applied` notice; returns its entry. */
function brokenCopyIgnoringAppliedNotices(): { entry: string; remove: () => void } {
  const copy = patchedCopy(
    ['apps', 'libs', 'generated'],
    [
      {
        file: 'apps/data-node/src/cache/versioned-cache.js',
        anchor:
          /for \(const change of changes\)\s*\{\s*this\.invalidate\(change\.key, change\.seq\);\s*this\.remember\(change\.key, change\.seq, nowMs\);\s*\}/,
        replacement: 'void changes; /* the notice is ignored */',
      },
    ],
  );
  return { entry: join(copy.root, 'apps', 'data-node', 'src', 'main.js'), remove: copy.remove };
}

describe('instance read consistency, checked on real processes', { timeout: 240_000 }, () => {
  let fleet: StorageFleet;
  const { start: writerOf, started } = instanceWriters(() => fleet.nodes);

  before(async () => {
    fleet = await startStorageFleet();
  });

  after(async () => {
    await Promise.all(started.map((node) => node.stop()));
    await fleet?.stop();
  });

  it('keeps every connection’s guarantees on one writer while storage nodes are killed and restarted', async () => {
    const writer = await writerOf('instance-faults', 0);
    const random = mulberry32(20261203);
    let kills = 0;
    const nemesis = async () => {
      const down: number[] = [];
      for (let step = 0; step < NEMESIS_STEPS; step++) {
        await sleep(500 + random() * 500);
        if (down.length < 2 && random() < 0.6) {
          const victim = [0, 1, 2, 3, 4, 5].filter((index) => !down.includes(index))[
            Math.floor(random() * 4)
          ] as number;
          await fleet.kill(victim);
          down.push(victim);
          kills++;
        } else if (down.length > 0) {
          await fleet.restart(down.shift() as number);
        }
      }
      for (const index of down) await fleet.restart(index);
    };
    const roles = Array.from({ length: 4 }, () => ({ writer, incrementShare: 0.5 }));
    const { operations, counts } = await runWorkload(roles, 1, nemesis);

    const result = checkSessionGuarantees(operations, { maxStalenessMs: STALENESS_BOUND_MS });
    assert.deepEqual(
      result.anomalies.map((anomaly) => anomaly.message),
      [],
    );
    assert.ok(kills >= 2, `the storage nodes were killed ${kills} times`);
    assert.ok(counts.acknowledged >= 200, JSON.stringify(counts));
  });

  it('keeps them with increments on one writer and reads on another, its cache kept current by applied notices', async () => {
    const incrementing = await writerOf('instance-two', 0);
    const reading = await writerOf('instance-two', 1);
    const roles = [
      { writer: incrementing, incrementShare: 0.8 },
      { writer: incrementing, incrementShare: 0.8 },
      { writer: reading, incrementShare: 0 },
      { writer: reading, incrementShare: 0 },
    ];
    const { operations, counts } = await runWorkload(roles, 2);
    const result = checkSessionGuarantees(operations, { maxStalenessMs: STALENESS_BOUND_MS });
    assert.deepEqual(
      result.anomalies.map((anomaly) => anomaly.message),
      [],
    );
    assert.ok(counts.acknowledged >= 200, JSON.stringify(counts));
  });

  it('DBSIZE on one writer follows the keys another writer adds, as their applied notices arrive', async () => {
    const writing = await writerOf('instance-dbsize', 0);
    const counting = await writerOf('instance-dbsize', 1);
    const clients = new Set<Redis>();
    try {
      const writer = await connectRedis(writing.respPort, {}, clients);
      const counter = await connectRedis(counting.respPort, {}, clients);
      assert.equal(await counter.dbsize(), 0);
      // The counting writer answers its count again while it has seen no change (the freshness
      // of its cache): another writer's commit must reach it as a notice, or its count would
      // stand for as long as a cache entry may live (up to 60 s while the notices arrive whole).
      for (let round = 1; round <= 3; round++) {
        await writer.set(`dbsize:${round}`, 'v');
        let seen = -1;
        await waitUntil(
          () => `DBSIZE ${round} on the other writer (last answer ${seen})`,
          STALENESS_BOUND_MS,
          async () => {
            seen = await counter.dbsize();
            return seen === round;
          },
        );
      }
    } finally {
      for (const client of clients) client.disconnect();
    }
  });

  it('catches a broken copy whose cache ignores applied notices: reads on the second writer fall behind', async () => {
    const copy = brokenCopyIgnoringAppliedNotices();
    try {
      const incrementing = await writerOf('instance-broken', 0, copy.entry);
      const reading = await writerOf('instance-broken', 1, copy.entry);
      const roles = [
        { writer: incrementing, incrementShare: 0.8 },
        { writer: incrementing, incrementShare: 0.8 },
        { writer: reading, incrementShare: 0 },
        { writer: reading, incrementShare: 0 },
      ];
      const { operations } = await runWorkload(roles, 2);
      const result = checkSessionGuarantees(operations, { maxStalenessMs: STALENESS_BOUND_MS });
      assert.equal(result.valid, false, 'the checker must catch the broken cache');
      assert.ok(
        result.anomalies.every((anomaly) => anomaly.kind === 'stale-read'),
        result.anomalies.map((anomaly) => anomaly.message).join('\n'),
      );
    } finally {
      copy.remove();
    }
  });
});
