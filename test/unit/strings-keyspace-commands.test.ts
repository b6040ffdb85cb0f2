// Bitmaps, LCS, GETRANGE's Redis 7.4 ranges and the keyspace commands (TOUCH, RENAME, RENAMENX,
// COPY, OBJECT, MEMORY USAGE, RANDOMKEY) without a server. Expected replies are Redis's (checked
// against a real server, and by the differential test for random sequences); the bounds of
// Borealis's own (the transaction write limit, LCS's table) are tested here.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CACHE_ENTRY_AGE_MAX_MS,
  CACHE_ENTRY_COVERED_AGE_MAX_MS,
  VersionedCache,
} from '../../apps/data-node/src/cache/versioned-cache.js';
import { type CollectionFamily, elementKey } from '../../apps/data-node/src/commands/collections/layout.js';
import {
  type DataCommandContext,
  executeDataCommand,
} from '../../apps/data-node/src/commands/data-commands.js';
import { copiedValue, elementBytes } from '../../apps/data-node/src/commands/key-commands.js';
import { LCS_TABLE_CELLS_MAX } from '../../apps/data-node/src/commands/lcs.js';
import { resolveCommand } from '../../apps/data-node/src/commands/served-commands.js';
import {
  type CollectionType,
  encodeStoredValue,
  type StoredValue,
} from '../../apps/data-node/src/commands/stored-value.js';
import { SYSTEM_CLOCK } from '../../apps/data-node/src/engine/clock.js';
import { Keyspace } from '../../apps/data-node/src/engine/keyspace.js';
import type { TransactionEngine } from '../../apps/data-node/src/engine/transaction-engine.js';
import { WRITE_BYTES_MAX } from '../../libs/limits/src/index.js';
import { keyHash } from '../../libs/quorum/src/index.js';
import type { Reply } from '../../libs/resp/src/reply.js';
import { MemoryKeyspace } from '../support/memory-context.js';
import { mulberry32 } from '../support/prng.js';
import { simplify } from '../support/simplify-reply.js';

const START_MS = 1_700_000_000_000;
const WRONGTYPE = { error: 'WRONGTYPE Operation against a key holding the wrong kind of value' };
const SYNTAX = { error: 'ERR syntax error' };
const NOT_INTEGER = { error: 'ERR value is not an integer or out of range' };
const BAD_OFFSET = { error: 'ERR bit offset is not an integer or out of range' };

/** The shared in-memory keyspace with a clock the test moves; counts the writes it sees. */
class Node {
  readonly keyspace = new MemoryKeyspace();
  nowMs = START_MS;
  writes = 0;
  /** The stored values by Redis key, read and written as the core would. */
  readonly values = ((keyspace: MemoryKeyspace, node: Node) => ({
    get: (key: string): StoredValue | undefined => keyspace.value(key) ?? undefined,
    set: (key: string, value: StoredValue): void => keyspace.context(node.nowMs).write(key, value),
    has: (key: string): boolean => keyspace.has(key),
    get size(): number {
      return keyspace.keys().length;
    },
  }))(this.keyspace, this);

  run(...words: (string | Buffer)[]): unknown {
    return simplify(this.reply(...words));
  }

  reply(...words: (string | Buffer)[]): Reply {
    const args = words.map((word) => (typeof word === 'string' ? Buffer.from(word, 'latin1') : word));
    const resolution = resolveCommand(args);
    if ('error' in resolution) return resolution.error;
    return executeDataCommand(resolution.spec, args, this.context());
  }

  string(key: string): string | undefined {
    const value = this.values.get(key);
    return value?.type === 'string' ? value.value.toString('latin1') : undefined;
  }

  context(): DataCommandContext {
    const context = this.keyspace.context(this.nowMs);
    const write = context.write;
    context.write = (key, value) => {
      this.writes++;
      write(key, value);
    };
    return context;
  }
}

const bytes = (...values: number[]): Buffer => Buffer.from(values);

describe('GETRANGE follows Redis 7.4', () => {
  test('a range that ends before the string starts is empty (7.0 answered the first byte)', () => {
    const node = new Node();
    node.run('SET', 'k', 'Hello World');
    assert.equal(node.run('GETRANGE', 'k', '0', '-100'), '');
    assert.equal(node.run('SUBSTR', 'k', '0', '-100'), '');
    assert.equal(node.run('GETRANGE', 'k', '-100', '-50'), '');
    assert.equal(node.run('GETRANGE', 'k', '-100', '-1'), 'Hello World');
    assert.equal(node.run('GETRANGE', 'k', '-100', '0'), 'H');
    assert.equal(node.run('GETRANGE', 'k', '0', '-1'), 'Hello World');
    assert.equal(node.run('GETRANGE', 'k', '11', '20'), '');
    assert.equal(node.run('GETRANGE', 'k', '10', '20'), 'd');
    assert.equal(node.run('GETRANGE', 'k', '-1', '-1'), 'd');
    assert.equal(node.run('GETRANGE', 'k', '5', '3'), '');
    assert.equal(node.run('GETRANGE', 'k', '-11', '-11'), 'H');
    assert.equal(node.run('GETRANGE', 'k', '-12', '-12'), '');
    node.run('SET', 'empty', '');
    assert.equal(node.run('GETRANGE', 'empty', '0', '-1'), '');
    assert.equal(node.run('GETRANGE', 'k', '0', '9223372036854775807'), 'Hello World');
    assert.equal(node.run('GETRANGE', 'k', '-9223372036854775808', '-9223372036854775808'), '');
  });
});

