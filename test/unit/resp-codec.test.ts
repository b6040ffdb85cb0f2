import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  array,
  bulk,
  encodeReplies,
  encodeReply,
  error,
  formatDouble,
  integer,
  NULL,
  OK,
  ParseError,
  type Reply,
  ReplyParser,
  type ReplyParserOptions,
  RequestParser,
  type RequestParserOptions,
  type RespVersion,
  simple,
} from '../../libs/resp/src/index.js';
import { mulberry32 } from '../support/prng.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261122);

function bytes(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

/** Requests as latin1 strings (one char per byte, so binary arguments compare exactly). */
interface Parsed {
  requests: string[][];
  error?: string;
}

/** Feeds `chunks` one at a time, draining the parser after each, as a socket handler would. */
function parseRequests(chunks: Buffer[], options?: RequestParserOptions): Parsed {
  const parser = new RequestParser(options);
  const parsed: Parsed = { requests: [] };
  for (const chunk of chunks) {
    parser.push(chunk);
    for (let request = parser.next(); request !== null; request = parser.next()) {
      if (request instanceof ParseError) {
        parsed.error = request.message;
        return parsed;
      }
      parsed.requests.push(request.map((arg) => arg.toString('latin1')));
    }
  }
  return parsed;
}

function parseRequestText(text: string, options?: RequestParserOptions): Parsed {
  return parseRequests([bytes(text)], options);
}

function multibulk(args: Buffer[]): Buffer {
  const parts: Buffer[] = [bytes(`*${args.length}\r\n`)];
  for (const arg of args) parts.push(bytes(`$${arg.length}\r\n`), arg, bytes('\r\n'));
  return Buffer.concat(parts);
}

/** An inline line that quotes every argument, escaping whatever is not plain printable ASCII. */
function inline(args: Buffer[]): Buffer {
  const quoted = args.map((arg) => {
    let text = '"';
    for (const byte of arg) {
      const plain = byte >= 0x20 && byte <= 0x7e && byte !== 0x22 && byte !== 0x5c;
      text += plain ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
    }
    return `${text}"`;
  });
  return bytes(`${quoted.join(' ')}\r\n`);
}

function splitEverywhere(input: Buffer): Buffer[][] {
  const splits: Buffer[][] = [];
  for (let at = 0; at <= input.length; at++) splits.push([input.subarray(0, at), input.subarray(at)]);
  splits.push([...input].map((byte) => Buffer.from([byte])));
  return splits;
}

function randomChunks(input: Buffer, random: () => number, maxChunk: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < input.length; ) {
    const size = 1 + Math.floor(random() * maxChunk);
    chunks.push(input.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

function randomBytes(random: () => number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let index = 0; index < length; index++) out[index] = Math.floor(random() * 256);
  return out;
}

function parseReplies(chunks: Buffer[], options?: ReplyParserOptions): (Reply | ParseError)[] {
  const parser = new ReplyParser(options);
  const replies: (Reply | ParseError)[] = [];
  for (const chunk of chunks) {
    parser.push(chunk);
    for (let reply = parser.next(); reply !== null; reply = parser.next()) {
      replies.push(reply);
      if (reply instanceof ParseError) return replies;
    }
  }
  return replies;
}

/** A comparable form of a reply: bytes as hex, integers as decimal text, doubles as Redis's text. */
function canonical(reply: Reply | ParseError): unknown {
  if (reply instanceof ParseError) return { parseError: reply.message };
  switch (reply.kind) {
    case 'bulk':
      return { bulk: Buffer.from(reply.value).toString('hex') };
    case 'integer':
      return { integer: BigInt(reply.value).toString() };
    case 'double':
      return { double: formatDouble(reply.value) };
    case 'array':
    case 'set':
      return { [reply.kind]: reply.items.map(canonical) };
    case 'map':
      return { map: reply.entries.map(([key, value]) => [canonical(key), canonical(value)]) };
    default:
      return reply;
  }
}

/** What a reply becomes after encoding in `protocol` and parsing back. */
function asReceived(reply: Reply, protocol: RespVersion): Reply {
  switch (reply.kind) {
    case 'integer': {
      const value = BigInt(reply.value);
      const fits = value >= -(2n ** 63n) && value < 2n ** 63n;
      return fits || protocol === 3 ? reply : bulk(value.toString());
    }
    case 'nullArray':
      return protocol === 3 ? NULL : reply;
    case 'array':
      return array(reply.items.map((item) => asReceived(item, protocol)));
    case 'set': {
      const items = reply.items.map((item) => asReceived(item, protocol));
      return protocol === 3 ? { kind: 'set', items } : array(items);
    }
    case 'map': {
      const entries = reply.entries.map(
        ([key, value]) => [asReceived(key, protocol), asReceived(value, protocol)] as [Reply, Reply],
      );
      return protocol === 3 ? { kind: 'map', entries } : array(entries.flat());
    }
    case 'pairs': {
      const pairs = reply.entries.map(([first, second]) => [
        asReceived(first, protocol),
        asReceived(second, protocol),
      ]);
      return protocol === 3 ? array(pairs.map((pair) => array(pair))) : array(pairs.flat());
    }
    case 'double':
      return protocol === 3 ? reply : bulk(formatDouble(reply.value));
    case 'verbatim':
      return protocol === 3 ? reply : bulk(reply.value);
    default:
      return reply;
  }
}

const SPECIAL_DOUBLES = [
  0,
  -0,
  1.5,
  -2.25,
  0.1,
  1e21,
  1e-7,
  3,
  Infinity,
  -Infinity,
  Number.NaN,
  2 ** 70,
  5e-324,
];

function randomReply(random: () => number, depth: number): Reply {
  const pick = Math.floor(random() * (depth >= 4 ? 9 : 14));
  const text = () => randomBytes(random, Math.floor(random() * 12)).toString('base64');
  switch (pick) {
    case 0:
      return simple(text());
    case 1:
      return error(`ERR ${text()}`);
    case 2:
      return integer(Math.floor((random() - 0.5) * 2 ** 40));
    case 3: {
      const big = BigInt(Math.floor(random() * 2 ** 53)) * BigInt(Math.floor(random() * 2 ** 20));
      return integer(random() < 0.5 ? big : -big);
    }
    case 4:
      return bulk(random() < 0.5 ? randomBytes(random, Math.floor(random() * 40)) : `text ✓ ${text()}`);
    case 5:
      return random() < 0.5 ? NULL : { kind: 'nullArray' };
    case 6:
      return {
        kind: 'double',
        value:
          random() < 0.3
            ? (SPECIAL_DOUBLES[Math.floor(random() * SPECIAL_DOUBLES.length)] as number)
            : (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20),
      };
    case 7:
      return {
        kind: 'verbatim',
        format: random() < 0.5 ? 'txt' : 'mkd',
        value: `line one\r\nline ✓ ${text()}`,
      };
    case 8:
      return bulk('');
    case 9:
    case 10:
      return array(Array.from({ length: Math.floor(random() * 5) }, () => randomReply(random, depth + 1)));
    case 11:
      return {
        kind: 'map',
        entries: Array.from(
          { length: Math.floor(random() * 4) },
          () => [randomReply(random, depth + 1), randomReply(random, depth + 1)] as [Reply, Reply],
        ),
      };
    case 13:
      return {
        kind: 'pairs',
        entries: Array.from(
          { length: Math.floor(random() * 4) },
          () => [bulk(text()), { kind: 'double', value: random() * 100 }] as [Reply, Reply],
        ),
      };
    default:
      return {
        kind: 'set',
        items: Array.from({ length: Math.floor(random() * 4) }, () => randomReply(random, 4)),
      };
  }
}

describe('reply encoder', () => {
  it('writes byte bulk strings of any length, and OK, as the general encoder does', () => {
    // A bulk of bytes and the shared OK take a direct way (encodeBulkBytes, OK_BYTES).
    for (const length of [0, 1, 9, 10, 99, 100, 101, 999, 1000, 12_345, 1_048_577]) {
      const value = Buffer.alloc(length, 0x61 + (length % 26));
      const expected = Buffer.concat([Buffer.from(`$${length}\r\n`), value, Buffer.from('\r\n')]);
      for (const protocol of [2, 3] as const) {
        assert.deepEqual(encodeReply(bulk(value), protocol), expected, `${length} bytes`);
        assert.deepEqual(
          encodeReplies([bulk(value), OK], protocol),
          Buffer.concat([expected, Buffer.from('+OK\r\n')]),
        );
      }
    }
    assert.deepEqual(encodeReply(OK, 2), encodeReply(simple('OK'), 3));
    assert.equal(encodeReply(OK, 3).toString(), '+OK\r\n');
  });

  const cases: [string, Reply, string, string][] = [
    ['simple', OK, '+OK\r\n', '+OK\r\n'],
    ['simple with line breaks', simple('a\r\nb\nc'), '+a  b c\r\n', '+a  b c\r\n'],
    ['error', error('ERR wrong\r\nthing'), '-ERR wrong  thing\r\n', '-ERR wrong  thing\r\n'],
    ['integer', integer(-42), ':-42\r\n', ':-42\r\n'],
    [
      'pairs',
      { kind: 'pairs', entries: [[bulk('a'), { kind: 'double', value: 1.5 }]] },
      '*2\r\n$1\r\na\r\n$3\r\n1.5\r\n',
      '*1\r\n*2\r\n$1\r\na\r\n,1.5\r\n',
    ],
    ['integer beyond 2^53', integer(2 ** 60), ':1152921504606846976\r\n', ':1152921504606846976\r\n'],
    ['bigint', integer(-(2n ** 63n)), ':-9223372036854775808\r\n', ':-9223372036854775808\r\n'],
    [
      'bigint beyond 64 bits',
      integer(2n ** 63n),
      '$19\r\n9223372036854775808\r\n',
      '(9223372036854775808\r\n',
    ],
    ['bulk string', bulk('hello'), '$5\r\nhello\r\n', '$5\r\nhello\r\n'],
    [
      'bulk UTF-8 string',
      bulk('é✓'),
      '$5\r\n\u00c3\u00a9\u00e2\u009c\u0093\r\n',
      '$5\r\n\u00c3\u00a9\u00e2\u009c\u0093\r\n',
    ],
    [
      'bulk bytes',
      bulk(Buffer.from([0, 255, 13, 10])),
      '$4\r\n\u0000\u00ff\r\n\r\n',
      '$4\r\n\u0000\u00ff\r\n\r\n',
    ],
    ['empty bulk', bulk(''), '$0\r\n\r\n', '$0\r\n\r\n'],
    ['null', NULL, '$-1\r\n', '_\r\n'],
    ['null array', { kind: 'nullArray' }, '*-1\r\n', '_\r\n'],
    ['empty array', array([]), '*0\r\n', '*0\r\n'],
    [
      'array',
      array([integer(1), bulk('a'), NULL, array([OK])]),
      '*4\r\n:1\r\n$1\r\na\r\n$-1\r\n*1\r\n+OK\r\n',
      '*4\r\n:1\r\n$1\r\na\r\n_\r\n*1\r\n+OK\r\n',
    ],
    [
      'map',
      {
        kind: 'map',
        entries: [
          [simple('first'), integer(1)],
          [bulk('second'), { kind: 'double', value: 2.5 }],
        ],
      },
      '*4\r\n+first\r\n:1\r\n$6\r\nsecond\r\n$3\r\n2.5\r\n',
      '%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n,2.5\r\n',
    ],
    ['empty map', { kind: 'map', entries: [] }, '*0\r\n', '%0\r\n'],
    [
      'set',
      { kind: 'set', items: [bulk('x'), integer(7)] },
      '*2\r\n$1\r\nx\r\n:7\r\n',
      '~2\r\n$1\r\nx\r\n:7\r\n',
    ],
    ['double', { kind: 'double', value: 1.5 }, '$3\r\n1.5\r\n', ',1.5\r\n'],
    ['double, shortest digits', { kind: 'double', value: 0.1 }, '$3\r\n0.1\r\n', ',0.1\r\n'],
    ['integral double', { kind: 'double', value: 3 }, '$1\r\n3\r\n', ',3\r\n'],
    ['inf', { kind: 'double', value: Infinity }, '$3\r\ninf\r\n', ',inf\r\n'],
    ['-inf', { kind: 'double', value: -Infinity }, '$4\r\n-inf\r\n', ',-inf\r\n'],
    ['nan', { kind: 'double', value: Number.NaN }, '$3\r\nnan\r\n', ',nan\r\n'],
    ['negative zero', { kind: 'double', value: -0 }, '$2\r\n-0\r\n', ',-0\r\n'],
    ['large double', { kind: 'double', value: 1e21 }, '$5\r\n1e+21\r\n', ',1e+21\r\n'],
    ['small double', { kind: 'double', value: -1.25e-7 }, '$8\r\n-1.25e-7\r\n', ',-1.25e-7\r\n'],
    [
      'double up to 2^62 in full',
      { kind: 'double', value: 2 ** 62 },
      '$19\r\n4611686018427387904\r\n',
      ',4611686018427387904\r\n',
    ],
    ['decimal double', { kind: 'double', value: 0.000123 }, '$8\r\n0.000123\r\n', ',0.000123\r\n'],
    [
      'verbatim',
      { kind: 'verbatim', format: 'txt', value: 'Some string' },
      '$11\r\nSome string\r\n',
      '=15\r\ntxt:Some string\r\n',
    ],
  ];

  for (const [name, reply, resp2, resp3] of cases) {
    it(`encodes ${name}`, () => {
      assert.equal(encodeReply(reply, 2).toString('latin1'), resp2, 'RESP2');
      assert.equal(encodeReply(reply, 3).toString('latin1'), resp3, 'RESP3');
    });
  }

  it('encodes many replies into the concatenation of their encodings', () => {
    const replies = cases.map(([, reply]) => reply);
    for (const protocol of [2, 3] as const) {
      const expected = Buffer.concat(replies.map((reply) => encodeReply(reply, protocol)));
      assert.deepEqual(encodeReplies(replies, protocol), expected);
    }
    assert.equal(encodeReplies([], 3).length, 0);
  });

  it('refuses replies no protocol can carry', () => {
    assert.throws(() => encodeReply(integer(1.5), 3), RangeError);
    assert.throws(() => encodeReply(integer(Number.NaN), 2), RangeError);
    assert.throws(() => encodeReply({ kind: 'verbatim', format: 'markdown', value: 'x' }, 3), RangeError);
  });
});

describe('request parser', () => {
  it('reads multibulk requests with binary arguments', () => {
    const args = [bytes('SET'), bytes('key'), Buffer.from([0, 13, 10, 255, 42]), Buffer.alloc(0)];
    assert.deepEqual(parseRequests([multibulk(args)]).requests, [args.map((arg) => arg.toString('latin1'))]);
  });

  it('splits inline requests as Redis does', () => {
    const cases: [string, string[]][] = [
      ['PING\r\n', ['PING']],
      ['PING\n', ['PING']],
      ['  SET   key\tvalue  \r\n', ['SET', 'key', 'value']],
      ['SET k "hello world"\r\n', ['SET', 'k', 'hello world']],
      ['SET k ""\r\n', ['SET', 'k', '']],
      ['ECHO "\\n\\r\\t\\b\\a\\\\\\"\\q"\r\n', ['ECHO', '\n\r\t\b\u0007\\"q']],
      ['ECHO "\\x41\\xfF\\x00\\xZZ\\x4"\r\n', ['ECHO', 'A\u00ff\u0000xZZx4']],
      ["ECHO 'it\\'s \\n \"raw\"'\r\n", ['ECHO', 'it\'s \\n "raw"']],
      ['ECHO foo"bar baz" \'x\'\r\n', ['ECHO', 'foobar baz', 'x']],
      ['ECHO a\u000bb \u000cc\r\n', ['ECHO', 'a\u000bb', 'c']],
      ['ECHO "a"\u000b\r\n', ['ECHO', 'a']],
      ['ECHO a\rb\r\n', ['ECHO', 'a', 'b']],
      ['ECHO \u00e9\u00ff\r\n', ['ECHO', '\u00e9\u00ff']],
    ];
    for (const [line, args] of cases) {
      assert.deepEqual(parseRequestText(line), { requests: [args] }, JSON.stringify(line));
    }
  });

  it('refuses unbalanced quotes, including a closing quote followed by more', () => {
    for (const line of [
      'SET "a\r\n',
      "SET 'a\r\n",
      'SET "a"b\r\n',
      "SET 'a'b\r\n",
      'SET "a\\"\r\n',
      'SET a"b"c\r\n',
    ]) {
      assert.deepEqual(
        parseRequestText(line),
        { requests: [], error: 'ERR Protocol error: unbalanced quotes in request' },
        JSON.stringify(line),
      );
    }
  });

  it('skips empty lines, *0 and negative counts', () => {
    assert.deepEqual(parseRequestText('\r\n\n   \r\n*0\r\n*-1\r\n*-5\r\nPING\r\n').requests, [['PING']]);
  });

  it('reads a pipeline of multibulk and inline requests', () => {
    const input = Buffer.concat([
      multibulk([bytes('SET'), bytes('a'), bytes('1')]),
      bytes('GET a\r\n'),
      multibulk([bytes('PING')]),
      bytes('ECHO "x y"\n'),
    ]);
    assert.deepEqual(parseRequests([input]).requests, [
      ['SET', 'a', '1'],
      ['GET', 'a'],
      ['PING'],
      ['ECHO', 'x y'],
    ]);
  });

  it('skips unchecked, as Redis does, the byte after a count line’s \\r and two after bulk data', () => {
    assert.deepEqual(parseRequestText('*2\rX$1\rYa\r\n$1\r\nbZZ').requests, [['a', 'b']]);
  });

  it('gives the same requests however the input is split', () => {
    const input = Buffer.concat([
      multibulk([bytes('SET'), bytes('key'), Buffer.from([0, 13, 10, 36, 42, 255])]),
      bytes('\r\n'),
      bytes("ECHO \"a\\x41\\n\" 'b\\'c' plain\r\n"),
      bytes('*0\r\n'),
      multibulk([bytes('')]),
      bytes('PING\n'),
      multibulk([bytes('x'.repeat(40))]),
    ]);
    const whole = parseRequests([input]);
    assert.equal(whole.requests.length, 5);
    for (const chunks of splitEverywhere(input)) assert.deepEqual(parseRequests(chunks), whole);
  });

  it('gives the same requests and error however a malformed input is split', () => {
    const inputs = [
      'PING\r\n*2\r\n$1\r\na\r\n:1\r\n',
      'PING\r\nSET "a\r\n',
      '*1\r\n$4\r\nPING\r\n*x\r\n',
      '*1\r\n$4\r\nPING\r\n*1\r\n$-1\r\n',
    ];
    for (const text of inputs) {
      const input = bytes(text);
      const whole = parseRequests([input]);
      assert.equal(whole.requests.length, 1, text);
      assert.ok(whole.error, text);
      for (const chunks of splitEverywhere(input)) assert.deepEqual(parseRequests(chunks), whole, text);
    }
  });

  it('round-trips random pipelines in random chunks', () => {
    const random = mulberry32(SEED);
    for (let round = 0; round < 40; round++) {
      const requests: Buffer[][] = [];
      const encoded: Buffer[] = [];
      for (let count = Math.floor(random() * 60); count > 0; count--) {
        const args = Array.from({ length: 1 + Math.floor(random() * 5) }, () =>
          randomBytes(random, random() < 0.05 ? 5_000 : Math.floor(random() * 30)),
        );
        requests.push(args);
        encoded.push(random() < 0.3 ? inline(args) : multibulk(args));
      }
      const input = Buffer.concat(encoded);
      const expected = requests.map((args) => args.map((arg) => arg.toString('latin1')));
      const parsed = parseRequests(randomChunks(input, random, random() < 0.5 ? 7 : 2_000));
      assert.deepEqual(parsed, { requests: expected }, `seed ${SEED}, round ${round}`);
    }
  });

  describe('bounds and errors, with Redis’s texts', () => {
    const cases: [string, string | Buffer, RequestParserOptions, string | null][] = [
      ['multibulk count over argsMax', '*4\r\n', { argsMax: 3 }, 'invalid multibulk length'],
      ['multibulk count at argsMax', '*3\r\n', { argsMax: 3 }, null],
      ['multibulk count over the default argsMax', '*1048577\r\n', {}, 'invalid multibulk length'],
      ['multibulk count at the default argsMax', '*1048576\r\n', {}, null],
      ['multibulk count over INT_MAX', '*2147483648\r\n', { argsMax: 2 ** 40 }, 'invalid multibulk length'],
      ['multibulk count not a number', '*x\r\n', {}, 'invalid multibulk length'],
      ['multibulk count with a leading zero', '*01\r\n', {}, 'invalid multibulk length'],
      ['multibulk count with a plus', '*+1\r\n', {}, 'invalid multibulk length'],
      ['multibulk count of 21 characters', `*-${'1'.repeat(20)}\r\n`, {}, 'invalid multibulk length'],
      ['negative count below 64 bits', '*-9223372036854775809\r\n', {}, 'invalid multibulk length'],
      ['bulk length over bulkBytesMax', '*1\r\n$11\r\n', { bulkBytesMax: 10 }, 'invalid bulk length'],
      ['bulk length at bulkBytesMax', '*1\r\n$10\r\n', { bulkBytesMax: 10 }, null],
      ['bulk length over the default bulkBytesMax', '*1\r\n$67108865\r\n', {}, 'invalid bulk length'],
      ['bulk length at the default bulkBytesMax', '*1\r\n$67108864\r\n', {}, null],
      ['negative bulk length', '*1\r\n$-1\r\n', {}, 'invalid bulk length'],
      ['bulk length -0', '*1\r\n$-0\r\n', {}, 'invalid bulk length'],
      ['bulk length empty', '*1\r\n$\r\n', {}, 'invalid bulk length'],
      ['integer instead of bulk', '*3\r\n:1\r\n', {}, "expected '$', got ':'"],
      ['empty bulk header line', '*1\r\n\r\n\r\n', {}, "expected '$', got ' '"],
      ['bulk header starting with \\n', '*1\r\n\n\r\n', {}, "expected '$', got ' '"],
      ['bulk header starting with a high byte', '*1\r\n\u00ff\r\n', {}, "expected '$', got '\u00ff'"],
      [
        'inline line over inlineBytesMax',
        `${'a'.repeat(11)}\r\n`,
        { inlineBytesMax: 10 },
        'too big inline request',
      ],
      ['inline line at inlineBytesMax', `${'a'.repeat(10)}\n`, { inlineBytesMax: 10 }, null],
      [
        'unterminated line over inlineBytesMax',
        'a'.repeat(11),
        { inlineBytesMax: 10 },
        'too big inline request',
      ],
      ['inline line over 64 KiB', 'a'.repeat(64 * 1024 + 1), {}, 'too big inline request'],
      ['inline line of 64 KiB', `${'a'.repeat(64 * 1024)}\n`, {}, null],
      ['count line over 64 KiB', `*${'1'.repeat(64 * 1024)}`, {}, 'too big mbulk count string'],
      ['count line of 64 KiB', `*${'1'.repeat(64 * 1024 - 1)}`, {}, null],
      ['count line over countLineBytesMax', '*12345', { countLineBytesMax: 5 }, 'too big mbulk count string'],
      ['bulk count line over 64 KiB', `*1\r\n$${'1'.repeat(64 * 1024)}`, {}, 'too big bulk count string'],
      ['NUL in a count line: waits', '*1\u0000\r\nxyz', {}, null],
      [
        'NUL in a count line: too big',
        `*1\u0000\r\n${'x'.repeat(64 * 1024)}`,
        {},
        'too big mbulk count string',
      ],
      [
        'NUL in a bulk count line',
        `*1\r\n$1\u0000\r\n${'x'.repeat(64 * 1024)}`,
        {},
        'too big bulk count string',
      ],
      ['NUL in an inline line', `ab\u0000c\r\n${'x'.repeat(64 * 1024)}`, {}, 'too big inline request'],
    ];
    for (const [name, input, options, reason] of cases) {
      it(name, () => {
        const chunk = typeof input === 'string' ? bytes(input) : input;
        const expected = reason === null ? undefined : `ERR Protocol error: ${reason}`;
        assert.equal(parseRequests([chunk], options).error, expected);
        if (chunk.length < 100) {
          for (const chunks of splitEverywhere(chunk))
            assert.equal(parseRequests(chunks, options).error, expected);
        }
      });
    }
  });

  it('keeps answering its error and ignores input after it', () => {
    const parser = new RequestParser();
    parser.push(bytes('*x\r\n'));
    const first = parser.next();
    assert.ok(first instanceof ParseError);
    parser.push(bytes('PING\r\n'));
    assert.equal(parser.next(), first);
    assert.equal(parser.next(), first);
  });

  it('returns arguments as views of the pushed chunk, without copies', () => {
    const chunk = multibulk([bytes('GET'), bytes('key')]);
    const parser = new RequestParser();
    parser.push(chunk);
    const request = parser.next() as Buffer[];
    chunk[chunk.length - 4] = 0x4b;
    assert.equal(request[1]?.toString(), 'kKy');
  });

  it('reads a long pipeline in linear time', () => {
    const command = multibulk([bytes('SET'), bytes('key:000000'), bytes('value')]);
    const input = Buffer.concat(Array.from({ length: 200_000 }, () => command));
    const startedAt = performance.now();
    const parser = new RequestParser();
    parser.push(input);
    let count = 0;
    const drain = () => {
      for (let request = parser.next(); request !== null; request = parser.next()) {
        assert.ok(Array.isArray(request));
        count++;
      }
    };
    drain();
    for (const chunk of randomChunks(input, mulberry32(SEED), 1_500)) {
      parser.push(chunk);
      drain();
    }
    assert.equal(count, 400_000);
    assert.ok(performance.now() - startedAt < 5_000, `took ${performance.now() - startedAt} ms`);
  });

  it('reads a large bulk and a long inline line arriving in tiny chunks in linear time', () => {
    const value = randomBytes(mulberry32(SEED), 4 * 1024 * 1024);
    const input = Buffer.concat([
      multibulk([bytes('SET'), bytes('k'), value]),
      bytes(`${'x'.repeat(60_000)}\r\n`),
    ]);
    const startedAt = performance.now();
    const parser = new RequestParser();
    const requests: Buffer[][] = [];
    for (let at = 0; at < input.length; at += 16) {
      parser.push(input.subarray(at, at + 16));
      for (let request = parser.next(); request !== null; request = parser.next()) {
        assert.ok(Array.isArray(request));
        requests.push(request);
      }
    }
    assert.equal(requests.length, 2);
    assert.deepEqual(requests[0]?.[2], value);
    assert.equal(requests[1]?.[0]?.length, 60_000);
    assert.ok(performance.now() - startedAt < 5_000, `took ${performance.now() - startedAt} ms`);
  });
});

describe('reply parser', () => {
  const cases: [string, string, Reply][] = [
    ['simple', '+OK\r\n', OK],
    ['error', '-ERR unknown command\r\n', error('ERR unknown command')],
    ['integer', ':-12\r\n', integer(-12)],
    ['64-bit integer', ':9223372036854775807\r\n', integer(2n ** 63n - 1n)],
    ['bulk', '$5\r\nhe\r\no\r\n', bulk(Buffer.from('he\r\no'))],
    ['empty bulk', '$0\r\n\r\n', bulk(Buffer.alloc(0))],
    ['RESP2 null bulk', '$-1\r\n', NULL],
    ['RESP2 null array', '*-1\r\n', { kind: 'nullArray' }],
    ['RESP3 null', '_\r\n', NULL],
    ['double', ',-1.5e3\r\n', { kind: 'double', value: -1500 }],
    ['double inf', ',inf\r\n', { kind: 'double', value: Infinity }],
    ['double -inf', ',-inf\r\n', { kind: 'double', value: -Infinity }],
    ['boolean true', '#t\r\n', integer(1)],
    ['boolean false', '#f\r\n', integer(0)],
    ['blob error', '!21\r\nSYNTAX invalid syntax\r\n', error('SYNTAX invalid syntax')],
    ['verbatim', '=15\r\ntxt:Some string\r\n', { kind: 'verbatim', format: 'txt', value: 'Some string' }],
    [
      'big number',
      '(3492890328409238509324850943850943825024385\r\n',
      integer(3492890328409238509324850943850943825024385n),
    ],
    ['array', '*2\r\n:1\r\n*1\r\n+a\r\n', array([integer(1), array([simple('a')])])],
    ['empty array', '*0\r\n', array([])],
    ['map', '%1\r\n+k\r\n:1\r\n', { kind: 'map', entries: [[simple('k'), integer(1)]] }],
    ['set', '~2\r\n+a\r\n+b\r\n', { kind: 'set', items: [simple('a'), simple('b')] }],
    ['push', '>2\r\n+message\r\n$2\r\nhi\r\n', array([simple('message'), bulk(Buffer.from('hi'))])],
    ['attribute before a reply', '|1\r\n+ttl\r\n:3600\r\n:5\r\n', integer(5)],
    [
      'attribute inside an array',
      '*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n|0\r\n:2\r\n',
      array([integer(1), integer(2)]),
    ],
  ];
  for (const [name, text, reply] of cases) {
    it(`reads ${name}, however split`, () => {
      for (const chunks of splitEverywhere(bytes(text))) {
        assert.deepEqual(parseReplies(chunks).map(canonical), [canonical(reply)], name);
      }
    });
  }

  it('reads nan as NaN', () => {
    const [reply] = parseReplies([bytes(',nan\r\n')]);
    assert.ok(reply !== undefined && !(reply instanceof ParseError) && reply.kind === 'double');
    assert.ok(Number.isNaN(reply.value));
  });

  const malformed: [string, string, ReplyParserOptions][] = [
    ['unknown type byte', '?1\r\n', {}],
    ['line without CR', '+OK\n', {}],
    ['integer not a number', ':12a\r\n', {}],
    ['empty integer', ':\r\n', {}],
    ['boolean not t or f', '#x\r\n', {}],
    ['null with content', '_x\r\n', {}],
    ['double not a number', ',1.5.2\r\n', {}],
    ['bulk length negative', '$-2\r\n', {}],
    ['bulk length not a number', '$x\r\n', {}],
    ['bulk length with a leading zero', '$01\r\nx\r\n', {}],
    ['bulk data without CRLF', '$3\r\nfooXY', {}],
    ['aggregate length negative', '%-1\r\n', {}],
    ['verbatim without a format', '=3\r\ntxt\r\n', {}],
    ['line over lineBytesMax', '+0123456789\r\n', { lineBytesMax: 8 }],
    ['unterminated line over lineBytesMax', '+0123456789', { lineBytesMax: 8 }],
    ['bulk over bulkBytesMax', '$11\r\n', { bulkBytesMax: 10 }],
    ['aggregate over aggregateLengthMax', '*11\r\n', { aggregateLengthMax: 10 }],
    ['aggregates nested too deep', '*1\r\n*1\r\n*1\r\n:1\r\n', { depthMax: 2 }],
  ];
  for (const [name, text, options] of malformed) {
    it(`answers ${name} with a ParseError, however split`, () => {
      for (const chunks of splitEverywhere(bytes(text))) {
        const replies = parseReplies(chunks, options);
        assert.equal(replies.length, 1, name);
        assert.ok(replies[0] instanceof ParseError, name);
        assert.match(replies[0].message, /^Protocol error: /);
      }
    });
  }

  it('never throws on random or corrupted input', () => {
    const random = mulberry32(SEED);
    for (let round = 0; round < 2_000; round++) {
      let input: Buffer;
      if (round % 2 === 0) {
        input = randomBytes(random, Math.floor(random() * 64));
      } else {
        input = Buffer.from(encodeReply(randomReply(random, 0), random() < 0.5 ? 2 : 3));
        for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) {
          input[Math.floor(random() * input.length)] = Math.floor(random() * 256);
        }
      }
      const parser = new ReplyParser({
        lineBytesMax: 1_024,
        bulkBytesMax: 1_024,
        aggregateLengthMax: 64,
        depthMax: 8,
      });
      for (const chunk of randomChunks(input, random, 9)) {
        parser.push(chunk);
        for (let reply = parser.next(); reply !== null; reply = parser.next()) {
          if (reply instanceof ParseError) break;
        }
      }
    }
  });

  it('reads a large bulk arriving in tiny chunks in linear time', () => {
    const value = randomBytes(mulberry32(SEED), 4 * 1024 * 1024);
    const input = encodeReply(array([bulk(value), OK]), 3);
    const startedAt = performance.now();
    const parser = new ReplyParser();
    const replies: (Reply | ParseError)[] = [];
    for (let at = 0; at < input.length; at += 16) {
      parser.push(input.subarray(at, at + 16));
      for (let reply = parser.next(); reply !== null; reply = parser.next()) replies.push(reply);
    }
    assert.deepEqual(replies.map(canonical), [canonical(array([bulk(value), OK]))]);
    assert.ok(performance.now() - startedAt < 5_000, `took ${performance.now() - startedAt} ms`);
  });
});

describe('encoder and reply parser together', () => {
  for (const protocol of [2, 3] as const) {
    it(`round-trip random nested replies in RESP${protocol}`, () => {
      const random = mulberry32(SEED + protocol);
      for (let round = 0; round < 200; round++) {
        const replies = Array.from({ length: 1 + Math.floor(random() * 8) }, () => randomReply(random, 0));
        const input = encodeReplies(replies, protocol);
        const parsed = parseReplies(randomChunks(input, random, random() < 0.5 ? 5 : 500));
        assert.deepEqual(
          parsed.map(canonical),
          replies.map((reply) => canonical(asReceived(reply, protocol))),
          `seed ${SEED}, round ${round}`,
        );
      }
    });
  }

  it('round-trips doubles exactly through their text', () => {
    const random = mulberry32(SEED);
    const values = [
      ...SPECIAL_DOUBLES,
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      2 ** 62 + 2048,
      -(2 ** 63),
      123456.789e-12,
    ];
    for (let count = 0; count < 5_000; count++) {
      values.push((random() - 0.5) * 10 ** Math.floor(random() * 600 - 300));
    }
    for (const value of values) {
      const [reply] = parseReplies([encodeReply({ kind: 'double', value }, 3)]);
      assert.ok(reply !== undefined && !(reply instanceof ParseError) && reply.kind === 'double');
      assert.ok(Object.is(reply.value, value), `${value} came back as ${reply.value}`);
    }
  });
});
