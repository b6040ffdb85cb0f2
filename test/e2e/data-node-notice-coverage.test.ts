// ADR 0020 on real processes: a data node serves a cached key past the cache's age bound while the
// storage nodes' `applied` notices reach it whole, and reads it from the replicas again once the
// notice streams of four storage nodes began anew (they restarted: what they noticed meanwhile
// never arrived). A broken copy whose notice streams ignore new connections and new streams keeps
// serving the old entry, and the same check catches it. The data nodes run with a 300 ms age bound
// (DATA_NODE_CACHE_ENTRY_AGE_MS) so that entries outlive it within the test.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { connectRedis } from '../support/clients.js';
import { patchedCopy } from '../support/compiled-copy.js';
import { instanceWriters, type RunningDataNode } from '../support/data-nodes.js';
import { sleep } from '../support/prng.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';
import { waitUntil } from '../support/wait.js';

const ENTRY_AGE_MS = 300;

interface Counters {
  readRounds: number;
  hits: number;
  wholeStreams: number;
  connected: number;
}

async function counters(node: RunningDataNode): Promise<Counters> {
  const health = await node.health();
  const client = health.quorumClient as { readRounds: number; wholeNoticeStreams: number };
  const cache = health.cache as { hits: number };
  return {
    readRounds: client.readRounds,
    hits: cache.hits,
    wholeStreams: client.wholeNoticeStreams,
    connected: health.storageNodesConnected as number,
  };
}

/** A copy of the compiled apps whose writer takes every notice stream as whole from its first start. */
function brokenCopyIgnoringNewStreams(): { entry: string; remove: () => void } {
  const file = 'libs/storage-client/src/notice-streams.js';
  const copy = patchedCopy(
    ['apps', 'libs', 'generated'],
    [
      {
        file,
        anchor: /state\.connectedAtMs = nowMs;\s*state\.streams\.clear\(\);/,
        replacement: 'state.connectedAtMs ??= nowMs;',
      },
      { file, anchor: /state\.connectedAtMs = null;\s*state\.streams\.clear\(\);/, replacement: '' },
      {
        file,
        anchor: /if \(current\.stream !== stream \|\| current\.n !== previous\) \{/,
        replacement: 'if (false) {',
      },
    ],
  );
  return { entry: join(copy.root, 'apps', 'data-node', 'src', 'main.js'), remove: copy.remove };
}

describe('cache entries past the age bound, served while the notices arrive whole (ADR 0020)', {
  timeout: 240_000,
}, () => {
  let fleet: StorageFleet;
  const { start: writer, started } = instanceWriters(() => fleet.nodes, {
    DATA_NODE_CACHE_ENTRY_AGE_MS: String(ENTRY_AGE_MS),
  });
  const clients = new Set<Redis>();

  /** Until the node hears every storage node's notice stream whole (marks come every 500 ms). */
  const streamsWhole = (node: RunningDataNode) =>
    waitUntil('notices of all six storage nodes heard whole', 15_000, async () => {
      const now = await counters(node);
      return now.connected === 6 && now.wholeStreams === 6;
    });

  /** GETs `key` once; says whether the node read it from the replicas (a read round) or its cache. */
  const getFrom = async (node: RunningDataNode, client: Redis, key: string, expected: string) => {
    const before = await counters(node);
    assert.equal(await client.get(key), expected);
    const after = await counters(node);
    return after.readRounds > before.readRounds ? 'replicas' : 'cache';
  };

  /** Restarts four of the six storage nodes (kill, then start on the same data), one after another. */
  const restartFour = async () => {
    for (let index = 0; index < 4; index++) {
      await fleet.kill(index);
      await fleet.restart(index);
    }
  };

  before(async () => {
    fleet = await startStorageFleet();
  });

  after(async () => {
    for (const client of clients) client.disconnect();
    await Promise.all(started.map((node) => node.stop()));
    await fleet?.stop();
  });

  it("serves a key from its cache past the age bound, and still sees another writer's SET", async () => {
    const first = await writer('coverage', 0);
    const second = await writer('coverage', 1);
    const a = await connectRedis(first.respPort, {}, clients);
    const b = await connectRedis(second.respPort, {}, clients);
    await a.set('cov:1', 'v1');
    await streamsWhole(first);
    // The entry's age passing the bound is what is tested: time has to pass, whatever the machine.
    await sleep(ENTRY_AGE_MS + 200);
    assert.equal(await getFrom(first, a, 'cov:1', 'v1'), 'cache');
    await b.set('cov:1', 'v2');
    await waitUntil(
      "the other writer's SET seen on the first",
      5_000,
      async () => (await a.get('cov:1')) === 'v2',
    );
  });

  it('reads a key from the replicas again once four storage nodes restarted, then serves it from its cache', async () => {
    const node = await writer('restarts', 0);
    const client = await connectRedis(node.respPort, {}, clients);
    await client.set('cov:2', 'x');
    await streamsWhole(node);
    await sleep(ENTRY_AGE_MS + 200);
    assert.equal(await getFrom(node, client, 'cov:2', 'x'), 'cache');
    await restartFour();
    await streamsWhole(node);
    await sleep(ENTRY_AGE_MS + 200);
    assert.equal(
      await getFrom(node, client, 'cov:2', 'x'),
      'replicas',
      'stored before four notice streams began anew: only its own age bound serves it',
    );
    await sleep(ENTRY_AGE_MS + 200);
    assert.equal(await getFrom(node, client, 'cov:2', 'x'), 'cache', 'read after: covered again');
  });

  it('catches a broken copy that takes restarted streams as whole: it serves the old entry', async () => {
    const copy = brokenCopyIgnoringNewStreams();
    try {
      const node = await writer('broken', 0, copy.entry);
      const client = await connectRedis(node.respPort, {}, clients);
      await client.set('cov:3', 'x');
      await streamsWhole(node);
      await restartFour();
      await streamsWhole(node);
      await sleep(ENTRY_AGE_MS + 200);
      assert.equal(await getFrom(node, client, 'cov:3', 'x'), 'cache');
    } finally {
      copy.remove();
    }
  });
});