describe('bit commands', () => {
  test('SETBIT answers the previous bit, pads with zeros and keeps the expiry', () => {
    const node = new Node();
    assert.equal(node.run('SETBIT', 'k', '7', '1'), 0);
    assert.equal(node.string('k'), '\u0001');
    assert.equal(node.run('SETBIT', 'k', '7', '1'), 1);
    assert.equal(node.run('SETBIT', 'k', '7', '0'), 1);
    assert.equal(node.run('SETBIT', 'k', '20', '0'), 0);
    assert.equal(node.values.get('k')?.type === 'string' && node.values.get('k')?.expireAtMs, null);
    assert.deepEqual(node.values.get('k'), { type: 'string', value: bytes(0, 0, 0), expireAtMs: null });
    node.run('PEXPIRE', 'k', '5000');
    node.run('SETBIT', 'k', '0', '1');
    assert.equal(node.run('PTTL', 'k'), 5000);
    assert.equal(node.run('GETBIT', 'k', '0'), 1);
    assert.equal(node.run('GETBIT', 'k', '1'), 0);
    assert.equal(node.run('GETBIT', 'k', '100000'), 0);
    assert.equal(node.run('GETBIT', 'missing', '3'), 0);
  });

  test('SETBIT of a bit already set writes nothing', () => {
    const node = new Node();
    node.run('SETBIT', 'k', '3', '1');
    const before = node.writes;
    assert.equal(node.run('SETBIT', 'k', '3', '1'), 1);
    assert.equal(node.writes, before);
  });

  test('offsets and bit values are checked as Redis does, offsets before the type', () => {
    const node = new Node();
    node.run('HSET', 'h', 'f', 'v');
    assert.deepEqual(node.run('SETBIT', 'h', '-1', '1'), BAD_OFFSET);
    assert.deepEqual(node.run('SETBIT', 'k', '4294967296', '1'), BAD_OFFSET, '512 MB is Redis bound');
    assert.deepEqual(node.run('GETBIT', 'k', 'x'), BAD_OFFSET);
    assert.deepEqual(node.run('SETBIT', 'k', '1', '2'), {
      error: 'ERR bit is not an integer or out of range',
    });
    assert.deepEqual(node.run('SETBIT', 'k', '1', 'x'), {
      error: 'ERR bit is not an integer or out of range',
    });
    assert.deepEqual(node.run('SETBIT', 'h', '1', '1'), WRONGTYPE);
    assert.deepEqual(node.run('GETBIT', 'h', '1'), WRONGTYPE);
  });

  test('a string that would outgrow one transaction is refused before it is built', () => {
    const node = new Node();
    const offset = String(WRITE_BYTES_MAX * 8);
    const reply = node.run('SETBIT', 'k', offset, '1') as { error: string };
    assert.match(
      reply.error,
      /^ERR the string would grow to 8388609 bytes; a transaction writes at most 8388608 bytes/,
    );
    assert.equal(node.values.size, 0);
    assert.equal(node.run('SETBIT', 'k', String(WRITE_BYTES_MAX * 8 - 1), '1'), 0, 'the last byte that fits');
    assert.match(
      (node.run('BITFIELD', 'k', 'SET', 'u8', `#${WRITE_BYTES_MAX}`, '1') as { error: string }).error,
      /would grow/,
    );
    assert.match(
      (node.run('SETRANGE', 'k', String(WRITE_BYTES_MAX), 'x') as { error: string }).error,
      /would grow/,
    );
    assert.match((node.run('APPEND', 'k', 'x') as { error: string }).error, /would grow/);
    assert.deepEqual(node.run('SETRANGE', 'k', '536870911', 'ab'), {
      error: 'ERR string exceeds maximum allowed size (proto-max-bulk-len)',
    });
    assert.equal(node.run('STRLEN', 'k'), WRITE_BYTES_MAX);
  });

  test('BITCOUNT counts bytes or bits of a range', () => {
    const node = new Node();
    node.run('SET', 'k', 'foobar');
    assert.equal(node.run('BITCOUNT', 'k'), 26);
    assert.equal(node.run('BITCOUNT', 'k', '0', '0'), 4);
    assert.equal(node.run('BITCOUNT', 'k', '1', '1'), 6);
    assert.equal(node.run('BITCOUNT', 'k', '1', '1', 'byte'), 6);
    assert.equal(node.run('BITCOUNT', 'k', '5', '30', 'BIT'), 17);
    assert.equal(node.run('BITCOUNT', 'k', '-1', '-2'), 0);
    assert.equal(node.run('BITCOUNT', 'k', '-100', '100'), 26);
    assert.equal(node.run('BITCOUNT', 'k', '10', '20'), 0);
    assert.equal(node.run('BITCOUNT', 'missing'), 0);
  });

  test('BITCOUNT and BITPOS check their arguments before the key, as Redis 7.4', () => {
    const node = new Node();
    node.run('HSET', 'h', 'f', 'v');
    for (const key of ['missing', 'h']) {
      assert.deepEqual(node.run('BITCOUNT', key, '0'), SYNTAX);
      assert.deepEqual(node.run('BITCOUNT', key, '0', '1', 'bits'), SYNTAX);
      assert.deepEqual(node.run('BITCOUNT', key, 'x', '1'), NOT_INTEGER);
      assert.deepEqual(node.run('BITPOS', key, '1', '0', '1', 'bytes'), SYNTAX);
      assert.deepEqual(node.run('BITPOS', key, '1', 'x'), NOT_INTEGER);
      assert.deepEqual(node.run('BITPOS', key, '2'), { error: 'ERR The bit argument must be 1 or 0.' });
      assert.deepEqual(node.run('BITPOS', key, '1', '0', '-1', 'BIT', 'extra'), SYNTAX);
    }
    assert.deepEqual(node.run('BITCOUNT', 'h'), WRONGTYPE);
    assert.deepEqual(node.run('BITPOS', 'h', '1'), WRONGTYPE);
  });

  test('BITPOS finds the first set or clear bit; a clear bit past an open range counts', () => {
    const node = new Node();
    node.values.set('a', { type: 'string', value: bytes(0xff, 0xf0, 0x00), expireAtMs: null });
    node.values.set('b', { type: 'string', value: bytes(0x00, 0xff, 0xf0), expireAtMs: null });
    node.values.set('ones', { type: 'string', value: bytes(0xff, 0xff, 0xff), expireAtMs: null });
    node.values.set('zeros', { type: 'string', value: bytes(0, 0, 0), expireAtMs: null });
    assert.equal(node.run('BITPOS', 'a', '0'), 12);
    assert.equal(node.run('BITPOS', 'b', '1', '0'), 8);
    assert.equal(node.run('BITPOS', 'b', '1', '2'), 16);
    assert.equal(node.run('BITPOS', 'b', '1', '2', '-1', 'BYTE'), 16);
    assert.equal(node.run('BITPOS', 'b', '1', '7', '15', 'BIT'), 8);
    assert.equal(node.run('BITPOS', 'b', '1', '9', '15', 'bit'), 9);
    assert.equal(node.run('BITPOS', 'zeros', '1'), -1);
    assert.equal(node.run('BITPOS', 'ones', '0'), 24);
    assert.equal(node.run('BITPOS', 'ones', '0', '1'), 24);
    assert.equal(node.run('BITPOS', 'ones', '0', '0', '-1'), -1, 'with an end, the range is exact');
    assert.equal(node.run('BITPOS', 'ones', '0', '3'), -1, 'an empty range');
    assert.equal(node.run('BITPOS', 'missing', '0'), 0);
    assert.equal(node.run('BITPOS', 'missing', '1'), -1);
  });

  test('BITOP combines strings padded with zeros and stores the result without expiry', () => {
    const node = new Node();
    node.values.set('a', { type: 'string', value: bytes(0b1100, 0xff), expireAtMs: null });
    node.values.set('b', { type: 'string', value: bytes(0b1010), expireAtMs: null });
    node.values.set('dest', { type: 'string', value: bytes(1), expireAtMs: START_MS + 10_000 });
    assert.equal(node.run('BITOP', 'AND', 'dest', 'a', 'b'), 2);
    assert.deepEqual(node.values.get('dest'), { type: 'string', value: bytes(0b1000, 0), expireAtMs: null });
    assert.equal(node.run('BITOP', 'or', 'dest', 'a', 'b', 'missing'), 2);
    assert.equal(node.string('dest'), String.fromCharCode(0b1110, 0xff));
    assert.equal(node.run('BITOP', 'XOR', 'dest', 'a', 'b'), 2);
    assert.equal(node.string('dest'), String.fromCharCode(0b0110, 0xff));
    assert.equal(node.run('BITOP', 'NOT', 'dest', 'b'), 1);
    assert.equal(node.string('dest'), String.fromCharCode(0xf5));
    assert.equal(node.run('BITOP', 'AND', 'dest', 'missing', 'other'), 0);
    assert.equal(node.values.has('dest'), false, 'an empty result deletes the destination');
    assert.deepEqual(node.run('BITOP', 'NOT', 'dest', 'a', 'b'), {
      error: 'ERR BITOP NOT must be called with a single source key.',
    });
    assert.deepEqual(node.run('BITOP', 'NAND', 'dest', 'a'), SYNTAX);
    node.run('HSET', 'h', 'f', 'v');
    assert.deepEqual(node.run('BITOP', 'AND', 'dest', 'a', 'h'), WRONGTYPE);
  });

  test('BITFIELD gets, sets and increments fields with each overflow mode', () => {
    const node = new Node();
    assert.deepEqual(node.run('BITFIELD', 'k', 'INCRBY', 'i5', '100', '1', 'GET', 'u4', '0'), [1, 0]);
    const results = [1, 2, 3, 4].map(() =>
      node.run('BITFIELD', 'm', 'incrby', 'u2', '100', '1', 'OVERFLOW', 'SAT', 'incrby', 'u2', '102', '1'),
    );
    assert.deepEqual(results, [
      [1, 1],
      [2, 2],
      [3, 3],
      [0, 3],
    ]);
    assert.deepEqual(node.run('BITFIELD', 'f', 'OVERFLOW', 'FAIL', 'INCRBY', 'u2', '0', '4'), [null]);
    assert.equal(node.string('f'), '\u0000', 'a failed write still creates the padded string');
    assert.deepEqual(
      node.run('BITFIELD', 's', 'SET', 'i8', '#1', '-1', 'GET', 'u8', '8', 'GET', 'i8', '#1'),
      [0, 255, -1],
    );
    assert.deepEqual(
      node.run('BITFIELD', 's', 'SET', 'i64', '0', '-9223372036854775808', 'GET', 'i64', '0'),
      [71776119061217280n, -9223372036854775808n],
    );
    assert.deepEqual(node.run('BITFIELD', 's', 'OVERFLOW', 'WRAP', 'INCRBY', 'i64', '0', '-1'), [
      9223372036854775807n,
    ]);
    assert.deepEqual(
      node.run('BITFIELD', 's', 'OVERFLOW', 'SAT', 'SET', 'i8', '0', '-9223372036854775808'),
      [127],
      'the old value; Redis counts this SET as an overflow upwards',
    );
    assert.deepEqual(node.run('BITFIELD', 's', 'GET', 'i8', '0'), [127]);
    assert.deepEqual(node.run('BITFIELD', 'u', 'SET', 'u63', '0', '-1', 'GET', 'u63', '0'), [
      0,
      9223372036854775807n,
    ]);
    assert.deepEqual(node.run('BITFIELD', 'missing', 'GET', 'u8', '0'), [0]);
    assert.equal(node.values.has('missing'), false);
    assert.deepEqual(node.run('BITFIELD', 'k'), []);
  });

  test('BITFIELD refuses bad types, offsets and options before touching anything', () => {
    const node = new Node();
    const badType = {
      error:
        'ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.',
    };
    assert.deepEqual(node.run('BITFIELD', 'k', 'GET', 'u64', '0'), badType);
    assert.deepEqual(node.run('BITFIELD', 'k', 'GET', 'I8', '0'), badType);
    assert.deepEqual(node.run('BITFIELD', 'k', 'SET', 'i8', '0', '1', 'GET', 'i65', '0'), badType);
    assert.deepEqual(node.run('BITFIELD', 'k', 'GET', 'i8', '#-1'), BAD_OFFSET);
    assert.deepEqual(node.run('BITFIELD', 'k', 'OVERFLOW', 'NONE'), {
      error: 'ERR Invalid OVERFLOW type specified',
    });
    assert.deepEqual(node.run('BITFIELD', 'k', 'SET', 'i8', '0'), SYNTAX);
    assert.deepEqual(node.run('BITFIELD', 'k', 'SET', 'i8', '0', 'x'), NOT_INTEGER);
    assert.equal(node.values.size, 0);
    assert.deepEqual(node.run('BITFIELD_RO', 'k', 'GET', 'i8', '0', 'SET', 'i8', '0', '1'), {
      error: 'ERR BITFIELD_RO only supports the GET subcommand',
    });
    assert.deepEqual(node.run('BITFIELD_RO', 'k', 'GET', 'i8', '0'), [0]);
  });
});

