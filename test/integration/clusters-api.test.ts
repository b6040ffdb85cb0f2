import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { ClustersRepository } from '../../apps/control-plane/src/clusters/clusters.repository.js';
import { startIsolatedControlPlane } from '../support/control-plane.js';
import type { ApiClient } from '../support/http-client.js';
import { freePort } from '../support/processes.js';
import { waitUntil } from '../support/wait.js';

type Running = Awaited<ReturnType<typeof startIsolatedControlPlane>>;

function assertErrorBody(body: any, status: number, message: RegExp): void {
  assert.equal(body.statusCode, status, JSON.stringify(body));
  assert.equal(typeof body.error, 'string');
  assert.match(body.message, message);
  assert.ok('details' in body);
}

describe('clusters REST API', () => {
  let running: Running;
  let api: ApiClient;
  let sql: pg.Client;
  let portMin: number;
  let portMax: number;

  before(async () => {
    // A narrow endpoint port range, to reach exhaustion in a few creates; where it starts is the
    // operating system's choice, so no two test runs assume the same ports.
    portMin = await freePort();
    portMax = portMin + 4;
    running = await startIsolatedControlPlane({ endpointPortMin: portMin, endpointPortMax: portMax });
    api = running.admin;
    sql = new pg.Client({ connectionString: running.database.url });
    await sql.connect();
  });
  after(async () => {
    await sql.end();
    await running.close();
  });

  it('creates a serverless cluster with defaults and shows the data password only once', async () => {
    const created = await api.post('/v1/clusters', { name: 'orders', mode: 'serverless' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.name, 'orders');
    assert.equal(created.body.state, 'creating');
    assert.deepEqual([created.body.minCu, created.body.maxCu, created.body.autoPauseSeconds], [0, 4, 300]);
    assert.equal(created.body.tls, 'optional', 'TLS and plain RESP on one port by default');
    assert.deepEqual(created.body.endpoint, {
      host: '127.0.0.1',
      port: portMin,
      uri: `redis://127.0.0.1:${portMin}`,
      tlsUri: `rediss://127.0.0.1:${portMin}`,
    });
    assert.equal(created.body.failureReason, null);
    assert.match(created.body.dataPassword, /^[\w-]{32}$/);

    const fetched = await api.get(`/v1/clusters/${created.body.id}`);
    assert.equal(fetched.status, 200);
    assert.equal(fetched.body.dataPassword, undefined, 'the password is never shown again');
    const { dataPassword: _shownOnce, ...createdView } = created.body;
    assert.deepEqual(fetched.body, createdView);
    await api.delete(`/v1/clusters/${created.body.id}`);
  });

  it('creates a provisioned cluster', async () => {
    const created = await api.post('/v1/clusters', {
      name: 'ledger',
      mode: 'provisioned',
      writerCount: 3,
      cuPerWriter: 4.5,
      readConsistency: 'cluster',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(
      [created.body.writerCount, created.body.cuPerWriter, created.body.minCu, created.body.readConsistency],
      [3, 4.5, null, 'cluster'],
    );
    await api.delete(`/v1/clusters/${created.body.id}`);
  });

  const invalidCreates: [string, Record<string, unknown>, RegExp][] = [
    ['a name that is not a DNS label', { name: 'Orders_DB', mode: 'serverless' }, /name must be a DNS label/],
    ['a name ending in a hyphen', { name: 'orders-', mode: 'serverless' }, /name must be a DNS label/],
    ['a name of 64 characters', { name: 'a'.repeat(64), mode: 'serverless' }, /name must/],
    ['a missing name', { mode: 'serverless' }, /name must be a string/],
    ['an unknown mode', { name: 'x', mode: 'turbo' }, /mode must be one of: serverless, provisioned/],
    [
      'min above max',
      { name: 'x', mode: 'serverless', minCu: 8, maxCu: 4 },
      /minCu \(8\) must not be above maxCu \(4\)/,
    ],
    [
      'CU not in steps of 0.5',
      { name: 'x', mode: 'serverless', maxCu: 1.25 },
      /maxCu must be a number from 0.5 to 256 in steps of 0.5/,
    ],
    [
      'a negative minimum',
      { name: 'x', mode: 'serverless', minCu: -0.5 },
      /minCu must be a number from 0 to 256/,
    ],
    [
      'a maximum above 256',
      { name: 'x', mode: 'serverless', maxCu: 256.5 },
      /maxCu must be a number from 0.5 to 256/,
    ],
    ['CU as a string', { name: 'x', mode: 'serverless', maxCu: '4' }, /maxCu must be a number/],
    ['an explicit null', { name: 'x', mode: 'serverless', minCu: null }, /minCu must be a number/],
    ['an unknown field', { name: 'x', mode: 'serverless', color: 'blue' }, /property color should not exist/],
    [
      'a provisioned field on serverless',
      { name: 'x', mode: 'serverless', writerCount: 2 },
      /writerCount does not apply to serverless/,
    ],
    [
      'a serverless field on provisioned',
      { name: 'x', mode: 'provisioned', maxCu: 2 },
      /maxCu does not apply to provisioned/,
    ],
    [
      'too many writers',
      { name: 'x', mode: 'provisioned', writerCount: 17 },
      /writerCount must be at most 16/,
    ],
    [
      'a writer above 8 CU',
      { name: 'x', mode: 'provisioned', cuPerWriter: 8.5 },
      /cuPerWriter must be a number from 0.5 to 8/,
    ],
    [
      'auto-pause with minCu above 0',
      { name: 'x', mode: 'serverless', minCu: 1, autoPauseSeconds: 60 },
      /autoPauseSeconds applies only when minCu is 0/,
    ],
    [
      'a fractional auto-pause',
      { name: 'x', mode: 'serverless', autoPauseSeconds: 1.5 },
      /autoPauseSeconds must be a whole number/,
    ],
    [
      'an unknown read consistency',
      { name: 'x', mode: 'serverless', readConsistency: 'eventual' },
      /readConsistency must be one of/,
    ],
  ];
  for (const [what, body, message] of invalidCreates) {
    it(`refuses ${what} with 400 and says what to fix`, async () => {
      const response = await api.post('/v1/clusters', body);
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assertErrorBody(response.body, 400, message);
      assert.ok(Array.isArray(response.body.details) && response.body.details.length > 0);
    });
  }

  it('refuses bodies that are not JSON objects', async () => {
    const malformed = await api.raw('POST', '/v1/clusters', '{"name": "x",', 'application/json');
    assert.equal(malformed.status, 400);
    assertErrorBody(malformed.body, 400, /not valid JSON/);
    const form = await api.raw(
      'POST',
      '/v1/clusters',
      'name=x&mode=serverless',
      'application/x-www-form-urlencoded',
    );
    assertErrorBody(form.body, 400, /must be a JSON object sent with Content-Type: application\/json/);
    const array = await api.post('/v1/clusters', [{ name: 'x' }]);
    assertErrorBody(array.body, 400, /must be a JSON object.*got an array/);
  });

  it('refuses a duplicate name with 409', async () => {
    const first = await api.post('/v1/clusters', { name: 'unique-name', mode: 'serverless' });
    assert.equal(first.status, 201);
    const second = await api.post('/v1/clusters', { name: 'unique-name', mode: 'provisioned' });
    assert.equal(second.status, 409);
    assertErrorBody(second.body, 409, /already exists/);
    await api.delete(`/v1/clusters/${first.body.id}`);
  });

  it('gives concurrent creates distinct endpoint ports and refuses when the range is full', async () => {
    const responses = await Promise.all(
      Array.from({ length: 7 }, (_, index) =>
        api.post('/v1/clusters', { name: `burst-${index}`, mode: 'serverless' }),
      ),
    );
    const created = responses.filter((response) => response.status === 201);
    const refused = responses.filter((response) => response.status === 409);
    assert.equal(created.length, 5, JSON.stringify(responses.map((response) => response.body)));
    assert.equal(refused.length, 2);
    for (const response of refused)
      assertErrorBody(response.body, 409, new RegExp(`no endpoint port is free in ${portMin}-${portMax}`));
    const ports = created.map((response) => response.body.endpoint.port).sort();
    assert.deepEqual(
      ports,
      [0, 1, 2, 3, 4].map((offset) => portMin + offset),
    );
    // Deleting frees the port for the next cluster.
    await api.delete(`/v1/clusters/${created[0]?.body.id}`);
    const reused = await api.post('/v1/clusters', { name: 'after-delete', mode: 'serverless' });
    assert.equal(reused.status, 201);
    assert.equal(reused.body.endpoint.port, created[0]?.body.endpoint.port);
    for (const cluster of [...created.slice(1), reused]) await api.delete(`/v1/clusters/${cluster.body.id}`);
  });

  it('pages through clusters in creation order with a cursor', async () => {
    const names = ['page-a', 'page-b', 'page-c'];
    const ids: string[] = [];
    for (const name of names)
      ids.push((await api.post('/v1/clusters', { name, mode: 'serverless' })).body.id);
    const first = await api.get('/v1/clusters?limit=2');
    assert.equal(first.status, 200);
    assert.deepEqual(
      first.body.items.map((cluster: any) => cluster.name),
      ['page-a', 'page-b'],
    );
    assert.equal(typeof first.body.nextCursor, 'string');
    const second = await api.get(`/v1/clusters?limit=2&cursor=${first.body.nextCursor}`);
    assert.deepEqual(
      second.body.items.map((cluster: any) => cluster.name),
      ['page-c'],
    );
    assert.equal(second.body.nextCursor, null);

    assertErrorBody((await api.get('/v1/clusters?limit=0')).body, 400, /limit must be at least 1/);
    assertErrorBody((await api.get('/v1/clusters?limit=101')).body, 400, /limit must be at most 100/);
    assertErrorBody((await api.get('/v1/clusters?limit=ten')).body, 400, /limit must be a whole number/);
    assertErrorBody((await api.get('/v1/clusters?cursor=bogus')).body, 400, /cursor is invalid/);
    assertErrorBody((await api.get('/v1/clusters?sort=name')).body, 400, /property sort should not exist/);
    for (const id of ids) await api.delete(`/v1/clusters/${id}`);
  });

  it('changes settings with PATCH and checks them against the current ones', async () => {
    const { body: cluster } = await api.post('/v1/clusters', {
      name: 'patched',
      mode: 'serverless',
      maxCu: 8,
    });
    const widened = await api.patch(`/v1/clusters/${cluster.id}`, {
      minCu: 1,
      maxCu: 32,
      readConsistency: 'cluster',
    });
    assert.equal(widened.status, 200, JSON.stringify(widened.body));
    assert.deepEqual(
      [widened.body.minCu, widened.body.maxCu, widened.body.autoPauseSeconds, widened.body.readConsistency],
      [1, 32, null, 'cluster'],
    );
    assert.equal(widened.body.endpoint.port, cluster.endpoint.port, 'the endpoint never changes');

    const required = await api.patch(`/v1/clusters/${cluster.id}`, { tls: 'required' });
    assert.equal(required.status, 200, JSON.stringify(required.body));
    assert.equal(required.body.tls, 'required');
    assert.equal(required.body.endpoint.uri, `rediss://127.0.0.1:${cluster.endpoint.port}`);
    const off = await api.patch(`/v1/clusters/${cluster.id}`, { tls: 'off' });
    assert.deepEqual(
      [off.body.tls, off.body.endpoint.uri, off.body.endpoint.tlsUri],
      ['off', `redis://127.0.0.1:${cluster.endpoint.port}`, null],
    );
    assert.equal(off.body.minCu, 1, 'a TLS change keeps the other settings');
    assertErrorBody(
      (await api.patch(`/v1/clusters/${cluster.id}`, { tls: 'sometimes' })).body,
      400,
      /tls must be one of: required, optional, off/,
    );

    assertErrorBody(
      (await api.patch(`/v1/clusters/${cluster.id}`, { maxCu: 0.5 })).body,
      400,
      /minCu \(1\) must not be above maxCu \(0.5\)/,
    );
    assertErrorBody((await api.patch(`/v1/clusters/${cluster.id}`, {})).body, 400, /send at least one of/);
    assertErrorBody(
      (await api.patch(`/v1/clusters/${cluster.id}`, { name: 'renamed' })).body,
      400,
      /property name should not exist/,
    );
    assertErrorBody(
      (await api.patch(`/v1/clusters/${cluster.id}`, { writerCount: 2 })).body,
      400,
      /does not apply to serverless/,
    );
    const unchanged = await api.get(`/v1/clusters/${cluster.id}`);
    assert.deepEqual(
      [unchanged.body.minCu, unchanged.body.maxCu],
      [1, 32],
      'refused changes leave the cluster as it was',
    );

    const paused = await api.patch(`/v1/clusters/${cluster.id}`, { minCu: 0, autoPauseSeconds: 5 });
    assert.deepEqual([paused.body.minCu, paused.body.autoPauseSeconds], [0, 5]);
    await api.delete(`/v1/clusters/${cluster.id}`);
  });

  it('applies concurrent PATCHes one after another without losing either', async () => {
    const { body: cluster } = await api.post('/v1/clusters', {
      name: 'racing',
      mode: 'serverless',
      maxCu: 8,
    });
    // Hold the row locked so that both PATCHes read the same settings and then wait at their
    // conditional write: the overlap is certain, not left to timing.
    await sql.query('BEGIN');
    await sql.query('SELECT 1 FROM "Cluster" WHERE id = $1 FOR UPDATE', [cluster.id]);
    const patches = Promise.all([
      api.patch(`/v1/clusters/${cluster.id}`, { maxCu: 64 }),
      api.patch(`/v1/clusters/${cluster.id}`, { readConsistency: 'cluster' }),
    ]);
    // What waits on a lock in this database, shown if the wait times out (pg_stat_activity's
    // query is the backend's last one reported, often the SELECT before its UPDATE).
    let waiting: { pid: number; state: string; query: string }[] = [];
    await waitUntil(
      () => `both PATCHes to wait on the locked row; waiting on a lock: ${JSON.stringify(waiting)}`,
      10_000,
      async () => {
        // One waits on this transaction, the other queues behind the first (a tuple lock).
        ({ rows: waiting } = await sql.query(
          `SELECT pid, state, left(query, 120) AS query FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND cardinality(pg_blocking_pids(pid)) > 0`,
        ));
        return waiting.length === 2;
      },
    );
    await sql.query('COMMIT');
    const [a, b] = await patches;
    assert.deepEqual([a.status, b.status], [200, 200]);
    const final = await api.get(`/v1/clusters/${cluster.id}`);
    assert.deepEqual([final.body.maxCu, final.body.readConsistency], [64, 'cluster']);
    await api.delete(`/v1/clusters/${cluster.id}`);
  });

  it('refuses a settings write based on settings read before another write, even in the same millisecond', async () => {
    const repository = running.app.get(ClustersRepository);
    const { body: view } = await api.post('/v1/clusters', { name: 'same-ms', mode: 'serverless', maxCu: 8 });
    const stale = await repository.findById(view.id);
    assert.ok(stale);
    const settings = {
      mode: 'serverless' as const,
      minCu: 0,
      maxCu: 16,
      autoPauseSeconds: 300,
      cuPerWriterMax: 8,
      scaleDownWindowSeconds: 30,
      writerCount: null,
      cuPerWriter: null,
      readConsistency: 'instance' as const,
      tls: 'optional' as const,
    };
    assert.equal(await repository.updateSettingsIfUnchanged(stale, settings, ['creating']), true);
    const current = await repository.findById(view.id);
    assert.ok(current);
    // Two writes in one millisecond leave updatedAt as it was: the stale read must still lose.
    const sameMillisecond = { ...stale, updatedAt: current.updatedAt };
    assert.equal(
      await repository.updateSettingsIfUnchanged(sameMillisecond, { ...settings, maxCu: 32 }, ['creating']),
      false,
    );
    assert.equal((await repository.findById(view.id))?.maxCu, 16);
    await api.delete(`/v1/clusters/${view.id}`);
  });

  for (const state of ['modifying', 'pausing', 'resuming', 'migrating']) {
    it(`refuses to delete a cluster while it is ${state}: 409 naming the state`, async () => {
      const { body: cluster } = await api.post('/v1/clusters', { name: `busy-${state}`, mode: 'serverless' });
      await sql.query('UPDATE "Cluster" SET state = $2 WHERE id = $1', [cluster.id, state]);
      const refused = await api.delete(`/v1/clusters/${cluster.id}`);
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assertErrorBody(
        refused.body,
        409,
        new RegExp(`busy-${state} is ${state}: it can be deleted once that ends`),
      );
      assert.equal((await api.get(`/v1/clusters/${cluster.id}`)).body.state, state);
      await sql.query(`UPDATE "Cluster" SET state = 'available' WHERE id = $1`, [cluster.id]);
      assert.equal((await api.delete(`/v1/clusters/${cluster.id}`)).status, 204);
    });
  }

  it('deletes a cluster: 204, then 404 everywhere', async () => {
    const { body: cluster } = await api.post('/v1/clusters', { name: 'doomed', mode: 'serverless' });
    assert.equal((await api.delete(`/v1/clusters/${cluster.id}`)).status, 204);
    assertErrorBody((await api.get(`/v1/clusters/${cluster.id}`)).body, 404, /does not exist/);
    assert.equal((await api.delete(`/v1/clusters/${cluster.id}`)).status, 404);
    assert.equal((await api.patch(`/v1/clusters/${cluster.id}`, { maxCu: 2 })).status, 404);
  });

  it('refuses ids that are not UUIDs and unknown routes with clear errors', async () => {
    assertErrorBody((await api.get('/v1/clusters/not-a-uuid')).body, 400, /cluster id must be a UUID/);
    assertErrorBody((await api.get('/v1/nothing-here')).body, 404, /no such route.*\/docs/);
  });
});
