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
    assert.deepEqual(
      [config.computeDriver, config.warmPoolSize, config.fleetOnExit, config.fleetHost],
      ['local', 2, 'stop', '127.0.0.1'],
    );
    assert.ok(config.dataDir.endsWith('/.data'), 'the data directory is absolute, .data by default');
  });

  it('reads the compute settings', () => {
    const config = loadConfig({
      ...base,
      COMPUTE_DRIVER: 'none',
      WARM_POOL_SIZE: '0',
      BOREALIS_FLEET_ON_EXIT: 'keep',
      BOREALIS_DATA_DIR: '/srv/borealis',
    });
    assert.deepEqual(
      [config.computeDriver, config.warmPoolSize, config.fleetOnExit, config.dataDir],
      ['none', 0, 'keep', '/srv/borealis'],
    );
    assert.throws(
      () => loadConfig({ ...base, COMPUTE_DRIVER: 'kubernetes' }),
      /COMPUTE_DRIVER="kubernetes" is invalid: use one of local, none/,
    );
    assert.throws(
      () => loadConfig({ ...base, WARM_POOL_SIZE: '99' }),
      /WARM_POOL_SIZE="99" is invalid: use a whole number from 0 to 32/,
    );
    assert.throws(() => loadConfig({ ...base, BOREALIS_FLEET_ON_EXIT: 'maybe' }), /use one of stop, keep/);
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