describe('LCS', () => {
  test('the subsequence, its length and the matching ranges', () => {
    const node = new Node();
    node.run('SET', 'a', 'ohmytext');
    node.run('SET', 'b', 'mynewtext');
    assert.equal(node.run('LCS', 'a', 'b'), 'mytext');
    assert.equal(node.run('LCS', 'a', 'b', 'LEN'), 6);
    assert.deepEqual(node.run('LCS', 'a', 'b', 'IDX'), {
      map: [
        [
          'matches',
          [
            [
              [4, 7],
              [5, 8],
            ],
            [
              [2, 3],
              [0, 1],
            ],
          ],
        ],
        ['len', 6],
      ],
    });
    assert.deepEqual(node.run('LCS', 'a', 'b', 'IDX', 'MINMATCHLEN', '4', 'WITHMATCHLEN'), {
      map: [
        ['matches', [[[4, 7], [5, 8], 4]]],
        ['len', 6],
      ],
    });
    assert.equal(node.run('LCS', 'a', 'missing'), '');
    assert.deepEqual(node.run('LCS', 'a', 'b', 'LEN', 'IDX'), {
      error: 'ERR If you want both the length and indexes, please just use IDX.',
    });
    assert.deepEqual(node.run('LCS', 'a', 'b', 'MINMATCHLEN'), SYNTAX);
    node.run('HSET', 'h', 'f', 'v');
    assert.deepEqual(node.run('LCS', 'a', 'h', 'LEN'), {
      error: 'ERR The specified keys must contain string values',
    });
  });

  test('a table beyond the bound is refused with an error that says so', () => {
    const node = new Node();
    const side = Math.ceil(Math.sqrt(LCS_TABLE_CELLS_MAX));
    node.values.set('a', { type: 'string', value: Buffer.alloc(side, 'a'), expireAtMs: null });
    node.values.set('b', { type: 'string', value: Buffer.alloc(side, 'a'), expireAtMs: null });
    const reply = node.run('LCS', 'a', 'b', 'LEN') as { error: string };
    assert.match(
      reply.error,
      /^ERR LCS of strings of 4096 and 4096 bytes needs 16785409 table cells; Borealis computes LCS over at most 16777216 cells/,
    );
    node.values.set('b', { type: 'string', value: Buffer.alloc(side - 2, 'a'), expireAtMs: null });
    assert.equal(node.run('LCS', 'a', 'b', 'LEN'), side - 2);
  });
});

