// The data node's command core without a server: replies and error texts per command family,
// expiry against an injected clock, the command table and COMMAND replies, the stored-value
// encoding and glob matching. Expected texts are Redis 7.0's, checked against a real server (the
// integration test redis-differential compares whole random sequences).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { commandReply as commandReplyOver } from '../../apps/data-node/src/commands/command-command.js';
import { keyReferences } from '../../apps/data-node/src/commands/command-keys.js';
import {
  arityError,
  createCommandTable,
  keysOf,
  SESSION_COMMANDS,
  unknownCommandError,
  unknownSubcommandError,
} from '../../apps/data-node/src/commands/command-table.js';
import { DATA_COMMAND_NAMES, executeDataCommand } from '../../apps/data-node/src/commands/data-commands.js';
import { globMatch } from '../../apps/data-node/src/commands/glob.js';
import {
  COMMAND_SPECS,
  commandReply,
  lookupCommand,
  resolveCommand,
} from '../../apps/data-node/src/commands/served-commands.js';
import {
  decodeStoredHeader,
  decodeStoredValue,
  encodeStoredValue,
  isExpired,
  STORED_HEADER_BYTES_MAX,
  type StoredValue,
} from '../../apps/data-node/src/commands/stored-value.js';
import type { Reply } from '../../libs/resp/src/reply.js';
import { MemoryKeyspace } from '../support/memory-context.js';
import { mulberry32 } from '../support/prng.js';
import { simplify } from '../support/simplify-reply.js';

const START_MS = 1_700_000_000_000;
const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';

/** A Map-backed node with a clock the test moves. */
class Node {
  readonly store = new MemoryKeyspace();
  nowMs = START_MS;

  /** Runs a command and returns its reply in a compact form: errors as `{ error }`. */
  run(...words: (string | Buffer)[]): unknown {
    return simplify(this.reply(...words));
  }

  reply(...words: (string | Buffer)[]): Reply {
    const args = words.map((word) => (typeof word === 'string' ? Buffer.from(word, 'latin1') : word));
    const resolution = resolveCommand(args);
    if ('error' in resolution) return resolution.error;
    return executeDataCommand(resolution.spec, args, this.store.context(this.nowMs));
  }
}

const OK = { simple: 'OK' };

describe('keys', () => {
  test('EXISTS counts repeated keys, DEL and UNLINK count what they removed, TYPE names the type', () => {
    const node = new Node();
    node.run('SET', 'a', '1');
    node.run('HSET', 'h', 'f', 'v');
    assert.equal(node.run('EXISTS', 'a', 'a', 'missing', 'h'), 3);
    assert.deepEqual(node.run('TYPE', 'a'), { simple: 'string' });
    assert.deepEqual(node.run('TYPE', 'h'), { simple: 'hash' });
    assert.deepEqual(node.run('TYPE', 'missing'), { simple: 'none' });
    assert.equal(node.run('DEL', 'a', 'a', 'missing'), 1);
    assert.equal(node.run('unlink', 'h'), 1);
    assert.deepEqual(node.store.keys(), []);
  });

  test('an expiry keeps a key through its last millisecond, then hides it', () => {
    const node = new Node();
    node.run('SET', 'k', 'v', 'PX', '1000');
    assert.equal(node.run('PTTL', 'k'), 1000);
    node.nowMs += 1000;
    assert.equal(node.run('GET', 'k'), 'v');
    assert.equal(node.run('PTTL', 'k'), 0);
    node.nowMs += 1;
    assert.equal(node.run('GET', 'k'), null);
    assert.equal(node.run('EXISTS', 'k'), 0);
    assert.equal(node.run('TTL', 'k'), -2);
    assert.deepEqual(node.run('SET', 'k', 'new', 'NX'), OK, 'an expired key counts as absent');
  });

  test('TTL rounds to the nearest second; EXPIRETIME and PEXPIRETIME are absolute', () => {
    const node = new Node();
    node.run('SET', 'k', 'v');
    assert.equal(node.run('TTL', 'k'), -1);
    assert.equal(node.run('PEXPIRE', 'k', '1499'), 1);
    assert.equal(node.run('TTL', 'k'), 1);
    assert.equal(node.run('PEXPIRE', 'k', '1500'), 1);
    assert.equal(node.run('TTL', 'k'), 2);
    assert.equal(node.run('PEXPIRETIME', 'k'), START_MS + 1500);
    assert.equal(node.run('EXPIRETIME', 'k'), Math.floor((START_MS + 1500 + 500) / 1000));
    assert.equal(node.run('PERSIST', 'k'), 1);
    assert.equal(node.run('PERSIST', 'k'), 0);
    assert.equal(node.run('PEXPIRETIME', 'k'), -1);
  });

  test('EXPIRE with a time in the past deletes the key and answers 1', () => {
    const node = new Node();
    node.run('SET', 'k', 'v');
    assert.equal(node.run('EXPIRE', 'k', '-1'), 1);
    assert.equal(node.store.has('k'), false);
    node.run('SET', 'k', 'v');
    assert.equal(node.run('PEXPIREAT', 'k', String(START_MS)), 1);
    assert.equal(node.store.has('k'), false);
    assert.equal(node.run('EXPIRE', 'missing', '100'), 0);
  });

  test('EXPIRE NX, XX, GT and LT', () => {
    const node = new Node();
    node.run('SET', 'k', 'v');
    assert.equal(node.run('EXPIRE', 'k', '100', 'XX'), 0);
    assert.equal(node.run('EXPIRE', 'k', '100', 'GT'), 0, 'no expiry counts as infinite');
    assert.equal(node.run('EXPIRE', 'k', '100', 'LT'), 1);
    assert.equal(node.run('EXPIRE', 'k', '200', 'nx'), 0);
    assert.equal(node.run('EXPIRE', 'k', '200', 'GT'), 1);
    assert.equal(node.run('EXPIRE', 'k', '200', 'GT'), 0, 'equal is not greater');
    assert.equal(node.run('EXPIRE', 'k', '150', 'LT', 'XX'), 1);
    assert.equal(node.run('TTL', 'k'), 150);
    assert.deepEqual(node.run('EXPIRE', 'k', '1', 'NX', 'GT'), {
      error: 'ERR NX and XX, GT or LT options at the same time are not compatible',
    });
    assert.deepEqual(node.run('EXPIRE', 'k', '1', 'GT', 'LT'), {
      error: 'ERR GT and LT options at the same time are not compatible',
    });
    assert.deepEqual(node.run('EXPIRE', 'k', '1', 'SOON'), { error: 'ERR Unsupported option SOON' });
    assert.deepEqual(node.run('EXPIRE', 'k', '1', 'a\r\nb\r\n'), { error: 'ERR Unsupported option a  b' });
  });

  test('EXPIRE refuses times whose milliseconds overflow 64 bits', () => {
    const node = new Node();
    node.run('SET', 'k', 'v');
    const invalid = { error: "ERR invalid expire time in 'expire' command" };
    assert.deepEqual(node.run('EXPIRE', 'k', '9223372036854776'), invalid);
    assert.deepEqual(node.run('EXPIRE', 'k', '9223372036854775'), invalid, 'overflows once now is added');
    assert.deepEqual(node.run('PEXPIRE', 'k', '9223372036854775807'), {
      error: "ERR invalid expire time in 'pexpire' command",
    });
    assert.deepEqual(node.run('EXPIREAT', 'k', '-9223372036854776'), {
      error: "ERR invalid expire time in 'expireat' command",
    });
    assert.deepEqual(node.run('EXPIRE', 'k', '1.5'), {
      error: 'ERR value is not an integer or out of range',
    });
  });
});

