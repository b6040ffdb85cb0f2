import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../apps/control-plane/src/config/config.js';

const base = { DATABASE_URL: 'postgresql://x@127.0.0.1/db', REDIS_URL: 'redis://127.0.0.1:7379' };

describe('control plane configuration', () => {
  it('uses the documented defaults', () => {
    const config = loadConfig(base);
    assert.equal(config.port, 7400);
    assert.equal(config.host, '127.0.0.1');
    assert.deepEqual([config.endpointPortMin, config.endpointPortMax], [7500, 7999]);
  });

  it('names the variable that is wrong and what would be right', () => {
    assert.throws(
      () => loadConfig({ ...base, PORT: 'eighty' }),
      /PORT="eighty" is invalid: use a whole number from 0/,
    );
    assert.throws(() => loadConfig({ ...base, PORT: '70000' }), ConfigError);
    assert.throws(() => loadConfig({ REDIS_URL: base.REDIS_URL }), /DATABASE_URL is not set/);
    assert.throws(
      () => loadConfig({ ...base, ENDPOINT_PORT_MIN: '8000', ENDPOINT_PORT_MAX: '7000' }),
      /ENDPOINT_PORT_MIN \(8000\) is above ENDPOINT_PORT_MAX \(7000\)/,
    );
  });
});