describe('keyspace commands', () => {
  test('RENAME moves the value with its expiry; RENAMENX only to a free name', () => {
    const node = new Node();
    node.run('SET', 'a', '1', 'PX', '5000');
    node.run('HSET', 'h', 'f', 'v');
    assert.deepEqual(node.run('RENAME', 'a', 'b'), { simple: 'OK' });
    assert.equal(node.values.has('a'), false);
    assert.equal(node.run('PTTL', 'b'), 5000);
    assert.deepEqual(node.run('RENAME', 'b', 'h'), { simple: 'OK' }, 'overwrites any type');
    assert.equal(node.run('GET', 'h'), '1');
    assert.deepEqual(node.run('RENAME', 'missing', 'x'), { error: 'ERR no such key' });
    assert.deepEqual(node.run('RENAME', 'h', 'h'), { simple: 'OK' });
    assert.deepEqual(node.run('RENAMENX', 'missing', 'h'), { error: 'ERR no such key' });
    node.run('SET', 'c', '2');
    assert.equal(node.run('RENAMENX', 'c', 'h'), 0);
    assert.equal(node.run('RENAMENX', 'c', 'h2'), 1);
    assert.equal(node.run('RENAMENX', 'h2', 'h2'), 0);
    node.nowMs += 5001;
    assert.deepEqual(node.run('RENAME', 'h', 'z'), { error: 'ERR no such key' }, 'an expired key is gone');
  });

  test('COPY copies value and expiry, into database 0 only', () => {
    const node = new Node();
    node.run('SET', 'a', 'v', 'PX', '5000');
    node.run('HSET', 'h', 'f', 'v');
    assert.equal(node.run('COPY', 'a', 'b'), 1);
    assert.equal(node.run('PTTL', 'b'), 5000);
    assert.equal(node.run('COPY', 'a', 'b'), 0);
    assert.equal(node.run('COPY', 'h', 'b', 'REPLACE', 'DB', '0'), 1);
    node.run('HSET', 'b', 'g', 'w');
    assert.equal(node.run('HLEN', 'h'), 1, 'the copy is independent');
    assert.equal(node.run('COPY', 'missing', 'x'), 0);
    assert.deepEqual(node.run('COPY', 'a', 'a'), {
      error: 'ERR source and destination objects are the same',
    });
    assert.deepEqual(node.run('COPY', 'a', 'c', 'DB', '1'), { error: 'ERR DB index is out of range' });
    assert.deepEqual(node.run('COPY', 'a', 'c', 'DB', 'x'), NOT_INTEGER);
    assert.deepEqual(node.run('COPY', 'a', 'c', 'DB', '2147483648'), {
      error: 'ERR value is out of range, value must between -2147483648 and 2147483647',
    });
    assert.deepEqual(node.run('COPY', 'a', 'c', 'REPLACE', 'DB'), SYNTAX);
  });

  test('TOUCH counts the keys that exist', () => {
    const node = new Node();
    node.run('SET', 'a', '1');
    assert.equal(node.run('TOUCH', 'a', 'a', 'missing'), 2);
  });

  test('OBJECT answers what Redis would for such a value', () => {
    const node = new Node();
    node.run('SET', 'int', '12345');
    node.run('SET', 'shared', '42');
    node.run('SET', 'short', 'hello');
    node.run('SET', 'long', 'x'.repeat(45));
    node.run('SET', 'notint', '012');
    node.run('HSET', 'small', 'f', 'v');
    node.run('HSET', 'wide', 'f', 'v'.repeat(65));
    node.run('HSET', 'many', ...Array.from({ length: 129 }, (_unused, index) => [`f${index}`, 'v']).flat());
    const encodings = ['int', 'shared', 'short', 'long', 'notint', 'small', 'wide', 'many'].map((key) =>
      node.run('OBJECT', 'ENCODING', key),
    );
    assert.deepEqual(encodings, [
      'int',
      'int',
      'embstr',
      'raw',
      'embstr',
      'listpack',
      // A hash's header keeps its field count, not its fields' sizes: OBJECT ENCODING answers
      // by count alone (a compatibility answer), so one long value does not make it 'hashtable'.
      'listpack',
      'hashtable',
    ]);
    assert.equal(node.run('OBJECT', 'REFCOUNT', 'shared'), 2147483647);
    assert.equal(node.run('OBJECT', 'REFCOUNT', 'int'), 1);
    assert.equal(node.run('OBJECT', 'IDLETIME', 'int'), 0);
    assert.match(
      (node.run('OBJECT', 'FREQ', 'int') as { error: string }).error,
      /^ERR An LFU maxmemory policy is not selected/,
    );
    for (const sub of ['ENCODING', 'REFCOUNT', 'IDLETIME', 'FREQ'])
      assert.equal(node.run('OBJECT', sub, 'missing'), null);
    const help = node.run('object', 'help') as unknown[];
    assert.deepEqual(help[0], { simple: 'OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:' });
    assert.deepEqual(help.slice(-2), [{ simple: 'HELP' }, { simple: '    Prints this help.' }]);
    assert.deepEqual(node.run('OBJECT', 'NOSUCH', 'k'), {
      error: "ERR unknown subcommand 'NOSUCH'. Try OBJECT HELP.",
    });
    assert.deepEqual(node.run('OBJECT', 'ENCODING'), {
      error: "ERR wrong number of arguments for 'object|encoding' command",
    });
  });

  test('MEMORY USAGE is the bytes of the key and its stored value', () => {
    const node = new Node();
    node.run('SET', 'key', 'value');
    const stored = encodeStoredValue(node.values.get('key') as StoredValue).length;
    assert.equal(node.run('MEMORY', 'USAGE', 'key'), 3 + stored);
    assert.equal(node.run('MEMORY', 'USAGE', 'key', 'SAMPLES', '0'), 3 + stored);
    assert.equal(node.run('MEMORY', 'USAGE', 'missing'), null);
    assert.deepEqual(node.run('MEMORY', 'USAGE', 'key', 'SAMPLES', '-1'), SYNTAX);
    assert.deepEqual(node.run('MEMORY', 'USAGE', 'key', 'SAMPLES'), SYNTAX);
    assert.deepEqual(node.run('MEMORY', 'USAGE', 'key', 'SAMPLES', 'x'), NOT_INTEGER);
  });

  test('MEMORY USAGE runs in the data core, the rest of MEMORY and RANDOMKEY in the session', () => {
    const kindOf = (...words: string[]): string => {
      const resolution = resolveCommand(words.map((word) => Buffer.from(word)));
      return 'spec' in resolution ? resolution.spec.kind : 'error';
    };
    assert.equal(kindOf('MEMORY', 'USAGE', 'k'), 'data');
    assert.equal(kindOf('MEMORY', 'STATS'), 'session');
    assert.equal(kindOf('MEMORY', 'DOCTOR'), 'session');
    assert.equal(kindOf('RANDOMKEY'), 'session');
    assert.equal(kindOf('OBJECT', 'HELP'), 'data');
  });
});

