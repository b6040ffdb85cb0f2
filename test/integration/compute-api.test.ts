// The compute routes' answers to bad and impossible requests, on a control plane that runs no
// fleet (COMPUTE_DRIVER=none): each gets a 4xx naming what to fix, never a 5xx, and a viewer
// key may read the fleet but not pause or resume. (What they do with a fleet is the end-to-end
// compute tests' business.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startIsolatedControlPlane } from '../support/control-plane.js';
import type { ApiClient } from '../support/http-client.js';

type Running = Awaited<ReturnType<typeof startIsolatedControlPlane>>;

describe('compute routes: validation and refusals', () => {
  let running: Running;
  let api: ApiClient;
  let serverlessId: string;
  let provisionedId: string;

  before(async () => {
    running = await startIsolatedControlPlane();
    api = running.admin;
    serverlessId = (await api.post('/v1/clusters', { name: 'idle', mode: 'serverless' })).body.id;
    provisionedId = (await api.post('/v1/clusters', { name: 'fixed', mode: 'provisioned' })).body.id;
  });
  after(() => running.close());

  const expectError = async (method: string, path: string, status: number, message: RegExp) => {
    const response = await api.request(method, path);
    assert.equal(response.status, status, JSON.stringify(response.body));
    assert.equal(response.body.statusCode, status);
    assert.match(response.body.message, message);
  };

  it('pause and resume name a bad or unknown cluster id', async () => {
    for (const action of ['pause', 'resume']) {
      await expectError('POST', `/v1/clusters/not-a-uuid/${action}`, 400, /cluster id must be a UUID/);
      await expectError(
        'POST',
        `/v1/clusters/00000000-0000-4000-8000-000000000000/${action}`,
        404,
        /does not exist; list clusters with GET \/v1\/clusters/,
      );
    }
  });

  it('provisioned clusters never pause: 409 saying so, and what to do', async () => {
    await expectError(
      'POST',
      `/v1/clusters/${provisionedId}/pause`,
      409,
      /provisioned clusters .* never pause; convert it to serverless/,
    );
    await expectError(
      'POST',
      `/v1/clusters/${provisionedId}/resume`,
      409,
      /never pause, so there is nothing to resume/,
    );
  });

  it('only an available cluster pauses and only a paused one resumes: 409 naming the state', async () => {
    // With no fleet, a new cluster stays `creating`.
    await expectError(
      'POST',
      `/v1/clusters/${serverlessId}/pause`,
      409,
      /idle is creating: only an available cluster can be paused/,
    );
    await expectError(
      'POST',
      `/v1/clusters/${serverlessId}/resume`,
      409,
      /idle is creating: only a paused cluster can be resumed/,
    );
  });

  it('the fleet routes validate their query and answer with what there is', async () => {
    const nodes = await api.get('/v1/storage-nodes');
    assert.equal(nodes.status, 200);
    assert.deepEqual(nodes.body.items, [], 'no fleet runs here');
    const actions = await api.get(`/v1/fleet/actions?clusterId=${serverlessId}&limit=5`);
    assert.equal(actions.status, 200);
    assert.deepEqual(actions.body.items, []);
    await expectError('GET', '/v1/fleet/actions?limit=0', 400, /limit must be at least 1/);
    await expectError('GET', '/v1/fleet/actions?limit=201', 400, /limit must be at most 200/);
    await expectError('GET', '/v1/fleet/actions?limit=many', 400, /limit must be a whole number/);
    await expectError('GET', '/v1/fleet/actions?clusterId=orders', 400, /clusterId must be a UUID/);
    await expectError('GET', '/v1/fleet/actions?sort=newest', 400, /property sort should not exist/);
  });

  it('a viewer key reads the fleet but cannot pause or resume (403)', async () => {
    const created = await api.post('/v1/api-keys', { name: 'watcher', role: 'viewer' });
    const viewer = api.withKey(created.body.key);
    assert.equal((await viewer.get('/v1/storage-nodes')).status, 200);
    assert.equal((await viewer.get('/v1/fleet/actions')).status, 200);
    assert.equal((await viewer.post(`/v1/clusters/${serverlessId}/pause`)).status, 403);
    assert.equal((await viewer.post(`/v1/clusters/${serverlessId}/resume`)).status, 403);
  });
});
