import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { DataCommandContext } from '../../apps/data-node/src/commands/context-access.js';
import { executeDataCommand } from '../../apps/data-node/src/commands/data-commands.js';
import { commandReply, resolveCommand } from '../../apps/data-node/src/commands/served-commands.js';
import { compareEntries, type Entry, OrderTree } from '../../apps/data-node/src/commands/zset/order-tree.js';
import {
  parseLexRange,
  parseScore,
  parseScoreRange,
} from '../../apps/data-node/src/commands/zset/score-text.js';
import { ZSET_FAMILY, Zset } from '../../apps/data-node/src/commands/zset/zset-store.js';
import { ZSET_COMMANDS } from '../../apps/data-node/src/commands/zset-commands.js';
import type { Reply } from '../../libs/resp/src/reply.js';
import { MemoryKeyspace } from '../support/memory-context.js';
import { MemoryZsetStore } from '../support/memory-zset-context.js';

const HANDLERS = new Map(ZSET_COMMANDS);

function command(context: DataCommandContext, ...words: (string | number)[]): Reply {
  const args = words.map((word) => Buffer.from(String(word), 'latin1'));
  const handler = HANDLERS.get(String(words[0]).toLowerCase());
  if (handler === undefined) throw new Error(`no handler for ${words[0]}`);
  return handler(args, context);
}

/** A printable form: bulk strings as text, doubles as numbers. */
function plain(reply: Reply): unknown {
  switch (reply.kind) {
    case 'bulk':
      return Buffer.from(reply.value).toString('latin1');
    case 'simple':
      return reply.value;
    case 'integer':
      return Number(reply.value);
    case 'double':
      return reply.value;
    case 'null':
    case 'nullArray':
      return null;
    case 'error':
      return { error: reply.message };
    case 'array':
    case 'set':
      return reply.items.map(plain);
    case 'pairs':
      return reply.entries.map(([member, score]) => [plain(member), plain(score)]);
    default:
      return reply;
  }
}

describe('sorted-set score text', () => {
  it('reads scores as string2d does', () => {
    const cases: [string, number | null][] = [
      ['1.5', 1.5],
      ['-0', -0],
      ['+3', 3],
      ['.5', 0.5],
      ['5.', 5],
      ['1e3', 1000],
      ['inf', Number.POSITIVE_INFINITY],
      ['-Infinity', Number.NEGATIVE_INFINITY],
      ['0x10', 16],
      ['0x1p-2', 0.25],
      [`0x1${'0'.repeat(100)}p-400`, 1],
      [`0x1.${'0'.repeat(100)}1`, 1],
      [`0x1.fffffffffffff${'f'.repeat(60)}`, 2],
      ['1e-310', 1e-310],
      ['0e-500', 0],
      ['1e400', null],
      ['1e-400', null],
      ['nan', null],
      ['', null],
      [' 1', null],
      ['1 ', null],
      ['1\u0000', null],
      ['abc', null],
      ['1e', null],
      ['0x', null],
    ];
    for (const [text, expected] of cases) {
      const parsed = parseScore(Buffer.from(text, 'latin1'));
      assert.ok(Object.is(parsed, expected), `${JSON.stringify(text)}: ${parsed}`);
    }
  });

  it('reads range bounds as zslParseRangeItem does', () => {
    const range = (min: string, max: string) => parseScoreRange(Buffer.from(min), Buffer.from(max));
    assert.deepEqual(range('(1', ' 2'), { min: 1, max: 2, minExclusive: true, maxExclusive: false });
    assert.deepEqual(range('', '('), { min: 0, max: 0, minExclusive: false, maxExclusive: true });
    assert.deepEqual(range('-inf', '1e400'), {
      min: Number.NEGATIVE_INFINITY,
      max: Number.POSITIVE_INFINITY,
      minExclusive: false,
      maxExclusive: false,
    });
    assert.deepEqual(range('5\u0000junk', '6'), { min: 5, max: 6, minExclusive: false, maxExclusive: false });
    assert.equal(range('nan', '1'), null);
    assert.equal(range('1 ', '1'), null);
    assert.equal(range('((1', '1'), null);
  });

  it('reads lex bounds as zslParseLexRangeItem does', () => {
    const range = (min: string, max: string) => parseLexRange(Buffer.from(min), Buffer.from(max));
    assert.deepEqual(range('-', '+'), { min: { kind: 'min' }, max: { kind: 'max' } });
    assert.deepEqual(range('[a', '(b\u0000c'), {
      min: { kind: 'member', member: 'a', exclusive: false },
      max: { kind: 'member', member: 'b\u0000c', exclusive: true },
    });
    assert.deepEqual(range('+\u0000x', '-'), { min: { kind: 'max' }, max: { kind: 'min' } });
    assert.equal(range('a', '+'), null);
    assert.equal(range('+a', '+'), null);
    assert.equal(range('', '+'), null);
  });
});