describe('RANDOMKEY', () => {
  /** A store of names in hash order and an engine stub that says which exist (all but `expired`). */
  function keyspaceOf(names: string[], seed: number, expired: ReadonlySet<string> = new Set()) {
    const sorted = [...names].sort((a, b) => keyHash(a) - keyHash(b));
    let pagesRead = 0;
    const store = {
      scan: async (_volume: string, fromHash: number, limit: number) => {
        pagesRead++;
        const keys = sorted.filter((key) => keyHash(key) >= fromHash).slice(0, limit);
        const last = keys.at(-1);
        const rest = last === undefined ? [] : sorted.filter((key) => keyHash(key) > keyHash(last));
        return { keys, nextHash: rest.length === 0 ? 0 : keyHash(rest[0] as string) };
      },
    };
    const header = encodeStoredValue({ type: 'string', value: Buffer.alloc(0), expireAtMs: null });
    const engine = {
      // No FLUSHDB has happened: every key is in generation 0; and there is no reclaim to do.
      currentGeneration: async () => 0,
      reclaimer: { enqueue: () => undefined },
      clock: SYSTEM_CLOCK,
      readStorageKeys: async (keys: string[]) =>
        new Map(
          keys.map((key) => [
            key,
            { seq: 1, txid: 't', bytes: expired.has(key) ? null : header, fresh: true },
          ]),
        ),
    } as unknown as TransactionEngine;
    return { keyspace: new Keyspace('v', store, engine, mulberry32(seed)), pages: () => pagesRead };
  }

  test('answers null in an empty keyspace after at most two pages', async () => {
    const { keyspace, pages } = keyspaceOf([], 1);
    assert.equal(await keyspace.randomKey(), null);
    assert.ok(pages() <= 2);
  });

  test('is deterministic given the random source, and reaches every key', async () => {
    const names = Array.from({ length: 300 }, (_unused, index) => `key:${index}`);
    const first = await keyspaceOf(names, 7).keyspace.randomKey();
    assert.equal(await keyspaceOf(names, 7).keyspace.randomKey(), first);
    const seen = new Set<string>();
    for (let seed = 0; seed < 20_000 && seen.size < names.length; seed++) {
      seen.add((await keyspaceOf(names, seed).keyspace.randomKey()) as string);
    }
    assert.equal(seen.size, names.length);
  });

  test('skips the internal keys of collections', async () => {
    const elements = Array.from({ length: 3_000 }, (_unused, index) => `\xffe12345678${index}`);
    for (let seed = 0; seed < 20; seed++) {
      assert.equal(await keyspaceOf(['only', ...elements], seed).keyspace.randomKey(), 'only');
    }
    assert.equal(await keyspaceOf(elements, 1).keyspace.randomKey(), null);
  });

  test('wraps around past the end of the hash order, and skips keys that no longer exist', async () => {
    const names = Array.from({ length: 50 }, (_unused, index) => `k${index}`);
    const live = names[0] as string;
    const expired = new Set(names.slice(1));
    for (let seed = 0; seed < 40; seed++) {
      assert.equal(await keyspaceOf(names, seed, expired).keyspace.randomKey(), live);
    }
    assert.equal(await keyspaceOf(names, 3, new Set(names)).keyspace.randomKey(), null);
  });
});

