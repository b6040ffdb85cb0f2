import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startIsolatedControlPlane } from '../support/control-plane.js';

type Running = Awaited<ReturnType<typeof startIsolatedControlPlane>>;

/** The routes Express actually serves, as "METHOD /path/{param}" (OpenAPI's spelling). */
function servedRoutes(running: Running): string[] {
  const express = running.app.getHttpAdapter().getInstance();
  const stack: any[] = express.router?.stack ?? express._router?.stack ?? [];
  return stack
    .filter((layer) => layer.route)
    .flatMap((layer) =>
      Object.keys(layer.route.methods).map(
        (method) => `${method.toUpperCase()} ${String(layer.route.path).replace(/:(\w+)/g, '{$1}')}`,
      ),
    )
    .filter((route) => !route.includes(' /docs'));
}

describe('OpenAPI document', () => {
  let running: Running;
  let document: any;

  before(async () => {
    running = await startIsolatedControlPlane();
    document = (await running.admin.withKey(null).get('/docs-json')).body;
  });
  after(() => running.close());

  it('lists every route the server serves, and nothing else', () => {
    const documented = Object.entries(document.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const served = servedRoutes(running);
    assert.ok(served.length >= 11, `expected the full API, found ${served.join(', ')}`);
    assert.deepEqual([...documented].sort(), [...served].sort());
    for (const route of [
      'POST /v1/clusters',
      'GET /v1/clusters',
      'GET /v1/clusters/{id}',
      'PATCH /v1/clusters/{id}',
      'DELETE /v1/clusters/{id}',
      'POST /v1/api-keys',
      'GET /v1/api-keys',
      'DELETE /v1/api-keys/{id}',
      'GET /health',
      'GET /ready',
    ]) {
      assert.ok(documented.includes(route), `${route} is missing from the OpenAPI document`);
    }
  });

  it('documents bearer auth, request bodies and the error body', () => {
    assert.equal(document.components.securitySchemes.bearer.scheme, 'bearer');
    const create = document.paths['/v1/clusters'].post;
    assert.ok(create.requestBody, 'POST /v1/clusters has a request body schema');
    assert.ok(create.responses['400'] && create.responses['401'] && create.responses['409']);
    const schema = document.components.schemas.CreateClusterDto;
    assert.deepEqual(schema.required.sort(), ['mode', 'name']);
    assert.ok(schema.properties.minCu && schema.properties.readConsistency);
    assert.deepEqual(schema.properties.tls.enum, ['required', 'optional', 'off']);
    assert.ok(document.components.schemas.EndpointDto.properties.tlsUri);
    assert.ok(document.components.schemas.ErrorBodyDto.properties.details);
  });
});
