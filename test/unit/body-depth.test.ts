import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nestsDeeperThan } from '../../apps/control-plane/src/common/body-parsing.js';

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < depth; level += 1) value = level % 2 ? [value] : { a: value };
  return value;
}

describe('body nesting bound', () => {
  it('counts object and array levels alike and treats scalars as depth 0', () => {
    assert.equal(nestsDeeperThan(nested(16), 16), false);
    assert.equal(nestsDeeperThan(nested(17), 16), true);
    assert.equal(nestsDeeperThan('text', 0), false);
    assert.equal(nestsDeeperThan({ a: 1, b: [1, 2] }, 2), false);
    assert.equal(nestsDeeperThan({ a: 1, b: [1, [2]] }, 2), true);
  });

  it('handles nesting far beyond the call stack without recursion', () => {
    assert.equal(nestsDeeperThan(nested(200_000), 16), true);
  });
});
