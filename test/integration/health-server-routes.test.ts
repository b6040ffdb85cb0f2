// libs/health's server with extra routes (what a storage node's admin calls run on): a route gets
// its params and its body, read up to the bound (413 beyond, even when the length is not announced);
// its errors keep the project's `{ statusCode, error, message, details }` shape; a handler that
// fails unexpectedly answers 500 for that request only; /health is still served, with instanceId.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type HealthServer,
  HttpError,
  PROCESS_INSTANCE_ID,
  ROUTE_BODY_BYTES_MAX,
  startHealthServer,
} from '../../libs/health/src/index.js';

describe('health server: extra routes', () => {
  let server: HealthServer;
  let baseUrl = '';

  before(async () => {
    server = await startHealthServer({
      app: 'routes-test',
      host: '127.0.0.1',
      port: 0,
      routes: [
        {
          method: 'PUT',
          path: /^\/things\/([^/]+)$/,
          summary: 'PUT /things/<name>',
          handle: (request) => {
            if (request.params[0] === 'refused')
              throw new HttpError(409, 'that thing is taken', { thing: 'x' });
            if (request.params[0] === 'broken') throw new Error('a bug in the handler');
            return { statusCode: 200, body: { name: request.params[0], bodyBytes: request.body.length } };
          },
        },
      ],
    });
    baseUrl = `http://127.0.0.1:${server.port}`;
  });

  after(() => server.close());

  const request = async (method: string, path: string, init: RequestInit = {}) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      ...init,
      signal: AbortSignal.timeout(10_000),
    });
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as Record<string, any>,
    };
  };

  it('runs the route with its params and body', async () => {
    const answer = await request('PUT', '/things/lamp', { body: 'x'.repeat(1_000) });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { name: 'lamp', bodyBytes: 1_000 });
  });

  it('answers HttpError and unexpected failures in the error shape, and keeps serving', async () => {
    const refused = await request('PUT', '/things/refused');
    assert.deepEqual(refused.body, {
      statusCode: 409,
      error: 'Conflict',
      message: 'that thing is taken',
      details: { thing: 'x' },
    });
    const broken = await request('PUT', '/things/broken');
    assert.equal(broken.status, 500);
    assert.equal(broken.body.message, 'The request failed: a bug in the handler');
    const health = await request('GET', '/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.instanceId, PROCESS_INSTANCE_ID);
  });

  it('answers 404 listing the routes, and 405 with Allow on a known path', async () => {
    const missing = await request('GET', '/nothing');
    assert.equal(missing.status, 404);
    assert.match(missing.body.message, /serves GET \/health, PUT \/things\/<name>$/);
    const wrongMethod = await request('DELETE', '/things/lamp');
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'PUT');
  });

  it('refuses a body over the bound with 413, whether its length is announced or streamed', async () => {
    const announced = await request('PUT', '/things/lamp', { body: 'x'.repeat(ROUTE_BODY_BYTES_MAX + 1) });
    assert.equal(announced.status, 413);
    assert.deepEqual(announced.body.details, { bodyBytesMax: ROUTE_BODY_BYTES_MAX });
    const chunk = new Uint8Array(16 * 1024);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        // A body that would never end: the server must stop it at the bound.
        if (sent > 64 * ROUTE_BODY_BYTES_MAX) controller.close();
        else controller.enqueue(chunk);
        sent += chunk.length;
      },
    });
    const streamed = await request('PUT', '/things/lamp', {
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(streamed.status, 413);
    assert.equal((await request('PUT', '/things/lamp', { body: 'ok' })).status, 200);
  });
});
