// Pure rules of the compute layer: what writers a cluster should run, what route the proxy
// gets for a cluster in each state, and which proxy events the control plane accepts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  planCapacity,
  planWriters,
  startingCu,
  writerLayout,
} from '../../apps/control-plane/src/compute/writer-plan.js';
import { routeOf } from '../../apps/control-plane/src/endpoints/route.js';
import type { Cluster, DataNode } from '../../generated/prisma/client.js';
import { parseProxyEvent } from '../../libs/routes/src/index.js';

const serverless = {
  mode: 'serverless' as const,
  minCu: 0,
  maxCu: 8,
  provisionedWriterCount: null,
  cuPerWriter: null,
  cuPerWriterMax: 8,
};
const provisioned = {
  mode: 'provisioned' as const,
  minCu: null,
  maxCu: null,
  provisionedWriterCount: 3,
  cuPerWriter: 4,
  cuPerWriterMax: null,
};

describe('writer plan', () => {
  it('starts a serverless cluster at its minimum, or half a CU when the minimum is 0', () => {
    assert.equal(startingCu(serverless), 0.5);
    assert.equal(startingCu({ ...serverless, minCu: 2 }), 2);
    assert.deepEqual(planWriters({ ...serverless, minCu: 16, maxCu: 32 }, []).sizes, [8, 8]);
  });

  it('runs exactly the provisioned writers, each of the provisioned size', () => {
    const plan = planWriters(provisioned, [4]);
    assert.equal(plan.count, 3);
    assert.deepEqual(plan.sizes, [4, 4, 4]);
  });

  it('keeps the capacity a serverless cluster runs when within range, and brings it into range otherwise', () => {
    const shape = { ...serverless, minCu: 1, maxCu: 4 };
    assert.deepEqual(planWriters(shape, [3]).sizes, [3], 'the size the autoscaler chose stays');
    assert.deepEqual(planWriters(shape, [0.5]).sizes, [1], 'raised to the minimum');
    assert.deepEqual(planWriters(shape, [6]).sizes, [4], 'lowered to the maximum');
    assert.deepEqual(planWriters(serverless, []).sizes, [0.5], 'an awake serverless cluster has a writer');
  });

  it('spreads capacity over writers of at most cuPerWriterMax, larger first', () => {
    assert.deepEqual(writerLayout(2.5, 1), [1, 1, 0.5]);
    assert.deepEqual(writerLayout(10, 8), [5, 5]);
    assert.deepEqual(writerLayout(3, 8), [3]);
    assert.deepEqual(planWriters({ ...serverless, maxCu: 16, cuPerWriterMax: 1 }, [2, 1]).sizes, [1, 1, 1]);
    assert.deepEqual(planCapacity({ ...serverless, cuPerWriterMax: 1 }, 0.5).sizes, [0.5]);
  });
});

function cluster(state: Cluster['state']): Cluster {
  return {
    id: '7f0c1a52-3b4d-4e5f-8a9b-0c1d2e3f4a5b',
    name: 'orders',
    state,
    endpointPort: 7500,
    dataPasswordHash: 'scrypt$…',
    writerPassword: 'internal',
  } as Cluster;
}

function writer(id: string, state: DataNode['state'], respPort: number | null, cu = 2): DataNode {
  return { id, state, host: '127.0.0.1', respPort, cu } as DataNode;
}

describe('routes', () => {
  const writers = [
    writer('d7', 'attached', 40001),
    writer('d8', 'detaching', 40002),
    writer('d9', 'attaching', null),
  ];

  it('an open route lists only attached writers: one leaving or still attaching takes no traffic', () => {
    const route = routeOf(cluster('available'), writers, 12);
    assert.equal(route.mode, 'open');
    assert.equal(route.version, 12);
    assert.deepEqual(route.writers, [{ id: 'd7', host: '127.0.0.1', port: 40001, cu: 2 }], 'with its CU');
    assert.equal(route.writerPassword, 'internal');
  });

  it('a pausing cluster keeps its writers in its route; a paused or resuming one has none', () => {
    assert.equal(routeOf(cluster('pausing'), writers, 1).mode, 'pausing');
    assert.equal(routeOf(cluster('pausing'), writers, 1).writers.length, 1);
    for (const state of ['paused', 'resuming'] as const) {
      const route = routeOf(cluster(state), writers, 1);
      assert.deepEqual([route.mode, route.writers], ['paused', []]);
    }
  });

  it('a creating cluster is open with the writers it has so far (the proxy holds commands meanwhile)', () => {
    assert.deepEqual(routeOf(cluster('creating'), [], 1).writers, []);
    assert.equal(routeOf(cluster('creating'), [], 1).mode, 'open');
  });
});

describe('proxy events', () => {
  const clusterId = '7f0c1a52-3b4d-4e5f-8a9b-0c1d2e3f4a5b';

  it('reads wake, quiesced and released events', () => {
    assert.deepEqual(parseProxyEvent(JSON.stringify({ type: 'wake', clusterId, proxyId: 'p1' })), {
      type: 'wake',
      clusterId,
      proxyId: 'p1',
    });
    assert.equal(
      parseProxyEvent(JSON.stringify({ type: 'quiesced', clusterId, proxyId: 'p1', version: 4 }))?.type,
      'quiesced',
    );
    assert.equal(
      parseProxyEvent(
        JSON.stringify({ type: 'released', clusterId, proxyId: 'p1', version: 4, writerId: 'd7' }),
      )?.type,
      'released',
    );
  });

  it('ignores anything else: bad JSON, unknown types, missing or malformed fields', () => {
    for (const text of [
      'not json',
      'null',
      '[]',
      JSON.stringify({ type: 'explode', clusterId, proxyId: 'p1' }),
      JSON.stringify({ type: 'wake', clusterId: 'not-a-uuid', proxyId: 'p1' }),
      JSON.stringify({ type: 'wake', clusterId }),
      JSON.stringify({ type: 'quiesced', clusterId, proxyId: 'p1', version: 'four' }),
      JSON.stringify({ type: 'released', clusterId, proxyId: 'p1', version: 4 }),
    ]) {
      assert.equal(parseProxyEvent(text), null, text);
    }
  });
});
