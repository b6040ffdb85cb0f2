// The pure core of the data commands: one Redis command over the values of its keys, with the
// replies and error texts of Redis 7.0. Storage, transactions and time stay outside: values come
// and go through a DataCommandContext, and the clock is `nowMs`.
//
// Each handler follows its Redis counterpart (t_string.c, t_hash.c, expire.c, db.c) check for
// check, because the order of the checks decides which error a client sees. Values read from the
// context are never mutated: a change writes a new value.
import {
  array,
  bulk,
  error,
  integer,
  NULL,
  OK,
  type Reply,
  simple,
} from '../../../../libs/resp/src/reply.js';
import { arityError, arityMatches, type CommandSpec, unknownCommandError } from './command-table.js';
import { isExpired, type StoredValue } from './stored-value.js';

export interface DataCommandContext {
  /** Unix time in whole milliseconds, the same for every command of one transaction. */
  nowMs: number;
  /** The key's stored value, or null when absent. Expired values may be returned: treat them as absent. */
  read(key: string): StoredValue | null;
  /** Replace (null = delete) the key's value; later reads in the same context see it. */
  write(key: string, value: StoredValue | null): void;
}

type StringValue = Extract<StoredValue, { type: 'string' }>;
type HashValue = Extract<StoredValue, { type: 'hash' }>;
type DataCommandHandler = (args: Buffer[], context: DataCommandContext) => Reply;

export function executeDataCommand(spec: CommandSpec, args: Buffer[], context: DataCommandContext): Reply {
  const handler = spec.kind === 'data' ? HANDLERS.get(spec.name) : undefined;
  if (handler === undefined) return unknownCommandError(args);
  if (!arityMatches(spec.arity, args.length)) return arityError(spec.name);
  return handler(args, context);
}

// ---------------------------------------------------------------------------------------------
// Replies and limits shared by the handlers.

const WRONG_TYPE = error('WRONGTYPE Operation against a key holding the wrong kind of value');
const SYNTAX_ERROR = error('ERR syntax error');
const NOT_AN_INTEGER = error('ERR value is not an integer or out of range');
const NOT_A_FLOAT = error('ERR value is not a valid float');
const INCREMENT_OVERFLOW = error('ERR increment or decrement would overflow');
const NOT_FINITE_RESULT = error('ERR increment would produce NaN or Infinity');
const STRING_TOO_LONG = error('ERR string exceeds maximum allowed size (proto-max-bulk-len)');
const EMPTY_BULK = bulk(Buffer.alloc(0));
const ZERO = integer(0);
const ONE = integer(1);

/** Redis's default proto-max-bulk-len, which also bounds APPEND and SETRANGE results. */
const STRING_LENGTH_MAX = 512n * 1024n * 1024n;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

function invalidExpireTime(commandName: string): Reply {
  return error(`ERR invalid expire time in '${commandName}' command`);
}

// ---------------------------------------------------------------------------------------------
// Keys: EXISTS, TYPE, DEL, UNLINK, the EXPIRE family, the TTL family, PERSIST.

function exists(args: Buffer[], context: DataCommandContext): Reply {
  let count = 0;
  for (let index = 1; index < args.length; index++) {
    if (readLive(context, keyAt(args, index)) !== null) count++;
  }
  return integer(count);
}

function typeCommand(args: Buffer[], context: DataCommandContext): Reply {
  return simple(readLive(context, keyAt(args, 1))?.type ?? 'none');
}

function del(args: Buffer[], context: DataCommandContext): Reply {
  let deleted = 0;
  for (let index = 1; index < args.length; index++) {
    const key = keyAt(args, index);
    if (readLive(context, key) === null) continue;
    context.write(key, null);
    deleted++;
  }
  return integer(deleted);
}

const EXPIRE_NX = 1;
const EXPIRE_XX = 2;
const EXPIRE_GT = 4;
const EXPIRE_LT = 8;

type TimeUnit = 'seconds' | 'milliseconds';

/** EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT key time [NX | XX | GT | LT]. */
function expireCommand(commandName: string, unit: TimeUnit, relative: boolean): DataCommandHandler {
  return (args, context) => {
    const flags = parseExpireFlags(args);
    if (typeof flags !== 'number') return flags;
    let when = parseInteger(args[2] as Buffer);
    if (when === null) return NOT_AN_INTEGER;
    if (unit === 'seconds') {
      if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) return invalidExpireTime(commandName);
      when *= 1000n;
    }
    const baseMs = relative ? nowBigInt(context) : 0n;
    if (when > INT64_MAX - baseMs) return invalidExpireTime(commandName);
    when += baseMs;

    const key = keyAt(args, 1);
    const current = readLive(context, key);
    if (current === null) return ZERO;
    if (!expiryConditionHolds(flags, when, current.expireAtMs)) return ZERO;
    if (when <= nowBigInt(context)) {
      context.write(key, null);
    } else {
      context.write(key, { ...current, expireAtMs: Number(when) });
    }
    return ONE;
  };
}

