// Sets and the new hash commands (HSCAN, HRANDFIELD) in the data core, over the shared in-memory
// context: replies and error texts as Redis 7.0 gives them (checked against a real server; the
// differential test compares random sequences), intset order, the random commands' count rules,
// and the layout underneath (a header at the key, members in buckets).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isCollectionHeader } from '../../apps/data-node/src/commands/collections/layout.js';
import { executeDataCommand } from '../../apps/data-node/src/commands/data-commands.js';
import { resolveCommand } from '../../apps/data-node/src/commands/served-commands.js';
import type { Reply } from '../../libs/resp/src/reply.js';
import { MemoryKeyspace } from '../support/memory-context.js';

const WRONGTYPE = { error: 'WRONGTYPE Operation against a key holding the wrong kind of value' };

class Node {
  readonly store = new MemoryKeyspace(7);

  run(...words: string[]): unknown {
    const args = words.map((word) => Buffer.from(word, 'latin1'));
    const resolution = resolveCommand(args);
    if ('error' in resolution) return simplify(resolution.error);
    return simplify(executeDataCommand(resolution.spec, args, this.store.context(1_700_000_000_000)));
  }
}

function simplify(reply: Reply): unknown {
  switch (reply.kind) {
    case 'error':
      return { error: reply.message };
    case 'integer':
      return Number(reply.value);
    case 'bulk':
      return typeof reply.value === 'string' ? reply.value : reply.value.toString('latin1');
    case 'null':
      return null;
    case 'array':
      return reply.items.map(simplify);
    case 'set':
      return { set: reply.items.map(simplify) };
    case 'pairs':
      return { pairs: reply.entries.map(([a, b]) => [simplify(a), simplify(b)]) };
    case 'map':
      return { map: reply.entries.map(([a, b]) => [simplify(a), simplify(b)]) };
    default:
      return reply;
  }
}

const sorted = (reply: unknown): string[] => [...((reply as { set: string[] }).set ?? reply)].sort();