describe('DBSIZE and INFO keyspace: shared walks, and counts that still hold', () => {
  /**
   * A live set of names over a store whose scans wait while `hold` is set, and an engine stub
   * that says every listed name exists; `walks` counts the walks started (their first pages).
   */
  function liveKeyspace() {
    const names = new Set<string>();
    let walks = 0;
    let hold: Promise<void> | null = null;
    let failures = 0;
    const store = {
      scan: async (_volume: string, fromHash: number, limit: number) => {
        if (fromHash === 0) walks++;
        if (hold !== null) await hold;
        if (failures > 0) {
          failures--;
          throw new Error('no scan answer within 10000 ms');
        }
        const sorted = [...names].sort((a, b) => keyHash(a) - keyHash(b));
        const keys = sorted.filter((key) => keyHash(key) >= fromHash).slice(0, limit);
        const last = keys.at(-1);
        const rest = last === undefined ? [] : sorted.filter((key) => keyHash(key) > keyHash(last));
        return { keys, nextHash: rest.length === 0 ? 0 : keyHash(rest[0] as string) };
      },
    };
    const header = encodeStoredValue({ type: 'string', value: Buffer.alloc(0), expireAtMs: null });
    const expiring = encodeStoredValue({ type: 'string', value: Buffer.alloc(0), expireAtMs: 5_000 });
    const clock = { ms: 1_000 };
    let changes = 0;
    // The engine answers how long a count holds from a real cache, whose notice coverage the
    // test sets (`cover`): +Infinity, no stream whole, until it does.
    let coveredSinceMs = Number.POSITIVE_INFINITY;
    const cache = new VersionedCache(1 << 20, CACHE_ENTRY_AGE_MAX_MS, {
      coveredSinceMs: () => coveredSinceMs,
      coveredAgeMsMax: CACHE_ENTRY_COVERED_AGE_MAX_MS,
    });
    const engine = {
      currentGeneration: async () => 0,
      reclaimer: { enqueue: () => undefined },
      clock: { nowMs: () => clock.ms },
      changesSeen: () => changes,
      answerHolds: (readAtMs: number, nowMs: number) => cache.holds(readAtMs, nowMs),
      // Names starting with `x` expire at 5,000 ms.
      readStorageKeys: async (keys: string[]) =>
        new Map(
          keys.map((key) => [
            key,
            { seq: 1, txid: 't', bytes: key.startsWith('x') ? expiring : header, fresh: true },
          ]),
        ),
    } as unknown as TransactionEngine;
    let release = (): void => undefined;
    return {
      keyspace: new Keyspace('v', store, engine),
      names,
      walks: () => walks,
      holdScans: () => {
        hold = new Promise((resolve) => {
          release = () => {
            hold = null;
            resolve();
          };
        });
      },
      releaseScans: () => release(),
      failScans: (count: number) => {
        failures = count;
      },
      clock,
      /** A write of this writer ended, or another writer's notice came. */
      change: () => {
        changes++;
      },
      /** The notice streams of a read quorum have been whole since `sinceMs`. */
      cover: (sinceMs: number) => {
        coveredSinceMs = sinceMs;
      },
    };
  }

  test('callers during a walk share the next one, which sees what they wrote before asking', async () => {
    const live = liveKeyspace();
    live.names.add('a');
    live.holdScans();
    const first = live.keyspace.counts();
    // Written after the first walk started (and, held on its first page, before it read anything).
    live.names.add('b');
    const waiting = Array.from({ length: 20 }, () => live.keyspace.counts());
    live.names.add('c');
    live.releaseScans();
    await first;
    const answers = await Promise.all(waiting);
    assert.equal(live.walks(), 2, 'one walk for the first caller, one for the twenty after it');
    for (const answer of answers) assert.deepEqual(answer, { keys: 3, expires: 0 });
    // Nothing runs now: the next caller starts a walk of its own.
    live.names.delete('a');
    assert.deepEqual(await live.keyspace.counts(), { keys: 2, expires: 0 });
    assert.equal(live.walks(), 3);
  });

  test('callers in instance consistency take the running walk’s count when it still holds as it ends', async () => {
    const live = liveKeyspace();
    live.names.add('a');
    live.holdScans();
    const first = live.keyspace.counts('instance');
    const waiting = Array.from({ length: 20 }, () => live.keyspace.counts('instance'));
    live.releaseScans();
    assert.deepEqual(await first, { keys: 1, expires: 0 });
    for (const answer of await Promise.all(waiting)) assert.deepEqual(answer, { keys: 1, expires: 0 });
    assert.equal(live.walks(), 1, 'no change was seen: one walk for all');

    // A write that ends while the walk runs: those who asked after it get a walk of their own.
    live.change();
    live.holdScans();
    const second = live.keyspace.counts('instance');
    live.names.add('b');
    live.change();
    const afterWrite = live.keyspace.counts('instance');
    live.releaseScans();
    await second;
    assert.deepEqual(await afterWrite, { keys: 2, expires: 0 });
    assert.equal(live.walks(), 3);

    // One caller in cluster consistency among them: the next walk runs.
    live.change();
    live.holdScans();
    const third = live.keyspace.counts('instance');
    const instanceCaller = live.keyspace.counts('instance');
    const clusterCaller = live.keyspace.counts('cluster');
    live.releaseScans();
    await Promise.all([third, instanceCaller, clusterCaller]);
    assert.equal(live.walks(), 5);
  });

  test('a walk that fails fails its callers only: the waiting ones get a walk of their own', async () => {
    const live = liveKeyspace();
    live.names.add('a');
    live.holdScans();
    live.failScans(1);
    const failing = live.keyspace.counts();
    const waiting = live.keyspace.counts();
    live.releaseScans();
    await assert.rejects(failing, /no scan answer/);
    assert.deepEqual(await waiting, { keys: 1, expires: 0 });
    assert.equal(live.walks(), 2);
  });

  test('DBSIZE answers its count again while nothing changed, in instance consistency only', async () => {
    const live = liveKeyspace();
    live.names.add('a');
    live.names.add('x1');
    assert.equal(await live.keyspace.size('instance'), 2);
    // A key this writer knows nothing of yet: the count stands until a change is seen.
    live.names.add('b');
    assert.equal(await live.keyspace.size('instance'), 2);
    assert.equal(live.walks(), 1);
    assert.equal(await live.keyspace.size('cluster'), 3, 'cluster consistency counts anew');
    live.change();
    live.names.add('c');
    assert.equal(await live.keyspace.size('instance'), 4, 'a change seen: counted anew');
    assert.equal(await live.keyspace.size('instance'), 4);
    assert.equal(live.walks(), 3);
    // x1 expires at 5,000 ms: past it, the count is made again (x1 is still listed here).
    live.clock.ms = 5_000;
    assert.equal(await live.keyspace.size('instance'), 4);
    assert.equal(live.walks(), 3);
    live.clock.ms = 5_001;
    await live.keyspace.size('instance');
    assert.equal(live.walks(), 4);
    // And no count is answered after the age a cache entry may have.
    live.clock.ms = 5_001 + CACHE_ENTRY_AGE_MAX_MS;
    await live.keyspace.size('instance');
    assert.equal(live.walks(), 4);
    live.clock.ms = 5_002 + CACHE_ENTRY_AGE_MAX_MS;
    await live.keyspace.size('instance');
    assert.equal(live.walks(), 5);
  });

  test('DBSIZE answers its count past the age bound while the notices have arrived whole since its walk (ADR 0020)', async () => {
    const live = liveKeyspace();
    live.names.add('a');
    live.cover(500);
    assert.equal(await live.keyspace.size('instance'), 1);
    const walkedAt = live.clock.ms;
    live.clock.ms = walkedAt + CACHE_ENTRY_COVERED_AGE_MAX_MS;
    assert.equal(await live.keyspace.size('instance'), 1);
    assert.equal(live.walks(), 1, 'covered: the count holds up to the covered bound');
    live.clock.ms += 1;
    await live.keyspace.size('instance');
    assert.equal(live.walks(), 2, 'never past the covered bound');
    // A stream restarted after that walk began: the count holds for the plain age bound only.
    live.cover(live.clock.ms + 1);
    const secondAt = live.clock.ms;
    live.clock.ms = secondAt + CACHE_ENTRY_AGE_MAX_MS;
    await live.keyspace.size('instance');
    assert.equal(live.walks(), 2);
    live.clock.ms += 1;
    await live.keyspace.size('instance');
    assert.equal(live.walks(), 3, 'streams whole only since after the walk began do not cover it');
  });

  test('INFO does not wait for a walk it cannot have soon: it answers the latest count', {
    timeout: 20_000,
  }, async () => {
    const live = liveKeyspace();
    live.holdScans();
    assert.equal(await live.keyspace.recentCounts(5), null, 'no count yet');
    assert.equal(live.walks(), 1);
    live.releaseScans();
    live.names.add('a');
    // The held walk is the one INFO joins (it never queues a walk behind a running one).
    assert.deepEqual(await live.keyspace.recentCounts(10_000), { keys: 1, expires: 0 });
    assert.equal(live.walks(), 1);
    assert.deepEqual(await live.keyspace.recentCounts(5), { keys: 1, expires: 0 });
    assert.equal(live.walks(), 1, 'a current count is answered without a walk');
    live.change();
    live.names.add('b');
    live.holdScans();
    assert.deepEqual(await live.keyspace.recentCounts(5), { keys: 1, expires: 0 }, 'the latest count');
    assert.deepEqual(await live.keyspace.recentCounts(5), { keys: 1, expires: 0 });
    assert.equal(live.walks(), 2, 'one walk for both');
    live.releaseScans();
    assert.deepEqual(await live.keyspace.recentCounts(10_000), { keys: 2, expires: 0 });
    assert.deepEqual(await live.keyspace.counts(), { keys: 2, expires: 0 });

    // A walk that takes 120 s: INFO, allowed to wait 60, answers the latest count at once after it
    // (waiting, it would hold this test past its timeout).
    live.change();
    live.holdScans();
    const slow = live.keyspace.counts();
    live.clock.ms += 120_000;
    live.releaseScans();
    await slow;
    live.change();
    live.names.add('c');
    live.holdScans();
    assert.deepEqual(await live.keyspace.recentCounts(60_000), { keys: 2, expires: 0 });
    assert.equal(live.walks(), 5, 'and starts a walk to refresh it');
    live.releaseScans();
    assert.deepEqual(await live.keyspace.counts(), { keys: 3, expires: 0 });
  });
});