function parseExpireFlags(args: Buffer[]): number | Reply {
  let flags = 0;
  for (let index = 3; index < args.length; index++) {
    const option = args[index] as Buffer;
    switch (keyword(option)) {
      case 'NX':
        flags |= EXPIRE_NX;
        break;
      case 'XX':
        flags |= EXPIRE_XX;
        break;
      case 'GT':
        flags |= EXPIRE_GT;
        break;
      case 'LT':
        flags |= EXPIRE_LT;
        break;
      default:
        return formattedError(`Unsupported option ${cString(option)}`);
    }
  }
  if (flags & EXPIRE_NX && flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT)) {
    return error('ERR NX and XX, GT or LT options at the same time are not compatible');
  }
  if (flags & EXPIRE_GT && flags & EXPIRE_LT) {
    return error('ERR GT and LT options at the same time are not compatible');
  }
  return flags;
}

/** A key without an expiry counts as expiring at infinity for GT and LT. */
function expiryConditionHolds(flags: number, when: bigint, currentExpireAtMs: number | null): boolean {
  const current = currentExpireAtMs === null ? null : BigInt(currentExpireAtMs);
  if (flags & EXPIRE_NX && current !== null) return false;
  if (flags & EXPIRE_XX && current === null) return false;
  if (flags & EXPIRE_GT && (current === null || when <= current)) return false;
  if (flags & EXPIRE_LT && current !== null && when >= current) return false;
  return true;
}

/** TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 without the key, -1 without an expiry. */
function ttlCommand(unit: TimeUnit, absolute: boolean): DataCommandHandler {
  return (args, context) => {
    const current = readLive(context, keyAt(args, 1));
    if (current === null) return integer(-2);
    if (current.expireAtMs === null) return integer(-1);
    const remainingMs = Math.max(0, absolute ? current.expireAtMs : current.expireAtMs - context.nowMs);
    return integer(unit === 'milliseconds' ? remainingMs : Math.floor((remainingMs + 500) / 1000));
  };
}

function persist(args: Buffer[], context: DataCommandContext): Reply {
  const key = keyAt(args, 1);
  const current = readLive(context, key);
  if (current === null || current.expireAtMs === null) return ZERO;
  context.write(key, { ...current, expireAtMs: null });
  return ONE;
}

// ---------------------------------------------------------------------------------------------
// Strings: GET, SET and its variants, GETEX, MGET, MSET, APPEND, STRLEN, GETRANGE, SETRANGE.

// The option flags of SET and GETEX, as Redis's OBJ_* flags: the parser below is a transcription
// of parseExtendedStringArgumentsOrReply, whose conditions decide which combinations are a
// syntax error (NX with XX is, EX twice is not).
const SET_NX = 1 << 0;
const SET_XX = 1 << 1;
const SET_EX = 1 << 2;
const SET_PX = 1 << 3;
const SET_KEEPTTL = 1 << 4;
const SET_GET = 1 << 5;
const SET_EXAT = 1 << 6;
const SET_PXAT = 1 << 7;
const SET_PERSIST = 1 << 8;

interface StringOptions {
  flags: number;
  /** The argument holding the time of EX, PX, EXAT or PXAT. */
  expire: Buffer | null;
}

function parseStringOptions(
  args: Buffer[],
  firstOption: number,
  command: 'set' | 'getex',
): StringOptions | null {
  const isSet = command === 'set';
  let flags = 0;
  let expire: Buffer | null = null;
  for (let index = firstOption; index < args.length; index++) {
    const option = keyword(args[index] as Buffer);
    const next = args[index + 1];
    const has = (mask: number): boolean => (flags & mask) !== 0;
    if (option === 'NX' && !has(SET_XX) && isSet) {
      flags |= SET_NX;
    } else if (option === 'XX' && !has(SET_NX) && isSet) {
      flags |= SET_XX;
    } else if (option === 'GET' && isSet) {
      flags |= SET_GET;
    } else if (option === 'KEEPTTL' && !has(SET_PERSIST | SET_EX | SET_EXAT | SET_PX | SET_PXAT) && isSet) {
      flags |= SET_KEEPTTL;
    } else if (option === 'PERSIST' && !isSet && !has(SET_EX | SET_EXAT | SET_PX | SET_PXAT | SET_KEEPTTL)) {
      flags |= SET_PERSIST;
    } else if (option === 'EX' && !has(SET_KEEPTTL | SET_PERSIST | SET_EXAT | SET_PX | SET_PXAT) && next) {
      flags |= SET_EX;
      expire = next;
      index++;
    } else if (option === 'PX' && !has(SET_KEEPTTL | SET_PERSIST | SET_EX | SET_EXAT | SET_PXAT) && next) {
      flags |= SET_PX;
      expire = next;
      index++;
    } else if (option === 'EXAT' && !has(SET_KEEPTTL | SET_PERSIST | SET_EX | SET_PX | SET_PXAT) && next) {
      flags |= SET_EXAT;
      expire = next;
      index++;
    } else if (option === 'PXAT' && !has(SET_KEEPTTL | SET_PERSIST | SET_EX | SET_EXAT | SET_PX) && next) {
      flags |= SET_PXAT;
      expire = next;
      index++;
    } else {
      return null;
    }
  }
  return { flags, expire };
}

/**
 * The absolute expiry of EX, PX, EXAT or PXAT (and SETEX, PSETEX), as Redis's
 * getExpireMillisecondsOrReply: the time must be positive and the result must fit in 64 bits.
 */
