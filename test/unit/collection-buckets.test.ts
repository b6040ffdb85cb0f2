// The bucket structure under hashes and sets (ADR 0008, decision 4) against a Map model:
// random sequences of sets, deletes and batches, through a context that saves and reloads the
// table between commands as the engine does; the linear-hashing invariants (every member in
// the bucket its hash names, no bucket keys past the count, the load bounds); the scan's
// guarantee (every member present throughout is returned, across splits and merges); and the
// costs (one bucket per single-member command whatever the size).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  BUCKET_LOAD_MAX,
  BUCKET_LOAD_MIN,
  BucketTable,
  bucketOf,
  bucketSuffix,
  createTable,
  decodeBucket,
  encodeBucket,
  memberHash,
  openTable,
  saveTable,
} from '../../apps/data-node/src/commands/collections/buckets.js';
import { elementKey, isCollectionHeader } from '../../apps/data-node/src/commands/collections/layout.js';
import { MemoryKeyspace } from '../support/memory-context.js';

const NOW_MS = 1_700_000_000_000;

type Operation = { kind: 'set'; members: string[]; value: string } | { kind: 'delete'; members: string[] };

const member = fc.oneof(
  fc.integer({ min: 0, max: 400 }).map((index) => `m${index}`),
  fc.string({ maxLength: 6 }),
);
const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    members: fc.array(member, { minLength: 1, maxLength: 150 }),
    value: fc.string({ maxLength: 4 }),
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    members: fc.array(member, { minLength: 1, maxLength: 120 }),
  }),
);

/** Applies one operation as a command would: open, prepare, change, save. */
function apply(store: MemoryKeyspace, key: string, step: Operation): void {
  const context = store.context(NOW_MS);
  const current = context.read(key);
  const opened =
    current !== null && isCollectionHeader(current)
      ? { header: current, table: openTable(context, current) }
      : createTable(context, 'hash');
  if (step.kind === 'set') {
    opened.table.prepare(step.members, new Set(step.members).size);
    for (const name of step.members) opened.table.set(name, Buffer.from(step.value));
  } else {
    opened.table.prepare(step.members);
    for (const name of step.members) opened.table.delete(name);
  }
  saveTable(context, key, opened.header, opened.table);
}

/** Every member and value in storage, checking the invariants on the way. */
function contents(store: MemoryKeyspace, key: string): Map<string, string> {
  const result = new Map<string, string>();
  const header = store.value(key);
  if (header === null) return result;
  assert.ok(isCollectionHeader(header));
  const bucketCount = header.meta.readUInt32BE(0);
  assert.ok(header.size <= bucketCount * BUCKET_LOAD_MAX, 'the table grows with its size');
  assert.ok(bucketCount === 1 || header.size >= bucketCount * BUCKET_LOAD_MIN, 'and shrinks');
  for (let index = 0; index < bucketCount; index++) {
    const bytes = store.entries.get(elementKey(header.id, bucketSuffix(index)));
    if (bytes === undefined) continue;
    assert.ok(decodeBucket(bytes).size > 0, 'an empty bucket is no key');
    for (const [name, value] of decodeBucket(bytes)) {
      assert.equal(
        bucketOf(memberHash(header.id, name), bucketCount),
        index,
        'a member is where its hash says',
      );
      result.set(name, value.toString());
    }
  }
  for (const internal of store.internalKeys()) {
    const suffix = internal.slice(2 + header.id.length);
    if (internal.startsWith(elementKey(header.id, ''))) {
      assert.ok(Buffer.from(suffix, 'latin1').readUInt32BE(0) < bucketCount, 'no bucket past the count');
    }
  }
  assert.equal(result.size, header.size);
  return result;
}

describe('bucket table', () => {
  test('matches a Map model over random batches of sets and deletes', () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 30 }), (operations) => {
        const store = new MemoryKeyspace();
        const model = new Map<string, string>();
        for (const step of operations) {
          apply(store, 'h', step);
          for (const name of step.members) {
            if (step.kind === 'set') model.set(name, step.value);
            else model.delete(name);
          }
          assert.deepEqual(
            [...contents(store, 'h')].sort(),
            [...model].sort(),
            'the stored members are the model',
          );
        }
        if (model.size === 0) assert.equal(store.value('h'), null, 'an empty table deletes its key');
      }),
      { numRuns: 150 },
    );
  });

  test('encodes buckets losslessly, binary members and values included', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string(), fc.uint8Array({ maxLength: 20 }))), (entries) => {
        const bucket = new Map(entries.map(([name, value]) => [name, Buffer.from(value)]));
        assert.deepEqual(decodeBucket(encodeBucket(bucket)), bucket);
      }),
    );
  });

  test('a scan returns every member present throughout, however the table grows or shrinks between calls', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1500 }),
        fc.array(fc.tuple(fc.integer({ min: -100, max: 100 }), fc.integer({ min: 20, max: 200 })), {
          maxLength: 40,
        }),
        (initial, changes) => {
          const store = new MemoryKeyspace();
          const stable = Array.from({ length: initial }, (_, index) => `s${index}`);
          if (stable.length > 0) apply(store, 'h', { kind: 'set', members: stable, value: 'v' });
          const seen = new Set<string>();
          let cursor = 0;
          let calls = 0;
          let churn = 0;
          do {
            const context = store.context(NOW_MS);
            const header = context.read('h');
            if (header === null || !isCollectionHeader(header)) break;
            const [delta, count] = changes[calls % Math.max(1, changes.length)] ?? [0, 10];
            const page = openTable(context, header).scan(cursor, count);
            for (const [name] of page.entries) seen.add(name);
            cursor = page.cursor;
            // Between calls, other members come and go: the table splits and merges.
            const batch = Array.from({ length: Math.abs(delta) * 3 }, (_, index) => `c${churn + index}`);
            if (delta > 0) {
              apply(store, 'h', { kind: 'set', members: batch, value: 'c' });
              churn += batch.length;
            } else if (churn > 0) {
              apply(store, 'h', {
                kind: 'delete',
                members: Array.from({ length: churn }, (_, index) => `c${index}`),
              });
              churn = 0;
            }
            calls++;
          } while (cursor !== 0 && calls < 100_000);
          for (const name of stable) assert.ok(seen.has(name), `${name} was not returned`);
        },
      ),
      { numRuns: 40 },
    );
  });

  test('a single-member command reads the header and one bucket, at 10 members as at 100,000', () => {
    for (const size of [10, 100_000]) {
      const store = new MemoryKeyspace();
      const members = Array.from({ length: size }, (_, index) => `member:${index}`);
      for (let start = 0; start < size; start += 10_000) {
        apply(store, 'h', { kind: 'set', members: members.slice(start, start + 10_000), value: 'v' });
      }
      const context = store.context(NOW_MS);
      let bucketsRead = 0;
      const counting = {
        ...context,
        readElements: (keys: readonly string[]) => {
          bucketsRead += keys.length;
          return context.readElements(keys);
        },
      };
      const header = counting.read('h');
      assert.ok(header !== null && isCollectionHeader(header));
      const table = new BucketTable(counting, header.id, header.meta.readUInt32BE(0), header.size);
      table.prepare(['member:7'], 1);
      assert.equal(table.get('member:7')?.toString(), 'v');
      table.set('member:7', Buffer.from('w'));
      saveTable(counting, 'h', header, table);
      assert.ok(bucketsRead <= 3, `${bucketsRead} buckets read for one member of ${size}`);
    }
  });
});