describe('strings', () => {
  test('SET options', () => {
    const node = new Node();
    assert.deepEqual(node.run('SET', 'k', 'v1', 'XX'), null);
    assert.deepEqual(node.run('SET', 'k', 'v1', 'NX'), OK);
    assert.deepEqual(node.run('SET', 'k', 'v2', 'NX'), null);
    assert.deepEqual(node.run('SET', 'k', 'v2', 'nx', 'GET'), 'v1', 'NX with GET answers the old value');
    assert.deepEqual(node.run('SET', 'k', 'v2', 'GET'), 'v1');
    assert.deepEqual(node.run('SET', 'k', 'v3', 'NX', 'XX'), { error: 'ERR syntax error' });
    assert.deepEqual(node.run('SET', 'k', 'v3', 'EX'), { error: 'ERR syntax error' });
    assert.deepEqual(node.run('SET', 'k', 'v3', 'EX', '10', 'PX', '10'), { error: 'ERR syntax error' });
    assert.deepEqual(node.run('SET', 'k', 'v3', 'EX', '10', 'EX', '20'), OK, 'Redis takes the last EX');
    assert.equal(node.run('TTL', 'k'), 20);
    assert.deepEqual(node.run('SET', 'k', 'v4', 'KEEPTTL'), OK);
    assert.equal(node.run('TTL', 'k'), 20);
    assert.deepEqual(node.run('SET', 'k', 'v5'), OK);
    assert.equal(node.run('TTL', 'k'), -1, 'a plain SET drops the expiry');
    assert.deepEqual(node.run('SET', 'k', 'v', 'EX', '0'), {
      error: "ERR invalid expire time in 'set' command",
    });
    assert.deepEqual(node.run('SET', 'k', 'v', 'PX', 'x'), {
      error: 'ERR value is not an integer or out of range',
    });
    assert.deepEqual(
      node.run('SET', 'fresh', 'v', 'NX\u0000anything'),
      OK,
      'options end at a NUL, as C strings',
    );
  });

  test('SET … GET on a hash is WRONGTYPE and writes nothing; a plain SET replaces the hash', () => {
    const node = new Node();
    node.run('HSET', 'h', 'f', 'v');
    assert.deepEqual(node.run('SET', 'h', 'x', 'GET'), { error: WRONGTYPE });
    assert.deepEqual(node.run('HGET', 'h', 'f'), 'v');
    assert.deepEqual(node.run('SET', 'h', 'x'), OK);
    assert.deepEqual(node.run('GET', 'h'), 'x');
  });

  test('SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX', () => {
    const node = new Node();
    assert.equal(node.run('SETNX', 'k', 'a'), 1);
    assert.equal(node.run('SETNX', 'k', 'b'), 0);
    assert.deepEqual(node.run('SETEX', 'k', '10', 'c'), OK);
    assert.equal(node.run('TTL', 'k'), 10);
    assert.deepEqual(node.run('PSETEX', 'k', '0', 'c'), {
      error: "ERR invalid expire time in 'psetex' command",
    });
    assert.deepEqual(node.run('GETSET', 'k', 'd'), 'c');
    assert.equal(node.run('TTL', 'k'), -1);
    assert.deepEqual(node.run('GETEX', 'k', 'PX', '5000'), 'd');
    assert.equal(node.run('PTTL', 'k'), 5000);
    assert.deepEqual(node.run('GETEX', 'k', 'PERSIST'), 'd');
    assert.equal(node.run('PTTL', 'k'), -1);
    assert.deepEqual(node.run('GETEX', 'k', 'NX'), { error: 'ERR syntax error' });
    assert.deepEqual(
      node.run('GETEX', 'missing', 'EX', '-5'),
      null,
      'a missing key answers before the time is checked',
    );
    assert.deepEqual(node.run('GETEX', 'k', 'EX', '-5'), {
      error: "ERR invalid expire time in 'getex' command",
    });
    assert.deepEqual(node.run('GETEX', 'k', 'EXAT', '1'), 'd', 'an EXAT in the past deletes after answering');
    assert.equal(node.run('EXISTS', 'k'), 0);
    node.run('SET', 'k', 'e');
    assert.deepEqual(node.run('GETDEL', 'k'), 'e');
    assert.deepEqual(node.run('GETDEL', 'k'), null);
    node.run('HSET', 'h', 'f', 'v');
    assert.deepEqual(node.run('GETDEL', 'h'), { error: WRONGTYPE });
    assert.deepEqual(node.run('GETSET', 'h', 'x'), { error: WRONGTYPE });
  });

  test('MGET, MSET, MSETNX', () => {
    const node = new Node();
    node.run('HSET', 'h', 'f', 'v');
    assert.deepEqual(node.run('MSET', 'a', '1', 'b', '2', 'a', '3'), OK);
    assert.deepEqual(node.run('MGET', 'a', 'b', 'h', 'missing'), ['3', '2', null, null]);
    assert.equal(node.run('MSETNX', 'b', 'x', 'c', 'y'), 0);
    assert.equal(node.run('MSETNX', 'c', 'x', 'd', 'y'), 1);
    assert.deepEqual(node.run('MSET', 'a', '1', 'b'), {
      error: "ERR wrong number of arguments for 'mset' command",
    });
    assert.deepEqual(node.run('MSETNX', 'a'), {
      error: "ERR wrong number of arguments for 'msetnx' command",
    });
  });

  test('APPEND, STRLEN, GETRANGE, SUBSTR, SETRANGE', () => {
    const node = new Node();
    assert.equal(node.run('APPEND', 'k', 'Hello'), 5);
    assert.equal(node.run('APPEND', 'k', ' World'), 11);
    assert.equal(node.run('STRLEN', 'k'), 11);
    assert.equal(node.run('STRLEN', 'missing'), 0);
    assert.equal(node.run('GETRANGE', 'k', '0', '4'), 'Hello');
    assert.equal(node.run('GETRANGE', 'k', '-5', '-1'), 'World');
    assert.equal(node.run('SUBSTR', 'k', '-1', '-5'), '');
    assert.equal(node.run('GETRANGE', 'k', '5', '1000'), ' World');
    assert.equal(node.run('GETRANGE', 'missing', '0', '-1'), '');
    assert.deepEqual(node.run('GETRANGE', 'k', 'a', '1'), {
      error: 'ERR value is not an integer or out of range',
    });
    assert.equal(node.run('SETRANGE', 'k', '6', 'Redis'), 11);
    assert.equal(node.run('GET', 'k'), 'Hello Redis');
    assert.equal(node.run('SETRANGE', 'pad', '3', 'x'), 4);
    assert.equal(node.run('GET', 'pad'), '\u0000\u0000\u0000x');
    assert.equal(node.run('SETRANGE', 'nothing', '100', ''), 0);
    assert.equal(node.run('EXISTS', 'nothing'), 0, 'an empty SETRANGE creates nothing');
    assert.deepEqual(node.run('SETRANGE', 'k', '-1', 'x'), { error: 'ERR offset is out of range' });
    assert.deepEqual(node.run('SETRANGE', 'k', '536870911', 'ab'), {
      error: 'ERR string exceeds maximum allowed size (proto-max-bulk-len)',
    });
  });
});