function expiryFromOption(
  flags: number,
  argument: Buffer,
  commandName: string,
  nowMs: number,
): bigint | Reply {
  const time = parseInteger(argument);
  if (time === null) return NOT_AN_INTEGER;
  const inSeconds = (flags & (SET_EX | SET_EXAT)) !== 0;
  if (time <= 0n || (inSeconds && time > INT64_MAX / 1000n)) return invalidExpireTime(commandName);
  let whenMs = inSeconds ? time * 1000n : time;
  if (flags & (SET_EX | SET_PX)) whenMs += BigInt(Math.floor(nowMs));
  // Redis's signed addition wraps to a negative number here, which it then refuses.
  if (whenMs > INT64_MAX) return invalidExpireTime(commandName);
  return whenMs;
}

interface SetRequest {
  key: string;
  value: Buffer;
  flags: number;
  expire: Buffer | null;
  commandName: string;
  okReply: Reply;
  abortReply: Reply;
}

/** SET and the commands Redis implements with it (SETNX, SETEX, PSETEX), as setGenericCommand. */
function setGeneric(request: SetRequest, context: DataCommandContext): Reply {
  const { key, flags } = request;
  let expireAtMs: number | null = null;
  if (request.expire !== null) {
    const whenMs = expiryFromOption(flags, request.expire, request.commandName, context.nowMs);
    if (typeof whenMs !== 'bigint') return whenMs;
    expireAtMs = Number(whenMs);
  }
  const current = readLive(context, key);
  let getReply: Reply | null = null;
  if (flags & SET_GET) {
    if (current !== null && current.type !== 'string') return WRONG_TYPE;
    getReply = current === null ? NULL : bulk(current.value);
  }
  const found = current !== null;
  if ((flags & SET_NX && found) || (flags & SET_XX && !found)) return getReply ?? request.abortReply;
  if (request.expire === null && flags & SET_KEEPTTL && current !== null) expireAtMs = current.expireAtMs;
  // A past EXAT or PXAT still stores the value, already expired, as Redis does.
  context.write(key, stringValue(request.value, expireAtMs));
  return getReply ?? request.okReply;
}

function set(args: Buffer[], context: DataCommandContext): Reply {
  const options = parseStringOptions(args, 3, 'set');
  if (options === null) return SYNTAX_ERROR;
  return setGeneric(
    {
      key: keyAt(args, 1),
      value: args[2] as Buffer,
      ...options,
      commandName: 'set',
      okReply: OK,
      abortReply: NULL,
    },
    context,
  );
}

function setnx(args: Buffer[], context: DataCommandContext): Reply {
  const request = { key: keyAt(args, 1), value: args[2] as Buffer, flags: SET_NX, expire: null };
  return setGeneric({ ...request, commandName: 'setnx', okReply: ONE, abortReply: ZERO }, context);
}

function setWithTime(commandName: string, flags: number): DataCommandHandler {
  return (args, context) => {
    const request = { key: keyAt(args, 1), value: args[3] as Buffer, flags, expire: args[2] as Buffer };
    return setGeneric({ ...request, commandName, okReply: OK, abortReply: NULL }, context);
  };
}

function get(args: Buffer[], context: DataCommandContext): Reply {
  const current = readLive(context, keyAt(args, 1));
  if (current === null) return NULL;
  return current.type === 'string' ? bulk(current.value) : WRONG_TYPE;
}

function getset(args: Buffer[], context: DataCommandContext): Reply {
  const reply = get(args, context);
  if (reply.kind === 'error') return reply;
  context.write(keyAt(args, 1), stringValue(args[2] as Buffer, null));
  return reply;
}

function getdel(args: Buffer[], context: DataCommandContext): Reply {
  const reply = get(args, context);
  if (reply.kind === 'bulk') context.write(keyAt(args, 1), null);
  return reply;
}

/** GETEX key [EX seconds | PX ms | EXAT unix-seconds | PXAT unix-ms | PERSIST] */
function getex(args: Buffer[], context: DataCommandContext): Reply {
  const options = parseStringOptions(args, 2, 'getex');
  if (options === null) return SYNTAX_ERROR;
  const key = keyAt(args, 1);
  const current = readLive(context, key);
  if (current === null) return NULL;
  if (current.type !== 'string') return WRONG_TYPE;
  const reply = bulk(current.value);
  if (options.expire !== null) {
    const whenMs = expiryFromOption(options.flags, options.expire, 'getex', context.nowMs);
    if (typeof whenMs !== 'bigint') return whenMs;
    const absolute = (options.flags & (SET_EXAT | SET_PXAT)) !== 0;
    const alreadyExpired = absolute && whenMs <= nowBigInt(context);
    context.write(key, alreadyExpired ? null : { ...current, expireAtMs: Number(whenMs) });
  } else if (options.flags & SET_PERSIST && current.expireAtMs !== null) {
    context.write(key, { ...current, expireAtMs: null });
  }
  return reply;
}

