// Strings: GET, SET and its variants, GETEX, MGET, MSET, APPEND, STRLEN, GETRANGE, SETRANGE.
import { array, bulk, error, integer, NULL, OK, type Reply } from '../../../../libs/resp/src/reply.js';
import { keyAt } from './arguments.js';
import { arityError } from './command-table.js';
import {
  type DataCommandContext,
  type DataCommandHandler,
  nowBigInt,
  readLive,
  stringValue,
} from './context-access.js';
import { parseInteger } from './number-text.js';
import { NOT_AN_INTEGER, ONE, stringGrowthRefusal, WRONG_TYPE, ZERO } from './replies.js';
import {
  expiryFromOption,
  parseStringOptions,
  SET_EX,
  SET_EXAT,
  SET_GET,
  SET_KEEPTTL,
  SET_NX,
  SET_PERSIST,
  SET_PX,
  SET_PXAT,
  SET_XX,
} from './string-options.js';

const SYNTAX_ERROR = error('ERR syntax error');
const STRING_TOO_LONG = error('ERR string exceeds maximum allowed size (proto-max-bulk-len)');
const EMPTY_BULK = bulk(Buffer.alloc(0));

/** SET options under which SET needs the value it replaces. */
const SET_READS_CURRENT = SET_GET | SET_NX | SET_XX | SET_KEEPTTL;

/** Redis's default proto-max-bulk-len, which also bounds APPEND and SETRANGE results. */
const STRING_LENGTH_MAX = 512n * 1024n * 1024n;

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
  // A plain SET replaces the value whatever it was: only its options look at the current one.
  const current = flags & SET_READS_CURRENT ? readLive(context, key) : null;
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
  const refusal = stringGrowthRefusal(current.value.length + suffix.length);
  if (refusal !== null) return refusal;
  const value = Buffer.concat([current.value, suffix]);
  context.write(key, { type: 'string', value, expireAtMs: current.expireAtMs });
  return integer(value.length);
}

function strlen(args: Buffer[], context: DataCommandContext): Reply {
  const current = readLive(context, keyAt(args, 1));
  if (current === null) return ZERO;
  return current.type === 'string' ? integer(current.value.length) : WRONG_TYPE;
}

/**
 * GETRANGE (and its old name SUBSTR) key start end, both inclusive, negative from the end. As
 * Redis 7.4, which answers "" for a range that ends before the string starts (7.0 clamped such an
 * end to 0 and answered the first byte: GETRANGE "Hello World" 0 -100 gave "H").
 */
function getrange(args: Buffer[], context: DataCommandContext): Reply {
  let start = parseInteger(args[2] as Buffer);
  if (start === null) return NOT_AN_INTEGER;
  let end = parseInteger(args[3] as Buffer);
  if (end === null) return NOT_AN_INTEGER;
  const current = readLive(context, keyAt(args, 1));
  if (current === null) return EMPTY_BULK;
  if (current.type !== 'string') return WRONG_TYPE;
  const length = BigInt(current.value.length);
  if (start < 0n) start += length;
  if (end < 0n) end += length;
  if (length === 0n || start >= length || end < 0n || start > end) return EMPTY_BULK;
  if (start < 0n) start = 0n;
  if (end >= length) end = length - 1n;
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
  const refusal = stringGrowthRefusal(patchStart + patch.length);
  if (refusal !== null) return refusal;
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

/** The commands `blindWriteKeys` may find keys in: for any other, it has none. */
export const BLIND_WRITE_COMMAND_NAMES: ReadonlySet<string> = new Set(['set', 'mset']);

/**
 * The keys a command replaces without looking at their values: plain SET (no GET, NX, XX or
 * KEEPTTL) and MSET. The engine may write them blind (ADR 0016), without reading them first. A
 * command that would fail its syntax check has none: it writes nothing anyway.
 */
export function blindWriteKeys(name: string, args: Buffer[]): string[] {
  if (!BLIND_WRITE_COMMAND_NAMES.has(name)) return [];
  if (name === 'set') {
    const options = args.length >= 3 ? parseStringOptions(args, 3, 'set') : null;
    return options !== null && (options.flags & SET_READS_CURRENT) === 0 ? [keyAt(args, 1)] : [];
  }
  if (name === 'mset' && args.length >= 3 && args.length % 2 === 1) {
    const keys: string[] = [];
    for (let index = 1; index < args.length; index += 2) keys.push(keyAt(args, index));
    return keys;
  }
  return [];
}

export const STRING_COMMANDS: ReadonlyArray<readonly [string, DataCommandHandler]> = [
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
];