describe('counters', () => {
  test('INCR, DECR, INCRBY, DECRBY keep the expiry and refuse non-integers', () => {
    const node = new Node();
    assert.equal(node.run('INCR', 'n'), 1);
    assert.equal(node.run('INCRBY', 'n', '41'), 42);
    assert.equal(node.run('DECRBY', 'n', '2'), 40);
    assert.equal(node.run('DECR', 'n'), 39);
    node.run('EXPIRE', 'n', '100');
    node.run('INCR', 'n');
    assert.equal(node.run('TTL', 'n'), 100);
    for (const bad of ['01', '+1', ' 1', '1.0', '', '9223372036854775808', '-0']) {
      node.run('SET', 'bad', bad);
      assert.deepEqual(
        node.run('INCR', 'bad'),
        { error: 'ERR value is not an integer or out of range' },
        bad,
      );
    }
    node.run('HSET', 'h', 'f', '1');
    assert.deepEqual(node.run('INCR', 'h'), { error: WRONGTYPE });
    assert.deepEqual(node.run('INCRBY', 'h', 'x'), { error: 'ERR value is not an integer or out of range' });
  });

  test('64-bit limits', () => {
    const node = new Node();
    node.run('SET', 'n', '9223372036854775806');
    assert.equal(node.run('INCR', 'n'), 9223372036854775807n);
    assert.deepEqual(node.run('INCR', 'n'), { error: 'ERR increment or decrement would overflow' });
    assert.equal(node.run('GET', 'n'), '9223372036854775807', 'a refused increment changes nothing');
    node.run('SET', 'n', '-9223372036854775808');
    assert.deepEqual(node.run('DECR', 'n'), { error: 'ERR increment or decrement would overflow' });
    assert.deepEqual(node.run('DECRBY', 'n', '-9223372036854775808'), {
      error: 'ERR decrement would overflow',
    });
    assert.equal(node.run('INCRBY', 'n', '9223372036854775807'), -1);
  });

  test('INCRBYFLOAT computes in long double and prints like Redis', () => {
    const node = new Node();
    const steps: [string, string][] = [
      ['10.5', '10.5'],
      ['3', '13.5'],
      ['5.0e3', '5013.5'],
      ['0.1', '5013.60000000000000009'],
      ['0.2', '5013.80000000000000027'],
    ];
    for (const [increment, expected] of steps)
      assert.equal(node.run('INCRBYFLOAT', 'f', increment), expected);
    node.run('SET', 'f', '0.1');
    assert.equal(node.run('INCRBYFLOAT', 'f', '0.2'), '0.3', 'long double, not double: 0.1 + 0.2 is 0.3');
    node.run('SET', 'f', '1');
    assert.equal(node.run('INCRBYFLOAT', 'f', '1e-20'), '1');
    assert.equal(node.run('INCRBYFLOAT', 'f', '-1'), '0');
    node.run('SET', 'f', '-0.000000000000000004');
    assert.equal(node.run('INCRBYFLOAT', 'f', '0'), '0', '-0 prints as 0');
    node.run('SET', 'f', '0');
    assert.equal(
      node.run('INCRBYFLOAT', 'f', '0.000003814697265625'),
      '0.00000381469726562',
      'ties round to even',
    );
    node.run('SET', 'f', '1');
    assert.equal(node.run('INCRBYFLOAT', 'f', '0x1p-3'), '1.125', 'strtold reads hex floats');
    assert.equal(node.run('INCRBYFLOAT', 'f', '123456789.123456789'), '123456790.24845678899873747');
    node.run('SET', 'f', '1e300');
    assert.equal(
      String(node.run('INCRBYFLOAT', 'f', '0.000003814697265625')).slice(0, 40),
      '1000000000000000000008997324079559193870',
    );
  });

  test('INCRBYFLOAT errors', () => {
    const node = new Node();
    const notFloat = { error: 'ERR value is not a valid float' };
    for (const bad of ['nan', '1e5000', '1e-5000', ' 1', '1 ', '', '1e', '0x', 'abc']) {
      assert.deepEqual(node.run('INCRBYFLOAT', 'f', bad), notFloat, bad);
    }
    assert.deepEqual(node.run('INCRBYFLOAT', 'f', 'inf'), {
      error: 'ERR increment would produce NaN or Infinity',
    });
    node.run('SET', 'f', '1e4932');
    assert.deepEqual(node.run('INCRBYFLOAT', 'f', '1e4932'), {
      error: 'ERR increment would produce NaN or Infinity',
    });
    node.run('SET', 'f', 'text');
    assert.deepEqual(node.run('INCRBYFLOAT', 'f', '1'), notFloat);
  });
});

