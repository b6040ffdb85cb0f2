// Keys: EXISTS, TYPE, DEL, UNLINK, the EXPIRE family, the TTL family, PERSIST, TOUCH, RENAME,
// RENAMENX, COPY, OBJECT and MEMORY USAGE. (RANDOMKEY, SCAN and the other commands over the whole
// keyspace belong to the connection layer: server/session.ts and engine/keyspace.ts.)

import { array, bulk, error, integer, NULL, type Reply, simple } from '../../../../libs/resp/src/reply.js';
import { cString, keyAt, keyword } from './arguments.js';
import { COLLECTION_FAMILIES } from './collections/families.js';
import { type CollectionFamily, elementKey } from './collections/layout.js';
import { type DataCommandContext, type DataCommandHandler, nowBigInt, readLive } from './context-access.js';
import { INT64_MAX, INT64_MIN, parseInteger } from './number-text.js';
import { formattedError, invalidExpireTime, NOT_AN_INTEGER, ONE, ZERO } from './replies.js';
import {
  type CollectionType,
  encodeStoredValue,
  isCollectionHeader,
  type StoredValue,
} from './stored-value.js';

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

/** TOUCH key [key ...]: how many exist. Access times are not tracked, so nothing else happens. */
const touch = exists;

/** RENAME and RENAMENX key newkey: the value moves with its expiry. */
function renameCommand(onlyIfAbsent: boolean): DataCommandHandler {
  return (args, context) => {
    const source = keyAt(args, 1);
    const destination = keyAt(args, 2);
    const value = readLive(context, source);
    if (value === null) return error('ERR no such key');
    if (source === destination) return onlyIfAbsent ? ZERO : simple('OK');
    if (onlyIfAbsent && readLive(context, destination) !== null) return ZERO;
    // A collection's value is its header (the elements live under its id), so moving the value
    // moves the whole collection.
    context.write(destination, value);
    context.write(source, null);
    return onlyIfAbsent ? ONE : simple('OK');
  };
}

/** COPY source destination [DB destination-db] [REPLACE]: only database 0 exists here. */
function copy(args: Buffer[], context: DataCommandContext): Reply {
  let replace = false;
  for (let index = 3; index < args.length; index++) {
    const option = keyword(args[index] as Buffer);
    if (option === 'REPLACE') {
      replace = true;
    } else if (option === 'DB' && index + 1 < args.length) {
      const database = parseInteger(args[++index] as Buffer);
      if (database === null) return NOT_AN_INTEGER;
      // Redis reads the index as a C int.
      if (database > 2147483647n || database < -2147483648n) {
        return error('ERR value is out of range, value must between -2147483648 and 2147483647');
      }
      if (database !== 0n) return error('ERR DB index is out of range');
    } else {
      return error('ERR syntax error');
    }
  }
  const source = keyAt(args, 1);
  const destination = keyAt(args, 2);
  if (source === destination) return error('ERR source and destination objects are the same');
  const value = readLive(context, source);
  if (value === null) return ZERO;
  if (readLive(context, destination) !== null && !replace) return ZERO;
  const copied = copiedValue(context, value);
  if ('kind' in copied) return copied;
  context.write(destination, copied);
  return ONE;
}

/**
 * What COPY writes at the destination for the source's value, or an error reply: strings and
 * hashes stored whole are copied as they are (values are never mutated in place, so sharing
 * their buffers is safe). A collection (ADR 0008) gets a new id and a copy of each element key
 * under it: element bytes never embed the id, so the suffixes and the meta carry over as they are.
 */