/** MGET answers null for a key that holds another type rather than failing. */
function mget(args: Buffer[], context: DataCommandContext): Reply {
  const items: Reply[] = [];
  for (let index = 1; index < args.length; index++) {
    const current = readLive(context, keyAt(args, index));
    items.push(current?.type === 'string' ? bulk(current.value) : NULL);
  }
  return array(items);
}

function msetCommand(commandName: 'mset' | 'msetnx'): DataCommandHandler {
  return (args, context) => {
    if (args.length % 2 === 0) return arityError(commandName);
    if (commandName === 'msetnx') {
      for (let index = 1; index < args.length; index += 2) {
        if (readLive(context, keyAt(args, index)) !== null) return ZERO;
      }
    }
    for (let index = 1; index < args.length; index += 2) {
      context.write(keyAt(args, index), stringValue(args[index + 1] as Buffer, null));
    }
    return commandName === 'msetnx' ? ONE : OK;
  };
}

function append(args: Buffer[], context: DataCommandContext): Reply {
  const key = keyAt(args, 1);
  const suffix = args[2] as Buffer;
  const current = readLive(context, key);
  if (current === null) {
    context.write(key, stringValue(suffix, null));
    return integer(suffix.length);
  }
  if (current.type !== 'string') return WRONG_TYPE;
  if (exceedsStringLimit(BigInt(current.value.length), suffix.length)) return STRING_TOO_LONG;
  const value = Buffer.concat([current.value, suffix]);
  context.write(key, { type: 'string', value, expireAtMs: current.expireAtMs });
  return integer(value.length);
}

function strlen(args: Buffer[], context: DataCommandContext): Reply {
  const current = readLive(context, keyAt(args, 1));
  if (current === null) return ZERO;
  return current.type === 'string' ? integer(current.value.length) : WRONG_TYPE;
}

/** GETRANGE (and its old name SUBSTR) key start end, both inclusive, negative from the end. */
function getrange(args: Buffer[], context: DataCommandContext): Reply {
  let start = parseInteger(args[2] as Buffer);
  if (start === null) return NOT_AN_INTEGER;
  let end = parseInteger(args[3] as Buffer);
  if (end === null) return NOT_AN_INTEGER;
  const current = readLive(context, keyAt(args, 1));
  if (current === null) return EMPTY_BULK;
  if (current.type !== 'string') return WRONG_TYPE;
  const length = BigInt(current.value.length);
  if (start < 0n && end < 0n && start > end) return EMPTY_BULK;
  if (start < 0n) start += length;
  if (end < 0n) end += length;
  if (start < 0n) start = 0n;
  if (end < 0n) end = 0n;
  if (end >= length) end = length - 1n;
  if (start > end || length === 0n) return EMPTY_BULK;
  return bulk(current.value.subarray(Number(start), Number(end) + 1));
}

function setrange(args: Buffer[], context: DataCommandContext): Reply {
  const offset = parseInteger(args[2] as Buffer);
  if (offset === null) return NOT_AN_INTEGER;
  if (offset < 0n) return error('ERR offset is out of range');
  const key = keyAt(args, 1);
  const patch = args[3] as Buffer;
  const current = readLive(context, key);
  if (current !== null && current.type !== 'string') return WRONG_TYPE;
  // Writing nothing changes nothing, and does not create the key.
  if (patch.length === 0) return integer(current?.value.length ?? 0);
  if (exceedsStringLimit(offset, patch.length)) return STRING_TOO_LONG;
  const patchStart = Number(offset);
  const previous = current?.value ?? EMPTY_BUFFER;
  const value = Buffer.alloc(Math.max(previous.length, patchStart + patch.length));
  previous.copy(value);
  patch.copy(value, patchStart);
  context.write(key, { type: 'string', value, expireAtMs: current?.expireAtMs ?? null });
  return integer(value.length);
}

const EMPTY_BUFFER = Buffer.alloc(0);

function exceedsStringLimit(existingLength: bigint, addedLength: number): boolean {
  return existingLength + BigInt(addedLength) > STRING_LENGTH_MAX;
}

// ---------------------------------------------------------------------------------------------
// Counters: INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT. They keep the key's expiry.

function incrementCommand(sign: 1n | -1n, withArgument: boolean): DataCommandHandler {
  return (args, context) => {
    let increment = sign;
    if (withArgument) {
      const parsed = parseInteger(args[2] as Buffer);
      if (parsed === null) return NOT_AN_INTEGER;
      // Negating INT64_MIN would overflow.
      if (sign < 0n && parsed === INT64_MIN) return error('ERR decrement would overflow');
      increment = sign * parsed;
    }
    const key = keyAt(args, 1);
    const current = readLive(context, key);
    if (current !== null && current.type !== 'string') return WRONG_TYPE;
    const value = current === null ? 0n : parseInteger(current.value);
    if (value === null) return NOT_AN_INTEGER;
    const result = addInt64(value, increment);
    if (result === null) return INCREMENT_OVERFLOW;
    context.write(key, stringValue(Buffer.from(result.toString(), 'latin1'), current?.expireAtMs ?? null));
    return integerReply(result);
  };
}

