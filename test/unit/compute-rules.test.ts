// Pure rules of the compute layer: what writers a cluster should run, what route the proxy
// gets for a cluster in each state, and which proxy events the control plane accepts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planWriters, startingCu } from '../../apps/control-plane/src/compute/writer-plan.js';
import { routeOf } from '../../apps/control-plane/src/endpoints/route.js';
import type { Cluster, DataNode } from '../../generated/prisma/client.js';
import { parseProxyEvent } from '../../libs/routes/src/index.js';

const serverless = {
  mode: 'serverless' as const,
  minCu: 0,
  maxCu: 8,
  provisionedWriterCount: null,
  cuPerWriter: null,
};
const provisioned = {
  mode: 'provisioned' as const,
  minCu: null,
  maxCu: null,
  provisionedWriterCount: 3,
  cuPerWriter: 4,
};

describe('writer plan', () => {
  it('starts a serverless cluster at its minimum, or half a CU when the minimum is 0', () => {
    assert.equal(startingCu(serverless), 0.5);
    assert.equal(startingCu({ ...serverless, minCu: 2 }), 2);
    // A writer holds at most 8 CU: a larger minimum is more writers' business (the autoscaler's).
    assert.equal(startingCu({ ...serverless, minCu: 16, maxCu: 32 }), 8);
  });

  it('runs exactly the provisioned writers, each of the provisioned size', () => {
    const plan = planWriters(provisioned, 1);
    assert.equal(plan.count, 3);
    assert.deepEqual([plan.cuOf(null), plan.cuOf(2), plan.cuOf(8)], [4, 4, 4]);
  });

  it('keeps a serverless writer at its size when within range, and brings it into range otherwise', () => {
    const plan = planWriters({ ...serverless, minCu: 1, maxCu: 4 }, 2);
    assert.equal(plan.count, 2, 'the writers the autoscaler chose stay');
    assert.deepEqual([plan.cuOf(null), plan.cuOf(0.5), plan.cuOf(3), plan.cuOf(6)], [1, 1, 3, 4]);
    assert.equal(planWriters(serverless, 0).count, 1, 'an awake serverless cluster has a writer');
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

function writer(id: string, state: DataNode['state'], respPort: number | null): DataNode {
  return { id, state, host: '127.0.0.1', respPort } as DataNode;
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
    assert.deepEqual(route.writers, [{ id: 'd7', host: '127.0.0.1', port: 40001 }]);
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
