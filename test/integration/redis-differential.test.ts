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
import { commandReply, keysOf, resolveCommand } from '../../apps/data-node/src/commands/command-table.js';
import {
  type DataCommandContext,
  executeDataCommand,
} from '../../apps/data-node/src/commands/data-commands.js';
import { globMatch } from '../../apps/data-node/src/commands/glob.js';
import {
  decodeStoredValue,
  encodeStoredValue,
  type StoredValue,
} from '../../apps/data-node/src/commands/stored-value.js';
import type { Reply } from '../../libs/resp/src/reply.js';
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
      return { reply: { kind: 'double', value: Number(line) }, next: afterLine };
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
  }
}

// ---------------------------------------------------------------------------------------------
// The core's side: a Map of encoded values, so that every value also makes an encode/decode trip.

class MemoryStore {
  readonly values = new Map<string, Uint8Array>();

  context(nowMs: number, declaredKeys: readonly string[]): DataCommandContext {
    const declared = new Set(declaredKeys);
    const check = (key: string): void => {
      if (!declared.has(key)) throw new Error(`the core touched undeclared key ${JSON.stringify(key)}`);
    };
    return {
      nowMs,
      read: (key) => {
        check(key);
        const bytes = this.values.get(key);
        return bytes === undefined ? null : decodeStoredValue(bytes);
      },
      write: (key, value: StoredValue | null) => {
        check(key);
        if (value === null) this.values.delete(key);
        else this.values.set(key, encodeStoredValue(value));
      },
    };
  }
}

function runOnCore(store: MemoryStore, args: Buffer[], nowMs: number): Reply {
  const resolution = resolveCommand(args);
  if ('error' in resolution) return resolution.error;
  const { spec } = resolution;
  if (spec.kind !== 'data') throw new Error(`generated a session command: ${spec.name}`);
  return executeDataCommand(spec, args, store.context(nowMs, keysOf(spec, args)));
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
const KEY_NAMES = [...STRING_KEYS, ...HASH_KEYS];
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

  private key(family: 'string' | 'hash' = 'string'): string {
    const crossOver = chance(this.random, 0.06);
    const names = (family === 'hash') !== crossOver ? HASH_KEYS : STRING_KEYS;
    return PREFIX + pick(this.random, names);
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
    const roll = integerBetween(random, 0, 47);
    const key = this.key(roll >= 31 ? 'hash' : roll <= 9 && chance(random, 0.3) ? 'hash' : 'string');
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

/** Null when the replies agree; otherwise why not. */
function difference(args: Buffer[], coreReply: Reply, redisReply: Reply): string | null {
  const name = args[0]?.toString('latin1').toLowerCase() ?? '';
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
  // Redis keeps a large hash in a hash table, whose order is its own.
  if (['hgetall', 'hkeys', 'hvals'].includes(name)) {
    core = sortedItems(core);
    redis = sortedItems(redis);
  }
  const coreText = JSON.stringify(core);
  const redisText = JSON.stringify(redis);
  return coreText === redisText ? null : `core ${coreText}\n     redis ${redisText}`;
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
  const store = new MemoryStore();
  const mismatches: string[] = [];
  const history: { args: Buffer[]; reply: Reply }[] = [];
  for (let index = 0; index < COMMAND_COUNT && mismatches.length < 20; index++) {
    const nowMs = Date.now();
    const args = generator.next(nowMs);
    const coreReply = runOnCore(store, args, nowMs);
    const redisReply = await redis.send(args);
    history.push({ args, reply: redisReply });
    const why = difference(args, coreReply, redisReply);
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
  assert.deepEqual(withoutArgumentDocs(canonical(docs)), canonical(ourDocs));
});

/** Our docs leave out the argument descriptions. */
function withoutArgumentDocs(form: unknown): unknown {
  const [kind, entries] = form as [string, [unknown, [string, [unknown, unknown][]]][]];
  return [
    kind,
    entries.map(([name, [docsKind, fields]]) => [
      name,
      [
        docsKind,
        fields.filter(
          ([field]) =>
            JSON.stringify(field) !== JSON.stringify(['bulk', 'arguments']) &&
            JSON.stringify(field) !== JSON.stringify(['bulk', 'history']),
        ),
      ],
    ]),
  ];
}

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
  const store = new MemoryStore();
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