export function copiedValue(
  context: DataCommandContext,
  value: StoredValue,
  families: ReadonlyMap<CollectionType, CollectionFamily> = COLLECTION_FAMILIES,
): StoredValue | Reply {
  if (!isCollectionHeader(value)) {
    return value.type === 'string' ? { ...value } : { ...value, fields: new Map(value.fields) };
  }
  const family = families.get(value.type);
  if (family === undefined) return error(`ERR COPY of a ${value.type} is not supported yet`);
  const keys = family.elementKeys(context, value);
  const elements = context.readElements(keys);
  const id = context.newCollectionId();
  const prefixLength = elementKey(value.id, '').length;
  keys.forEach((key, index) => {
    context.writeElement(elementKey(id, key.slice(prefixLength)), elements[index] ?? null);
  });
  return { ...value, id };
}

// OBJECT: Borealis keeps no Redis objects, so these are compatibility answers computed from the
// value: what Redis 7 with its default configuration would report for a value written by
// SET/HSET (Redis's encoding also remembers how a value was written: an APPENDed string is "raw"
// in Redis even when short).

/** Redis's default *-max-listpack-entries and *-max-listpack-value. */
const LISTPACK_ENTRIES_MAX = 128;
const LISTPACK_VALUE_BYTES_MAX = 64;
/** Past the listpack thresholds. */
const LARGE_ENCODINGS: Readonly<Record<CollectionType, string>> = {
  hash: 'hashtable',
  set: 'hashtable',
  list: 'quicklist',
  zset: 'skiplist',
};
/** Strings up to this length are allocated with their object in Redis ("embstr"). */
const EMBSTR_BYTES_MAX = 44;
/** Redis shares the integer objects 0…9999 (OBJ_SHARED_INTEGERS) with a refcount of INT_MAX. */
const SHARED_INTEGERS = 10_000n;
const SHARED_REFCOUNT = 2_147_483_647;

/** The integer a string holds when Redis would store it as one (string2l), else null. */
function integerEncoded(bytes: Buffer): bigint | null {
  return bytes.length <= 20 ? parseInteger(bytes) : null;
}

/**
 * Redis's encoding for such a value. A collection (ADR 0008) is judged by its element count
 * alone against Redis 7.4's default thresholds (128 entries: listpack below, the big encoding
 * above); Redis also looks at the elements' lengths (and, for sets, whether all are integers).
 */
export function objectEncoding(value: StoredValue): string {
  if (isCollectionHeader(value)) {
    if (value.size <= LISTPACK_ENTRIES_MAX) return 'listpack';
    return LARGE_ENCODINGS[value.type];
  }
  if (value.type === 'string') {
    if (integerEncoded(value.value) !== null) return 'int';
    return value.value.length <= EMBSTR_BYTES_MAX ? 'embstr' : 'raw';
  }
  if (value.fields.size > LISTPACK_ENTRIES_MAX) return 'hashtable';
  for (const [field, fieldValue] of value.fields) {
    if (field.length > LISTPACK_VALUE_BYTES_MAX || fieldValue.length > LISTPACK_VALUE_BYTES_MAX) {
      return 'hashtable';
    }
  }
  return 'listpack';
}

function objectEncodingCommand(args: Buffer[], context: DataCommandContext): Reply {
  const value = readLive(context, keyAt(args, 2));
  return value === null ? NULL : bulk(objectEncoding(value));
}

function objectRefcount(args: Buffer[], context: DataCommandContext): Reply {
  const value = readLive(context, keyAt(args, 2));
  if (value === null) return NULL;
  const number = value.type === 'string' ? integerEncoded(value.value) : null;
  const shared = number !== null && number >= 0n && number < SHARED_INTEGERS;
  return integer(shared ? SHARED_REFCOUNT : 1);
}

/** Access times are not tracked (a writer sees a fraction of a key's accesses): always 0. */
function objectIdletime(args: Buffer[], context: DataCommandContext): Reply {
  return readLive(context, keyAt(args, 2)) === null ? NULL : ZERO;
}

/** As Redis under its default maxmemory-policy (noeviction), which tracks no frequencies. */
function objectFreq(args: Buffer[], context: DataCommandContext): Reply {
  if (readLive(context, keyAt(args, 2)) === null) return NULL;
  return error(
    'ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.',
  );
}

