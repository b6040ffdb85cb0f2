import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiKeysService } from '../../apps/control-plane/src/auth/api-keys.service.js';
import { PrismaService } from '../../apps/control-plane/src/database/prisma.service.js';
import { startIsolatedControlPlane } from '../support/control-plane.js';
import type { ApiClient } from '../support/http-client.js';

type Running = Awaited<ReturnType<typeof startIsolatedControlPlane>>;

describe('API keys and authorization', () => {
  let running: Running;
  let admin: ApiClient;
  let viewer: ApiClient;
  let clusterId: string;

  before(async () => {
    running = await startIsolatedControlPlane();
    admin = running.admin;
    const created = await admin.post('/v1/api-keys', { name: 'dashboards', role: 'viewer' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.body.key, /^brl_[0-9a-f]{12}_[\w-]{43}$/);
    viewer = admin.withKey(created.body.key);
    clusterId = (await admin.post('/v1/clusters', { name: 'shared', mode: 'serverless' })).body.id;
  });
  after(() => running.close());

  const routes: [string, string, unknown?][] = [
    ['GET', '/v1/clusters'],
    ['POST', '/v1/clusters', { name: 'nope', mode: 'serverless' }],
    ['GET', '/v1/clusters/00000000-0000-4000-8000-000000000000'],
    ['PATCH', '/v1/clusters/00000000-0000-4000-8000-000000000000', { maxCu: 2 }],
    ['DELETE', '/v1/clusters/00000000-0000-4000-8000-000000000000'],
    ['GET', '/v1/api-keys'],
    ['POST', '/v1/api-keys', { name: 'x', role: 'admin' }],
    ['DELETE', '/v1/api-keys/00000000-0000-4000-8000-000000000000'],
    ['POST', '/v1/clusters/00000000-0000-4000-8000-000000000000/pause'],
    ['POST', '/v1/clusters/00000000-0000-4000-8000-000000000000/resume'],
    ['GET', '/v1/storage-nodes'],
    ['GET', '/v1/fleet/actions'],
  ];

  for (const [method, path, body] of routes) {
    it(`${method} ${path} needs a key: 401 without one, 401 with a wrong one`, async () => {
      const missing = await admin.withKey(null).request(method, path, body);
      assert.equal(missing.status, 401);
      assert.match(missing.body.message, /missing API key: send the header `Authorization: Bearer <key>`/);
      assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
      const wrong = await admin.withKey(`${admin.apiKey?.slice(0, -4)}AAAA`).request(method, path, body);
      assert.equal(wrong.status, 401);
      assert.match(wrong.body.message, /not valid or was revoked/);
      const garbage = await admin.withKey('hunter2').request(method, path, body);
      assert.equal(garbage.status, 401);
    });
  }

  it('lets a viewer read clusters but not change them (403)', async () => {
    assert.equal((await viewer.get('/v1/clusters')).status, 200);
    assert.equal((await viewer.get(`/v1/clusters/${clusterId}`)).status, 200);
    for (const response of [
      await viewer.post('/v1/clusters', { name: 'by-viewer', mode: 'serverless' }),
      await viewer.patch(`/v1/clusters/${clusterId}`, { maxCu: 2 }),
      await viewer.delete(`/v1/clusters/${clusterId}`),
    ]) {
      assert.equal(response.status, 403);
      assert.match(response.body.message, /viewer API keys can only read/);
    }
    assert.equal((await admin.get(`/v1/clusters/${clusterId}`)).body.maxCu, 4, 'nothing changed');
  });

  it('keeps API keys to admins, even for reading', async () => {
    const listed = await viewer.get('/v1/api-keys');
    assert.equal(listed.status, 403);
    assert.match(listed.body.message, /needs an admin API key/);
  });

  it('lists keys without their secrets', async () => {
    const listed = await admin.get('/v1/api-keys');
    assert.equal(listed.status, 200);
    assert.ok(listed.body.items.length >= 2);
    for (const key of listed.body.items) {
      assert.equal(key.key, undefined);
      assert.equal(key.secretHash, undefined);
      assert.match(key.prefix, /^[0-9a-f]{12}$/);
    }
    assert.equal(listed.body.items.filter((key: any) => key.bootstrap).length, 1);
  });

  it('validates new keys', async () => {
    const bad = await admin.post('/v1/api-keys', { name: '', role: 'root', extra: 1 });
    assert.equal(bad.status, 400);
    const fields = bad.body.details.map((detail: any) => detail.field).sort();
    assert.deepEqual(fields, ['extra', 'name', 'role']);
  });

  it('revokes keys: a revoked key gets 401 at once', async () => {
    const created = await admin.post('/v1/api-keys', { name: 'temporary', role: 'admin' });
    const temporary = admin.withKey(created.body.key);
    assert.equal((await temporary.get('/v1/clusters')).status, 200);
    assert.equal((await admin.delete(`/v1/api-keys/${created.body.id}`)).status, 204);
    assert.equal((await temporary.get('/v1/clusters')).status, 401);
    assert.equal((await admin.delete(`/v1/api-keys/${created.body.id}`)).status, 404);
  });

  it('never revokes the last admin key', async () => {
    const keys = (await admin.get('/v1/api-keys')).body.items;
    const admins = keys.filter((key: any) => key.role === 'admin');
    assert.equal(admins.length, 1);
    const refused = await admin.delete(`/v1/api-keys/${admins[0].id}`);
    assert.equal(refused.status, 409);
    assert.match(refused.body.message, /last admin key/);
    assert.equal((await admin.get('/v1/clusters')).status, 200);
  });

  it('leaves health, readiness, metrics and the docs open', async () => {
    const anonymous = admin.withKey(null);
    for (const path of ['/health', '/ready', '/metrics', '/docs-json', '/docs']) {
      assert.equal((await anonymous.get(path)).status, 200, path);
    }
  });

  it('keeps an admin key when the last two revoke each other at the same moment', async () => {
    const second = await admin.post('/v1/api-keys', { name: 'second-admin', role: 'admin' });
    const secondClient = admin.withKey(second.body.key);
    const bootstrapId = (await admin.get('/v1/api-keys')).body.items.find((key: any) => key.bootstrap).id;
    const [first, other] = await Promise.all([
      admin.delete(`/v1/api-keys/${second.body.id}`),
      secondClient.delete(`/v1/api-keys/${bootstrapId}`),
    ]);
    const statuses = [first.status, other.status].sort();
    assert.equal(statuses.filter((status) => status === 204).length, 1, JSON.stringify(statuses));
    assert.ok(
      statuses.every((status) => [204, 401, 409].includes(status)),
      JSON.stringify(statuses),
    );
    const remaining = await running.app.get(PrismaService).apiKey.findMany({ where: { role: 'admin' } });
    assert.equal(remaining.length, 1);
    // Go on with whichever admin key survived.
    if (remaining[0]?.bootstrap === false) admin = secondClient;
  });

  it('creates exactly one bootstrap key when several starts race for it', async () => {
    const prisma = running.app.get(PrismaService);
    const keys = running.app.get(ApiKeysService);
    const survivor = await admin.post('/v1/api-keys', { name: 'keeps-access', role: 'admin' });
    await prisma.apiKey.deleteMany({ where: { bootstrap: true } });
    const tokens = await Promise.all(Array.from({ length: 5 }, () => keys.ensureBootstrapKey()));
    assert.equal(
      tokens.filter((token) => token !== null).length,
      1,
      'one start wins, the others see its key',
    );
    assert.equal(await prisma.apiKey.count({ where: { bootstrap: true } }), 1);
    const winner = tokens.find((token) => token !== null) ?? '';
    assert.equal((await admin.withKey(winner).get('/v1/clusters')).status, 200);
    admin = admin.withKey(survivor.body.key);
  });
});