describe('sets', () => {
  test('SADD, SREM, SCARD, SISMEMBER, SMISMEMBER; an emptied set is deleted', () => {
    const node = new Node();
    assert.equal(node.run('SADD', 's', 'a', 'b', 'a'), 2);
    assert.equal(node.run('SADD', 's', 'b', 'c'), 1);
    assert.equal(node.run('SCARD', 's'), 3);
    assert.equal(node.run('SISMEMBER', 's', 'c'), 1);
    assert.deepEqual(node.run('SMISMEMBER', 's', 'a', 'x', 'c'), [1, 0, 1]);
    assert.deepEqual(node.run('SMISMEMBER', 'missing', 'a'), [0]);
    assert.deepEqual(node.run('TYPE', 's'), { kind: 'simple', value: 'set' });
    assert.equal(node.run('SREM', 's', 'a', 'b', 'c', 'x'), 3);
    assert.equal(node.run('EXISTS', 's'), 0);
    node.run('SET', 'str', 'v');
    assert.deepEqual(node.run('SADD', 'str', 'a'), WRONGTYPE);
    assert.deepEqual(node.run('SCARD', 'str'), WRONGTYPE);
  });

  test('a set of integers only answers sorted, until it holds anything else (as an intset)', () => {
    const node = new Node();
    node.run('SADD', 'i', '10', '-3', '2', '100');
    assert.deepEqual(node.run('SMEMBERS', 'i'), { set: ['-3', '2', '10', '100'] });
    assert.deepEqual(node.run('SSCAN', 'i', '0'), ['0', ['-3', '2', '10', '100']]);
    node.run('SADD', 'i', 'x');
    node.run('SREM', 'i', 'x');
    assert.deepEqual(node.run('SMEMBERS', 'i'), { set: ['10', '-3', '2', '100'] }, 'bucket order now');
    assert.deepEqual(
      node.run('SUNION', 'i'),
      { set: ['-3', '2', '10', '100'] },
      'a result of integers is an intset',
    );
  });

  test('SINTER, SUNION, SDIFF and their STORE forms; missing keys are empty sets', () => {
    const node = new Node();
    node.run('SADD', 'a', 'x', 'y', 'z');
    node.run('SADD', 'b', 'y', 'z', 'w');
    assert.deepEqual(sorted(node.run('SINTER', 'a', 'b')), ['y', 'z']);
    assert.deepEqual(sorted(node.run('SUNION', 'a', 'b', 'missing')), ['w', 'x', 'y', 'z']);
    assert.deepEqual(sorted(node.run('SDIFF', 'a', 'b')), ['x']);
    assert.deepEqual(node.run('SINTER', 'a', 'missing'), { set: [] });
    node.run('SET', 'str', 'v');
    assert.deepEqual(node.run('SINTER', 'missing', 'str'), WRONGTYPE, 'every key is type-checked');
    assert.deepEqual(node.run('SINTER', 'str', 'missing'), WRONGTYPE);
    assert.deepEqual(node.run('SUNION', 'missing', 'str'), WRONGTYPE);
    assert.equal(node.run('SINTERSTORE', 'dest', 'a', 'b'), 2);
    assert.deepEqual(sorted(node.run('SMEMBERS', 'dest')), ['y', 'z']);
    assert.equal(node.run('SDIFFSTORE', 'str', 'a', 'a'), 0);
    assert.equal(node.run('EXISTS', 'str'), 0, 'an empty result deletes the destination');
    assert.equal(node.run('SUNIONSTORE', 'a', 'a', 'b'), 4);
    assert.equal(node.run('SINTERCARD', '2', 'a', 'b'), 3);
    assert.equal(node.run('SINTERCARD', '2', 'a', 'b', 'LIMIT', '2'), 2);
    assert.deepEqual(node.run('SINTERCARD', '0', 'a'), { error: 'ERR numkeys should be greater than 0' });
    assert.deepEqual(node.run('SINTERCARD', '3', 'a'), {
      error: "ERR Number of keys can't be greater than number of args",
    });
    assert.deepEqual(node.run('SINTERCARD', '1', 'a', 'LIMIT', '-1'), {
      error: "ERR LIMIT can't be negative",
    });
    assert.deepEqual(node.run('SINTERCARD', '1', 'a', 'LIMIT'), { error: 'ERR syntax error' });
  });

  test('SMOVE moves one member, creating and deleting sets as Redis does', () => {
    const node = new Node();
    node.run('SADD', 'from', 'm');
    assert.equal(node.run('SMOVE', 'from', 'to', 'nope'), 0);
    assert.equal(node.run('SMOVE', 'from', 'to', 'm'), 1);
    assert.equal(node.run('EXISTS', 'from'), 0);
    assert.deepEqual(node.run('SMEMBERS', 'to'), { set: ['m'] });
    assert.equal(node.run('SMOVE', 'to', 'to', 'm'), 1);
    node.run('SET', 'str', 'v');
    assert.deepEqual(node.run('SMOVE', 'to', 'str', 'm'), WRONGTYPE);
    assert.equal(node.run('SMOVE', 'missing', 'str', 'm'), 0);
  });

  test('SPOP and SRANDMEMBER: count rules, reply kinds, errors', () => {
    const node = new Node();
    node.run('SADD', 's', 'a', 'b', 'c', 'd');
    const distinct = node.run('SRANDMEMBER', 's', '3') as string[];
    assert.equal(new Set(distinct).size, 3);
    assert.equal((node.run('SRANDMEMBER', 's', '-10') as string[]).length, 10);
    assert.deepEqual(sorted(node.run('SRANDMEMBER', 's', '10')), ['a', 'b', 'c', 'd']);
    assert.deepEqual(node.run('SRANDMEMBER', 'missing', '2'), []);
    assert.equal(node.run('SRANDMEMBER', 'missing'), null);
    assert.deepEqual(node.run('SPOP', 's', 'x'), { error: 'ERR value is out of range, must be positive' });
    assert.deepEqual(node.run('SPOP', 's', '1', '2'), { error: 'ERR syntax error' });
    assert.deepEqual(node.run('SRANDMEMBER', 's', '-9223372036854775808'), {
      error: 'ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807',
    });
    const popped = node.run('SPOP', 's', '2') as { set: string[] };
    assert.equal(popped.set.length, 2);
    assert.equal(node.run('SCARD', 's'), 2);
    assert.deepEqual(node.run('SPOP', 's', '0'), { set: [] });
    const rest = sorted(node.run('SPOP', 's', '5'));
    assert.deepEqual([...popped.set, ...rest].sort(), ['a', 'b', 'c', 'd']);
    assert.equal(node.run('EXISTS', 's'), 0);
    assert.equal(node.run('SPOP', 's'), null);
  });
});

