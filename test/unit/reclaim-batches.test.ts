// Reclaim of each collection family, step by step, over an in-memory store: every element key of a
// deleted hash, set, list and sorted set is deleted, in batches of at most RECLAIM_KEYS_PER_STEP,
// each batch listed from what the previous steps left (a sorted set's keys are found by reading its
// tree, which the steps delete as they go).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { elementKey } from '../../apps/data-node/src/commands/collections/layout.js';
import {
  encodeReclaimRecord,
  RECLAIM_KEYS_PER_STEP,
  reclaimRecordKey,
  reclaimStep,
} from '../../apps/data-node/src/commands/collections/reclaim.js';
import type { CommandSpec } from '../../apps/data-node/src/commands/command-table.js';
import { executeDataCommand } from '../../apps/data-node/src/commands/data-commands.js';
import { lookupCommand } from '../../apps/data-node/src/commands/served-commands.js';
import { type CollectionHeader, isCollectionHeader } from '../../apps/data-node/src/commands/stored-value.js';
import { MemoryKeyspace } from '../support/memory-context.js';

function run(store: MemoryKeyspace, ...words: string[]): void {
  const spec = lookupCommand((words[0] as string).toLowerCase()) as CommandSpec;
  const reply = executeDataCommand(
    spec,
    words.map((word) => Buffer.from(word)),
    store.context(Date.now()),
  );
  assert.notEqual(reply.kind, 'error', `${words[0]}: ${JSON.stringify(reply)}`);
}

/** Enough for more element keys than one step deletes: hashes and sets keep about 64 per bucket. */
const ELEMENTS = 20_000;
const numbered = (prefix: string) => Array.from({ length: ELEMENTS }, (_, index) => `${prefix}${index}`);

for (const [type, build] of [
  [
    'hash',
    (store: MemoryKeyspace) => run(store, 'HSET', 'c', ...numbered('f').flatMap((field) => [field, 'v'])),
  ],
  ['set', (store: MemoryKeyspace) => run(store, 'SADD', 'c', ...numbered('m'))],
  ['list', (store: MemoryKeyspace) => run(store, 'RPUSH', 'c', ...numbered('e'))],
  [
    'sorted set',
    (store: MemoryKeyspace) =>
      run(store, 'ZADD', 'c', ...numbered('m').flatMap((member, index) => [String(index % 97), member])),
  ],
] as const) {
  test(`reclaim deletes every element key of a ${type} of ${ELEMENTS} elements, a bounded batch per step`, () => {
    const store = new MemoryKeyspace();
    build(store);
    const context = store.context(Date.now());
    const header = context.read('c');
    assert.ok(header !== null && isCollectionHeader(header));
    const prefix = elementKey((header as CollectionHeader).id, '');
    const elementKeys = () => [...store.entries.keys()].filter((key) => key.startsWith(prefix));
    const before = elementKeys().length;
    assert.ok(before > RECLAIM_KEYS_PER_STEP, `${before} element keys`);

    // What DEL leaves: no header, a record of the old one.
    context.write('c', null);
    const recordKey = reclaimRecordKey((header as CollectionHeader).id);
    context.writeElement(recordKey, encodeReclaimRecord(header as CollectionHeader, 0));
    let steps = 0;
    for (let outcome = 'more'; outcome === 'more'; steps++) {
      const left = elementKeys().length;
      outcome = reclaimStep(store.context(Date.now()), recordKey);
      assert.ok(left - elementKeys().length <= RECLAIM_KEYS_PER_STEP, 'a step deletes a bounded batch');
      assert.ok(steps < before, 'reclaim ends');
    }
    assert.deepEqual(elementKeys(), []);
    assert.equal(store.entries.has(recordKey), false, 'the record goes with the last batch');
    assert.ok(steps <= Math.ceil(before / RECLAIM_KEYS_PER_STEP) + 1, `${steps} steps for ${before} keys`);
  });
}