// ---------------------------------------------------------------------------------------------
// The order tree against a sorted array.

type Operation =
  | { kind: 'insert'; score: number; member: string }
  | { kind: 'remove'; pick: number }
  | { kind: 'change'; pick: number; score: number };

const scoreArbitrary = fc.oneof(
  fc.integer({ min: -20, max: 20 }),
  fc.constantFrom(0.5, -0.5, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e300),
);
const memberArbitrary = fc.oneof(
  fc.constantFrom('a', 'b', 'c', 'ab', '', '\u0000', '\u00ff', 'zz'),
  fc.string({ minLength: 0, maxLength: 6 }).map((text) => Buffer.from(text).toString('latin1')),
  fc.integer({ min: 0, max: 400 }).map((index) => `m${index}`),
);
const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      score: scoreArbitrary,
      member: memberArbitrary,
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('change' as const), pick: fc.nat(), score: scoreArbitrary }),
  },
);

function memoryNodes(): {
  read: (ids: readonly number[]) => (Uint8Array | null)[];
  write: (id: number, bytes: Uint8Array | null) => void;
  nodes: Map<number, Uint8Array>;
} {
  const nodes = new Map<number, Uint8Array>();
  return {
    nodes,
    read: (ids) => ids.map((id) => nodes.get(id) ?? null),
    write: (id, bytes) => {
      if (bytes === null) nodes.delete(id);
      else nodes.set(id, bytes);
    },
  };
}

