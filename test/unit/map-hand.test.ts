// MapHand gives a Map's oldest entry while entries are added at the back, moved there, deleted
// anywhere and dropped from the front, as the bounded maps that use it do (the writer's decision
// cache, the decisions awaiting their holders, the data node's cache and its noticed keys).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MapHand } from '../../libs/collections/src/index.js';

type Operation =
  | { kind: 'add'; key: number }
  | { kind: 'move'; key: number }
  | { kind: 'delete'; key: number }
  | { kind: 'dropOldest' }
  | { kind: 'dropOldestThroughHand' }
  | { kind: 'keepOldest' }
  | { kind: 'clear' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('add' as const), key: fc.nat(40) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('move' as const), key: fc.nat(40) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.nat(40) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'dropOldest' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'dropOldestThroughHand' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'keepOldest' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
);

describe('MapHand', () => {
  it('always names the oldest entry, whatever was added, moved, deleted or dropped before', () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 300 }), (operations) => {
        const map = new Map<number, { key: number }>();
        const hand = new MapHand(map);
        const order: number[] = []; // the model: keys oldest first
        for (const op of operations) {
          switch (op.kind) {
            case 'add':
              // A new key goes to the back; an existing one keeps its place and its value object.
              if (!map.has(op.key)) {
                order.push(op.key);
                map.set(op.key, { key: op.key });
              }
              break;
            case 'move':
              // Deleted and set again with a new value object: to the back.
              if (map.delete(op.key)) order.splice(order.indexOf(op.key), 1);
              map.set(op.key, { key: op.key });
              order.push(op.key);
              break;
            case 'delete':
              if (map.delete(op.key)) order.splice(order.indexOf(op.key), 1);
              break;
            case 'dropOldest': {
              const oldest = hand.oldest();
              assert.equal(oldest?.[0], order[0]);
              if (oldest !== undefined) {
                map.delete(oldest[0]);
                hand.pass();
                order.shift();
              }
              break;
            }
            case 'dropOldestThroughHand': {
              const dropped = hand.dropOldest();
              assert.equal(dropped?.[0], order[0]);
              if (dropped !== undefined) {
                assert.equal(map.has(dropped[0]), false);
                order.shift();
              }
              break;
            }
            case 'keepOldest':
              // Looked at and left in place (an age bound that stops at a young entry).
              assert.equal(hand.oldest()?.[0], order[0]);
              break;
            case 'clear':
              map.clear();
              hand.reset();
              order.length = 0;
              break;
          }
          assert.equal(hand.oldest()?.[0], order[0]);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('sweeps as CLOCK does: a marked entry moved to the back is met again after the others', () => {
    const map = new Map<string, { marked: boolean }>([
      ['a', { marked: true }],
      ['b', { marked: false }],
      ['c', { marked: true }],
    ]);
    const hand = new MapHand(map);
    const evicted: string[] = [];
    while (map.size > 1) {
      const [key, entry] = hand.oldest() ?? assert.fail('the map is not empty');
      hand.pass();
      map.delete(key);
      if (entry.marked) {
        entry.marked = false;
        map.set(key, entry); // the same object, moved to the back: the caller passed it
      } else {
        evicted.push(key);
      }
    }
    assert.deepEqual(evicted, ['b', 'a']);
    assert.deepEqual([...map.keys()], ['c']);
  });

  it('is empty-handed on an empty map, and starts again once entries come', () => {
    const map = new Map<number, string>();
    const hand = new MapHand(map);
    assert.equal(hand.oldest(), undefined);
    map.set(1, 'one');
    assert.deepEqual(hand.oldest(), [1, 'one']);
    map.delete(1);
    hand.pass();
    assert.equal(hand.oldest(), undefined);
    map.set(2, 'two');
    assert.deepEqual(hand.oldest(), [2, 'two']);
  });
});