function incrbyfloat(args: Buffer[], context: DataCommandContext): Reply {
  const key = keyAt(args, 1);
  const current = readLive(context, key);
  if (current !== null && current.type !== 'string') return WRONG_TYPE;
  const value = current === null ? LONG_DOUBLE_ZERO : parseLongDouble(current.value);
  if (value === null) return NOT_A_FLOAT;
  const increment = parseLongDouble(args[2] as Buffer);
  if (increment === null) return NOT_A_FLOAT;
  const sum = addLongDoubles(value, increment);
  if (sum === null) return NOT_FINITE_RESULT;
  const text = Buffer.from(formatLongDouble(sum), 'latin1');
  context.write(key, { type: 'string', value: text, expireAtMs: current?.expireAtMs ?? null });
  return bulk(text);
}

// ---------------------------------------------------------------------------------------------
// Hashes. A write that leaves a hash empty deletes the key.

function hsetCommand(commandName: 'hset' | 'hmset'): DataCommandHandler {
  return (args, context) => {
    if (args.length % 2 === 1) return arityError(commandName);
    const key = keyAt(args, 1);
    const current = readLive(context, key);
    if (current !== null && current.type !== 'hash') return WRONG_TYPE;
    const fields = new Map(current?.fields);
    let created = 0;
    for (let index = 2; index < args.length; index += 2) {
      const field = keyAt(args, index);
      if (!fields.has(field)) created++;
      fields.set(field, Buffer.from(args[index + 1] as Buffer));
    }
    context.write(key, hashValue(fields, current));
    return commandName === 'hset' ? integer(created) : OK;
  };
}

function hsetnx(args: Buffer[], context: DataCommandContext): Reply {
  const key = keyAt(args, 1);
  const current = readLive(context, key);
  if (current !== null && current.type !== 'hash') return WRONG_TYPE;
  const field = keyAt(args, 2);
  if (current?.fields.has(field)) return ZERO;
  const fields = new Map(current?.fields);
  fields.set(field, Buffer.from(args[3] as Buffer));
  context.write(key, hashValue(fields, current));
  return ONE;
}

function hget(args: Buffer[], context: DataCommandContext): Reply {
  const current = readLive(context, keyAt(args, 1));
  if (current === null) return NULL;
  if (current.type !== 'hash') return WRONG_TYPE;
  return fieldReply(current, keyAt(args, 2));
}

function hmget(args: Buffer[], context: DataCommandContext): Reply {
  const current = readLive(context, keyAt(args, 1));
  if (current !== null && current.type !== 'hash') return WRONG_TYPE;
  const items: Reply[] = [];
  for (let index = 2; index < args.length; index++) {
    items.push(current === null ? NULL : fieldReply(current, keyAt(args, index)));
  }
  return array(items);
}

function hdel(args: Buffer[], context: DataCommandContext): Reply {
  const key = keyAt(args, 1);
  const current = readLive(context, key);
  if (current === null) return ZERO;
  if (current.type !== 'hash') return WRONG_TYPE;
  const fields = new Map(current.fields);
  let deleted = 0;
  for (let index = 2; index < args.length; index++) {
    if (fields.delete(keyAt(args, index))) deleted++;
  }
  if (deleted > 0) context.write(key, fields.size === 0 ? null : hashValue(fields, current));
  return integer(deleted);
}

function hlen(args: Buffer[], context: DataCommandContext): Reply {
  const current = readLive(context, keyAt(args, 1));
  if (current === null) return ZERO;
  return current.type === 'hash' ? integer(current.fields.size) : WRONG_TYPE;
}

function hstrlen(args: Buffer[], context: DataCommandContext): Reply {
  const current = readLive(context, keyAt(args, 1));
  if (current === null) return ZERO;
  if (current.type !== 'hash') return WRONG_TYPE;
  return integer(current.fields.get(keyAt(args, 2))?.length ?? 0);
}

function hexists(args: Buffer[], context: DataCommandContext): Reply {
  const current = readLive(context, keyAt(args, 1));
  if (current === null) return ZERO;
  if (current.type !== 'hash') return WRONG_TYPE;
  return current.fields.has(keyAt(args, 2)) ? ONE : ZERO;
}

/** HGETALL answers a map (a flat array in RESP2); HKEYS and HVALS answer arrays. */
function hashListing(part: 'entries' | 'fields' | 'values'): DataCommandHandler {
  return (args, context) => {
    const current = readLive(context, keyAt(args, 1));
    if (current !== null && current.type !== 'hash') return WRONG_TYPE;
    const fields = current?.fields ?? new Map<string, Buffer>();
    if (part === 'entries') {
      const entries: [Reply, Reply][] = [];
      for (const [field, value] of fields) entries.push([bulk(Buffer.from(field, 'latin1')), bulk(value)]);
      return { kind: 'map', entries };
    }
    const items: Reply[] = [];
    if (part === 'fields') for (const field of fields.keys()) items.push(bulk(Buffer.from(field, 'latin1')));
    else for (const value of fields.values()) items.push(bulk(value));
    return array(items);
  };
}

