import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startIsolatedControlPlane } from '../support/control-plane.js';
import { freePort } from '../support/processes.js';

type Running = Awaited<ReturnType<typeof startIsolatedControlPlane>>;

describe('health and readiness', () => {
  let healthy: Running;
  let redisDown: Running;

  before(async () => {
    healthy = await startIsolatedControlPlane();
    redisDown = await startIsolatedControlPlane({ redisUrl: `redis://127.0.0.1:${await freePort()}` });
  });
  after(async () => {
    await healthy.close();
    await redisDown.close();
  });

  it('is live and ready when PostgreSQL and Redis answer', async () => {
    const anonymous = healthy.admin.withKey(null);
    const health = await anonymous.get('/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'ok');
    const ready = await anonymous.get('/ready');
    assert.equal(ready.status, 200);
    const traced = await fetch(`${healthy.baseUrl}/health`, { headers: { 'x-request-id': 'trace-42' } });
    assert.equal(traced.headers.get('x-request-id'), 'trace-42', 'a caller-supplied request id is echoed');
    const unsafe = await fetch(`${healthy.baseUrl}/health`, { headers: { 'x-request-id': 'a b\tc' } });
    assert.notEqual(unsafe.headers.get('x-request-id'), 'a b\tc', 'an unsafe one is replaced');
    assert.deepEqual(ready.body.checks, { postgres: { status: 'up' }, redis: { status: 'up' } });
  });

  it('reports 503 with the reason when Redis is down, and keeps serving the API', async () => {
    const anonymous = redisDown.admin.withKey(null);
    const ready = await anonymous.get('/ready');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.checks.postgres.status, 'up');
    assert.equal(ready.body.checks.redis.status, 'down');
    assert.equal(typeof ready.body.checks.redis.error, 'string');
    assert.equal((await anonymous.get('/health')).status, 200);
    assert.equal((await redisDown.admin.get('/v1/clusters')).status, 200);
  });

  it('exposes Prometheus metrics, including requests and clusters', async () => {
    await healthy.admin.post('/v1/clusters', { name: 'metered', mode: 'serverless' });
    const metrics = await healthy.admin.withKey(null).get('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(
      metrics.body,
      /borealis_http_requests_total\{method="POST",route="\/v1\/clusters",status="201"\} 1/,
    );
    assert.match(metrics.body, /borealis_clusters\{state="creating",mode="serverless"\} 1/);
  });

  it('answers 503 (never 500) while the metadata database is gone, and /health stays up', async () => {
    const doomed = await startIsolatedControlPlane();
    try {
      assert.equal((await doomed.admin.get('/v1/clusters')).status, 200);
      await doomed.database.drop();
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const response = await doomed.admin.get('/v1/clusters');
        assert.equal(response.status, 503, JSON.stringify(response.body));
        assert.match(response.body.message, /metadata database is not reachable/);
      }
      const tagged = await doomed.admin.request('GET', '/v1/clusters');
      assert.match(
        tagged.headers.get('x-request-id') ?? '',
        /^[0-9a-f-]{36}$/,
        'every response carries a request id',
      );
      const ready = await doomed.admin.withKey(null).get('/ready');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.checks.postgres.status, 'down');
      assert.equal((await doomed.admin.withKey(null).get('/health')).status, 200);
    } finally {
      await doomed.close();
    }
  });
});
