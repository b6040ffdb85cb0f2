import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvariantError, invariant, present } from '../../libs/invariant/src/index.js';

describe('invariant and present', () => {
  it('pass through what holds and name what does not', () => {
    assert.doesNotThrow(() => invariant(1 + 1 === 2, 'arithmetic'));
    assert.throws(
      () => invariant(false, 'the queue is bounded'),
      (error: unknown) => {
        assert.ok(error instanceof InvariantError);
        assert.equal(error.message, 'the queue is bounded');
        return true;
      },
    );
    assert.throws(() => invariant(0, () => `lazily ${'built'}`), /^InvariantError: lazily built$/);
    const map = new Map([['a', 0]]);
    assert.equal(present(map.get('a'), 'a'), 0, 'falsy values are present');
    assert.throws(
      () => present(map.get('b'), 'the entry of b'),
      /^InvariantError: the entry of b is missing$/,
    );
  });
});