function hincrby(args: Buffer[], context: DataCommandContext): Reply {
  const increment = parseInteger(args[3] as Buffer);
  if (increment === null) return NOT_AN_INTEGER;
  const key = keyAt(args, 1);
  const current = readLive(context, key);
  if (current !== null && current.type !== 'hash') return WRONG_TYPE;
  const field = keyAt(args, 2);
  const stored = current?.fields.get(field);
  const value = stored === undefined ? 0n : parseInteger(stored);
  if (value === null) return error('ERR hash value is not an integer');
  const result = addInt64(value, increment);
  if (result === null) return INCREMENT_OVERFLOW;
  const fields = new Map(current?.fields);
  fields.set(field, Buffer.from(result.toString(), 'latin1'));
  context.write(key, hashValue(fields, current));
  return integerReply(result);
}

function hincrbyfloat(args: Buffer[], context: DataCommandContext): Reply {
  const increment = parseLongDouble(args[3] as Buffer);
  if (increment === null) return NOT_A_FLOAT;
  if (increment.kind !== 'finite') return error('ERR value is NaN or Infinity');
  const key = keyAt(args, 1);
  const current = readLive(context, key);
  if (current !== null && current.type !== 'hash') return WRONG_TYPE;
  const field = keyAt(args, 2);
  const stored = current?.fields.get(field);
  const value = stored === undefined ? LONG_DOUBLE_ZERO : parseLongDouble(stored);
  if (value === null) return error('ERR hash value is not a float');
  const sum = addLongDoubles(value, increment);
  if (sum === null) return NOT_FINITE_RESULT;
  const text = Buffer.from(formatLongDouble(sum), 'latin1');
  const fields = new Map(current?.fields);
  fields.set(field, text);
  context.write(key, hashValue(fields, current));
  return bulk(text);
}

function fieldReply(hash: HashValue, field: string): Reply {
  const value = hash.fields.get(field);
  return value === undefined ? NULL : bulk(value);
}

// ---------------------------------------------------------------------------------------------
// Shared helpers.

/** The key's value, or null when it is absent or expired. */
function readLive(context: DataCommandContext, key: string): StoredValue | null {
  const value = context.read(key);
  return value === null || isExpired(value, context.nowMs) ? null : value;
}

function keyAt(args: Buffer[], index: number): string {
  return (args[index] as Buffer).toString('latin1');
}

function nowBigInt(context: DataCommandContext): bigint {
  return BigInt(Math.floor(context.nowMs));
}

/** Stored values own their bytes: argument buffers may be views of a connection's read buffer. */
function stringValue(value: Buffer, expireAtMs: number | null): StringValue {
  return { type: 'string', value: Buffer.from(value), expireAtMs };
}

function hashValue(fields: Map<string, Buffer>, previous: HashValue | null): HashValue {
  return { type: 'hash', fields, expireAtMs: previous?.expireAtMs ?? null };
}

function integerReply(value: bigint): Reply {
  return integer(
    value >= Number.MIN_SAFE_INTEGER && value <= Number.MAX_SAFE_INTEGER ? Number(value) : value,
  );
}

/** Redis compares option keywords as C strings: case-insensitively and up to the first NUL byte. */
function keyword(argument: Buffer): string {
  return cString(argument).replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}

function cString(bytes: Buffer): string {
  const nul = bytes.indexOf(0);
  return bytes.toString('latin1', 0, nul < 0 ? bytes.length : nul);
}

/** As Redis's addReplyErrorFormat: line breaks trimmed at the ends and made spaces inside. */
function formattedError(message: string): Reply {
  return error(`ERR ${message.replace(/^[\r\n]+|[\r\n]+$/g, '').replace(/[\r\n]/g, ' ')}`);
}

function addInt64(value: bigint, increment: bigint): bigint | null {
  const result = value + increment;
  return result > INT64_MAX || result < INT64_MIN ? null : result;
}

/**
 * A signed 64-bit integer exactly as Redis's string2ll accepts it: optional '-', no '+', no
 * spaces, no leading zeros, at most 20 characters.
 */
function parseInteger(bytes: Buffer): bigint | null {
  const length = bytes.length;
  if (length === 0 || length >= 21) return null;
  if (length === 1 && bytes[0] === DIGIT_ZERO) return 0n;
  const firstDigit = bytes[0] === MINUS ? 1 : 0;
  const leading = bytes[firstDigit];
  if (leading === undefined || leading <= DIGIT_ZERO || leading > DIGIT_NINE) return null;
  for (let index = firstDigit + 1; index < length; index++) {
    const digit = bytes[index] as number;
    if (digit < DIGIT_ZERO || digit > DIGIT_NINE) return null;
  }
  const value = BigInt(bytes.toString('latin1'));
  return value > INT64_MAX || value < INT64_MIN ? null : value;
}

const DIGIT_ZERO = 0x30;
const DIGIT_NINE = 0x39;
const MINUS = 0x2d;

// ---------------------------------------------------------------------------------------------
// INCRBYFLOAT and HINCRBYFLOAT compute in C's `long double`, which on x86-64 (where Redis runs)
// is the x87 80-bit format: a 64-bit significand and a 15-bit exponent. A JS double would give
// other digits (0.1 + 0.2 is 0.3 in Redis), so the format is emulated exactly with BigInt:
// strtold's correctly rounded parsing, the sum rounded to nearest-even, and printf's "%.17Lf"
// with its trailing zeros trimmed.