describe('hashes', () => {
  test('HSET, HMSET, HSETNX, HGET, HMGET, HLEN, HEXISTS, HSTRLEN', () => {
    const node = new Node();
    assert.equal(node.run('HSET', 'h', 'a', '1', 'b', '2'), 2);
    assert.equal(node.run('HSET', 'h', 'a', '10', 'c', '3'), 1);
    assert.deepEqual(node.run('HMSET', 'h', 'd', '4'), OK);
    assert.equal(node.run('HSETNX', 'h', 'a', 'x'), 0);
    assert.equal(node.run('HSETNX', 'h', 'e', '5'), 1);
    assert.equal(node.run('HGET', 'h', 'a'), '10');
    assert.equal(node.run('HGET', 'h', 'zz'), null);
    assert.equal(node.run('HGET', 'missing', 'a'), null);
    assert.deepEqual(node.run('HMGET', 'h', 'b', 'zz'), ['2', null]);
    assert.deepEqual(node.run('HMGET', 'missing', 'b'), [null]);
    assert.equal(node.run('HLEN', 'h'), 5);
    assert.equal(node.run('HEXISTS', 'h', 'c'), 1);
    assert.equal(node.run('HSTRLEN', 'h', 'a'), 2);
    assert.equal(node.run('HSTRLEN', 'h', 'zz'), 0);
    assert.deepEqual(node.run('HSET', 'h', 'a'), {
      error: "ERR wrong number of arguments for 'hset' command",
    });
    assert.deepEqual(node.run('HSET', 'h', 'a', '1', 'b'), {
      error: "ERR wrong number of arguments for 'hset' command",
    });
    node.run('SET', 's', 'v');
    for (const words of [
      ['HSET', 's', 'a', '1'],
      ['HGET', 's', 'a'],
      ['HMGET', 's', 'a'],
      ['HLEN', 's'],
    ]) {
      assert.deepEqual(node.run(...words), { error: WRONGTYPE }, words.join(' '));
    }
  });

  test('HGETALL is a map in insertion order; HKEYS and HVALS are arrays', () => {
    const node = new Node();
    node.run('HSET', 'h', 'b', '2', 'a', '1');
    node.run('HSET', 'h', 'b', '20');
    assert.deepEqual(node.run('HGETALL', 'h'), {
      map: [
        ['b', '20'],
        ['a', '1'],
      ],
    });
    assert.deepEqual(node.run('HKEYS', 'h'), ['b', 'a']);
    assert.deepEqual(node.run('HVALS', 'h'), ['20', '1']);
    assert.deepEqual(node.run('HGETALL', 'missing'), { map: [] });
    assert.deepEqual(node.run('HKEYS', 'missing'), []);
  });

  test('a hash left empty is deleted, keeping nothing of its expiry', () => {
    const node = new Node();
    node.run('HSET', 'h', 'a', '1', 'b', '2');
    node.run('EXPIRE', 'h', '100');
    assert.equal(node.run('HDEL', 'h', 'a', 'zz'), 1);
    assert.equal(node.run('TTL', 'h'), 100);
    assert.equal(node.run('HDEL', 'h', 'b', 'a'), 1);
    assert.equal(node.store.has('h'), false);
    assert.equal(node.run('HDEL', 'h', 'b'), 0);
  });

  test('HINCRBY and HINCRBYFLOAT', () => {
    const node = new Node();
    assert.equal(node.run('HINCRBY', 'h', 'n', '5'), 5);
    assert.equal(node.run('HINCRBY', 'h', 'n', '-7'), -2);
    assert.deepEqual(node.run('HINCRBY', 'h', 'n', '1.5'), {
      error: 'ERR value is not an integer or out of range',
    });
    node.run('HSET', 'h', 'text', 'abc', 'big', '9223372036854775807');
    assert.deepEqual(node.run('HINCRBY', 'h', 'text', '1'), { error: 'ERR hash value is not an integer' });
    assert.deepEqual(node.run('HINCRBY', 'h', 'big', '1'), {
      error: 'ERR increment or decrement would overflow',
    });
    assert.equal(node.run('HINCRBYFLOAT', 'h', 'f', '10.5'), '10.5');
    assert.equal(node.run('HINCRBYFLOAT', 'h', 'f', '0.1'), '10.6');
    assert.equal(node.run('HINCRBYFLOAT', 'h', 'n', '2.5'), '0.5');
    assert.deepEqual(node.run('HINCRBYFLOAT', 'h', 'text', '1'), { error: 'ERR hash value is not a float' });
    assert.deepEqual(node.run('HINCRBYFLOAT', 'h', 'f', 'inf'), { error: 'ERR value is NaN or Infinity' });
    assert.deepEqual(node.run('HINCRBYFLOAT', 'h', 'f', 'x'), { error: 'ERR value is not a valid float' });
  });

  test('fields are binary', () => {
    const node = new Node();
    const field = Buffer.from([0x00, 0xff, 0x0d, 0x0a]);
    const value = Buffer.from([0x80, 0x00]);
    node.run('HSET', 'h', field, value);
    const reply = node.reply('HGETALL', 'h');
    assert.equal(reply.kind, 'map');
    const [entry] = reply.kind === 'map' ? reply.entries : [];
    assert.deepEqual(entry?.[0], { kind: 'bulk', value: field });
    assert.deepEqual(entry?.[1], { kind: 'bulk', value });
  });
});