describe('bit commands against a bit-by-bit model (seeded random cases)', () => {
  /** The string's bits, most significant first. */
  const bitsOf = (value: Buffer): number[] =>
    [...value].flatMap((byte) => Array.from({ length: 8 }, (_unused, index) => (byte >> (7 - index)) & 1));

  /** Redis's range arithmetic over `total` units; null when the range is empty. */
  const range = (start: number, end: number, total: number): [number, number] | null => {
    let from = start < 0 ? start + total : start;
    let to = end < 0 ? end + total : end;
    if (from < 0) from = 0;
    if (to < 0) to = 0;
    if (to >= total) to = total - 1;
    return from > to ? null : [from, to];
  };

  test('BITCOUNT and BITPOS agree with the model for random strings and ranges', () => {
    const random = mulberry32(20261202);
    const node = new Node();
    for (let round = 0; round < 2_000; round++) {
      const length = Math.floor(random() * 12);
      // Runs of 0x00 and 0xff, to exercise the whole-byte skips, mixed with random bytes.
      const value = Buffer.from(
        Array.from({ length }, () => {
          const roll = random();
          return roll < 0.3 ? 0 : roll < 0.6 ? 0xff : Math.floor(random() * 256);
        }),
      );
      node.values.set('k', { type: 'string', value, expireAtMs: null });
      const bits = bitsOf(value);
      const inBits = random() < 0.5;
      const total = inBits ? bits.length : value.length;
      const start = Math.floor(random() * 2 * (total + 3)) - (total + 3);
      const end = Math.floor(random() * 2 * (total + 3)) - (total + 3);
      const unit = inBits ? 'BIT' : 'BYTE';
      const toBits = (span: [number, number] | null): [number, number] =>
        span === null ? [0, -1] : inBits ? span : [span[0] * 8, span[1] * 8 + 7];
      // BITCOUNT (not BITPOS) answers 0 at once for two negative indexes in the wrong order.
      const countSpan = start < 0 && end < 0 && start > end ? null : range(start, end, total);
      const [countFrom, countTo] = toBits(countSpan);
      const count = bits.slice(countFrom, countTo + 1).reduce((sum, bit) => sum + bit, 0);
      const [fromBit, toBit] = toBits(range(start, end, total));
      const selected = bits.slice(fromBit, toBit + 1);
      assert.equal(
        node.run('BITCOUNT', 'k', String(start), String(end), unit),
        count,
        `BITCOUNT ${start} ${end} ${unit} of ${value.toString('hex')}`,
      );
      for (const bit of [0, 1]) {
        const found = selected.indexOf(bit);
        const withEnd = found < 0 ? -1 : fromBit + found;
        assert.equal(node.run('BITPOS', 'k', String(bit), String(start), String(end), unit), withEnd);
        // Without an end (and so in bytes), the range runs to the end of the string, and a clear
        // bit past it counts.
        const open = range(start, -1, value.length);
        const [openFrom, openTo] = open === null ? [0, -1] : [open[0] * 8, open[1] * 8 + 7];
        const openFound = bits.slice(openFrom, openTo + 1).indexOf(bit);
        const expected =
          open === null ? -1 : openFound >= 0 ? openFrom + openFound : bit === 0 ? openTo + 1 : -1;
        assert.equal(
          node.run('BITPOS', 'k', String(bit), String(start)),
          expected,
          `BITPOS ${bit} ${start} of ${value.toString('hex')}`,
        );
      }
    }
  });

  test('BITFIELD SET then GET reads back the value in its width', () => {
    const random = mulberry32(7);
    const node = new Node();
    for (let round = 0; round < 500; round++) {
      const signed = random() < 0.5;
      const bits = 1 + Math.floor(random() * (signed ? 64 : 63));
      const offset = Math.floor(random() * 100);
      const value = BigInt.asIntN(
        64,
        BigInt(Math.floor(random() * 2 ** 32)) * BigInt(Math.floor(random() * 2 ** 32)),
      );
      const type = `${signed ? 'i' : 'u'}${bits}`;
      const replies = node.run(
        'BITFIELD',
        'f',
        'SET',
        type,
        String(offset),
        String(value),
        'GET',
        type,
        String(offset),
      ) as unknown[];
      const expected = signed ? BigInt.asIntN(bits, value) : BigInt.asUintN(bits, value);
      assert.equal(BigInt(replies[1] as number | bigint), expected, `${type} at ${offset} of ${value}`);
    }
  });
});