/** A long double: `significand × 2^exponent` when finite, the significand below 2^64. */
type LongDouble =
  | {
      readonly kind: 'finite';
      readonly negative: boolean;
      readonly significand: bigint;
      readonly exponent: number;
    }
  | { readonly kind: 'infinite'; readonly negative: boolean };
type FiniteLongDouble = Extract<LongDouble, { kind: 'finite' }>;

const LONG_DOUBLE_ZERO: FiniteLongDouble = { kind: 'finite', negative: false, significand: 0n, exponent: 0 };
const SIGNIFICAND_BITS = 64;
/** The exponent of the lowest bit of the smallest subnormal, 2^-16445. */
const LOWEST_BIT_EXPONENT = -16445;
/** The exponent of the highest bit of the largest finite value, just below 2^16384. */
const HIGHEST_BIT_EXPONENT = 16383;
/** Redis's MAX_LONG_DOUBLE_CHARS: string2ld refuses input of this length or more. */
const LONG_DOUBLE_CHARS_MAX = 5 * 1024;
const FRACTION_DIGITS = 17;
const FRACTION_SCALE = 10n ** BigInt(FRACTION_DIGITS);

const DECIMAL_FLOAT = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const HEX_FLOAT = /^([+-]?)0[xX]([\da-fA-F]*)(?:\.([\da-fA-F]*))?(?:[pP]([+-]?\d+))?$/;
const INFINITY_TEXT = /^([+-]?)inf(?:inity)?$/i;

/**
 * A float as Redis's string2ld accepts it: all of it readable by strtold (decimal, hex or
 * infinity), no leading space, not NaN, and no overflow or underflow to zero. Null otherwise.
 */
function parseLongDouble(bytes: Buffer): LongDouble | null {
  if (bytes.length === 0 || bytes.length >= LONG_DOUBLE_CHARS_MAX) return null;
  const text = bytes.toString('latin1');
  const decimal = DECIMAL_FLOAT.exec(text);
  if (decimal !== null) {
    const [, sign, integerDigits = '', fractionDigits = '', exponentText = '0'] = decimal;
    if (integerDigits.length + fractionDigits.length === 0) return null;
    const exponent = Number(exponentText) - fractionDigits.length;
    return decimalToLongDouble(sign === '-', integerDigits + fractionDigits, exponent);
  }
  const hex = HEX_FLOAT.exec(text);
  if (hex !== null) {
    const [, sign, integerDigits = '', fractionDigits = '', exponentText = '0'] = hex;
    if (integerDigits.length + fractionDigits.length === 0) return null;
    const exponent = Number(exponentText) - 4 * fractionDigits.length;
    return hexToLongDouble(sign === '-', integerDigits + fractionDigits, exponent);
  }
  const infinity = INFINITY_TEXT.exec(text);
  if (infinity !== null) return { kind: 'infinite', negative: infinity[1] === '-' };
  return null;
}

/** digits × 10^exponent, correctly rounded; null when it overflows or underflows to zero. */
function decimalToLongDouble(negative: boolean, digits: string, exponent: number): LongDouble | null {
  const significantDigits = digits.replace(/^0+/, '');
  if (significantDigits === '') return LONG_DOUBLE_ZERO;
  // The value lies in [10^(magnitude-1), 10^magnitude). Far outside 1e-4951..1.2e4932 the
  // answer is known without building huge numbers.
  const magnitude = significantDigits.length + exponent;
  if (magnitude > 4940 || magnitude < -4960) return null;
  const mantissa = BigInt(significantDigits);
  if (exponent >= 0) return nonZeroOrNull(roundToLongDouble(negative, mantissa * 10n ** BigInt(exponent), 0));
  // Divide with enough quotient bits for rounding, then fold the remainder into a sticky bit so
  // that a tie is only a tie when the division was exact.
  const divisor = 10n ** BigInt(-exponent);
  const shift = Math.max(0, bitLength(divisor) - bitLength(mantissa) + SIGNIFICAND_BITS + 2);
  const scaled = mantissa << BigInt(shift);
  const quotient = scaled / divisor;
  const sticky = scaled % divisor === 0n ? 0n : 1n;
  return nonZeroOrNull(roundToLongDouble(negative, (quotient << 1n) | sticky, -shift - 1));
}

function hexToLongDouble(negative: boolean, digits: string, exponent: number): LongDouble | null {
  const mantissa = BigInt(`0x${digits}`);
  if (mantissa === 0n) return LONG_DOUBLE_ZERO;
  const topBit = bitLength(mantissa) - 1 + exponent;
  if (topBit > HIGHEST_BIT_EXPONENT + 1 || topBit < LOWEST_BIT_EXPONENT - 2) return null;
  return nonZeroOrNull(roundToLongDouble(negative, mantissa, exponent));
}

/** strtold reports overflow and underflow to zero as ERANGE, which string2ld refuses. */
function nonZeroOrNull(value: LongDouble): LongDouble | null {
  if (value.kind === 'infinite' || value.significand === 0n) return null;
  return value;
}