describe('sorted-set order tree', () => {
  for (const fanout of [4, 5, 64]) {
    it(`keeps order, counts and node bounds through random changes (fanout ${fanout})`, () => {
      fc.assert(
        fc.property(
          fc.array(operationArbitrary, { maxLength: 400, size: 'max' }),
          fc.boolean(),
          (operations, flushEachTime) => {
            const storage = memoryNodes();
            const shape = { fanout, nodeBytesMax: 4096 };
            let tree = OrderTree.create(storage, shape);
            let model: Entry[] = [];
            const members = new Map<string, number>();
            for (const operation of operations) {
              if (operation.kind === 'insert') {
                if (members.has(operation.member)) continue;
                tree.insert(operation);
                members.set(operation.member, operation.score);
                model.push({ score: operation.score, member: operation.member });
              } else {
                if (model.length === 0) continue;
                const victim = model[operation.pick % model.length] as Entry;
                tree.remove(victim);
                model = model.filter((entry) => entry.member !== victim.member);
                members.delete(victim.member);
                if (operation.kind === 'change') {
                  const moved = { score: operation.score, member: victim.member };
                  tree.insert(moved);
                  model.push(moved);
                  members.set(moved.member, moved.score);
                }
              }
              model.sort(compareEntries);
              if (flushEachTime) {
                // A fresh tree over the stored nodes: what the next command would see.
                tree.flush();
                tree = new OrderTree(storage, { ...tree.position }, shape);
              }
            }
            if (model.length === 0) return;
            assert.equal(tree.check(), model.length);
            assert.deepEqual(tree.range(0, model.length), model);
            for (let rank = 0; rank < model.length; rank += 3) {
              assert.equal(tree.rank(model[rank] as Entry), rank);
              assert.deepEqual(tree.range(rank, rank + 2), model.slice(rank, rank + 2));
            }
            assert.equal(tree.rank({ score: 1e9, member: 'absent' }), null);
            for (const bound of [-5, 0, 0.5, 3, Number.POSITIVE_INFINITY]) {
              assert.equal(
                tree.countBefore((entry) => entry.score < bound),
                model.filter((entry) => entry.score < bound).length,
              );
            }
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  it('builds a tree from sorted entries that passes its checks', () => {
    for (const size of [1, 2, 3, 47, 48, 49, 100, 1000, 5000]) {
      const entries = Array.from({ length: size }, (_, index) => ({ score: index, member: `m${index}` }));
      const tree = OrderTree.build(memoryNodes(), entries, { fanout: 8, nodeBytesMax: 4096 });
      assert.equal(tree.check(), size, `size ${size}`);
      assert.deepEqual(tree.range(0, size), entries);
    }
  });

  it('splits nodes by bytes when members are large', () => {
    const tree = OrderTree.create(memoryNodes(), { fanout: 64, nodeBytesMax: 1024 });
    for (let index = 0; index < 50; index++)
      tree.insert({ score: index, member: `${index}`.padEnd(300, 'x') });
    assert.equal(tree.check(), 50);
    assert.ok(tree.position.height >= 3);
  });
});

// ---------------------------------------------------------------------------------------------
// Commands over the layout, against a model.

describe('sorted-set commands', () => {
  it('ZADD options, ZINCRBY and the score replies', () => {
    const context = new MemoryZsetStore().direct();
    assert.equal(plain(command(context, 'ZADD', 'z', 1, 'a', 2, 'b', 3, 'c')), 3);
    assert.equal(plain(command(context, 'ZADD', 'z', 'NX', 5, 'a', 4, 'd')), 1);
    assert.equal(plain(command(context, 'ZADD', 'z', 'XX', 'CH', 5, 'a', 9, 'e')), 1);
    assert.equal(plain(command(context, 'ZADD', 'z', 'GT', 'CH', 1, 'a', 7, 'b')), 1);
    assert.equal(plain(command(context, 'ZADD', 'z', 'LT', 'INCR', 1, 'a')), null);
    assert.equal(plain(command(context, 'ZADD', 'z', 'INCR', -1.5, 'a')), 3.5);
    assert.equal(plain(command(context, 'ZINCRBY', 'z', 'inf', 'c')), Number.POSITIVE_INFINITY);
    assert.deepEqual(plain(command(context, 'ZINCRBY', 'z', '-inf', 'c')), {
      error: 'ERR resulting score is not a number (NaN)',
    });
    assert.deepEqual(plain(command(context, 'ZADD', 'z', 'NX', 'XX', 1, 'a')), {
      error: 'ERR XX and NX options at the same time are not compatible',
    });
    assert.deepEqual(plain(command(context, 'ZADD', 'z', 'GT', 'LT', 1, 'a')), {
      error: 'ERR GT, LT, and/or NX options at the same time are not compatible',
    });
    assert.deepEqual(plain(command(context, 'ZADD', 'z', 'INCR', 1, 'a', 2, 'b')), {
      error: 'ERR INCR option supports a single increment-element pair',
    });
    assert.deepEqual(plain(command(context, 'ZADD', 'z', 1)), { error: 'ERR syntax error' });
    assert.deepEqual(plain(command(context, 'ZADD', 'z', 'nan', 'a')), {
      error: 'ERR value is not a valid float',
    });
    assert.deepEqual(plain(command(context, 'ZRANGE', 'z', 0, -1, 'WITHSCORES')), [
      ['a', 3.5],
      ['d', 4],
      ['b', 7],
      ['c', Number.POSITIVE_INFINITY],
    ]);
    assert.deepEqual(plain(command(context, 'ZMSCORE', 'z', 'a', 'nope')), [3.5, null]);
    assert.deepEqual(plain(command(context, 'ZRANK', 'z', 'b', 'WITHSCORE')), [2, 7]);
    assert.equal(plain(command(context, 'ZREVRANK', 'z', 'b')), 1);
    assert.equal(plain(command(context, 'ZRANK', 'z', 'nope')), null);
  });

  it('ranges by rank, score and lex, with LIMIT and REV, and stores them', () => {
    const context = new MemoryZsetStore().direct();
    command(context, 'ZADD', 'z', 0, 'a', 0, 'b', 0, 'c', 0, 'd', 0, 'e');
    assert.deepEqual(plain(command(context, 'ZRANGEBYLEX', 'z', '[b', '(e')), ['b', 'c', 'd']);
    assert.deepEqual(plain(command(context, 'ZREVRANGEBYLEX', 'z', '+', '-', 'LIMIT', 1, 2)), ['d', 'c']);
    assert.deepEqual(plain(command(context, 'ZRANGE', 'z', '(a', '[c', 'BYLEX')), ['b', 'c']);
    assert.equal(plain(command(context, 'ZLEXCOUNT', 'z', '-', '(c')), 2);
    command(context, 'ZADD', 'y', 1, 'one', 2, 'two', 3, 'three', 4, 'four');
    assert.deepEqual(plain(command(context, 'ZRANGEBYSCORE', 'y', '(1', 3)), ['two', 'three']);
    assert.deepEqual(plain(command(context, 'ZREVRANGEBYSCORE', 'y', '+inf', '-inf', 'LIMIT', 1, -1)), [
      'three',
      'two',
      'one',
    ]);
    assert.deepEqual(plain(command(context, 'ZRANGE', 'y', 3, 1, 'BYSCORE', 'REV', 'WITHSCORES')), [
      ['three', 3],
      ['two', 2],
      ['one', 1],
    ]);
    assert.deepEqual(plain(command(context, 'ZREVRANGE', 'y', 0, 1)), ['four', 'three']);
    assert.deepEqual(plain(command(context, 'ZRANGE', 'y', -2, 100)), ['three', 'four']);
    assert.deepEqual(plain(command(context, 'ZRANGE', 'y', 0, 1, 'LIMIT', 0, 1)), {
      error: 'ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX',
    });
    assert.equal(plain(command(context, 'ZCOUNT', 'y', '(1', '+inf')), 3);
    assert.equal(
      plain(command(context, 'ZRANGESTORE', 'dst', 'y', 2, 3, 'BYSCORE', 'REV', 'LIMIT', 0, 5)),
      0,
    );
    assert.equal(plain(command(context, 'ZRANGESTORE', 'dst', 'y', 3, 2, 'BYSCORE', 'REV')), 2);
    assert.deepEqual(plain(command(context, 'ZRANGE', 'dst', 0, -1, 'WITHSCORES')), [
      ['two', 2],
      ['three', 3],
    ]);
    assert.equal(plain(command(context, 'ZREMRANGEBYSCORE', 'y', 2, 3)), 2);
    assert.equal(plain(command(context, 'ZREMRANGEBYRANK', 'y', 0, 0)), 1);
    assert.equal(plain(command(context, 'ZREMRANGEBYLEX', 'z', '[a', '[b')), 2);
    assert.equal(plain(command(context, 'ZCARD', 'y')), 1);
    assert.equal(plain(command(context, 'ZCARD', 'z')), 3);
  });

  it('pops, and deletes a set left empty', () => {
    const store = new MemoryZsetStore();
    const context = store.direct();
    command(context, 'ZADD', 'z', 1, 'a', 2, 'b', 3, 'c');
    assert.deepEqual(plain(command(context, 'ZPOPMIN', 'z')), ['a', 1]);
    assert.deepEqual(plain(command(context, 'ZPOPMAX', 'z', 5)), [
      ['c', 3],
      ['b', 2],
    ]);
    assert.equal(store.values.has('z'), false);
    assert.equal(store.elements.size, 0, 'no element keys are left behind');
    command(context, 'ZADD', 'k2', 5, 'x', 6, 'y');
    assert.deepEqual(plain(command(context, 'ZMPOP', 3, 'z', 'k2', 'z', 'MAX', 'COUNT', 1)), [
      'k2',
      [['y', 6]],
    ]);
    assert.equal(plain(command(context, 'ZMPOP', 1, 'z', 'MIN')), null);
    assert.equal(plain(command(context, 'ZREM', 'k2', 'x', 'nope')), 1);
    assert.equal(store.values.size, 0);
    assert.equal(store.elements.size, 0);
  });

  it('unions, intersects and diffs with weights and aggregates', () => {
    const context = new MemoryZsetStore().direct();
    command(context, 'ZADD', 'a', 1, 'x', 2, 'y', 3, 'z');
    command(context, 'ZADD', 'b', 10, 'y', 20, 'z', 30, 'w');
    assert.deepEqual(plain(command(context, 'ZUNION', 2, 'a', 'b', 'WEIGHTS', 2, 1, 'WITHSCORES')), [
      ['x', 2],
      ['y', 14],
      ['z', 26],
      ['w', 30],
    ]);
    assert.deepEqual(plain(command(context, 'ZINTER', 2, 'a', 'b', 'AGGREGATE', 'MAX', 'WITHSCORES')), [
      ['y', 10],
      ['z', 20],
    ]);
    assert.deepEqual(plain(command(context, 'ZDIFF', 2, 'a', 'b', 'WITHSCORES')), [['x', 1]]);
    assert.equal(plain(command(context, 'ZINTERCARD', 2, 'a', 'b', 'LIMIT', 1)), 1);
    assert.equal(plain(command(context, 'ZUNIONSTORE', 'a', 2, 'a', 'b', 'AGGREGATE', 'MIN')), 4);
    assert.deepEqual(plain(command(context, 'ZRANGE', 'a', 0, -1)), ['x', 'y', 'z', 'w']);
    assert.equal(plain(command(context, 'ZDIFFSTORE', 'c', 2, 'b', 'a')), 0);
    assert.deepEqual(plain(command(context, 'ZUNION', 0, 'a')), {
      error: "ERR at least 1 input key is needed for 'zunion' command",
    });
    assert.deepEqual(plain(command(context, 'ZINTER', 3, 'a', 'b')), { error: 'ERR syntax error' });
  });

  it('samples members with ZRANDMEMBER and scans with ZSCAN', () => {
    const context = new MemoryZsetStore(7).direct();
    const members = Array.from({ length: 300 }, (_, index) => `m${index}`);
    command(context, 'ZADD', 'z', ...members.flatMap((member, index) => [index, member]));
    const distinct = plain(command(context, 'ZRANDMEMBER', 'z', 50)) as string[];
    assert.equal(new Set(distinct).size, 50);
    assert.ok(distinct.every((member) => members.includes(member)));
    const repeated = plain(command(context, 'ZRANDMEMBER', 'z', -400, 'WITHSCORES')) as [string, number][];
    assert.equal(repeated.length, 400);
    assert.ok(repeated.every(([member, score]) => members[score] === member));
    const seen = new Set<string>();
    let cursor = '0';
    let calls = 0;
    do {
      const [next, items] = plain(command(context, 'ZSCAN', 'z', cursor, 'COUNT', 37)) as [string, string[]];
      for (let index = 0; index < items.length; index += 2) seen.add(items[index] as string);
      cursor = next;
      calls++;
    } while (cursor !== '0' && calls < 100);
    assert.equal(seen.size, 300);
  });

  it('matches a sorted-array model under random commands, run as the engine runs them', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom('ZADD', 'ZREM', 'ZINCRBY', 'ZPOPMIN', 'ZPOPMAX', 'ZREMRANGEBYRANK'),
            fc.integer({ min: 0, max: 40 }),
            fc.integer({ min: -5, max: 5 }),
          ),
          { maxLength: 150, size: 'max' },
        ),
        (steps) => {
          const store = new MemoryZsetStore();
          const model = new Map<string, number>();
          const run = (...words: (string | number)[]) =>
            plain(store.run((context) => command(context, ...words)).result);
          // A few hundred members first, so that the tree has inner nodes.
          const seeded = Array.from({ length: 300 }, (_, index) => [index % 7, `s${index}`] as const);
          assert.equal(run('ZADD', 'z', ...seeded.flat()), 300);
          for (const [score, member] of seeded) model.set(member, score);
          for (const [name, memberIndex, number] of steps) {
            const member = memberIndex % 2 === 0 ? `m${memberIndex}` : `s${memberIndex * 7}`;
            const sorted = () => [...model].map(([m, score]) => ({ score, member: m })).sort(compareEntries);
            if (name === 'ZADD') {
              assert.equal(run('ZADD', 'z', number, member), model.has(member) ? 0 : 1);
              model.set(member, number);
            } else if (name === 'ZREM') {
              assert.equal(run('ZREM', 'z', member), model.delete(member) ? 1 : 0);
            } else if (name === 'ZINCRBY') {
              const next = (model.get(member) ?? 0) + number;
              assert.equal(run('ZINCRBY', 'z', number, member), next);
              model.set(member, next);
            } else if (name === 'ZREMRANGEBYRANK') {
              const entries = sorted();
              const start = Math.abs(number) % 4;
              const removed = entries.slice(start, start + 3);
              assert.equal(run('ZREMRANGEBYRANK', 'z', start, start + 2), removed.length);
              for (const entry of removed) model.delete(entry.member);
            } else {
              const entries = sorted();
              const popped = name === 'ZPOPMIN' ? entries.slice(0, 2) : entries.slice(-2).reverse();
              assert.deepEqual(
                run(name, 'z', 2),
                popped.map((entry) => [entry.member, entry.score]),
              );
              for (const entry of popped) model.delete(entry.member);
            }
            const expected = sorted();
            assert.deepEqual(
              run('ZRANGE', 'z', 0, -1, 'WITHSCORES'),
              expected.map((entry) => [entry.member, entry.score]),
            );
            assert.equal(run('ZCARD', 'z'), expected.length);
          }
          if (model.size === 0) {
            assert.equal(store.values.size, 0);
            assert.equal(store.elements.size, 0);
          } else {
            const zset = Zset.open(store.direct(), 'z') as Zset;
            assert.equal(zset.tree.check(), model.size);
            const keys = ZSET_FAMILY.elementKeys(store.direct(), store.values.get('z') as never);
            assert.deepEqual(
              new Set(keys),
              new Set(store.elements.keys()),
              'every element key is enumerated, and no garbage',
            );
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('sorted sets among the other data commands', () => {
  it('answers TYPE, COPY, RENAME and DEL, with the header encoded as the engine stores it', () => {
    const keyspace = new MemoryKeyspace(3);
    const run = (...words: (string | number)[]) => {
      const args = words.map((word) => Buffer.from(String(word), 'latin1'));
      const resolution = resolveCommand(args);
      if ('error' in resolution) return plain(resolution.error);
      return plain(executeDataCommand(resolution.spec, args, keyspace.context(Date.now())));
    };
    const pairs = Array.from({ length: 200 }, (_, index) => [index, `m${index}`]).flat();
    assert.equal(run('ZADD', 'src', ...pairs), 200);
    assert.equal(run('TYPE', 'src'), 'zset');
    assert.equal(run('COPY', 'src', 'dst'), 1);
    assert.equal(run('ZINCRBY', 'dst', 1000, 'm0'), 1000);
    assert.deepEqual(run('ZRANGE', 'src', -1, -1), ['m199']);
    assert.deepEqual(run('ZRANGE', 'dst', -1, -1), ['m0']);
    assert.equal(run('RENAME', 'dst', 'moved'), 'OK');
    assert.equal(run('ZCARD', 'moved'), 200);
    assert.equal(run('ZSCORE', 'moved', 'm0'), 1000);
    assert.deepEqual(run('GET', 'moved'), {
      error: 'WRONGTYPE Operation against a key holding the wrong kind of value',
    });
    assert.equal(run('DEL', 'src', 'moved'), 2);
    assert.equal(run('EXISTS', 'src', 'moved'), 0);
  });

  it('takes plain sets as sources of ZUNION, ZINTER, ZDIFF and ZINTERCARD, every member scoring 1', () => {
    // The replies of Redis 7.0.15 to the same commands.
    const keyspace = new MemoryKeyspace(5);
    const run = (...words: (string | number)[]) => {
      const args = words.map((word) => Buffer.from(String(word), 'latin1'));
      const resolution = resolveCommand(args);
      if ('error' in resolution) return plain(resolution.error);
      return plain(executeDataCommand(resolution.spec, args, keyspace.context(Date.now())));
    };
    assert.equal(run('SADD', 's', 'a', 'b', 'c', 'x'), 4);
    assert.equal(run('ZADD', 'z', 5, 'a', 7, 'b', 9, 'q'), 3);
    const flat = (reply: unknown) => (reply as unknown[][]).flat();
    assert.deepEqual(flat(run('ZUNION', 2, 's', 'z', 'WITHSCORES')), [
      'c',
      1,
      'x',
      1,
      'a',
      6,
      'b',
      8,
      'q',
      9,
    ]);
    assert.deepEqual(flat(run('ZINTER', 2, 'z', 's', 'WEIGHTS', 2, 3, 'WITHSCORES')), ['a', 13, 'b', 17]);
    assert.deepEqual(flat(run('ZDIFF', 2, 's', 'z', 'WITHSCORES')), ['c', 1, 'x', 1]);
    assert.deepEqual(run('ZDIFF', 2, 'z', 's'), ['q']);
    assert.equal(run('ZINTERCARD', 2, 's', 'z'), 2);
    assert.equal(run('ZUNIONSTORE', 'd', 1, 's'), 4);
    assert.deepEqual(flat(run('ZRANGE', 'd', 0, -1, 'WITHSCORES')), ['a', 1, 'b', 1, 'c', 1, 'x', 1]);
  });
});

describe('sorted-set command metadata', () => {
  it('serves ZRANK and ZREVRANK as Redis 7.2 has them: arity -3 and the WITHSCORE argument', () => {
    for (const name of ['zrank', 'zrevrank']) {
      const [info] = plain(
        commandReply(['COMMAND', 'INFO', name].map((arg) => Buffer.from(arg))),
      ) as unknown[][];
      assert.equal(info?.[1], -3);
      const docs = commandReply(['COMMAND', 'DOCS', name].map((arg) => Buffer.from(arg)));
      assert.match(JSON.stringify(docs), /WITHSCORE.*7\.2\.0/);
    }
  });
});

describe("sorted sets read across another writer's commit", () => {
  it('answer an error and, when they write, rewrite the header so that the commit validates', () => {
    const store = new MemoryZsetStore();
    const context = store.direct();
    command(context, 'ZADD', 'z', ...Array.from({ length: 500 }, (_, index) => [index, `m${index}`]).flat());
    const before = store.values.get('z');
    // Another writer's commit empties the set (its nodes go) and builds it again under a new id.
    command(context, 'ZREMRANGEBYRANK', 'z', 0, -1);
    command(context, 'ZADD', 'z', 1, 'fresh');
    // A run that read the header before that commit and the elements after it.
    const writes: string[] = [];
    const torn: DataCommandContext = {
      ...context,
      read: (key) => (key === 'z' ? (before ?? null) : context.read(key)),
      write: (key, value) => {
        writes.push(key);
        context.write(key, value);
      },
    };
    const reply = plain(command(torn, 'ZINCRBY', 'z', 1, 'm2')) as { error: string };
    assert.match(reply.error, /^ERR corrupt sorted set/);
    assert.deepEqual(writes, ['z'], 'the header is written back, so the commit checks the reads');
    writes.length = 0;
    assert.match((plain(command(torn, 'ZRANGE', 'z', 0, -1)) as { error: string }).error, /^ERR corrupt/);
    assert.deepEqual(writes, [], 'a read-only command writes nothing');
  });
});

describe('sorted-set costs', () => {
  it('adds thousands of members in a few rounds: new nodes are read together before they are written', () => {
    const store = new MemoryZsetStore();
    for (let from = 0; from < 10_000; from += 2_000) {
      const pairs = Array.from({ length: 2_000 }, (_, offset) => [from + offset, `member:${from + offset}`]);
      const { result, cost } = store.run((context) => command(context, 'ZADD', 'z', ...pairs.flat()));
      assert.equal(plain(result), 2_000);
      // Header, the members' keys, the tree's levels, then the nodes to write: the engine allows 32.
      assert.ok(cost.rounds <= 8, `rounds ${cost.rounds} at ${from}`);
    }
  });

  it('reads the sets of ZUNIONSTORE and ZINTER a level of all of them per round', () => {
    const store = new MemoryZsetStore();
    const sources = Array.from({ length: 8 }, (_, index) => `src${index}`);
    for (const [index, key] of sources.entries()) {
      const entries = Array.from({ length: 2_000 }, (_, member) => ({
        score: member + index,
        member: `m${member}`,
      }));
      Zset.store(store.direct(), key, entries);
    }
    const union = store.run((context) => command(context, 'ZUNIONSTORE', 'dst', sources.length, ...sources));
    assert.equal(plain(union.result), 2_000);
    // One round per source header (this harness fetches nothing before a command runs; the engine
    // fetches the keys the command table finds in the request first), one for
    // the destination, then the tallest tree's height (2 here) for every node of every set.
    assert.ok(union.cost.rounds <= sources.length + 1 + 2, `rounds ${union.cost.rounds}`);
    const inter = store.run((context) => command(context, 'ZINTERCARD', sources.length, ...sources));
    assert.equal(plain(inter.result), 2_000);
    assert.ok(inter.cost.rounds <= sources.length + 2 + 1, `rounds ${inter.cost.rounds}`);
  });

  /** A set of `size` members built the way a store command builds one. */
  function storeWith(size: number): MemoryZsetStore {
    const store = new MemoryZsetStore();
    const entries = Array.from({ length: size }, (_, index) => ({
      score: index,
      member: `member:${String(index).padStart(8, '0')}`,
    }));
    Zset.store(store.direct(), 'z', entries);
    return store;
  }

  it('single-member commands on 1,000,000 members cost within 2x of 10 members, in rounds and keys', () => {
    const small = storeWith(10);
    const large = storeWith(1_000_000);
    const member = (size: number) => `member:${String(Math.floor(size / 2)).padStart(8, '0')}`;
    const commands: ((size: number) => (string | number)[])[] = [
      (size) => ['ZSCORE', 'z', member(size)],
      (size) => ['ZRANK', 'z', member(size)],
      () => ['ZADD', 'z', -1, 'newcomer'],
      (size) => ['ZINCRBY', 'z', 1.5, member(size)],
      (size) => ['ZREM', 'z', member(size)],
      () => ['ZRANGE', 'z', 5, 7],
      () => ['ZCOUNT', 'z', 3, 6],
    ];
    for (const words of commands) {
      const smallCost = small.run((context) => command(context, ...words(10))).cost;
      const largeCost = large.run((context) => command(context, ...words(1_000_000))).cost;
      const name = words(10)[0];
      // A 10-member set is one leaf: a command reads the header, perhaps a member and the leaf.
      assert.ok(
        largeCost.rounds <= 2 * Math.max(smallCost.rounds, 3),
        `${name} rounds ${JSON.stringify([smallCost, largeCost])}`,
      );
      assert.ok(
        largeCost.keysRead <= 2 * Math.max(smallCost.keysRead, 4),
        `${name} keys ${JSON.stringify([smallCost, largeCost])}`,
      );
      assert.ok(
        largeCost.keysWritten <= 2 * Math.max(smallCost.keysWritten, 4),
        `${name} writes ${JSON.stringify([smallCost, largeCost])}`,
      );
    }
  });
});
