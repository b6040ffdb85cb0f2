import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  digestSecret,
  digestsEqual,
  generateSecret,
  hashPassword,
  verifyPassword,
} from '../../libs/secrets/src/index.js';

describe('secrets', () => {
  it('verifies a password against its scrypt hash and nothing else', async () => {
    const password = generateSecret(24);
    const stored = await hashPassword(password);
    assert.match(stored, /^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]+$/);
    assert.equal(await verifyPassword(password, stored), true);
    assert.equal(await verifyPassword(`${password}x`, stored), false);
    assert.equal(await verifyPassword(password, 'scrypt$broken'), false);
  });

  it('salts every hash', async () => {
    assert.notEqual(await hashPassword('same'), await hashPassword('same'));
  });

  it('compares digests of API key secrets', () => {
    assert.equal(digestsEqual(digestSecret('a'), digestSecret('a')), true);
    assert.equal(digestsEqual(digestSecret('a'), digestSecret('b')), false);
    assert.equal(digestsEqual(digestSecret('a'), 'abcd'), false);
  });
});
