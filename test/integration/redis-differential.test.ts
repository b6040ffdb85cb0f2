// The data-command core against the real thing: a seeded random sequence of data commands
// (valid and not: wrong types, bad numbers, bad options, wrong arity, overflow, unknown commands)
// runs both through the pure core, over an in-memory store, and on a Redis 7.0 server, and every
// reply must match in kind and value, errors in their full text.
//
// The Redis server is shared: everything here lives under a random key prefix, is bounded, and
// is deleted at the end. Replies are read with a small RESP3 reader over a raw socket so that no
// client library turns them into something else (ioredis would fold a status reply into a string).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { executeDataCommand } from '../../apps/data-node/src/commands/data-commands.js';
import { globMatch } from '../../apps/data-node/src/commands/glob.js';
import { LCS_TABLE_CELLS_MAX } from '../../apps/data-node/src/commands/lcs.js';
import { commandReply, resolveCommand } from '../../apps/data-node/src/commands/served-commands.js';
import type { StoredValue } from '../../apps/data-node/src/commands/stored-value.js';
import { memoryCommandReply } from '../../apps/data-node/src/server/memory-report.js';
import type { Reply } from '../../libs/resp/src/reply.js';
import { CollectionNode } from '../support/collection-node.js';
import { MemoryKeyspace } from '../support/memory-context.js';
import { mulberry32, seedFromEnvironment } from '../support/prng.js';

const REDIS_URL = process.env.BOREALIS_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
// As in the REST fuzz test: FUZZ_SEED=<n> replays a run, FUZZ_SEED=random tries a new one.
const SEED = seedFromEnvironment('FUZZ_SEED', 20261122);
const COMMAND_COUNT = 3_000;
const REPLY_TIMEOUT_MS = 5_000;
const PREFIX = `bdiff:${randomBytes(6).toString('hex')}:`;

// ---------------------------------------------------------------------------------------------
// A minimal RESP3 connection: requests as arrays of bulk strings, replies parsed into Reply.

class RespConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private readonly waiting: { resolve: (reply: Reply) => void; reject: (cause: Error) => void }[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (cause) => this.failAll(cause));
    socket.on('close', () => this.failAll(new Error('Redis connection closed')));
  }

  static async open(url: string): Promise<RespConnection> {
    const parsed = new URL(url);
    const socket = await new Promise<Socket>((resolve, reject) => {
      const opened = connect(
        { host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 6379) },
        () => resolve(opened),
      );
      opened.once('error', (cause) =>
        reject(new Error(`cannot reach Redis at ${url} (set BOREALIS_TEST_REDIS_URL): ${cause.message}`)),
      );
    });
    const connection = new RespConnection(socket);
    const hello = ['HELLO', '3'];
    if (parsed.password !== '') {
      hello.push(
        'AUTH',
        decodeURIComponent(parsed.username || 'default'),
        decodeURIComponent(parsed.password),
      );
    }
    connection.expectOk(await connection.send(hello), 'HELLO', 'map');
    const database = parsed.pathname.slice(1);
    if (database !== '') connection.expectOk(await connection.send(['SELECT', database]), 'SELECT', 'simple');
    return connection;
  }

  send(args: readonly (Buffer | string)[]): Promise<Reply> {
    const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
    for (const arg of args) {
      const bytes = toBuffer(arg);
      parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `no reply from Redis within ${REPLY_TIMEOUT_MS} ms to ${describe([...args].map(toBuffer))}`,
          ),
        );
        this.socket.destroy();
      }, REPLY_TIMEOUT_MS);
      const settle = (action: () => void): void => {
        clearTimeout(timer);
        action();
      };
      this.waiting.push({
        resolve: (reply) => settle(() => resolve(reply)),
        reject: (cause) => settle(() => reject(cause)),
      });
      this.socket.write(Buffer.concat(parts));
    });
  }

  close(): void {
    this.socket.end();
  }

  private expectOk(reply: Reply, what: string, kind: Reply['kind']): void {
    if (reply.kind !== kind) throw new Error(`${what} failed: ${JSON.stringify(canonical(reply))}`);
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const parsed = parseReply(this.buffered, 0);
      if (parsed === null) return;
      this.buffered = this.buffered.subarray(parsed.next);
      const waiter = this.waiting.shift();
      if (waiter === undefined) throw new Error('reply without a request');
      waiter.resolve(parsed.reply);
    }
  }

  private failAll(cause: Error): void {
    for (const waiter of this.waiting.splice(0)) waiter.reject(cause);
  }
}

function toBuffer(arg: Buffer | string): Buffer {
  return typeof arg === 'string' ? Buffer.from(arg, 'latin1') : arg;
}

const RESP3_SPECIAL_DOUBLES: Record<string, number> = {
  inf: Number.POSITIVE_INFINITY,
  '-inf': Number.NEGATIVE_INFINITY,
  nan: Number.NaN,
};