describe('keyspace commands on collections (ADR 0008 headers)', () => {
  const header = (type: CollectionType, size: number, id = 'abcdefgh'): StoredValue => ({
    type,
    id,
    size,
    expireAtMs: null,
    meta: Buffer.from('m'),
  });
  /** A family whose collection keeps one element key per element: suffixes '0', '1', … */
  const family = (type: CollectionType): CollectionFamily => ({
    type,
    elementKeys: (_context, value) =>
      Array.from({ length: value.size }, (_unused, index) => elementKey(value.id, String(index))),
    reclaimBatch: (_context, value, from, count) =>
      Array.from({ length: Math.max(0, Math.min(count, value.size - from)) }, (_unused, offset) =>
        elementKey(value.id, String(from + offset)),
      ),
  });

  test('OBJECT ENCODING judges a collection by its size against the default thresholds', () => {
    const node = new Node();
    node.values.set('small', header('zset', 128));
    node.values.set('list', header('list', 129));
    node.values.set('set', header('set', 1000));
    node.values.set('hash', header('hash', 500));
    node.values.set('zset', header('zset', 129));
    assert.deepEqual(
      ['small', 'list', 'set', 'hash', 'zset'].map((key) => node.run('OBJECT', 'ENCODING', key)),
      ['listpack', 'quicklist', 'hashtable', 'hashtable', 'skiplist'],
    );
  });

  test('RENAME moves the header, id and all; COPY copies every element key the family names', () => {
    const node = new Node();
    node.values.set('src', header('list', 3));
    assert.deepEqual(node.run('RENAME', 'src', 'moved'), { simple: 'OK' });
    assert.deepEqual(node.values.get('moved'), header('list', 3));
    // Every type has its family registered now (COPY of each real type is tested with its
    // family); here a stand-in family names the element keys of a stand-in header.

    const context = node.context();
    for (let index = 0; index < 3; index++)
      context.writeElement(elementKey('abcdefgh', String(index)), Buffer.from(`e${index}`));
    const copied = copiedValue(
      context,
      header('list', 3),
      new Map<CollectionType, CollectionFamily>([['list', family('list')]]),
    ) as StoredValue & { id: string };
    assert.notEqual(copied.id, 'abcdefgh');
    assert.deepEqual({ ...copied, id: 'abcdefgh' }, header('list', 3), 'the same header but for the id');
    for (let index = 0; index < 3; index++) {
      const bytes = context.readElement(elementKey(copied.id, String(index)));
      assert.equal(Buffer.from(bytes ?? []).toString(), `e${index}`);
    }
  });

  test('MEMORY USAGE counts the element keys, all of them or a sample scaled to the whole', () => {
    const node = new Node();
    const context = node.context();
    const families = new Map<CollectionType, CollectionFamily>([['set', family('set')]]);
    const value = header('set', 10);
    for (let index = 0; index < 10; index++) {
      context.writeElement(elementKey('abcdefgh', String(index)), Buffer.alloc(index < 5 ? 10 : 30));
    }
    const keyBytes = elementKey('abcdefgh', '0').length;
    assert.equal(elementBytes(context, value, 0n, families), 10 * keyBytes + 5 * 10 + 5 * 30);
    // Two samples, at the 1st and the 6th key: (10 + 30) / 2 per element.
    assert.equal(elementBytes(context, value, 2n, families), 10 * keyBytes + 10 * 20);
    assert.equal(elementBytes(context, header('set', 10), 5n, new Map()), 0, 'no family: the header only');
  });
});