describe('hash scans and random fields', () => {
  test('HSCAN of a small hash answers all at once with cursor 0; NOVALUES and MATCH', () => {
    const node = new Node();
    node.run('HSET', 'h', 'f1', 'v1', 'f2', 'v2', 'g', 'v3');
    assert.deepEqual(node.run('HSCAN', 'h', '0'), ['0', ['f1', 'v1', 'f2', 'v2', 'g', 'v3']]);
    assert.deepEqual(node.run('HSCAN', 'h', '0', 'MATCH', 'f*', 'NOVALUES'), ['0', ['f1', 'f2']]);
    assert.deepEqual(node.run('HSCAN', 'h', 'x'), { error: 'ERR invalid cursor' });
    assert.deepEqual(node.run('HSCAN', 'h', '0', 'COUNT', '0'), { error: 'ERR syntax error' });
    assert.deepEqual(node.run('HSCAN', 'missing', '0', 'BOGUS'), ['0', []]);
  });

  test('HSCAN over a large hash visits every field once when nothing changes', () => {
    const node = new Node();
    const fields = Array.from({ length: 3000 }, (_, index) => [`f${index}`, 'v']).flat();
    node.run('HSET', 'h', ...fields);
    const seen: string[] = [];
    let cursor = '0';
    do {
      const [next, items] = node.run('HSCAN', 'h', cursor, 'COUNT', '100', 'NOVALUES') as [string, string[]];
      seen.push(...items);
      cursor = next;
    } while (cursor !== '0');
    assert.equal(seen.length, 3000);
    assert.equal(new Set(seen).size, 3000);
    const header = node.store.value('h');
    assert.ok(header !== null && isCollectionHeader(header) && header.size === 3000);
    assert.ok(node.store.internalKeys().length > 40, 'the fields are in many buckets');
  });

  test('HRANDFIELD: count rules, WITHVALUES pairs, errors', () => {
    const node = new Node();
    node.run('HSET', 'h', 'a', '1', 'b', '2', 'c', '3');
    assert.ok(['a', 'b', 'c'].includes(node.run('HRANDFIELD', 'h') as string));
    assert.equal(new Set(node.run('HRANDFIELD', 'h', '2') as string[]).size, 2);
    assert.deepEqual(node.run('HRANDFIELD', 'h', '5', 'WITHVALUES'), {
      pairs: [
        ['a', '1'],
        ['b', '2'],
        ['c', '3'],
      ],
    });
    assert.equal((node.run('HRANDFIELD', 'h', '-7') as string[]).length, 7);
    assert.deepEqual(node.run('HRANDFIELD', 'missing', '3'), []);
    assert.equal(node.run('HRANDFIELD', 'missing'), null);
    assert.deepEqual(node.run('HRANDFIELD', 'h', '1', 'bogus'), { error: 'ERR syntax error' });
    assert.deepEqual(node.run('HRANDFIELD', 'h', '-4611686018427387905', 'WITHVALUES'), {
      error: 'ERR value is out of range',
    });
  });

  test('FLUSHDB and FLUSHALL empty the keyspace in one write; bad options are syntax errors', () => {
    const node = new Node();
    node.run('SADD', 's', 'a');
    node.run('SET', 'k', 'v');
    assert.deepEqual(node.run('FLUSHDB', 'bogus'), { error: 'ERR syntax error' });
    assert.deepEqual(node.run('FLUSHALL', 'ASYNC', 'SYNC'), { error: 'ERR syntax error' });
    assert.equal(node.run('EXISTS', 's', 'k'), 2);
    assert.deepEqual(node.run('FLUSHALL', 'sync'), { kind: 'simple', value: 'OK' });
    assert.deepEqual(node.store.keys(), []);
    assert.deepEqual(node.run('FLUSHDB', 'ASYNC'), { kind: 'simple', value: 'OK' });
    node.run('SET', 'k', 'new');
    assert.equal(node.run('GET', 'k'), 'new');
    assert.deepEqual(node.store.keys(), ['k']);
  });

  test('a key that begins with 0xff is a Redis key like any other', () => {
    const node = new Node();
    node.run('SADD', '\xffek', 'm');
    assert.deepEqual(node.run('SMEMBERS', '\xffek'), { set: ['m'] });
    assert.deepEqual(node.store.keys(), ['\xffek']);
  });
});