/** Redis's addReplyHelp: a header naming the command as typed, the lines, then HELP. */
export function helpReply(commandName: Buffer, lines: readonly string[]): Reply {
  return array(
    [
      `${keyword(commandName)} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`,
      ...lines,
      'HELP',
      '    Prints this help.',
    ].map((line) => simple(line)),
  );
}

function objectHelp(args: Buffer[]): Reply {
  return helpReply(args[0] as Buffer, [
    'ENCODING <key>',
    '    Return the kind of internal representation used in order to store the value',
    '    associated with a <key>.',
    'FREQ <key>',
    '    Return the access frequency index of the <key>. The returned integer is',
    '    proportional to the logarithm of the recent access frequency of the key.',
    'IDLETIME <key>',
    '    Return the idle time of the <key>, that is the approximated number of',
    '    seconds elapsed since the last access to the key.',
    'REFCOUNT <key>',
    '    Return the number of references of the value associated with the specified',
    '    <key>.',
  ]);
}

/** Redis's default for MEMORY USAGE (OBJ_COMPUTE_SIZE_DEF_SAMPLES). */
const MEMORY_USAGE_SAMPLES_DEFAULT = 5n;

/**
 * MEMORY USAGE key [SAMPLES count]: the bytes the key and its value take in the store (the key,
 * the value as encoded and, for a collection, its element keys), on each replica; Redis's figure
 * counts its own allocations instead.
 */
function memoryUsage(args: Buffer[], context: DataCommandContext): Reply {
  let samples = MEMORY_USAGE_SAMPLES_DEFAULT;
  for (let index = 3; index < args.length; index++) {
    if (keyword(args[index] as Buffer) === 'SAMPLES' && index + 1 < args.length) {
      const parsed = parseInteger(args[++index] as Buffer);
      if (parsed === null) return NOT_AN_INTEGER;
      if (parsed < 0n) return error('ERR syntax error');
      samples = parsed;
    } else {
      return error('ERR syntax error');
    }
  }
  const key = keyAt(args, 2);
  const value = readLive(context, key);
  if (value === null) return NULL;
  return integer(key.length + encodeStoredValue(value).length + elementBytes(context, value, samples));
}

/**
 * The bytes of a collection's element keys: all of them with SAMPLES 0, else `samples` of them
 * spread over the collection, scaled to the whole (as Redis samples nested values). Without a
 * family for the type, nothing is counted beyond the header.
 */
export function elementBytes(
  context: DataCommandContext,
  value: StoredValue,
  samples: bigint,
  families: ReadonlyMap<CollectionType, CollectionFamily> = COLLECTION_FAMILIES,
): number {
  if (!isCollectionHeader(value)) return 0;
  const family = families.get(value.type);
  if (family === undefined) return 0;
  const keys = family.elementKeys(context, value);
  if (keys.length === 0) return 0;
  const count = samples === 0n || samples >= BigInt(keys.length) ? keys.length : Number(samples);
  const picked = Array.from(
    { length: count },
    (_unused, index) => keys[Math.floor((index * keys.length) / count)] as string,
  );
  const elements = context.readElements(picked);
  let bytes = 0;
  picked.forEach((key, index) => {
    bytes += key.length + (elements[index]?.length ?? 0);
  });
  return Math.round((bytes * keys.length) / count);
}

export const KEY_COMMANDS: ReadonlyArray<readonly [string, DataCommandHandler]> = [
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
  ['touch', touch],
  ['rename', renameCommand(false)],
  ['renamenx', renameCommand(true)],
  ['copy', copy],
  ['object|encoding', objectEncodingCommand],
  ['object|refcount', objectRefcount],
  ['object|idletime', objectIdletime],
  ['object|freq', objectFreq],
  ['object|help', objectHelp],
  ['memory|usage', memoryUsage],
];