/** magnitude × 2^exponent rounded to nearest-even at 64 bits, or at the subnormal limit. */
function roundToLongDouble(negative: boolean, magnitude: bigint, exponent: number): LongDouble {
  if (magnitude === 0n) return LONG_DOUBLE_ZERO;
  let significand = magnitude;
  let resultExponent = exponent;
  const shift = Math.max(bitLength(magnitude) - SIGNIFICAND_BITS, LOWEST_BIT_EXPONENT - exponent);
  if (shift > 0) {
    const shiftBits = BigInt(shift);
    significand = magnitude >> shiftBits;
    const remainder = magnitude - (significand << shiftBits);
    const half = 1n << (shiftBits - 1n);
    if (remainder > half || (remainder === half && (significand & 1n) === 1n)) significand += 1n;
    resultExponent += shift;
    if (significand >> BigInt(SIGNIFICAND_BITS) !== 0n) {
      significand >>= 1n;
      resultExponent += 1;
    }
  }
  if (significand === 0n) return LONG_DOUBLE_ZERO;
  if (resultExponent + bitLength(significand) - 1 > HIGHEST_BIT_EXPONENT)
    return { kind: 'infinite', negative };
  return { kind: 'finite', negative, significand, exponent: resultExponent };
}

/** The rounded sum, or null when it is not finite (an infinite operand, or overflow). */
function addLongDoubles(a: LongDouble, b: LongDouble): FiniteLongDouble | null {
  if (a.kind !== 'finite' || b.kind !== 'finite') return null;
  const exponent = Math.min(a.exponent, b.exponent);
  const aScaled = (a.negative ? -a.significand : a.significand) << BigInt(a.exponent - exponent);
  const bScaled = (b.negative ? -b.significand : b.significand) << BigInt(b.exponent - exponent);
  const sum = aScaled + bScaled;
  const rounded = roundToLongDouble(sum < 0n, sum < 0n ? -sum : sum, exponent);
  return rounded.kind === 'finite' ? rounded : null;
}

/**
 * Redis's human-friendly long double text: printf's "%.17Lf" (exact digits, rounded half to
 * even), trailing zeros and a trailing point removed, "-0" made "0". Even the largest long
 * double (4,933 digits) fits Redis's buffer, so no text is ever cut.
 */
function formatLongDouble(value: FiniteLongDouble): string {
  const scaled = value.significand * FRACTION_SCALE;
  let digits: bigint;
  if (value.exponent >= 0) {
    digits = scaled << BigInt(value.exponent);
  } else {
    const shift = BigInt(-value.exponent);
    digits = scaled >> shift;
    const remainder = scaled - (digits << shift);
    const half = 1n << (shift - 1n);
    if (remainder > half || (remainder === half && (digits & 1n) === 1n)) digits += 1n;
  }
  const text = digits.toString().padStart(FRACTION_DIGITS + 1, '0');
  const sign = value.negative ? '-' : '';
  const integerPart = text.slice(0, -FRACTION_DIGITS);
  const fraction = text.slice(-FRACTION_DIGITS).replace(/0+$/, '');
  const result = `${sign}${integerPart}${fraction === '' ? '' : `.${fraction}`}`;
  return result === '-0' ? '0' : result;
}

function bitLength(value: bigint): number {
  return value === 0n ? 0 : value.toString(2).length;
}

// ---------------------------------------------------------------------------------------------

const HANDLERS: ReadonlyMap<string, DataCommandHandler> = new Map<string, DataCommandHandler>([
  ['exists', exists],
  ['type', typeCommand],
  ['del', del],
  ['unlink', del],
  ['expire', expireCommand('expire', 'seconds', true)],
  ['pexpire', expireCommand('pexpire', 'milliseconds', true)],
  ['expireat', expireCommand('expireat', 'seconds', false)],
  ['pexpireat', expireCommand('pexpireat', 'milliseconds', false)],
  ['ttl', ttlCommand('seconds', false)],
  ['pttl', ttlCommand('milliseconds', false)],
  ['expiretime', ttlCommand('seconds', true)],
  ['pexpiretime', ttlCommand('milliseconds', true)],
  ['persist', persist],
  ['get', get],
  ['set', set],
  ['setnx', setnx],
  ['setex', setWithTime('setex', SET_EX)],
  ['psetex', setWithTime('psetex', SET_PX)],
  ['getset', getset],
  ['getdel', getdel],
  ['getex', getex],
  ['mget', mget],
  ['mset', msetCommand('mset')],
  ['msetnx', msetCommand('msetnx')],
  ['append', append],
  ['strlen', strlen],
  ['getrange', getrange],
  ['substr', getrange],
  ['setrange', setrange],
  ['incr', incrementCommand(1n, false)],
  ['decr', incrementCommand(-1n, false)],
  ['incrby', incrementCommand(1n, true)],
  ['decrby', incrementCommand(-1n, true)],
  ['incrbyfloat', incrbyfloat],
  ['hset', hsetCommand('hset')],
  ['hsetnx', hsetnx],
  ['hmset', hsetCommand('hmset')],
  ['hget', hget],
  ['hmget', hmget],
  ['hdel', hdel],
  ['hgetall', hashListing('entries')],
  ['hlen', hlen],
  ['hexists', hexists],
  ['hincrby', hincrby],
  ['hincrbyfloat', hincrbyfloat],
  ['hkeys', hashListing('fields')],
  ['hvals', hashListing('values')],
  ['hstrlen', hstrlen],
]);
