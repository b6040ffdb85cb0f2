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

  it('reads what one capacity unit buys and the autoscaler’s settings', () => {
    const defaults = loadConfig(base);
    assert.deepEqual(
      [
        defaults.cuCommandsPerSecond,
        defaults.cuCacheBytes,
        defaults.cuConnections,
        defaults.targetUtilization,
        defaults.autoscalerTickMs,
      ],
      [2_000, 64 * 1024 * 1024, 200, 0.7, 250],
    );
    const config = loadConfig({
      ...base,
      BOREALIS_CU_COMMANDS_PER_SECOND: '100',
      BOREALIS_CU_CACHE_BYTES: '1048576',
      BOREALIS_CU_CONNECTIONS: '50',
      AUTOSCALER_TARGET_UTILIZATION: '0.5',
      AUTOSCALER_TICK_MS: '100',
    });
    assert.deepEqual(
      [
        config.cuCommandsPerSecond,
        config.cuCacheBytes,
        config.cuConnections,
        config.targetUtilization,
        config.autoscalerTickMs,
      ],
      [100, 1_048_576, 50, 0.5, 100],
    );
    for (const wrong of ['0', '1.5', '-0.2', 'most', '0.7.1']) {
      assert.throws(
        () => loadConfig({ ...base, AUTOSCALER_TARGET_UTILIZATION: wrong }),
        /AUTOSCALER_TARGET_UTILIZATION=.* is invalid: use a fraction above 0 and at most 1, e.g. 0.7/,
        wrong,
      );
    }
    assert.throws(
      () => loadConfig({ ...base, BOREALIS_CU_COMMANDS_PER_SECOND: '0' }),
      /BOREALIS_CU_COMMANDS_PER_SECOND="0" is invalid: use a whole number from 1/,
    );
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

  it("serves endpoints with the platform's own certificate under the data dir, or the user's", () => {
    const own = loadConfig({ ...base, BOREALIS_DATA_DIR: '/srv/borealis' }).endpointTls;
    assert.deepEqual(own, {
      certFile: '/srv/borealis/tls/server.pem',
      keyFile: '/srv/borealis/tls/server.key',
      caFile: '/srv/borealis/tls/ca.pem',
      madeByPlatform: true,
    });
    const given = loadConfig({
      ...base,
      BOREALIS_TLS_CERT_FILE: '/etc/ssl/db.pem',
      BOREALIS_TLS_KEY_FILE: '/etc/ssl/db.key',
    }).endpointTls;
    assert.deepEqual(given, {
      certFile: '/etc/ssl/db.pem',
      keyFile: '/etc/ssl/db.key',
      caFile: null,
      madeByPlatform: false,
    });
    assert.throws(
      () => loadConfig({ ...base, BOREALIS_TLS_CERT_FILE: '/etc/ssl/db.pem' }),
      /BOREALIS_TLS_KEY_FILE is not set: set both BOREALIS_TLS_CERT_FILE and BOREALIS_TLS_KEY_FILE/,
    );
    assert.throws(
      () => loadConfig({ ...base, BOREALIS_TLS_CA_FILE: '/etc/ssl/ca.pem' }),
      /BOREALIS_TLS_CA_FILE is set without BOREALIS_TLS_CERT_FILE/,
    );
  });
});