describe('the command table', () => {
  test('lookup is case-insensitive; arity and unknown commands give Redis 7 texts', () => {
    assert.equal(lookupCommand(Buffer.from('gEt'))?.name, 'get');
    assert.equal(lookupCommand('nosuch'), undefined);
    assert.deepEqual(simplify(arityError('get')), {
      error: "ERR wrong number of arguments for 'get' command",
    });
    assert.deepEqual(new Node().run('GET'), { error: "ERR wrong number of arguments for 'get' command" });
    assert.deepEqual(simplify(unknownCommandError(['foo', 'a', 'b'].map((word) => Buffer.from(word)))), {
      error: "ERR unknown command 'foo', with args beginning with: 'a' 'b' ",
    });
    assert.deepEqual(simplify(unknownCommandError([Buffer.from('foo')])), {
      error: "ERR unknown command 'foo', with args beginning with: ",
    });
  });

  test('the unknown-command error cuts arguments at 128 bytes, at NUL bytes and turns line breaks into spaces', () => {
    const long = 'x'.repeat(200);
    const args = ['cmd', 'ab', long, 'more', 'n\u0000ul', 'a\r\nb'].map((word) =>
      Buffer.from(word, 'latin1'),
    );
    const message = (unknownCommandError(args) as { message: string }).message;
    assert.equal(message, `ERR unknown command 'cmd', with args beginning with: 'ab' '${'x'.repeat(123)}' `);
    const nul = unknownCommandError(
      ['c\u0000d', 'n\u0000ul', 'a\r\nb'].map((word) => Buffer.from(word, 'latin1')),
    );
    assert.deepEqual(simplify(nul), {
      error: "ERR unknown command 'c', with args beginning with: 'n' 'a  b' ",
    });
    const longName = unknownCommandError([Buffer.from('y'.repeat(300))]);
    assert.deepEqual(simplify(longName), {
      error: `ERR unknown command '${'y'.repeat(128)}', with args beginning with: `,
    });
  });

  test('subcommands resolve, and an unknown one names its container', () => {
    const setname = resolveCommand(['client', 'SETNAME', 'x'].map((word) => Buffer.from(word)));
    assert.equal('spec' in setname && setname.spec.name, 'client|setname');
    const missing = resolveCommand(['CLIENT', 'SETNAME'].map((word) => Buffer.from(word)));
    assert.deepEqual('error' in missing && simplify(missing.error), {
      error: "ERR wrong number of arguments for 'client|setname' command",
    });
    assert.deepEqual(simplify(unknownSubcommandError(['client', 'bogus'].map((word) => Buffer.from(word)))), {
      error: "ERR unknown subcommand 'bogus'. Try CLIENT HELP.",
    });
  });

  test('every data command has a handler and every command its documentation', () => {
    const node = new Node();
    for (const spec of COMMAND_SPECS) {
      assert.ok(spec.docs.summary.length > 0, spec.name);
      if (spec.kind !== 'data') continue;
      const args = [
        Buffer.from(spec.name),
        ...Array.from({ length: Math.abs(spec.arity) - 1 }, () => Buffer.from('1')),
      ];
      const reply = node.reply(...args);
      assert.ok(reply.kind !== 'error' || !reply.message.startsWith('ERR unknown command'), spec.name);
    }
  });

  test('keysOf follows the key specs of the served commands', () => {
    const keys = (...words: string[]): string[] => {
      const args = words.map((word) => Buffer.from(word, 'latin1'));
      const spec = lookupCommand(args[0] as Buffer);
      assert.ok(spec);
      return keysOf(spec, args);
    };
    assert.deepEqual(keys('GET', 'a'), ['a']);
    assert.deepEqual(keys('DEL', 'a', 'b', 'c'), ['a', 'b', 'c']);
    assert.deepEqual(keys('MSET', 'a', '1', 'b', '2'), ['a', 'b']);
    assert.deepEqual(keys('HSET', 'h', 'f', 'v'), ['h']);
    assert.deepEqual(keys('PING'), []);
    assert.deepEqual(keys('GET', '\u00ff\u0000'), ['\u00ff\u0000']);
  });

  test('keysOf finds the keys its specs and rules give, for every served command and any arguments', () => {
    // keysOf takes most commands' key positions from a shape worked out once per command; the
    // general walk over the specs and own rules (keyReferences) must give the same keys.
    const word = fc.oneof(
      fc.constantFrom('GET', 'get', 'STORE', 'STREAMS', 'LIMIT', 'WEIGHTS', 'KEYS', 'LEFT', 'OVERFLOW'),
      fc.constantFrom('0', '1', '2', '3', '-1', '1x', ' 2', '99999999999'),
      fc.string({ maxLength: 6 }),
    );
    const request = fc.constantFrom(...COMMAND_SPECS).chain((spec) => {
      const named = spec.name.split('|').length;
      const fixedCount = Math.abs(spec.arity) - named;
      return fc
        .array(
          word,
          spec.arity > 0
            ? { minLength: fixedCount, maxLength: fixedCount }
            : { minLength: Math.max(0, fixedCount), maxLength: fixedCount + 8 },
        )
        .map((rest) => ({
          spec,
          args: [...spec.name.split('|'), ...rest].map((text) => Buffer.from(text, 'latin1')),
        }));
    });
    fc.assert(
      fc.property(request, ({ spec, args }) => {
        const walked = (keyReferences(spec, args) ?? []).map(({ position }) =>
          (args[position] as Buffer).toString('latin1'),
        );
        assert.deepEqual(keysOf(spec, args), walked, `${spec.name} ${args.map(String).join(' ')}`);
      }),
      { numRuns: 5_000 },
    );
  });

  test('COMMAND replies in the shapes Redis 7 gives', () => {
    const command = (...words: string[]): Reply => commandReply(words.map((word) => Buffer.from(word)));
    assert.deepEqual(simplify(command('COMMAND', 'COUNT')), COMMAND_SPECS.length);
    const [get, missing] = simplify(command('COMMAND', 'INFO', 'get', 'nosuch')) as unknown[];
    assert.equal(missing, null);
    assert.deepEqual(get, [
      'get',
      2,
      [{ simple: 'readonly' }, { simple: 'fast' }],
      1,
      1,
      1,
      [{ simple: '@read' }, { simple: '@string' }, { simple: '@fast' }],
      [],
      [
        {
          map: [
            ['flags', [{ simple: 'RO' }, { simple: 'access' }]],
            [
              'begin_search',
              {
                map: [
                  ['type', 'index'],
                  ['spec', { map: [['index', 1]] }],
                ],
              },
            ],
            [
              'find_keys',
              {
                map: [
                  ['type', 'range'],
                  [
                    'spec',
                    {
                      map: [
                        ['lastkey', 0],
                        ['keystep', 1],
                        ['limit', 0],
                      ],
                    },
                  ],
                ],
              },
            ],
          ],
        },
      ],
      [],
    ]);
    const docs = simplify(command('COMMAND', 'DOCS', 'get', 'nosuch')) as {
      map: [string, { map: unknown[] }][];
    };
    assert.deepEqual(docs.map[0]?.[0], 'get');
    assert.deepEqual(docs.map[0]?.[1].map.slice(0, 3), [
      ['summary', 'Get the value of a key'],
      ['since', '1.0.0'],
      ['group', 'string'],
    ]);
    assert.equal((simplify(command('COMMAND')) as unknown[]).length, COMMAND_SPECS.length);
    const names = simplify(command('COMMAND', 'LIST')) as string[];
    assert.ok(
      names.includes('hgetall') && names.includes('client|setname') && names.includes('command|docs'),
    );
    assert.deepEqual(simplify(command('COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'HINCR*')), [
      'hincrby',
      'hincrbyfloat',
    ]);
    // Sorted by name (Redis's order is its hash table's).
    assert.deepEqual(simplify(command('COMMAND', 'LIST', 'FILTERBY', 'ACLCAT', 'hash')), [
      'hdel',
      'hexists',
      'hget',
      'hgetall',
      'hincrby',
      'hincrbyfloat',
      'hkeys',
      'hlen',
      'hmget',
      'hmset',
      'hrandfield',
      'hscan',
      'hset',
      'hsetnx',
      'hstrlen',
      'hvals',
    ]);
    assert.deepEqual(simplify(command('COMMAND', 'LIST', 'BOGUS')), { error: 'ERR syntax error' });
    assert.deepEqual(simplify(command('COMMAND', 'BOGUS')), {
      error: "ERR unknown subcommand 'BOGUS'. Try COMMAND HELP.",
    });
    assert.deepEqual(simplify(command('COMMAND', 'COUNT', 'x')), {
      error: "ERR wrong number of arguments for 'command|count' command",
    });
  });
});

describe('serving commands from the generated metadata', () => {
  const words = (...items: string[]): Buffer[] => items.map((item) => Buffer.from(item, 'latin1'));

  test('a registered handler is served with Redis 7.0 metadata, as a data command, with no table edit', () => {
    const table = createCommandTable(['get', 'lpush', 'object|encoding']);
    const lpush = table.lookup('LPUSH');
    assert.equal(lpush?.kind, 'data');
    assert.equal(lpush?.arity, -3);
    assert.deepEqual(lpush?.flags, ['write', 'denyoom', 'fast']);
    assert.equal(lpush?.docs.arguments?.[0]?.name, 'key');
    // A container lists only the subcommands that are served.
    const object = table.lookup('object');
    assert.deepEqual([...(object?.subcommands?.keys() ?? [])], ['encoding']);
    assert.equal(object?.subcommands?.get('encoding')?.kind, 'data');
    assert.deepEqual(simplify((table.resolve(words('OBJECT', 'FREQ', 'k')) as { error: Reply }).error), {
      error: "ERR unknown subcommand 'FREQ'. Try OBJECT HELP.",
    });
    // Not implemented: unknown, as on a Redis without it.
    assert.equal(table.lookup('rpush'), undefined);
    assert.deepEqual(
      simplify(commandReplyOver(table, words('COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'object*'))),
      ['object', 'object|encoding'],
    );
    assert.deepEqual(simplify(commandReplyOver(table, words('COMMAND', 'COUNT'))), table.specs.length);
  });

  test('the node serves its handlers and session commands, and nothing else', () => {
    const served = COMMAND_SPECS.flatMap((spec) => [spec, ...(spec.subcommands?.values() ?? [])]);
    for (const spec of served) {
      if (spec.subcommands !== null && !SESSION_COMMANDS.has(spec.name)) continue;
      assert.equal(spec.kind === 'data', DATA_COMMAND_NAMES.includes(spec.name), spec.name);
      assert.equal(spec.kind === 'session', SESSION_COMMANDS.has(spec.name), spec.name);
    }
    assert.equal(served.filter((spec) => spec.kind === 'data').length, DATA_COMMAND_NAMES.length);
    // Implemented nowhere here: not served.
    assert.equal(lookupCommand('zadd') === undefined, !DATA_COMMAND_NAMES.includes('zadd'));
  });

  test('a handler Redis does not know, or a command claimed twice, stops the table from being built', () => {
    assert.throws(
      () => createCommandTable(['nosuchcommand']),
      /nosuchcommand is served but has no Redis definition/,
    );
    assert.throws(() => createCommandTable(['ping']), /ping is both a data and a session command/);
    assert.throws(() => createCommandTable(['object']), /register object's subcommands/);
  });

  test('keys follow the key specs: index, range, keyword and a count of keys', () => {
    const table = createCommandTable([
      'lmpop',
      'zunionstore',
      'sintercard',
      'georadius',
      'memory|usage',
      'set',
      'mset',
    ]);
    const keys = (...items: string[]): string[] => {
      const args = words(...items);
      const resolution = table.resolve(args);
      assert.ok('spec' in resolution, items.join(' '));
      return keysOf(resolution.spec, args);
    };
    assert.deepEqual(keys('LMPOP', '2', 'a', 'b', 'LEFT'), ['a', 'b']);
    assert.deepEqual(keys('LMPOP', '3', 'a', 'b', 'LEFT'), ['a', 'b', 'LEFT']);
    assert.deepEqual(keys('LMPOP', '0', 'a', 'LEFT'), []);
    assert.deepEqual(keys('LMPOP', '9', 'a', 'LEFT'), []);
    // Where the strict count fails, Redis reads it with atoi (as LMPOP's own key rule does).
    assert.deepEqual(keys('LMPOP', '1x', 'a', 'LEFT'), ['a']);
    assert.deepEqual(keys('ZUNIONSTORE', 'dest', '2', 'a', 'b', 'WEIGHTS', '1', '2'), ['dest', 'a', 'b']);
    assert.deepEqual(keys('SINTERCARD', '2', 'a', 'b', 'LIMIT', '1'), ['a', 'b']);
    assert.deepEqual(keys('GEORADIUS', 'g', '0', '0', '1', 'km', 'STORE', 'dest'), ['g', 'dest']);
    assert.deepEqual(keys('GEORADIUS', 'g', '0', '0', '1', 'km'), ['g']);
    assert.deepEqual(keys('MEMORY', 'USAGE', 'k', 'SAMPLES', '5'), ['k']);
    assert.deepEqual(keys('MSET', 'a', '1', 'b', '2'), ['a', 'b']);
    const flags = (...items: string[]): readonly string[] | undefined => {
      const args = words(...items);
      const resolution = table.resolve(args);
      assert.ok('spec' in resolution);
      return keyReferences(resolution.spec, args)?.[0]?.flags;
    };
    assert.deepEqual(flags('SET', 'k', 'v'), ['OW', 'update']);
    assert.deepEqual(flags('SET', 'k', 'v', 'get'), ['RW', 'access', 'update']);
  });

  test('COMMAND GETKEYS and GETKEYSANDFLAGS answer for served commands only', () => {
    const command = (...items: string[]): unknown => simplify(commandReply(words(...items)));
    assert.deepEqual(command('COMMAND', 'GETKEYS', 'MSET', 'a', '1', 'b', '2'), ['a', 'b']);
    assert.deepEqual(command('COMMAND', 'GETKEYSANDFLAGS', 'GET', 'a'), [
      ['a', [{ simple: 'RO' }, { simple: 'access' }]],
    ]);
    assert.deepEqual(command('COMMAND', 'GETKEYS', 'PING', 'x'), {
      error: 'ERR The command has no key arguments',
    });
    assert.deepEqual(command('COMMAND', 'GETKEYS', 'NOSUCH', 'a'), {
      error: 'ERR Invalid command specified',
    });
    assert.deepEqual(command('COMMAND', 'GETKEYS', 'GET', 'a', 'b'), {
      error: 'ERR Invalid number of arguments specified for command',
    });
  });

  test("Borealis's own command has its subcommands and docs in Redis's shape", () => {
    const borealis = lookupCommand('borealis');
    assert.deepEqual([...(borealis?.subcommands?.keys() ?? [])], ['consistency', 'help', 'session']);
    const docs = simplify(commandReply(words('COMMAND', 'DOCS', 'borealis|consistency'))) as {
      map: [string, { map: [string, unknown][] }][];
    };
    const fields = new Map(docs.map[0]?.[1].map);
    assert.equal(fields.get('group'), 'connection');
    assert.ok(Array.isArray(fields.get('arguments')));
    assert.deepEqual(simplify((resolveCommand(words('BOREALIS', 'NOPE')) as { error: Reply }).error), {
      error: "ERR unknown subcommand 'NOPE'. Try BOREALIS HELP.",
    });
  });
});

describe('stored values', () => {
  test('the header bytes alone give the type and expiry', () => {
    const values: StoredValue[] = [
      { type: 'string', value: Buffer.alloc(100_000, 1), expireAtMs: null },
      { type: 'string', value: Buffer.alloc(0), expireAtMs: 1_700_000_000_123 },
      { type: 'hash', fields: new Map([['f', Buffer.from('v')]]), expireAtMs: null },
      { type: 'hash', fields: new Map([['f', Buffer.alloc(50_000)]]), expireAtMs: 42 },
    ];
    for (const value of values) {
      const header = decodeStoredHeader(encodeStoredValue(value).subarray(0, STORED_HEADER_BYTES_MAX));
      assert.deepEqual(header, { type: value.type, expireAtMs: value.expireAtMs });
    }
  });

  test('random values survive encode and decode', () => {
    const random = mulberry32(20261122);
    const bytes = (maxLength: number): Buffer =>
      Buffer.from(Array.from({ length: Math.floor(random() * maxLength) }, () => Math.floor(random() * 256)));
    const expiry = (): number | null =>
      random() < 0.5 ? null : Math.floor(random() * 2 ** 53) * (random() < 0.1 ? -1 : 1);
    for (let index = 0; index < 500; index++) {
      let value: StoredValue;
      if (random() < 0.5) {
        value = { type: 'string', value: bytes(random() < 0.1 ? 70_000 : 40), expireAtMs: expiry() };
      } else {
        const fields = new Map<string, Buffer>();
        const count = Math.floor(random() * (random() < 0.1 ? 300 : 6));
        for (let field = 0; field < count; field++) fields.set(bytes(20).toString('latin1'), bytes(200));
        value = { type: 'hash', fields, expireAtMs: expiry() };
      }
      const encoded = encodeStoredValue(value);
      const decoded = decodeStoredValue(encoded);
      assert.deepEqual(decoded, value);
      if (decoded.type === 'hash' && value.type === 'hash') {
        assert.deepEqual([...decoded.fields.keys()], [...value.fields.keys()], 'insertion order');
      }
      encoded.fill(0);
      assert.deepEqual(decoded, value, 'the decoded value owns its bytes');
    }
  });

  test('a string costs one header byte, or nine with an expiry', () => {
    assert.equal(
      encodeStoredValue({ type: 'string', value: Buffer.from('abc'), expireAtMs: null }).length,
      4,
    );
    assert.equal(
      encodeStoredValue({ type: 'string', value: Buffer.from('abc'), expireAtMs: START_MS }).length,
      12,
    );
  });

  test('corrupt bytes are refused with a clear error', () => {
    const hash = encodeStoredValue({
      type: 'hash',
      fields: new Map([['f', Buffer.from('v')]]),
      expireAtMs: START_MS,
    });
    const corrupt = (bytes: Uint8Array | number[], pattern: RegExp): void => {
      assert.throws(() => decodeStoredValue(Uint8Array.from(bytes)), pattern);
    };
    corrupt([], /truncated type tag/);
    corrupt([0x07], /unknown type tag 0x07/);
    corrupt([0x81, 1, 2], /truncated expiry/);
    corrupt(hash.subarray(0, hash.length - 1), /truncated field value/);
    corrupt([...hash, 0], /1 trailing bytes/);
    corrupt([0x02, 2, 1, 0x61, 0, 1, 0x61, 0], /duplicate hash field/);
    corrupt([0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], /field count is not a valid varint/);
    const fractional = Buffer.alloc(9);
    fractional[0] = 0x81;
    fractional.writeDoubleLE(1.5, 1);
    corrupt(fractional, /expiry is not an integer/);
  });

  test('isExpired counts the expiry millisecond as alive', () => {
    const value: StoredValue = { type: 'string', value: Buffer.alloc(0), expireAtMs: 1000 };
    assert.equal(isExpired(value, 1000), false);
    assert.equal(isExpired(value, 1001), true);
    assert.equal(isExpired({ ...value, expireAtMs: null }, Number.MAX_SAFE_INTEGER), false);
  });
});

describe('glob', () => {
  const cases: [string, string, boolean][] = [
    ['*', '', true],
    ['*', 'anything', true],
    ['', '', true],
    ['', 'a', false],
    ['a*', 'abc', true],
    ['a*', 'ba', false],
    ['*c', 'abc', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
    ['h?llo', 'hello', true],
    ['h?llo', 'hllo', false],
    ['h[ae]llo', 'hallo', true],
    ['h[ae]llo', 'hillo', false],
    ['h[^e]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-c]llo', 'hbllo', true],
    ['h[c-a]llo', 'hbllo', true],
    ['h[a-c]llo', 'hdllo', false],
    ['h\\*llo', 'h*llo', true],
    ['h\\*llo', 'hello', false],
    ['[\\]]', ']', true],
    ['[abc', 'b', true],
    ['[abc', 'bc', false],
    ['[', 'a', false],
    ['[^', 'a', true],
    ['a\\', 'a\\', true],
    ['*\u00ff', 'x\u00ff', true],
    ['[a-\u00ff]', 'b', false],
    ['[\u00ff-a]', '\u0000', true],
    ['**', '', false],
    ['a*', 'a', true],
    ['a**', 'a', true],
  ];
  for (const [pattern, subject, expected] of cases) {
    test(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(subject)}`, () => {
      assert.equal(globMatch(pattern, subject), expected);
    });
  }

  test('ignoreCase folds ASCII letters only', () => {
    assert.equal(globMatch('HGET*', 'hgetall', { ignoreCase: true }), true);
    assert.equal(globMatch('HGET*', 'hgetall'), false);
    assert.equal(globMatch('[A-C]', 'b', { ignoreCase: true }), true);
    assert.equal(globMatch('\u00c9', '\u00e9', { ignoreCase: true }), false);
  });

  test('patterns with many stars stay linear', () => {
    const started = performance.now();
    assert.equal(globMatch(`${'a*'.repeat(30)}b`, 'a'.repeat(10_000)), false);
    assert.ok(performance.now() - started < 1000);
  });
});