/** One reply from `offset`, or null when the buffer does not hold all of it yet. */
function parseReply(buffer: Buffer, offset: number): { reply: Reply; next: number } | null {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd < 0) return null;
  const type = String.fromCharCode(buffer[offset] as number);
  const line = buffer.toString('latin1', offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case '+':
      return { reply: { kind: 'simple', value: line }, next: afterLine };
    case '-':
      return { reply: { kind: 'error', message: line }, next: afterLine };
    case ':':
    case '(':
      return { reply: { kind: 'integer', value: BigInt(line) }, next: afterLine };
    case ',':
      return {
        reply: { kind: 'double', value: RESP3_SPECIAL_DOUBLES[line] ?? Number(line) },
        next: afterLine,
      };
    case '_':
      return { reply: { kind: 'null' }, next: afterLine };
    case '#':
      return { reply: { kind: 'integer', value: line === 't' ? 1n : 0n }, next: afterLine };
    case '$':
    case '=': {
      const length = Number(line);
      if (length < 0) return { reply: { kind: 'null' }, next: afterLine };
      if (buffer.length < afterLine + length + 2) return null;
      const value = Buffer.from(buffer.subarray(afterLine, afterLine + length));
      return { reply: { kind: 'bulk', value }, next: afterLine + length + 2 };
    }
    case '*':
    case '~':
    case '%': {
      const count = Number(line) * (type === '%' ? 2 : 1);
      if (count < 0) return { reply: { kind: 'null' }, next: afterLine };
      const items: Reply[] = [];
      let next = afterLine;
      for (let index = 0; index < count; index++) {
        const parsed = parseReply(buffer, next);
        if (parsed === null) return null;
        items.push(parsed.reply);
        next = parsed.next;
      }
      if (type === '*') return { reply: { kind: 'array', items }, next };
      if (type === '~') return { reply: { kind: 'set', items }, next };
      const entries: [Reply, Reply][] = [];
      for (let index = 0; index < items.length; index += 2) {
        entries.push([items[index] as Reply, items[index + 1] as Reply]);
      }
      return { reply: { kind: 'map', entries }, next };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

/** A comparable, printable form: bulk strings as latin1, integers as decimal text. */
function canonical(reply: Reply): unknown {
  switch (reply.kind) {
    case 'simple':
      return ['simple', reply.value];
    case 'error':
      return ['error', reply.message];
    case 'integer':
      return ['integer', String(reply.value)];
    case 'bulk':
      return ['bulk', typeof reply.value === 'string' ? reply.value : reply.value.toString('latin1')];
    case 'null':
    case 'nullArray':
      return ['null'];
    case 'array':
      return ['array', reply.items.map(canonical)];
    case 'set':
      return ['set', reply.items.map(canonical)];
    case 'map':
      return ['map', reply.entries.map(([key, value]) => [canonical(key), canonical(value)])];
    case 'double':
      return ['double', String(reply.value)];
    case 'verbatim':
      return ['verbatim', reply.value];
    case 'pairs':
      // RESP3's array of two-element arrays, as the RESP3 reader parses it.
      return [
        'array',
        reply.entries.map(([first, second]) => ['array', [canonical(first), canonical(second)]]),
      ];
  }
}

// ---------------------------------------------------------------------------------------------
// The core's side: the shared in-memory store (test/support/memory-context.ts), which keeps
// every value encoded, so that each also makes an encode/decode trip.

/** After SPOP: remove from the core's set the members Redis popped. */
function takeMembers(store: MemoryKeyspace, args: Buffer[], redisReply: Reply, nowMs: number): void {
  const popped =
    redisReply.kind === 'bulk'
      ? [redisReply.value]
      : redisReply.kind === 'set' || redisReply.kind === 'array'
        ? redisReply.items.flatMap((item) => (item.kind === 'bulk' ? [item.value] : []))
        : [];
  if (popped.length === 0) return;
  runOnCore(
    store,
    [Buffer.from('SREM'), args[1] as Buffer, ...popped.map((member) => toBuffer(member))],
    nowMs,
  );
}

function runOnCore(store: MemoryKeyspace, args: Buffer[], nowMs: number): Reply {
  const resolution = resolveCommand(args);
  if ('error' in resolution) return resolution.error;
  const { spec } = resolution;
  if (spec.kind !== 'data') throw new Error(`generated a session command: ${spec.name}`);
  return executeDataCommand(spec, args, store.context(nowMs));
}

// ---------------------------------------------------------------------------------------------
// The generator.

type Random = () => number;

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function chance(random: Random, probability: number): boolean {
  return random() < probability;
}

function integerBetween(random: Random, low: number, high: number): number {
  return low + Math.floor(random() * (high - low + 1));
}

// String commands mostly draw string keys and hash commands hash keys, so that most commands get
// past the type check; the rest cross over and meet WRONGTYPE.
const STRING_KEYS = ['s0', 's1', 's2', 's3', '\u0000bin\u00ff\r\n'];
const HASH_KEYS = ['h0', 'h1', 'h2'];
const SET_KEYS = ['t0', 't1', 't2', 't3'];
const KEY_NAMES = [...STRING_KEYS, ...HASH_KEYS, ...SET_KEYS];
// Integers (an intset in Redis while a set holds nothing else) and other members.
const SET_MEMBERS = ['1', '2', '3', '-5', '10', '007', 'a', 'b', '', '\u0000m\u00ff', 'x'.repeat(70)];
const FIELDS = ['f0', 'f1', 'f2', 'f3', '', '\u0000f\u00ff\r\n', 'F0'];
const GOOD_INTEGERS = ['0', '1', '-1', '42', '-17', '100', '9223372036854775807', '-9223372036854775808'];
const NEAR_LIMIT_INTEGERS = ['9223372036854775806', '-9223372036854775807', '4611686018427387904'];
const BAD_INTEGERS = [
  '9223372036854775808',
  '-9223372036854775809',
  '12345678901234567890',
  '01',
  '+1',
  ' 1',
  '1 ',
  '',
  '-0',
  '-',
  '1.0',
  'abc',
  '0x10',
  '1\u0000',
];
const FLOATS = [
  '1.5',
  '-0.25',
  '10.5',
  '3',
  '5.0e3',
  '0.1',
  '0.2',
  '.5',
  '5.',
  '-0',
  '1e300',
  '-1e300',
  '1e-300',
  '1e4000',
  '1e4932',
  '1.18973149535723176e4932',
  '1e-4950',
  '3.6e-4951',
  '0.000003814697265625',
  '123456789012345678901234567890',
  '0.30000000000000004',
  '0x1p3',
  '0X1.8P1',
  '0x.8',
  '-0x10p-2',
];
const BAD_FLOATS = [
  '1e5000',
  '-1e5000',
  '1e-5000',
  'nan',
  'NaN',
  '1e',
  '1e+',
  '.',
  '',
  ' 1.5',
  '1.5 ',
  '0x',
  'abc',
];
const INFINITIES = ['inf', '-inf', '+inf', 'Infinity', '-INFINITY'];
// Times at the edges of the 64-bit range, for the overflow checks. Left out: those giving a valid
// expiry beyond 2^53 ms (the year 287,396), which a stored expiry, a JS number, rounds.
const EXTREME_TIMES = {
  seconds: {
    relative: [
      '9223372036854775807',
      '-9223372036854775808',
      '9223372036854775',
      '9223372036854776',
      '-9223372036854776',
    ],
    absolute: ['9223372036854775807', '-9223372036854775808', '9223372036854776', '-9223372036854776'],
  },
  milliseconds: {
    relative: ['9223372036854775807', '-9223372036854775808'],
    absolute: ['-9223372036854775808', '-9223372036854776'],
  },
};
const STRINGS = ['hello', 'world', '', 'a\r\nb', '\u0000\u00ff\u0080', 'x'.repeat(80), 'bonjour'];

function randomCase(random: Random, word: string): string {
  return [...word]
    .map((letter) => (chance(random, 0.5) ? letter.toLowerCase() : letter.toUpperCase()))
    .join('');
}

class CommandGenerator {
  constructor(private readonly random: Random) {}

  next(nowMs: number): Buffer[] {
    const random = this.random;
    if (chance(random, 0.03)) return this.unknownCommand();
    const [name, ...rest] = this.command(nowMs);
    let args = [randomCase(random, name as string), ...rest];
    if (chance(random, 0.04)) {
      args = chance(random, 0.5) && args.length > 1 ? args.slice(0, -1) : [...args, this.key()];
    }
    return args.map((arg) => Buffer.from(arg, 'latin1'));
  }

  private key(family: 'string' | 'hash' | 'set' = 'string'): string {
    const families = { string: STRING_KEYS, hash: HASH_KEYS, set: SET_KEYS };
    const crossOver = chance(this.random, 0.06);
    const chosen = crossOver
      ? pick(
          this.random,
          (['string', 'hash', 'set'] as const).filter((f) => f !== family),
        )
      : family;
    return PREFIX + pick(this.random, families[chosen]);
  }

  private keys(count: number): string[] {
    return Array.from({ length: count }, () => this.key(chance(this.random, 0.2) ? 'hash' : 'string'));
  }

  private integer(): string {
    const random = this.random;
    if (chance(random, 0.1)) return pick(random, BAD_INTEGERS);
    if (chance(random, 0.1)) return pick(random, NEAR_LIMIT_INTEGERS);
    if (chance(random, 0.5)) return pick(random, GOOD_INTEGERS);
    return String(integerBetween(random, -1000, 1000));
  }

  private float(): string {
    const random = this.random;
    if (chance(random, 0.1)) return pick(random, BAD_FLOATS);
    if (chance(random, 0.05)) return pick(random, INFINITIES);
    if (chance(random, 0.3)) return this.integer();
    if (chance(random, 0.5)) return pick(random, FLOATS);
    return (random() * 2000 - 1000).toFixed(integerBetween(random, 0, 6));
  }

  private value(): string {
    const random = this.random;
    if (chance(random, 0.3)) return this.integer();
    if (chance(random, 0.2)) return this.float();
    return pick(random, STRINGS);
  }

  /**
   * An expiry time. Positive relative times are long (seconds to days) and absolute ones an hour
   * or more from now, so that the two clocks never disagree about whether a key has expired.
   */
  private time(unit: 'seconds' | 'milliseconds', absolute: boolean, nowMs: number): string {
    const random = this.random;
    const roll = random();
    if (roll < 0.08) return pick(random, BAD_INTEGERS);
    if (roll < 0.14) return pick(random, EXTREME_TIMES[unit][absolute ? 'absolute' : 'relative']);
    // A relative time of 1 would expire the key while the two sides still disagree on the clock.
    if (roll < 0.22) return pick(random, absolute ? ['0', '-1', '-1000', '1'] : ['0', '-1', '-1000']);
    if (!absolute) {
      // Milliseconds rarely land on whole seconds, so EX and PX times do not tie under GT and LT.
      return String(
        unit === 'seconds' ? integerBetween(random, 100, 10_000_000) : integerBetween(random, 100_000, 1e10),
      );
    }
    const offsetMs = integerBetween(random, 3_600_000, 1e10) * (chance(random, 0.3) ? -1 : 1);
    return String(Math.floor((nowMs + offsetMs) / (unit === 'seconds' ? 1000 : 1)));
  }

  private setOptions(nowMs: number): string[] {
    const random = this.random;
    const options: string[] = [];
    const count = integerBetween(random, 0, 3);
    for (let index = 0; index < count; index++) {
      const roll = random();
      if (roll < 0.15) options.push(pick(random, ['NX', 'nx', 'NX\u0000junk']));
      else if (roll < 0.25) options.push('XX');
      else if (roll < 0.4) options.push(randomCase(random, 'get'));
      else if (roll < 0.48) options.push('KEEPTTL');
      else if (roll < 0.58) options.push(randomCase(random, 'ex'), this.time('seconds', false, nowMs));
      else if (roll < 0.68) options.push('PX', this.time('milliseconds', false, nowMs));
      else if (roll < 0.76) options.push('EXAT', this.time('seconds', true, nowMs));
      else if (roll < 0.84) options.push('pxat', this.time('milliseconds', true, nowMs));
      else if (roll < 0.9) options.push(pick(random, ['EX', 'PX', 'EXAT']));
      else options.push(pick(random, ['PERSIST', 'FOO', 'EXX', '']));
    }
    return options;
  }

  private getexOptions(nowMs: number): string[] {
    const random = this.random;
    const options: string[] = [];
    const count = integerBetween(random, 0, 2);
    for (let index = 0; index < count; index++) {
      const roll = random();
      if (roll < 0.2) options.push('EX', this.time('seconds', false, nowMs));
      else if (roll < 0.35) options.push('px', this.time('milliseconds', false, nowMs));
      else if (roll < 0.55) options.push('EXAT', this.time('seconds', true, nowMs));
      else if (roll < 0.7) options.push('PXAT', this.time('milliseconds', true, nowMs));
      else if (roll < 0.85) options.push(randomCase(random, 'persist'));
      else options.push(pick(random, ['NX', 'GET', 'KEEPTTL', 'EX', 'BAR']));
    }
    return options;
  }

  private expireOptions(): string[] {
    const random = this.random;
    const count = chance(random, 0.5) ? 0 : integerBetween(random, 1, 2);
    return Array.from({ length: count }, () =>
      chance(random, 0.9)
        ? randomCase(random, pick(random, ['NX', 'XX', 'GT', 'LT']))
        : pick(random, ['FOO', 'nx\u0000zz', 'bad\r\noption\r\n', '']),
    );
  }

  private fieldValues(): string[] {
    const count = integerBetween(this.random, 1, 3);
    return Array.from({ length: count }, () => [pick(this.random, FIELDS), this.value()]).flat();
  }

  private fields(count: number): string[] {
    return Array.from({ length: count }, () => pick(this.random, FIELDS));
  }

  private command(nowMs: number): string[] {
    const random = this.random;
    if (chance(random, 0.35)) return this.collectionCommand();
    const roll = integerBetween(random, 0, 47);
    const key = this.key(
      roll >= 31
        ? 'hash'
        : roll <= 9 && chance(random, 0.4)
          ? pick(random, ['hash', 'set'] as const)
          : 'string',
    );
    switch (roll) {
      case 0:
        return ['EXISTS', ...this.keys(integerBetween(random, 1, 3))];
      case 1:
        return ['TYPE', key];
      case 2:
        return ['DEL', ...this.keys(integerBetween(random, 1, 3))];
      case 3:
        return ['UNLINK', ...this.keys(integerBetween(random, 1, 2))];
      case 4:
        return ['EXPIRE', key, this.time('seconds', false, nowMs), ...this.expireOptions()];
      case 5:
        return ['PEXPIRE', key, this.time('milliseconds', false, nowMs), ...this.expireOptions()];
      case 6:
        return ['EXPIREAT', key, this.time('seconds', true, nowMs), ...this.expireOptions()];
      case 7:
        return ['PEXPIREAT', key, this.time('milliseconds', true, nowMs), ...this.expireOptions()];
      case 8:
        return [pick(random, ['TTL', 'PTTL', 'EXPIRETIME', 'PEXPIRETIME']), key];
      case 9:
        return ['PERSIST', key];
      case 10:
      case 11:
        return ['GET', key];
      case 12:
      case 13:
        return ['SET', key, this.value(), ...this.setOptions(nowMs)];
      case 14:
        return ['SETNX', key, this.value()];
      case 15:
        return ['SETEX', key, this.time('seconds', false, nowMs), this.value()];
      case 16:
        return ['PSETEX', key, this.time('milliseconds', false, nowMs), this.value()];
      case 17:
        return ['GETSET', key, this.value()];
      case 18:
        return ['GETDEL', key];
      case 19:
        return ['GETEX', key, ...this.getexOptions(nowMs)];
      case 20:
        return ['MGET', ...this.keys(integerBetween(random, 1, 4))];
      case 21:
        return [
          'MSET',
          ...Array.from({ length: integerBetween(random, 1, 3) }, () => [this.key(), this.value()]).flat(),
        ];
      case 22:
        return [
          'MSETNX',
          ...Array.from({ length: integerBetween(random, 1, 2) }, () => [this.key(), this.value()]).flat(),
        ];
      case 23:
        return ['APPEND', key, this.value()];
      case 24:
        return ['STRLEN', key];
      case 25:
        return [pick(random, ['GETRANGE', 'SUBSTR']), key, this.integer(), this.integer()];
      case 26:
        // Offsets at the 512 MiB limit only with values that fail it (or write nothing): a
        // string of the full size would burden the shared server.
        return chance(random, 0.1)
          ? [
              'SETRANGE',
              key,
              pick(random, ['536870912', '536870911', '-1', '9223372036854775807']),
              pick(random, ['ab', '']),
            ]
          : ['SETRANGE', key, String(integerBetween(random, 0, 20)), this.value()];
      case 27:
        return [pick(random, ['INCR', 'DECR']), key];
      case 28:
        return [pick(random, ['INCRBY', 'DECRBY']), key, this.integer()];
      case 29:
      case 30:
        return ['INCRBYFLOAT', key, this.float()];
      case 31:
      case 32:
        return ['HSET', key, ...this.fieldValues()];
      case 33:
        return ['HSETNX', key, pick(random, FIELDS), this.value()];
      case 34:
        return ['HMSET', key, ...this.fieldValues()];
      case 35:
        return ['HGET', key, pick(random, FIELDS)];
      case 36:
        return ['HMGET', key, ...this.fields(integerBetween(random, 1, 3))];
      case 37:
        return ['HDEL', key, ...this.fields(integerBetween(random, 1, 3))];
      case 38:
        return ['HGETALL', key];
      case 39:
        return ['HLEN', key];
      case 40:
        return ['HEXISTS', key, pick(random, FIELDS)];
      case 41:
        return ['HINCRBY', key, pick(random, FIELDS), this.integer()];
      case 42:
      case 43:
        return ['HINCRBYFLOAT', key, pick(random, FIELDS), this.float()];
      case 44:
        return [pick(random, ['HKEYS', 'HVALS']), key];
      case 45:
        return ['HSTRLEN', key, pick(random, FIELDS)];
      case 46:
        return ['HSET', key, pick(random, FIELDS)];
      default:
        return ['MSET', key];
    }
  }

  private members(count: number): string[] {
    return Array.from({ length: count }, () => pick(this.random, SET_MEMBERS));
  }

  private setKeys(count: number): string[] {
    return Array.from({ length: count }, () => this.key('set'));
  }

  /**
   * A count for SRANDMEMBER, HRANDFIELD and SPOP. Never a large negative one that Redis accepts:
   * Redis would loop to pick that many members with repetition and stop answering everyone;
   * -4611686018427387905 only with WITHVALUES, where Redis refuses it.
   */
  private count(withValues = false): string {
    const random = this.random;
    if (chance(random, 0.08)) return pick(random, BAD_INTEGERS);
    if (chance(random, 0.05)) {
      return pick(random, [
        '-9223372036854775808',
        '9223372036854775807',
        ...(withValues ? ['-4611686018427387905'] : []),
      ]);
    }
    return String(integerBetween(random, -6, 12));
  }

  /** SCAN options that finish small collections in one call (COUNT at least 10), or bad ones. */
  private scanOptions(): string[] {
    const random = this.random;
    const options: string[] = [];
    if (chance(random, 0.3))
      options.push(randomCase(random, 'match'), pick(random, ['*', 'f*', '?', '[ab]', '1*', '*0*']));
    // Most calls with a COUNT that lets Redis finish a small hash table in one call.
    if (chance(random, 0.8)) options.push('COUNT', pick(random, ['1000', '10000']));
    if (chance(random, 0.05))
      options.push(pick(random, ['COUNT', 'MATCH', 'BOGUS']), ...(chance(random, 0.5) ? ['0'] : []));
    return options;
  }

  /** Sets, and the hash commands the collection layout added. */
  private collectionCommand(): string[] {
    const random = this.random;
    const key = this.key('set');
    switch (integerBetween(random, 0, 22)) {
      case 0:
      case 1:
      case 2:
        return ['SADD', key, ...this.members(integerBetween(random, 1, 4))];
      case 3:
        return ['SREM', key, ...this.members(integerBetween(random, 1, 3))];
      case 4:
        return ['SMEMBERS', key];
      case 5:
        return ['SISMEMBER', key, pick(random, SET_MEMBERS)];
      case 6:
        return ['SMISMEMBER', key, ...this.members(integerBetween(random, 1, 3))];
      case 7:
        return ['SCARD', key];
      case 8:
        return chance(random, 0.3)
          ? ['SPOP', key]
          : ['SPOP', key, this.count(), ...(chance(random, 0.05) ? ['1'] : [])];
      case 9:
        return chance(random, 0.3) ? ['SRANDMEMBER', key] : ['SRANDMEMBER', key, this.count()];
      case 10:
        return ['SMOVE', key, this.key('set'), pick(random, SET_MEMBERS)];
      case 11:
        return [pick(random, ['SINTER', 'SUNION', 'SDIFF']), ...this.setKeys(integerBetween(random, 1, 3))];
      case 12:
        return [
          pick(random, ['SINTERSTORE', 'SUNIONSTORE', 'SDIFFSTORE']),
          key,
          ...this.setKeys(integerBetween(random, 1, 3)),
        ];
      case 13: {
        const keys = this.setKeys(integerBetween(random, 1, 3));
        const numkeys = chance(random, 0.1) ? pick(random, ['0', '-1', 'x', '9']) : String(keys.length);
        const limit = chance(random, 0.4) ? ['LIMIT', pick(random, ['0', '1', '2', '-1', 'x'])] : [];
        return ['SINTERCARD', numkeys, ...keys, ...limit, ...(chance(random, 0.05) ? ['BOGUS'] : [])];
      }
      case 14:
        return [
          'SSCAN',
          key,
          chance(random, 0.1) ? pick(random, ['x', '-', '1.5']) : '0',
          ...this.scanOptions(),
        ];
      case 15:
        return [
          'HSCAN',
          this.key('hash'),
          chance(random, 0.1) ? pick(random, ['x', ' 1']) : '0',
          ...this.scanOptions(),
        ];
      case 16:
      case 17: {
        const args = ['HRANDFIELD', this.key('hash')];
        if (chance(random, 0.3)) return args;
        if (chance(random, 0.6)) return [...args, this.count()];
        return [...args, this.count(true), chance(random, 0.9) ? randomCase(random, 'withvalues') : 'bogus'];
      }
      case 18:
        return ['SADD', key, String(integerBetween(random, -20, 20)), String(integerBetween(random, 0, 600))];
      default:
        return [pick(random, ['TYPE', 'EXISTS', 'DEL', 'PERSIST']), key];
    }
  }

  /** Names no Redis knows, with arguments long or odd enough to exercise the error's cut-offs. */
  private unknownCommand(): Buffer[] {
    const random = this.random;
    const name = chance(random, 0.1)
      ? ''
      : `bdiffnosuch${randomBytes(2).toString('hex')}${'z'.repeat(integerBetween(random, 0, 140))}`;
    const args = Array.from({ length: integerBetween(random, 0, 5) }, () =>
      pick(random, [
        'a',
        'b c',
        '',
        'x'.repeat(integerBetween(random, 1, 150)),
        'n\u0000ul',
        'line\r\nbreak',
        '\u00e9\u00ff',
      ]),
    );
    return [name, ...args].map((arg) => Buffer.from(arg, 'latin1'));
  }
}

// ---------------------------------------------------------------------------------------------
// Comparison.

// The core reads the clock just before Redis does, and a busy machine can stretch the gap; the
// exact arithmetic is the unit tests' business, with an injected clock.
const TTL_TOLERANCE: Record<string, number> = { ttl: 3, expiretime: 3, pttl: 3000, pexpiretime: 3000 };

/** Null when the replies agree (or differ only as documentedDifference allows); otherwise why not. */
function difference(
  args: Buffer[],
  coreReply: Reply,
  redisReply: Reply,
  store?: MemoryKeyspace,
): string | null {
  const name = args[0]?.toString('latin1').toLowerCase() ?? '';
  if (store !== undefined && documentedDifference(args, coreReply, redisReply, store) !== null) return null;
  const tolerance = TTL_TOLERANCE[name];
  if (tolerance !== undefined && coreReply.kind === 'integer' && redisReply.kind === 'integer') {
    const core = BigInt(coreReply.value);
    const redis = BigInt(redisReply.value);
    const bothSpecial = core < 0n && redis < 0n;
    const close =
      core >= 0n && redis >= 0n && (core > redis ? core - redis : redis - core) <= BigInt(tolerance);
    return (bothSpecial && core === redis) || close ? null : `ttl ${core} vs ${redis}`;
  }
  let core = canonical(coreReply);
  let redis = canonical(redisReply);
  // Redis keeps a large hash, and a set of anything but integers, in a hash table, whose
  // order is its own (the final state compares intsets in order).
  if (['hgetall', 'hkeys', 'hvals', 'smembers', 'sinter', 'sunion', 'sdiff'].includes(name)) {
    core = sortedItems(core);
    redis = sortedItems(redis);
  }
  if (['sscan', 'hscan'].includes(name) && coreReply.kind === 'array' && redisReply.kind === 'array') {
    // A page of Redis's hash table: its cursor and contents are its own (our paging is tested
    // in the unit tests); the reply's shape must still agree.
    const [cursor] = redisReply.items;
    if (cursor?.kind === 'bulk' && cursor.value.toString() !== '0')
      return coreReply.items.length === 2 ? null : 'shape';
    core = [
      'scan',
      (core as [string, unknown[]])[1].map((item, index) => (index === 1 ? sortedItems(item) : item)),
    ];
    redis = [
      'scan',
      (redis as [string, unknown[]])[1].map((item, index) => (index === 1 ? sortedItems(item) : item)),
    ];
  }
  // Random picks: the same kind of reply with as many members; which ones is chance.
  if (['srandmember', 'hrandfield', 'spop'].includes(name) && coreReply.kind !== 'error') {
    core = randomShape(core);
    redis = randomShape(redis);
  }
  const coreText = JSON.stringify(core);
  const redisText = JSON.stringify(redis);
  return coreText === redisText ? null : `core ${coreText}\n     redis ${redisText}`;
}

function randomShape(form: unknown): unknown {
  if (!Array.isArray(form)) return form;
  const [kind, value] = form as [string, unknown];
  if (kind === 'bulk') return ['bulk'];
  return Array.isArray(value) ? [kind, value.length] : form;
}

// ---------------------------------------------------------------------------------------------
// Documented exceptions: where Borealis answers otherwise than the reference Redis 7.0.15 on
// purpose. A mismatch is forgiven only when it is exactly the documented one.
//
// 1. Redis 7.4 semantics, which Borealis follows where 7.0 and 7.4 differ (issue 12):
//    a. GETRANGE/SUBSTR: a range that ends before the string starts is empty in 7.4 (GETRANGE
//       "Hello World" 0 -100 is ""); 7.0 clamps such an end to 0 and answers the first byte.
//    b. BITCOUNT/BITPOS check every argument before looking the key up in 7.4; 7.0 answers 0, -1
//       or WRONGTYPE for a missing or non-string key whatever the other arguments (and 0 for
//       BITCOUNT's empty negative range before it reads the BIT/BYTE argument).
//    c. LPOS … RANK -9223372036854775808: 7.4 refuses the one rank that has no negation (a range
//       error); 7.0 negates it with a signed overflow and answers as for a rank from the tail.
// 2. Compatibility answers, computed from the value because Borealis keeps no Redis objects:
//    a. OBJECT ENCODING names what Redis would use for the value as if written by SET/HSET; Redis
//       also remembers how it was written (an APPENDed string is "raw", a hash that once grew
//       stays "hashtable"). Only the family must agree: int/embstr/raw, listpack/hashtable.
//    b. OBJECT REFCOUNT: 1, or INT_MAX for what Redis would share (0…9999 written by SET).
//    c. OBJECT IDLETIME: Borealis tracks no access times and answers 0.
//    d. MEMORY USAGE: the bytes of the key and its encoded value in the store, not Redis's
//       allocations: both sides must answer an integer (or both null).
//    c. HSCAN … NOVALUES (7.4) is served; 7.0 answers a syntax error, so it is not generated here
//       (the unit tests cover it).
// 3. Bounds of Borealis's own: LCS refuses a table beyond LCS_TABLE_CELLS_MAX cells (Redis
//    allows 512 MB of table). Others (a string beyond one transaction's 8 MiB, COPY to a
//    database other than 0) are kept out of the generated commands; unit tests cover them.

/** Which documented exception explains the mismatch, or null. */
function documentedDifference(
  args: Buffer[],
  core: Reply,
  redis: Reply,
  store: MemoryKeyspace,
): string | null {
  const name = args[0]?.toString('latin1').toLowerCase() ?? '';
  const sub = args[1]?.toString('latin1').toLowerCase() ?? '';
  const stored = (index: number): StoredValue | null => store.value(args[index]?.toString('latin1') ?? '');
  if (name === 'lcs' && core.kind === 'error' && core.message.startsWith('ERR LCS of strings of')) {
    const lengths = [stored(1), stored(2)].map((value) =>
      value?.type === 'string' ? value.value.length : 0,
    );
    const cells = ((lengths[0] ?? 0) + 1) * ((lengths[1] ?? 0) + 1);
    return cells > LCS_TABLE_CELLS_MAX ? '3' : null;
  }
  if ((name === 'getrange' || name === 'substr') && args.length === 4) {
    const value = stored(1);
    const start = parseBig(args[2]);
    const end = parseBig(args[3]);
    if (value?.type !== 'string' || start === null || end === null) return null;
    const old = getrange70(value.value, start, end);
    const current = getrange74(value.value, start, end);
    const sameAs = (reply: Reply, bytes: Buffer): boolean =>
      reply.kind === 'bulk' && Buffer.from(reply.value as Buffer).equals(bytes);
    return sameAs(redis, old) && sameAs(core, current) ? '1a' : null;
  }
  if (name === 'lpos' && lposReachesMinimumRank(args)) {
    return core.kind === 'error' && core.message === LPOS_RANK_RANGE_ERROR ? '1c' : null;
  }
  if ((name === 'bitcount' || name === 'bitpos') && core.kind === 'error') {
    const value = stored(1);
    const argumentError = /^ERR (syntax error|value is not an integer|The bit argument)/.test(core.message);
    const lenient =
      (redis.kind === 'integer' && [0n, -1n].includes(BigInt(redis.value))) ||
      (redis.kind === 'error' && redis.message.startsWith('WRONGTYPE'));
    // 7.0 also answers 0 for a range of two negative indexes in the wrong order before it reads
    // BITCOUNT's unit argument.
    const start = parseBig(args[2]);
    const end = parseBig(args[3]);
    const emptyRangeFirst =
      name === 'bitcount' &&
      args.length === 5 &&
      start !== null &&
      end !== null &&
      start < 0n &&
      end < 0n &&
      start > end;
    return argumentError && lenient && (value === null || value.type !== 'string' || emptyRangeFirst)
      ? '1b'
      : null;
  }
  if (name === 'object' && sub === 'encoding' && core.kind === 'bulk' && redis.kind === 'bulk') {
    const families = [
      ['int', 'embstr', 'raw'],
      ['listpack', 'hashtable'],
    ];
    const family = (text: unknown): number => families.findIndex((names) => names.includes(String(text)));
    // Both are bulk strings here: canonical gives ['bulk', text].
    const coreFamily = family((canonical(core) as [string, string])[1]);
    const redisFamily = family((canonical(redis) as [string, string])[1]);
    return coreFamily >= 0 && coreFamily === redisFamily ? '2a' : null;
  }
  const isInteger = (reply: Reply, allowed?: bigint[]): boolean =>
    reply.kind === 'integer' && (allowed === undefined || allowed.includes(BigInt(reply.value)));
  if (name === 'object' && sub === 'refcount') {
    return isInteger(core, [1n, 2147483647n]) && isInteger(redis, [1n, 2147483647n]) ? '2b' : null;
  }
  if (name === 'object' && sub === 'idletime') {
    return isInteger(core, [0n]) && redis.kind === 'integer' && BigInt(redis.value) >= 0n ? '2c' : null;
  }
  if (name === 'memory' && sub === 'usage') return isInteger(core) && isInteger(redis) ? '2d' : null;
  return null;
}

function parseBig(arg: Buffer | undefined): bigint | null {
  const text = arg?.toString('latin1') ?? '';
  return /^(0|-?[1-9][0-9]{0,18})$/.test(text) ? BigInt(text) : null;
}

/** Redis 7.0's GETRANGE arithmetic. */
function getrange70(value: Buffer, start: bigint, end: bigint): Buffer {
  const length = BigInt(value.length);
  if (start < 0n && end < 0n && start > end) return Buffer.alloc(0);
  let from = start < 0n ? start + length : start;
  let to = end < 0n ? end + length : end;
  if (from < 0n) from = 0n;
  if (to < 0n) to = 0n;
  if (to >= length) to = length - 1n;
  return from > to || length === 0n ? Buffer.alloc(0) : value.subarray(Number(from), Number(to) + 1);
}

/** Redis 7.4's. */
function getrange74(value: Buffer, start: bigint, end: bigint): Buffer {
  const length = BigInt(value.length);
  let from = start < 0n ? start + length : start;
  let to = end < 0n ? end + length : end;
  if (length === 0n || from >= length || to < 0n || from > to) return Buffer.alloc(0);
  if (from < 0n) from = 0n;
  if (to >= length) to = length - 1n;
  return value.subarray(Number(from), Number(to) + 1);
}

function sortedItems(form: unknown): unknown {
  if (!Array.isArray(form) || !Array.isArray(form[1])) return form;
  return [form[0], [...form[1]].map((item) => JSON.stringify(item)).sort()];
}

/** The last commands on the same keys, with Redis's replies, to explain a mismatch. */
function earlier(history: readonly { args: Buffer[]; reply: Reply }[], args: Buffer[]): string {
  const keys = new Set(
    args
      .slice(1)
      .map((arg) => arg.toString('latin1'))
      .filter((arg) => arg.startsWith(PREFIX)),
  );
  const related = history
    .slice(0, -1)
    .filter((entry) => entry.args.some((arg) => keys.has(arg.toString('latin1'))))
    .slice(-8);
  return related
    .map((entry) => `\n       after ${describe(entry.args)} -> ${JSON.stringify(canonical(entry.reply))}`)
    .join('');
}

function describe(args: Buffer[]): string {
  return args.map((arg) => JSON.stringify(arg.toString('latin1'))).join(' ');
}

// ---------------------------------------------------------------------------------------------

let redis: RespConnection;
before(async () => {
  redis = await RespConnection.open(REDIS_URL);
});
// A fresh connection, in case a failure left the test's own one broken.
after(async () => {
  redis?.close();
  const cleaner = await RespConnection.open(REDIS_URL);
  await deleteOurKeys(cleaner);
  cleaner.close();
});

async function deleteOurKeys(connection: RespConnection): Promise<void> {
  let cursor = '0';
  do {
    const reply = await connection.send(['SCAN', cursor, 'MATCH', `${PREFIX}*`, 'COUNT', '1000']);
    assert.equal(reply.kind, 'array');
    const [nextCursor, keys] = reply.kind === 'array' ? reply.items : [];
    cursor = nextCursor?.kind === 'bulk' ? nextCursor.value.toString() : '0';
    const names =
      keys?.kind === 'array' ? keys.items.flatMap((key) => (key.kind === 'bulk' ? [key.value] : [])) : [];
    if (names.length > 0) await connection.send(['DEL', ...names.map((key) => Buffer.from(key))]);
  } while (cursor !== '0');
}

test(`data commands reply as Redis 7.0 does (seed ${SEED})`, async () => {
  const random = mulberry32(SEED);
  const generator = new CommandGenerator(random);
  const store = new MemoryKeyspace();
  const mismatches: string[] = [];
  const history: { args: Buffer[]; reply: Reply }[] = [];
  for (let index = 0; index < COMMAND_COUNT && mismatches.length < 20; index++) {
    const nowMs = Date.now();
    const args = generator.next(nowMs);
    const popping = args[0]?.toString('latin1').toLowerCase() === 'spop';
    // SPOP takes random members: its reply is compared on a copy, then the members Redis took
    // are taken from the core's set too, so that both sides keep the same state.
    const coreReply = runOnCore(popping ? store.clone() : store, args, nowMs);
    const redisReply = await redis.send(args);
    if (popping) takeMembers(store, args, redisReply, nowMs);
    history.push({ args, reply: redisReply });
    const why = difference(args, coreReply, redisReply, store);
    if (why !== null) mismatches.push(`#${index} ${describe(args)}\n     ${why}${earlier(history, args)}`);
  }
  // The final state too: every key's type and contents.
  for (const name of KEY_NAMES) {
    const key = Buffer.from(PREFIX + name, 'latin1');
    for (const args of [
      [Buffer.from('TYPE'), key],
      [Buffer.from('HGETALL'), key],
      [Buffer.from('PTTL'), key],
    ]) {
      const nowMs = Date.now();
      const redisReply = await redis.send(args);
      const why = difference(args, runOnCore(store, args, nowMs), redisReply);
      if (why !== null) mismatches.push(`final ${describe(args)}\n     ${why}`);
    }
    const getArgs = [Buffer.from('GET'), key];
    const why = difference(getArgs, runOnCore(store, getArgs, Date.now()), await redis.send(getArgs));
    if (why !== null) mismatches.push(`final ${describe(getArgs)}\n     ${why}`);
    // A set's members; in order where Redis keeps it as an intset (sorted), as sets otherwise.
    const encoding = await redis.send([Buffer.from('OBJECT'), Buffer.from('ENCODING'), key]);
    const membersArgs = [Buffer.from('SMEMBERS'), key];
    const coreMembers = runOnCore(store, membersArgs, Date.now());
    const redisMembers = await redis.send(membersArgs);
    const ordered = encoding.kind === 'bulk' && encoding.value.toString() === 'intset';
    const membersWhy = ordered
      ? JSON.stringify(canonical(coreMembers)) === JSON.stringify(canonical(redisMembers))
        ? null
        : `intset order: core ${JSON.stringify(canonical(coreMembers))} redis ${JSON.stringify(canonical(redisMembers))}`
      : difference(membersArgs, coreMembers, redisMembers);
    if (membersWhy !== null) mismatches.push(`final ${describe(membersArgs)}\n     ${membersWhy}`);
  }
  assert.deepEqual(mismatches, [], `replay with FUZZ_SEED=${SEED}\n${mismatches.join('\n')}`);
});

test('COMMAND errors for unknown subcommands and wrong arity match Redis', async () => {
  const requests = [
    ['COMMAND', 'NOSUCH'],
    ['command', 'nosuch', 'extra'],
    ['COMMAND', 'COUNT', 'extra'],
    ['COMMAND', 'HELP', 'x'],
    ['COMMAND', 'LIST', 'FILTERBY'],
    ['COMMAND', 'LIST', 'FILTERBY', 'NOPE', 'x'],
    ['COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'hg*', 'extra'],
    ['CLIENT'],
    ['client', 'nosuchsub'],
    ['CLIENT', 'SETNAME'],
    ['CLIENT', 'GETNAME', 'extra'],
    ['ECHO'],
    ['SELECT'],
    ['KEYS'],
    ['WATCH'],
    ['MULTI', 'extra'],
    ['GET'],
    ['HSET', `${PREFIX}k0`, 'f'],
  ].map((request) => request.map((arg) => Buffer.from(arg)));
  for (const args of requests) {
    const resolution = resolveCommand(args);
    const ours =
      'error' in resolution
        ? resolution.error
        : resolution.spec.name.startsWith('command')
          ? commandReply(args)
          : null;
    assert.notEqual(ours, null, `${describe(args)} should fail before running`);
    assert.deepEqual(canonical(ours as Reply), canonical(await redis.send(args)), describe(args));
  }
  const count = await redis.send(['COMMAND', 'INFO', 'get', 'hgetall', 'client|setname', 'nosuch']);
  const oursInfo = commandReply(
    ['COMMAND', 'INFO', 'get', 'hgetall', 'client|setname', 'nosuch'].map((arg) => Buffer.from(arg)),
  );
  assert.deepEqual(canonical(oursInfo), canonical(count));
  const docs = await redis.send(['COMMAND', 'DOCS', 'getset']);
  const ourDocs = commandReply(['COMMAND', 'DOCS', 'getset'].map((arg) => Buffer.from(arg)));
  assert.deepEqual(canonical(ourDocs), canonical(docs));
});

test('INCRBYFLOAT computes and prints long doubles as Redis does', async () => {
  const random = mulberry32(SEED ^ 0x2545f491);
  const digits = (count: number): string =>
    Array.from({ length: count }, () => String(integerBetween(random, 0, 9))).join('');
  const decimal = (): string => {
    const sign = chance(random, 0.3) ? '-' : '';
    const mantissa = `${digits(integerBetween(random, 1, 12))}.${digits(integerBetween(random, 0, 25))}`;
    const exponent = chance(random, 0.5) ? '' : `e${integerBetween(random, -40, 40)}`;
    // Now and then a magnitude near the limits of the long double range (slow to print, on both sides).
    return chance(random, 0.02)
      ? `${sign}${digits(1)}e${integerBetween(random, -4960, 4940)}`
      : sign + mantissa + exponent;
  };
  const hex = (): string =>
    `0x${randomBytes(integerBetween(random, 1, 10)).toString('hex')}p${integerBetween(random, -80, 80)}`;
  const key = `${PREFIX}float`;
  const store = new MemoryKeyspace();
  const mismatches: string[] = [];
  for (let index = 0; index < 400 && mismatches.length < 10; index++) {
    const start = chance(random, 0.1) ? hex() : decimal();
    const increment = chance(random, 0.1) ? hex() : decimal();
    const requests = [
      ['SET', key, start],
      ['INCRBYFLOAT', key, increment],
      ['HINCRBYFLOAT', `${key}:hash`, `field${index % 8}`, increment],
    ].map((request) => request.map((arg) => Buffer.from(arg, 'latin1')));
    for (const args of requests) {
      const nowMs = Date.now();
      const why = difference(args, runOnCore(store, args, nowMs), await redis.send(args));
      if (why !== null) mismatches.push(`${describe(args)} after SET ${start}\n     ${why}`);
    }
  }
  assert.deepEqual(mismatches, []);
});

test('glob patterns select the keys KEYS selects', async () => {
  const random = mulberry32(SEED ^ 0x5f3759df);
  const alphabet = ['a', 'b', 'x', '*', '?', '[', ']', '^', '-', '\\', '\u0080', '\u00ff', 'A'];
  const word = (maxLength: number): string =>
    Array.from({ length: integerBetween(random, 0, maxLength) }, () => pick(random, alphabet)).join('');
  const subjects = [...new Set(Array.from({ length: 40 }, () => `g:${word(6)}`))];
  for (const subject of subjects) await redis.send(['SET', PREFIX + subject, '1']);
  const mismatches: string[] = [];
  for (let index = 0; index < 200; index++) {
    const pattern = `${PREFIX}g:${word(7)}`;
    const reply = await redis.send(['KEYS', pattern]);
    const fromRedis =
      reply.kind === 'array'
        ? reply.items.map((item) => (item.kind === 'bulk' ? item.value.toString('latin1') : ''))
        : [];
    const ours = subjects.map((subject) => PREFIX + subject).filter((key) => globMatch(pattern, key));
    if (JSON.stringify(ours.sort()) !== JSON.stringify(fromRedis.sort())) {
      mismatches.push(
        `${JSON.stringify(pattern)}: ours ${JSON.stringify(ours)} redis ${JSON.stringify(fromRedis)}`,
      );
    }
  }
  assert.deepEqual(mismatches, []);
});

// ---------------------------------------------------------------------------------------------
// Bitmaps, LCS and the keyspace commands (RENAME, RENAMENX, COPY, TOUCH, OBJECT, MEMORY USAGE),
// mixed with the string and hash commands that make their inputs.

/** Bit offsets that Redis accepts but that would make a huge string are never generated. */
const BAD_BIT_OFFSETS = ['-1', '4294967296', '9223372036854775807', 'abc', '', '1.5', '+3', '08'];
const FIELD_TYPES = ['i1', 'u1', 'i5', 'u7', 'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i63', 'u63', 'i64'];
const BAD_FIELD_TYPES = ['u64', 'i65', 'i0', 'u0', 'I8', 'x8', 'i', '', 'i08', 'i-1', 'i8\u0000x'];

class BitsAndKeysGenerator {
  constructor(private readonly random: Random) {}

  next(): Buffer[] {
    const random = this.random;
    const [name, ...rest] = this.command();
    let args = [randomCase(random, name as string), ...rest];
    if (chance(random, 0.03)) {
      args = chance(random, 0.5) && args.length > 1 ? args.slice(0, -1) : [...args, this.key()];
    }
    return args.map((arg) => Buffer.from(arg, 'latin1'));
  }

  private key(): string {
    return PREFIX + pick(this.random, chance(this.random, 0.12) ? HASH_KEYS : STRING_KEYS);
  }

  private bitOffset(): string {
    const random = this.random;
    if (chance(random, 0.06)) return pick(random, BAD_BIT_OFFSETS);
    return String(chance(random, 0.9) ? integerBetween(random, 0, 200) : integerBetween(random, 0, 20_000));
  }

  private smallInteger(): string {
    const random = this.random;
    if (chance(random, 0.08)) return pick(random, BAD_INTEGERS);
    if (chance(random, 0.1)) return pick(random, GOOD_INTEGERS);
    return String(integerBetween(random, -30, 30));
  }

  private unit(): string[] {
    const random = this.random;
    if (chance(random, 0.5)) return [];
    return [
      chance(random, 0.9) ? randomCase(random, pick(random, ['BIT', 'BYTE'])) : pick(random, ['BITS', 'x']),
    ];
  }

  private fieldType(): string {
    return chance(this.random, 0.06) ? pick(this.random, BAD_FIELD_TYPES) : pick(this.random, FIELD_TYPES);
  }

  private fieldOffset(): string {
    const random = this.random;
    if (chance(random, 0.2)) return `#${integerBetween(random, 0, 12)}`;
    if (chance(random, 0.03)) return pick(random, ['#-1', '#', '#x', '#9223372036854775807']);
    return this.bitOffset();
  }

  private bitfieldOperations(readOnly: boolean): string[] {
    const random = this.random;
    const operations: string[] = [];
    const count = integerBetween(random, 0, 4);
    for (let index = 0; index < count; index++) {
      const roll = random();
      const value = chance(random, 0.5)
        ? this.smallInteger()
        : pick(random, [...GOOD_INTEGERS, ...NEAR_LIMIT_INTEGERS]);
      if (roll < (readOnly ? 0.85 : 0.35))
        operations.push(randomCase(random, 'get'), this.fieldType(), this.fieldOffset());
      else if (roll < 0.6) operations.push('SET', this.fieldType(), this.fieldOffset(), value);
      else if (roll < 0.85)
        operations.push(randomCase(random, 'incrby'), this.fieldType(), this.fieldOffset(), value);
      else if (roll < 0.97)
        operations.push('OVERFLOW', pick(random, ['WRAP', 'sat', 'FAIL', 'fail', 'NONE']));
      else operations.push(pick(random, ['GET', 'SET', 'INCRBY', 'OVERFLOW', 'FOO']));
    }
    return operations;
  }

  private lcsOptions(): string[] {
    const random = this.random;
    const options: string[] = [];
    const count = integerBetween(random, 0, 3);
    for (let index = 0; index < count; index++) {
      const roll = random();
      if (roll < 0.3) options.push(randomCase(random, 'idx'));
      else if (roll < 0.45) options.push('LEN');
      else if (roll < 0.7) options.push(randomCase(random, 'withmatchlen'));
      else if (roll < 0.9)
        options.push('MINMATCHLEN', pick(random, ['0', '1', '2', '3', '-5', 'x', '9223372036854775808']));
      else options.push(pick(random, ['MINMATCHLEN', 'FOO', '']));
    }
    return options;
  }

  private copyOptions(): string[] {
    const random = this.random;
    const options: string[] = [];
    const count = integerBetween(random, 0, 2);
    for (let index = 0; index < count; index++) {
      const roll = random();
      if (roll < 0.5) options.push(randomCase(random, 'replace'));
      else if (roll < 0.75) options.push('DB', '0');
      // Never another valid database: Redis would copy there, out of this test's cleanup.
      else if (roll < 0.95) options.push('db', pick(random, ['16', '-1', 'x', '2147483648', '99999999999']));
      else options.push(pick(random, ['DB', 'REPLAC', '']));
    }
    return options;
  }

  private command(): string[] {
    const random = this.random;
    const key = this.key();
    switch (integerBetween(random, 0, 27)) {
      case 0:
      case 1:
        return [
          'SETBIT',
          key,
          this.bitOffset(),
          chance(random, 0.94) ? pick(random, ['0', '1']) : pick(random, ['2', '-1', 'x', '']),
        ];
      case 2:
        return ['GETBIT', key, this.bitOffset()];
      case 3:
      case 4: {
        const roll = random();
        if (roll < 0.2) return ['BITCOUNT', key];
        if (roll < 0.9) return ['BITCOUNT', key, this.smallInteger(), this.smallInteger(), ...this.unit()];
        return ['BITCOUNT', key, this.smallInteger()];
      }
      case 5:
      case 6: {
        const bit = chance(random, 0.92) ? pick(random, ['0', '1']) : pick(random, ['2', '-1', 'x']);
        const roll = random();
        if (roll < 0.2) return ['BITPOS', key, bit];
        if (roll < 0.4) return ['BITPOS', key, bit, this.smallInteger()];
        if (roll < 0.95)
          return ['BITPOS', key, bit, this.smallInteger(), this.smallInteger(), ...this.unit()];
        return ['BITPOS', key, bit, '0', '-1', 'BIT', 'extra'];
      }
      case 7:
      case 8: {
        const operation = chance(random, 0.95)
          ? pick(random, ['AND', 'or', 'XOR', 'NOT'])
          : pick(random, ['NAND', 'and\u0000x', '']);
        const sources = Array.from(
          {
            length:
              operation.toUpperCase() === 'NOT' && chance(random, 0.85) ? 1 : integerBetween(random, 1, 3),
          },
          () => this.key(),
        );
        return ['BITOP', operation, key, ...sources];
      }
      case 9:
      case 10:
        return ['BITFIELD', key, ...this.bitfieldOperations(false)];
      case 11:
        return ['BITFIELD_RO', key, ...this.bitfieldOperations(true)];
      case 12:
      case 13:
        return ['LCS', key, this.key(), ...this.lcsOptions()];
      case 14:
        return [pick(random, ['RENAME', 'RENAMENX']), key, chance(random, 0.1) ? key : this.key()];
      case 15:
        return ['COPY', key, chance(random, 0.05) ? key : this.key(), ...this.copyOptions()];
      case 16:
        return ['TOUCH', ...Array.from({ length: integerBetween(random, 1, 3) }, () => this.key())];
      case 17:
        return ['OBJECT', pick(random, ['ENCODING', 'refcount', 'IDLETIME', 'FREQ']), key];
      case 18:
        return chance(random, 0.5)
          ? ['OBJECT', 'HELP']
          : ['OBJECT', pick(random, ['NOSUCH', 'help', 'ENCODING']), key, 'extra'];
      case 19: {
        const options = chance(random, 0.6)
          ? []
          : pick(random, [
              ['SAMPLES', '0'],
              ['samples', '5'],
              ['SAMPLES', '-1'],
              ['SAMPLES', 'x'],
              ['SAMPLES'],
              ['FOO', '1'],
            ]);
        return ['MEMORY', 'USAGE', key, ...options];
      }
      case 20:
        return [
          'SET',
          key,
          pick(random, [...STRINGS, '7', '123', '-5', '99999', '3.0', '\u00ff\u00ff\u0000\u0001']),
        ];
      case 21:
        return ['APPEND', key, pick(random, STRINGS)];
      case 22:
        return [pick(random, ['GETRANGE', 'SUBSTR']), key, this.smallInteger(), this.smallInteger()];
      case 23:
        return ['INCR', key];
      case 24:
        return ['HSET', PREFIX + pick(random, HASH_KEYS), pick(random, FIELDS), pick(random, STRINGS)];
      case 25:
        return ['EXPIRE', key, String(integerBetween(random, 100, 100_000))];
      case 26:
        return ['DEL', key];
      default:
        return ['GET', key];
    }
  }
}

test(`bitmap, LCS and keyspace commands reply as Redis does (seed ${SEED})`, async () => {
  // The keys are the first test's: start both sides empty.
  await deleteOurKeys(redis);
  const random = mulberry32(SEED ^ 0x1b873593);
  const generator = new BitsAndKeysGenerator(random);
  const store = new MemoryKeyspace();
  const mismatches: string[] = [];
  const history: { args: Buffer[]; reply: Reply }[] = [];
  for (let index = 0; index < COMMAND_COUNT && mismatches.length < 20; index++) {
    const nowMs = Date.now();
    const args = generator.next();
    const coreReply = runOnCore(store, args, nowMs);
    const redisReply = await redis.send(args);
    history.push({ args, reply: redisReply });
    const why = difference(args, coreReply, redisReply, store);
    if (why !== null) mismatches.push(`#${index} ${describe(args)}\n     ${why}${earlier(history, args)}`);
  }
  for (const name of KEY_NAMES) {
    const key = Buffer.from(PREFIX + name, 'latin1');
    for (const command of ['TYPE', 'GET', 'HGETALL', 'PTTL']) {
      const args = [Buffer.from(command), key];
      const why = difference(args, runOnCore(store, args, Date.now()), await redis.send(args));
      if (why !== null) mismatches.push(`final ${describe(args)}\n     ${why}`);
    }
  }
  assert.deepEqual(mismatches, [], `replay with FUZZ_SEED=${SEED}\n${mismatches.join('\n')}`);
});

test('the new commands refuse wrong arity and unknown subcommands as Redis does; MEMORY HELP matches', async () => {
  const requests = [
    ['SETBIT', `${PREFIX}s0`, '1'],
    ['GETBIT', `${PREFIX}s0`],
    ['BITCOUNT'],
    ['BITPOS', `${PREFIX}s0`],
    ['BITOP', 'AND', `${PREFIX}s0`],
    ['BITFIELD'],
    ['BITFIELD_RO'],
    ['LCS', `${PREFIX}s0`],
    ['RENAME', `${PREFIX}s0`],
    ['RENAMENX', `${PREFIX}s0`, `${PREFIX}s1`, 'x'],
    ['COPY', `${PREFIX}s0`],
    ['TOUCH'],
    ['RANDOMKEY', 'x'],
    ['OBJECT'],
    ['OBJECT', 'ENCODING'],
    ['OBJECT', 'help', 'x'],
    ['object', 'nosuch'],
    ['MEMORY'],
    ['MEMORY', 'USAGE'],
    ['MEMORY', 'STATS', 'x'],
    ['memory', 'nosuch', 'x'],
  ].map((request) => request.map((arg) => Buffer.from(arg)));
  for (const args of requests) {
    const resolution = resolveCommand(args);
    assert.ok('error' in resolution, `${describe(args)} should fail before running`);
    assert.deepEqual(canonical(resolution.error), canonical(await redis.send(args)), describe(args));
  }
  const help = [Buffer.from('memory'), Buffer.from('HELP')];
  assert.deepEqual(
    canonical(memoryCommandReply('help', help[0] as Buffer)),
    canonical(await redis.send(help)),
  );
});

// ---------------------------------------------------------------------------------------------
// Lists: a seeded random sequence of list commands, valid and not, on a few list keys (and a
// string key they cross over to), through the core over an in-memory node that runs each command
// as the engine does (reads during a command, re-runs), and on Redis; then every key's final state.

// Names of their own: the other tests here leave keys of the same prefix behind on Redis.
const LIST_KEYS = ['list0', 'list1', 'list2', 'list-string'];
const LIST_ELEMENTS = ['a', 'b', 'c', '', 'a\u0000b', '\u00ff\r\n', '1', '-1', 'x'.repeat(70)];
const LIST_COMMAND_COUNT = 3_000;

/** Redis 7.4's answer to LPOS … RANK -9223372036854775808 (documented exception 1c). */
const LPOS_RANK_RANGE_ERROR =
  'ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807';

/** Whether LPOS's option parsing gets to a RANK of -2^63 before any other error. */
function lposReachesMinimumRank(args: Buffer[]): boolean {
  if (args[0]?.toString('latin1').toUpperCase() !== 'LPOS') return false;
  const integer = /^(0|-?[1-9][0-9]*)$/;
  for (let index = 3; index + 1 < args.length; index += 2) {
    const option = args[index]?.toString('latin1').toUpperCase();
    const value = args[index + 1]?.toString('latin1') ?? '';
    if (option === 'RANK' && value === '-9223372036854775808') return true;
    const valid =
      integer.test(value) &&
      BigInt(value) >= -(2n ** 63n) &&
      BigInt(value) < 2n ** 63n &&
      (option === 'RANK'
        ? value !== '0'
        : option === 'COUNT' || option === 'MAXLEN'
          ? !value.startsWith('-')
          : false);
    if (!valid) return false;
  }
  return false;
}

class ListCommandGenerator {
  constructor(private readonly random: Random) {}

  next(): Buffer[] {
    const random = this.random;
    const [name, ...rest] = this.command();
    let args = [randomCase(random, name as string), ...rest];
    if (chance(random, 0.03)) {
      args = chance(random, 0.5) && args.length > 1 ? args.slice(0, -1) : [...args, this.key()];
    }
    return args.map((arg) => Buffer.from(arg, 'latin1'));
  }

  private key(): string {
    // Mostly list keys; the string key now and then, for WRONGTYPE.
    return PREFIX + (chance(this.random, 0.06) ? 'list-string' : pick(this.random, LIST_KEYS.slice(0, 3)));
  }

  private element(): string {
    return pick(this.random, LIST_ELEMENTS);
  }

  private elements(): string[] {
    // Now and then a long push, so that scans cross their first batches.
    const count = chance(this.random, 0.05)
      ? integerBetween(this.random, 30, 90)
      : integerBetween(this.random, 1, 4);
    return Array.from({ length: count }, () => this.element());
  }

  /** Indices around the list's length, and now and then one that is not an index at all. */
  private index(): string {
    const random = this.random;
    if (chance(random, 0.06)) return pick(random, BAD_INTEGERS);
    if (chance(random, 0.06)) return pick(random, [...GOOD_INTEGERS, ...NEAR_LIMIT_INTEGERS]);
    return String(integerBetween(random, -12, 12));
  }

  private count(): string {
    const random = this.random;
    if (chance(random, 0.08)) return pick(random, [...BAD_INTEGERS, '-1', '-9223372036854775808']);
    if (chance(random, 0.05)) return pick(random, ['9223372036854775807', '0']);
    return String(integerBetween(random, 0, 6));
  }

  private end(): string {
    const random = this.random;
    if (chance(random, 0.05)) return pick(random, ['UP', '', 'LEFT\u0000x', 'middle']);
    return randomCase(random, pick(random, ['LEFT', 'RIGHT']));
  }

  private lposOptions(): string[] {
    const random = this.random;
    const options: string[] = [];
    for (let index = integerBetween(random, 0, 3); index > 0; index--) {
      const roll = random();
      if (roll < 0.3)
        options.push(
          randomCase(random, 'rank'),
          chance(random, 0.1) ? this.count() : pick(random, ['1', '2', '-1', '-2', '3', '0']),
        );
      else if (roll < 0.6) options.push(randomCase(random, 'count'), this.count());
      else if (roll < 0.9) options.push('MAXLEN', this.count());
      else options.push(pick(random, ['RANK', 'FOO', 'COUNT']));
    }
    return options;
  }

  private command(): string[] {
    const random = this.random;
    const key = this.key();
    switch (integerBetween(random, 0, 28)) {
      case 0:
      case 1:
      case 2:
        return [pick(random, ['LPUSH', 'RPUSH']), key, ...this.elements()];
      case 3:
        return [pick(random, ['LPUSHX', 'RPUSHX']), key, ...this.elements()];
      case 4:
      case 5:
        return [pick(random, ['LPOP', 'RPOP']), key];
      case 6:
        return [pick(random, ['LPOP', 'RPOP']), key, this.count()];
      case 7:
      case 8:
        return ['LRANGE', key, this.index(), this.index()];
      case 9:
        return ['LLEN', key];
      case 10:
        return ['LINDEX', key, this.index()];
      case 11:
        return ['LSET', key, this.index(), this.element()];
      case 12:
        return [
          'LREM',
          key,
          chance(random, 0.1) ? this.count() : String(integerBetween(random, -3, 3)),
          this.element(),
        ];
      case 13:
        return ['LTRIM', key, this.index(), this.index()];
      case 14:
        return [
          'LINSERT',
          key,
          chance(random, 0.1)
            ? pick(random, ['MIDDLE', '', 'before\u0000'])
            : randomCase(random, pick(random, ['BEFORE', 'AFTER'])),
          this.element(),
          this.element(),
        ];
      case 15:
      case 16:
        return ['LPOS', key, this.element(), ...this.lposOptions()];
      case 17:
      case 18:
        return ['LMOVE', key, this.key(), this.end(), this.end()];
      case 19:
        return ['RPOPLPUSH', key, this.key()];
      case 20:
      case 21: {
        const keys = Array.from({ length: integerBetween(random, 1, 3) }, () => this.key());
        const numkeys = chance(random, 0.1)
          ? pick(random, ['0', '-1', 'x', '4', '9223372036854775807'])
          : String(keys.length);
        const count = chance(random, 0.5)
          ? []
          : [
              randomCase(random, 'count'),
              chance(random, 0.2) ? this.count() : String(integerBetween(random, 1, 5)),
            ];
        const extra = chance(random, 0.05) ? [pick(random, ['COUNT', 'FOO'])] : [];
        return ['LMPOP', numkeys, ...keys, this.end(), ...count, ...extra];
      }
      case 22:
        return ['TYPE', key];
      case 23:
        return ['DEL', key];
      case 24:
        return ['SET', `${PREFIX}list-string`, this.element()];
      case 25:
        return ['GET', key];
      case 26:
        return ['PEXPIRE', key, String(integerBetween(random, 100_000, 10_000_000))];
      case 27:
        return ['COPY', key, this.key(), ...(chance(random, 0.5) ? ['REPLACE'] : [])];
      default:
        return ['EXISTS', key];
    }
  }
}

test(`list commands reply as Redis 7.0 does (seed ${SEED})`, async () => {
  const random = mulberry32(SEED ^ 0x1157);
  const generator = new ListCommandGenerator(random);
  const node = new CollectionNode();
  const mismatches: string[] = [];
  const history: { args: Buffer[]; reply: Reply }[] = [];
  for (let index = 0; index < LIST_COMMAND_COUNT && mismatches.length < 20; index++) {
    const args = generator.next();
    node.nowMs = Date.now();
    const coreReply = node.reply(...args);
    const redisReply = await redis.send(args);
    history.push({ args, reply: redisReply });
    const why = difference(args, coreReply, redisReply, node.keyspace);
    if (why !== null) mismatches.push(`#${index} ${describe(args)}\n     ${why}${earlier(history, args)}`);
  }
  for (const name of LIST_KEYS) {
    const key = Buffer.from(PREFIX + name, 'latin1');
    for (const args of [
      [Buffer.from('TYPE'), key],
      [Buffer.from('LRANGE'), key, Buffer.from('0'), Buffer.from('-1')],
      [Buffer.from('PTTL'), key],
    ]) {
      node.nowMs = Date.now();
      const why = difference(args, node.reply(...args), await redis.send(args));
      if (why !== null) mismatches.push(`final ${describe(args)}\n     ${why}`);
    }
  }
  assert.deepEqual(mismatches, [], `replay with FUZZ_SEED=${SEED}\n${mismatches.join('\n')}`);
});

// ---------------------------------------------------------------------------------------------
// Sorted sets, on the collection layout (a header and element keys in the in-memory keyspace).
//
// Documented exceptions (where this project follows Redis 7.2+ rather than 7.0):
// - ZRANK/ZREVRANK … WITHSCORE (7.2): 7.0 answers a wrong-arity error; the expected reply is
//   built from 7.0's ZRANK and ZSCORE instead, and a fourth argument other than WITHSCORE is a
//   syntax error, as in 7.2.
// - Scores as text (ZSCAN, RESP2 replies) are the shortest that read back as the same double
//   (7.2's fpconv), where 7.0 prints "%.17g" (0.1 vs 0.10000000000000001): ZSCAN scores are
//   compared as numbers. RESP3 doubles are compared as numbers anyway.
// - ZRANDMEMBER is random on both sides: the replies are compared by shape, size and membership.
// - Lex ranges are only generated over sets whose members all have one score: with mixed scores
//   Redis's answer depends on its skiplist's random levels.

const ZSET_KEYS = ['z0', 'z1', 'z2'];
const LEX_KEYS = ['l0', 'l1'];
const ZSET_DESTINATIONS = ['d0', 'd1', 'z2'];
const ZSET_STRING_KEY = 'zstr';
/** A string key that no store command overwrites: lex commands meet it for WRONGTYPE. */
const LEX_STRING_KEY = 'lstr';
const ZSET_MEMBERS = ['a', 'b', 'c', 'd', 'e', 'f', '', 'A', 'aa', '\u0000m\u00ff', 'm'.repeat(70)];
const ZSET_SCORES = [
  '0',
  '1',
  '-1',
  '2',
  '2.5',
  '-3.25',
  '0.1',
  '1e20',
  '1.5e-7',
  'inf',
  '-inf',
  '+inf',
  '-0',
  '5.0',
  '0x10',
];
const ZSET_BAD_SCORES = ['nan', '', ' 1', '1 ', 'abc', '1e400', '1\u0000'];
const SCORE_BOUNDS = [
  '-inf',
  '+inf',
  'inf',
  '0',
  '1',
  '(1',
  '2',
  '(2.5',
  '-1',
  '(-inf',
  '',
  '(',
  ' 2',
  '1e400',
];
const BAD_SCORE_BOUNDS = ['abc', '[1', '((1', '1 ', 'nan'];
const LEX_BOUNDS = ['-', '+', '[a', '(a', '[c', '(d', '[', '(', '[aa', '[\u0000m\u00ff', '(zz'];
const BAD_LEX_BOUNDS = ['a', '', '+a', '-x', 'inf'];

class ZsetCommandGenerator {
  constructor(
    private readonly random: Random,
    private readonly members: readonly string[] = ZSET_MEMBERS,
    private readonly lexBounds: readonly string[] = LEX_BOUNDS,
  ) {}

  next(): Buffer[] {
    const random = this.random;
    const [name, ...rest] = this.command();
    let args = [randomCase(random, name as string), ...rest];
    if (chance(random, 0.03)) {
      args = chance(random, 0.5) && args.length > 1 ? args.slice(0, -1) : [...args, this.member()];
    }
    return args.map((arg) => Buffer.from(arg, 'latin1'));
  }

  private key(): string {
    const roll = this.random();
    if (roll < 0.05) return PREFIX + ZSET_STRING_KEY;
    if (roll < 0.1) return `${PREFIX}absent`;
    return PREFIX + pick(this.random, ZSET_KEYS);
  }

  private lexKey(): string {
    return chance(this.random, 0.05) ? PREFIX + LEX_STRING_KEY : PREFIX + pick(this.random, LEX_KEYS);
  }

  private destination(): string {
    return chance(this.random, 0.05)
      ? PREFIX + ZSET_STRING_KEY
      : PREFIX + pick(this.random, ZSET_DESTINATIONS);
  }

  private member(): string {
    return pick(this.random, this.members);
  }

  private score(): string {
    const random = this.random;
    if (chance(random, 0.06)) return pick(random, ZSET_BAD_SCORES);
    if (chance(random, 0.5)) return pick(random, ZSET_SCORES);
    return String(integerBetween(random, -5, 5));
  }

  private integerArgument(low: number, high: number): string {
    const random = this.random;
    if (chance(random, 0.05))
      return pick(random, ['abc', '1.5', '', '9223372036854775808', '-9223372036854775808']);
    if (chance(random, 0.03)) return pick(random, ['9223372036854775807', '-9223372036854775807']);
    return String(integerBetween(random, low, high));
  }

  private scoreBound(): string {
    return chance(this.random, 0.06) ? pick(this.random, BAD_SCORE_BOUNDS) : pick(this.random, SCORE_BOUNDS);
  }

  private lexBound(): string {
    return chance(this.random, 0.06) ? pick(this.random, BAD_LEX_BOUNDS) : pick(this.random, this.lexBounds);
  }

  private limit(): string[] {
    return chance(this.random, 0.3)
      ? ['LIMIT', this.integerArgument(-1, 4), this.integerArgument(-2, 4)]
      : [];
  }

  private numkeys(keys: string[]): string[] {
    const random = this.random;
    if (chance(random, 0.04)) return [pick(random, ['0', '-1', 'x', String(keys.length + 2)]), ...keys];
    return [String(keys.length), ...keys];
  }

  private sourceKeys(): string[] {
    return Array.from({ length: integerBetween(this.random, 1, 3) }, () =>
      chance(this.random, 0.2) ? this.lexKey() : this.key(),
    );
  }

  private setOptions(count: number, allowScores: boolean): string[] {
    const random = this.random;
    const options: string[] = [];
    if (chance(random, 0.3)) options.push('WEIGHTS', ...Array.from({ length: count }, () => this.score()));
    if (chance(random, 0.3)) options.push('AGGREGATE', pick(random, ['SUM', 'min', 'MAX', 'avg']));
    if (allowScores && chance(random, 0.5)) options.push('WITHSCORES');
    if (chance(random, 0.05)) options.push(pick(random, ['BOGUS', 'WEIGHTS', 'LIMIT']));
    return options;
  }

  private command(): string[] {
    const random = this.random;
    const roll = integerBetween(random, 0, 41);
    const key = this.key();
    switch (roll) {
      case 0:
      case 1:
      case 2:
      case 3: {
        const options = [];
        for (const option of ['NX', 'XX', 'GT', 'LT', 'CH', 'INCR'])
          if (chance(random, 0.1)) options.push(option);
        const pairs = integerBetween(random, 1, chance(random, 0.9) && !options.includes('INCR') ? 3 : 1);
        const elements = Array.from({ length: pairs }, () => [this.score(), this.member()]).flat();
        if (chance(random, 0.04)) elements.pop();
        return ['ZADD', key, ...options, ...elements];
      }
      case 4:
        return [
          'ZADD',
          this.lexKey(),
          '0',
          this.member(),
          ...(chance(random, 0.5) ? ['0', this.member()] : []),
        ];
      case 5:
      case 6:
        return ['ZINCRBY', key, this.score(), this.member()];
      case 7:
        return [
          'ZREM',
          chance(random, 0.2) ? this.lexKey() : key,
          ...Array.from({ length: integerBetween(random, 1, 3) }, () => this.member()),
        ];
      case 8:
        return ['ZSCORE', key, this.member()];
      case 9:
        return ['ZMSCORE', key, ...Array.from({ length: integerBetween(random, 1, 3) }, () => this.member())];
      case 10:
        return ['ZCARD', chance(random, 0.2) ? this.lexKey() : key];
      case 11:
        return ['ZCOUNT', key, this.scoreBound(), this.scoreBound()];
      case 12:
        return ['ZLEXCOUNT', this.lexKey(), this.lexBound(), this.lexBound()];
      case 13:
      case 14: {
        const type = pick(random, ['', '', 'BYSCORE', 'BYLEX']);
        const [min, max] =
          type === 'BYSCORE'
            ? [this.scoreBound(), this.scoreBound()]
            : type === 'BYLEX'
              ? [this.lexBound(), this.lexBound()]
              : [this.integerArgument(-4, 4), this.integerArgument(-4, 4)];
        const options = [
          type,
          chance(random, 0.3) ? 'REV' : '',
          ...this.limit(),
          chance(random, 0.4) ? 'WITHSCORES' : '',
        ];
        return [
          'ZRANGE',
          type === 'BYLEX' ? this.lexKey() : key,
          min,
          max,
          ...options.filter((option) => option !== ''),
        ];
      }
      case 15: {
        const type = pick(random, ['', 'BYSCORE', 'BYLEX']);
        const [min, max] =
          type === 'BYSCORE'
            ? [this.scoreBound(), this.scoreBound()]
            : type === 'BYLEX'
              ? [this.lexBound(), this.lexBound()]
              : [this.integerArgument(-4, 4), this.integerArgument(-4, 4)];
        const options = [
          type,
          chance(random, 0.3) ? 'REV' : '',
          ...this.limit(),
          chance(random, 0.05) ? 'WITHSCORES' : '',
        ];
        return [
          'ZRANGESTORE',
          this.destination(),
          type === 'BYLEX' ? this.lexKey() : key,
          min,
          max,
          ...options.filter((option) => option !== ''),
        ];
      }
      case 16:
      case 17:
        return [
          pick(random, ['ZRANGEBYSCORE', 'ZREVRANGEBYSCORE']),
          key,
          this.scoreBound(),
          this.scoreBound(),
          ...(chance(random, 0.4) ? ['WITHSCORES'] : []),
          ...this.limit(),
        ];
      case 18:
        return [
          pick(random, ['ZRANGEBYLEX', 'ZREVRANGEBYLEX']),
          this.lexKey(),
          this.lexBound(),
          this.lexBound(),
          ...this.limit(),
        ];
      case 19:
        return [
          'ZREVRANGE',
          key,
          this.integerArgument(-4, 4),
          this.integerArgument(-4, 4),
          ...(chance(random, 0.4) ? ['WITHSCORES'] : []),
        ];
      case 20:
      case 21: {
        const extra = chance(random, 0.2) ? [pick(random, ['WITHSCORE', 'withscore', 'WITHSCORES'])] : [];
        return [pick(random, ['ZRANK', 'ZREVRANK']), key, this.member(), ...extra];
      }
      case 22:
      case 23:
        return [
          pick(random, ['ZPOPMIN', 'ZPOPMAX']),
          key,
          ...(chance(random, 0.6) ? [this.integerArgument(-1, 3)] : []),
        ];
      case 24: {
        const keys = this.sourceKeys();
        const count = chance(random, 0.5) ? ['COUNT', this.integerArgument(-1, 3)] : [];
        return ['ZMPOP', ...this.numkeys(keys), pick(random, ['MIN', 'max', 'MIDDLE']), ...count];
      }
      case 25:
      case 26: {
        if (chance(random, 0.3)) return ['ZRANDMEMBER', key];
        // Never a large negative count: Redis would build a reply of that many members on the
        // shared server (7.0 accepts down to -LONG_MAX).
        const count = chance(random, 0.05)
          ? pick(random, ['abc', '9223372036854775808', '-9223372036854775808'])
          : String(integerBetween(random, -6, 6));
        return [
          'ZRANDMEMBER',
          key,
          count,
          ...(chance(random, 0.4) ? [pick(random, ['WITHSCORES', 'WITHSCORE'])] : []),
        ];
      }
      case 27:
        return ['ZREMRANGEBYSCORE', key, this.scoreBound(), this.scoreBound()];
      case 28:
        return ['ZREMRANGEBYRANK', key, this.integerArgument(-4, 4), this.integerArgument(-4, 4)];
      case 29:
        return ['ZREMRANGEBYLEX', this.lexKey(), this.lexBound(), this.lexBound()];
      case 30:
      case 31:
      case 32: {
        const keys = this.sourceKeys();
        const name = pick(random, ['ZUNION', 'ZINTER', 'ZDIFF']);
        return [name, ...this.numkeys(keys), ...this.setOptions(keys.length, true)];
      }
      case 33:
      case 34:
      case 35: {
        const keys = this.sourceKeys();
        const name = pick(random, ['ZUNIONSTORE', 'ZINTERSTORE', 'ZDIFFSTORE']);
        return [name, this.destination(), ...this.numkeys(keys), ...this.setOptions(keys.length, false)];
      }
      case 36: {
        const keys = this.sourceKeys();
        return [
          'ZINTERCARD',
          ...this.numkeys(keys),
          ...(chance(random, 0.4) ? ['LIMIT', this.integerArgument(-1, 3)] : []),
        ];
      }
      case 37:
      case 38: {
        const options: string[] = [];
        if (chance(random, 0.3)) options.push('MATCH', pick(random, ['*', 'a*', '?', '[a-c]', '*\u00ff']));
        if (chance(random, 0.3)) options.push('COUNT', this.integerArgument(0, 20));
        if (chance(random, 0.05)) options.push(pick(random, ['MATCH', 'NOPE']));
        const cursor = chance(random, 0.9)
          ? '0'
          : pick(random, ['-1', '', 'x', ' 1', '18446744073709551616']);
        return ['ZSCAN', chance(random, 0.2) ? this.lexKey() : key, cursor, ...options];
      }
      case 39:
        return ['ZADD', key, ...Array.from({ length: 5 }, () => [this.score(), this.member()]).flat()];
      default:
        return ['ZINCRBY', key, pick(random, ['inf', '-inf', '1e308', '-1e308']), this.member()];
    }
  }
}

/** What Redis 7.2 answers to ZRANK/ZREVRANK with a fourth argument, from 7.0's replies. */
async function rankWithScoreOnRedis(args: Buffer[]): Promise<Reply> {
  if (args.length > 4) return redis.send(args);
  if ((args[3] as Buffer).toString('latin1').toUpperCase() !== 'WITHSCORE')
    return { kind: 'error', message: 'ERR syntax error' };
  const rank = await redis.send(args.slice(0, 3));
  if (rank.kind === 'error') return rank;
  if (rank.kind === 'null') return { kind: 'nullArray' };
  const score = await redis.send([Buffer.from('ZSCORE'), args[1] as Buffer, args[2] as Buffer]);
  return { kind: 'array', items: [rank, score] };
}

/** The sets a command names, as Redis holds them now, to explain a mismatch. */
async function zsetStates(args: Buffer[]): Promise<string> {
  const keys = [
    ...new Set(args.map((arg) => arg.toString('latin1')).filter((arg) => arg.startsWith(PREFIX))),
  ];
  const lines: string[] = [];
  for (const key of keys) {
    const reply = await redis.send(['ZRANGE', key, '0', '-1', 'WITHSCORES']);
    lines.push(`\n       now ${JSON.stringify(key)} = ${JSON.stringify(canonical(reply))}`);
  }
  return lines.join('');
}

/** Null when the replies agree, allowing for the documented exceptions. */
function zsetDifference(args: Buffer[], coreReply: Reply, redisReply: Reply): string | null {
  const name = args[0]?.toString('latin1').toLowerCase() ?? '';
  let core = canonical(coreReply);
  let redisForm = canonical(redisReply);
  if (name === 'zrandmember' && coreReply.kind !== 'error' && redisReply.kind !== 'error') {
    // Random picks: the same kind and size.
    const shape = (form: unknown) => {
      const [kind, items] = form as [string, unknown];
      return [kind, Array.isArray(items) ? items.length : kind === 'bulk' ? 'member' : items];
    };
    core = shape(core);
    redisForm = shape(redisForm);
  }
  if (name === 'zscan' && coreReply.kind === 'array' && redisReply.kind === 'array') {
    // Scores as numbers, pairs in any order (Redis scans a set with a member over 64 bytes in
    // hash order), and the cursor only as "done or not".
    const numeric = (form: unknown) => {
      const [kind, [cursor, [itemsKind, items]]] = form as [string, [unknown, [string, [string, string][]]]];
      const pairs: string[] = [];
      for (let index = 0; index + 1 < items.length; index += 2) {
        pairs.push(JSON.stringify([items[index], String(Number(items[index + 1]?.[1]))]));
      }
      const done = JSON.stringify(cursor) === JSON.stringify(['bulk', '0']);
      return [kind, done ? [itemsKind, pairs.sort()] : 'partial'];
    };
    core = numeric(core);
    redisForm = numeric(redisForm);
    // Redis pages a set it keeps as a skiplist (a member over 64 bytes) by hash order: the
    // large-set test below checks that a whole scan returns every member.
    // … and resumes from a cursor other than 0 at a hash position: only the first call of a
    // scan is compared whole.
    const fromStart = ['0', ''].includes(args[2]?.toString('latin1') ?? '');
    const partial = JSON.stringify(redisForm).includes('partial') || JSON.stringify(core).includes('partial');
    if (partial || !fromStart) core = redisForm;
  }
  const coreText = JSON.stringify(core);
  const redisText = JSON.stringify(redisForm);
  return coreText === redisText ? null : `core ${coreText}\n     redis ${redisText}`;
}

/** Runs `count` generated commands on both sides, then compares every key's final state. */
async function compareZsetCommands(
  generator: ZsetCommandGenerator,
  count: number,
  setup: readonly string[][],
): Promise<void> {
  const store = new MemoryKeyspace(SEED);
  for (const name of [ZSET_STRING_KEY, LEX_STRING_KEY]) {
    const args = ['SET', PREFIX + name, 'text'].map((arg) => Buffer.from(arg));
    runOnCore(store, args, Date.now());
    await redis.send(args);
  }
  const mismatches: string[] = [];
  for (const words of setup) {
    const args = words.map((word) => Buffer.from(word, 'latin1'));
    const why = zsetDifference(args, runOnCore(store, args, Date.now()), await redis.send(args));
    if (why !== null) mismatches.push(`setup ${describe(args).slice(0, 200)}\n     ${why}`);
  }
  const history: { args: Buffer[]; reply: Reply }[] = [];
  for (let index = 0; index < count && mismatches.length < 20; index++) {
    const args = generator.next();
    const coreReply = runOnCore(store, args, Date.now());
    const name = args[0]?.toString('latin1').toLowerCase() ?? '';
    const redisReply =
      (name === 'zrank' || name === 'zrevrank') && args.length >= 4
        ? await rankWithScoreOnRedis(args)
        : await redis.send(args);
    history.push({ args, reply: redisReply });
    const why = zsetDifference(args, coreReply, redisReply);
    if (why !== null) {
      mismatches.push(
        `#${index} ${describe(args)}\n     ${why}${earlier(history, args)}${await zsetStates(args)}`,
      );
    }
  }
  // The final state: every key's members and scores.
  // 'absent' too: a write command now and then names it.
  for (const name of [
    ...ZSET_KEYS,
    ...LEX_KEYS,
    ...ZSET_DESTINATIONS,
    ZSET_STRING_KEY,
    LEX_STRING_KEY,
    'absent',
  ]) {
    for (const words of [
      ['ZRANGE', PREFIX + name, '0', '-1', 'WITHSCORES'],
      ['ZCARD', PREFIX + name],
    ]) {
      const args = words.map((word) => Buffer.from(word, 'latin1'));
      const why = zsetDifference(args, runOnCore(store, args, Date.now()), await redis.send(args));
      if (why !== null) mismatches.push(`final ${describe(args)}\n     ${why}`);
    }
    // Start the next comparison from nothing.
    const del = ['DEL', PREFIX + name].map((word) => Buffer.from(word, 'latin1'));
    runOnCore(store, del, Date.now());
    await redis.send(del);
  }
  assert.deepEqual(mismatches, [], `replay with FUZZ_SEED=${SEED}\n${mismatches.join('\n')}`);
}

test(`sorted-set commands reply as Redis 7.0 does (seed ${SEED})`, async () => {
  await compareZsetCommands(new ZsetCommandGenerator(mulberry32(SEED ^ 0x7a5e7)), COMMAND_COUNT, []);
});

test(`sorted-set commands over sets of hundreds of members reply as Redis 7.0 does (seed ${SEED})`, async () => {
  // Large enough that the order tree has inner nodes (64 items a node) and Redis a skiplist.
  const random = mulberry32(SEED ^ 0x1a26e);
  const members = Array.from({ length: 700 }, (_, index) => `m${String(index).padStart(3, '0')}`);
  const lexBounds = ['-', '+', '[m100', '(m100', '[m350', '(m699', '[m7', '(m', '[', '(m05'];
  const setup: string[][] = [];
  for (const name of ZSET_KEYS) {
    const pairs = members
      .filter(() => chance(random, 0.6))
      .flatMap((member) => [String(integerBetween(random, -20, 20)), member]);
    setup.push(['ZADD', PREFIX + name, ...pairs]);
  }
  for (const name of LEX_KEYS) {
    setup.push([
      'ZADD',
      PREFIX + name,
      ...members.filter(() => chance(random, 0.6)).flatMap((member) => ['0', member]),
    ]);
  }
  await compareZsetCommands(new ZsetCommandGenerator(random, members, lexBounds), 1_500, setup);
});

test('ZSCAN over a large sorted set returns every member, with a cursor', async () => {
  const key = `${PREFIX}bigzset`;
  const store = new MemoryKeyspace(SEED);
  const pairs = Array.from({ length: 500 }, (_, index) => [String(index * 0.5), `member:${index}`]).flat();
  const add = ['ZADD', key, ...pairs].map((arg) => Buffer.from(arg));
  assert.deepEqual(canonical(runOnCore(store, add, Date.now())), canonical(await redis.send(add)));
  const scanAll = async (send: (args: Buffer[]) => Promise<Reply> | Reply): Promise<Map<string, number>> => {
    const seen = new Map<string, number>();
    let cursor = '0';
    for (let calls = 0; calls < 1_000; calls++) {
      const reply = await send(['ZSCAN', key, cursor, 'COUNT', '25'].map((arg) => Buffer.from(arg)));
      assert.equal(reply.kind, 'array');
      const [next, items] = reply.kind === 'array' ? reply.items : [];
      const list = items?.kind === 'array' ? items.items : [];
      for (let index = 0; index < list.length; index += 2) {
        const member = list[index];
        const score = list[index + 1];
        if (member?.kind === 'bulk' && score?.kind === 'bulk') {
          seen.set(member.value.toString(), Number(score.value.toString()));
        }
      }
      cursor = next?.kind === 'bulk' ? next.value.toString() : '0';
      if (cursor === '0') break;
    }
    return seen;
  };
  const ours = await scanAll((args) => runOnCore(store, args, Date.now()));
  const theirs = await scanAll((args) => redis.send(args));
  assert.equal(ours.size, 500);
  assert.deepEqual([...ours].sort(), [...theirs].sort());
});
