// Route messages and versions (docs/adr/0006): a message applies only if newer than what is held;
// deletions leave tombstones; a full re-read deletes clusters missing from a non-empty hash but
// keeps everything when the hash is empty (a Redis that restarted empty); a port belongs to one
// cluster; malformed messages are refused with a reason.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RouteTable } from '../../apps/proxy/src/routes/route-table.js';
import { type ClusterRoute, parseRouteMessage } from '../../libs/routes/src/index.js';

function route(clusterId: string, version: number, changes: Partial<ClusterRoute> = {}): ClusterRoute {
  return {
    clusterId,
    name: `n-${clusterId}`,
    port: 7500,
    passwordHash: 'scrypt$…',
    writerPassword: 'w',
    version,
    mode: 'open',
    tls: 'optional',
    writers: [{ id: 'd1', host: '127.0.0.1', port: 7401, cu: 1 }],
    ...changes,
  };
}

describe('route table', () => {
  it('applies a route only if its version is newer', () => {
    const table = new RouteTable();
    assert.equal(table.apply(route('a', 2)).length, 1);
    assert.deepEqual(table.apply(route('a', 2, { mode: 'paused' })), [], 'same version');
    assert.deepEqual(table.apply(route('a', 1, { mode: 'paused' })), [], 'older');
    const [change] = table.apply(route('a', 3, { mode: 'pausing' }));
    assert.equal(change?.kind, 'set');
    assert.equal(change?.kind === 'set' ? change.previous?.version : null, 2);
    assert.equal(table.get('a')?.mode, 'pausing');
  });

  it('deletes with a newer version only, and keeps an older route from coming back', () => {
    const table = new RouteTable();
    table.apply(route('a', 5));
    assert.deepEqual(table.apply({ clusterId: 'a', deleted: true, version: 4 }), []);
    assert.equal(table.apply({ clusterId: 'a', deleted: true, version: 6 })[0]?.kind, 'delete');
    assert.equal(table.get('a'), undefined);
    assert.deepEqual(table.apply(route('a', 6)), [], 'the route read back after its deletion');
    assert.equal(table.apply(route('a', 7)).length, 1, 'a newer route does come back');
  });

  it('on a full re-read deletes clusters missing from the hash, unless the hash is empty', () => {
    const table = new RouteTable();
    table.apply(route('a', 1, { port: 7501 }));
    table.apply(route('b', 1, { port: 7502 }));
    assert.deepEqual(table.applySnapshot([]), []);
    assert.equal(table.size, 2);
    const changes = table.applySnapshot([route('a', 1, { port: 7501 })]);
    assert.deepEqual(
      changes.map((change) => [
        change.kind,
        change.kind === 'delete' ? change.clusterId : change.route.clusterId,
      ]),
      [['delete', 'b']],
    );
  });

  it('gives a port to one cluster: another still holding it was deleted unheard', () => {
    const table = new RouteTable();
    table.apply(route('old', 9, { port: 7600 }));
    const changes = table.apply(route('new', 1, { port: 7600 }));
    assert.deepEqual(
      changes.map((change) => change.kind),
      ['delete', 'set'],
    );
    assert.equal(table.get('old'), undefined);
  });
});

describe('route messages', () => {
  it('parses routes and deletions', () => {
    assert.deepEqual(parseRouteMessage(JSON.stringify(route('a', 1))), route('a', 1));
    assert.deepEqual(parseRouteMessage('{"clusterId":"a","deleted":true,"version":3}'), {
      clusterId: 'a',
      deleted: true,
      version: 3,
    });
  });

  it("reads each writer's CU; a writer without one (a route stored before CU was in it) weighs 1", () => {
    const stored = {
      ...route('a', 1),
      writers: [
        { id: 'd1', host: 'h', port: 1 },
        { id: 'd2', host: 'h', port: 2, cu: 0.5 },
      ],
    };
    const parsed = parseRouteMessage(JSON.stringify(stored));
    assert.ok(!('problem' in parsed) && !('deleted' in parsed), JSON.stringify(parsed));
    assert.deepEqual(
      parsed.writers.map((writer) => writer.cu),
      [1, 0.5],
    );
  });

  it('reads the TLS policy; a route without one (stored before TLS was in routes) gets the default, optional', () => {
    for (const tls of ['required', 'optional', 'off'] as const) {
      const parsed = parseRouteMessage(JSON.stringify(route('a', 1, { tls })));
      assert.ok(!('problem' in parsed) && !('deleted' in parsed), JSON.stringify(parsed));
      assert.equal(parsed.tls, tls);
    }
    const { tls: _left, ...older } = route('a', 1);
    const parsed = parseRouteMessage(JSON.stringify(older));
    assert.ok(!('problem' in parsed) && !('deleted' in parsed), JSON.stringify(parsed));
    assert.equal(parsed.tls, 'optional');
  });

  it('refuses what is not a route, saying why', () => {
    const bad: [string, RegExp][] = [
      ['nope', /not JSON/],
      ['[]', /not an object/],
      ['{"version":1}', /clusterId/],
      [JSON.stringify({ ...route('a', 1), version: -1 }), /version/],
      [JSON.stringify({ ...route('a', 1), port: 70000 }), /port/],
      [JSON.stringify({ ...route('a', 1), mode: 'asleep' }), /mode/],
      [JSON.stringify({ ...route('a', 1), tls: 'yes' }), /tls is not required, optional or off/],
      [JSON.stringify({ ...route('a', 1), tls: true }), /tls/],
      [JSON.stringify({ ...route('a', 1), writers: [{ id: 'd1', host: 'h' }] }), /writer/],
      [JSON.stringify({ ...route('a', 1), writers: [{ id: 'd1', host: 'h', port: 1, cu: 0 }] }), /writer/],
      [JSON.stringify({ ...route('a', 1), writers: [{ id: 'd1', host: 'h', port: 1, cu: '2' }] }), /writer/],
      [JSON.stringify({ ...route('a', 1), writers: [{ id: 'd1', host: 'h', port: 1, cu: 1e6 }] }), /writer/],
      [
        JSON.stringify({ ...route('a', 1), writers: [route('a', 1).writers[0], route('a', 1).writers[0]] }),
        /same id/,
      ],
    ];
    for (const [text, reason] of bad) {
      const parsed = parseRouteMessage(text);
      assert.ok('problem' in parsed, text);
      assert.match(parsed.problem, reason);
    }
  });
});
