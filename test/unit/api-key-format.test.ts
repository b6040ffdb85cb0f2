import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerToken, newApiKey, parseApiKey } from '../../apps/control-plane/src/auth/api-key-format.js';

describe('API key format', () => {
  it('parses the keys it makes, and they are all different', () => {
    const keys = Array.from({ length: 50 }, () => newApiKey());
    for (const key of keys)
      assert.deepEqual(parseApiKey(key.token), { prefix: key.prefix, secret: key.secret });
    assert.equal(new Set(keys.map((key) => key.token)).size, 50);
  });

  it('refuses anything else', () => {
    const good = newApiKey().token;
    for (const bad of ['', 'brl_', good.slice(0, -1), `${good}x`, good.replace('brl_', 'brx_'), ` ${good}`]) {
      assert.equal(parseApiKey(bad), null, bad);
    }
  });

  it('reads bearer tokens from Authorization headers', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer   abc  '), 'abc');
    assert.equal(bearerToken('Basic abc'), null);
    assert.equal(bearerToken('Bearer'), null);
    assert.equal(bearerToken(undefined), null);
  });
});
