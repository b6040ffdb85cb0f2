import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCursor, encodeCursor } from '../../apps/control-plane/src/clusters/page-cursor.js';

describe('page cursors', () => {
  it('round-trips a position', () => {
    const position = {
      createdAt: new Date('2026-11-22T02:18:27.833Z'),
      id: '7f64e65e-700b-4af9-b772-7e6d85007e6f',
    };
    assert.deepEqual(decodeCursor(encodeCursor(position)), position);
  });

  it('refuses cursors it did not issue', () => {
    const forged = (text: string) => Buffer.from(text).toString('base64url');
    for (const cursor of [
      '',
      '!!',
      forged('x|y'),
      forged('2026-11-22T02:18:27.833Z|not-a-uuid'),
      forged('a|b|c'),
    ]) {
      assert.equal(decodeCursor(cursor), null, cursor);
    }
  });
});
