// Hashes, on the collection layout (ADR 0008): the header at the key, fields in buckets
// (collections/buckets.ts), so a single-field command reads the header and one bucket whatever
// the hash's size. A write that leaves a hash empty deletes the key.
import { array, bulk, error, integer, NULL, OK, type Reply } from '../../../../libs/resp/src/reply.js';
import { keyAt, keyword } from './arguments.js';
import { type BucketTable, createTable, openTable, saveTable } from './collections/buckets.js';
import { EMPTY_SCAN, parseScanCursor, parseScanOptions, scanReply } from './collections/collection-scan.js';
import { type CollectionHeader, isCollectionHeader } from './collections/layout.js';
import { randomPicks } from './collections/random-picks.js';
import { arityError } from './command-table.js';
import { type DataCommandContext, type DataCommandHandler, readLive } from './context-access.js';
import {
  addInt64,
  addLongDoubles,
  formatLongDouble,
  LONG_DOUBLE_ZERO,
  parseInteger,
  parseLongDouble,
} from './number-text.js';
import {
  INCREMENT_OVERFLOW,
  integerReply,
  NOT_A_FLOAT,
  NOT_AN_INTEGER,
  NOT_FINITE_RESULT,
  ONE,
  WRONG_TYPE,
  ZERO,
} from './replies.js';

interface OpenHash {
  header: CollectionHeader;
  table: BucketTable;
}

/** The hash at `key`, null when absent, or WRONGTYPE. */
function openHash(context: DataCommandContext, key: string): OpenHash | null | Reply {
  const current = readLive(context, key);
  if (current === null) return null;
  if (current.type !== 'hash') return WRONG_TYPE;
  if (isCollectionHeader(current)) return { header: current, table: openTable(context, current) };
  // A hash stored whole (before ADR 0008) becomes a new collection; written back on a change.
  const created = createTable(context, 'hash');
  created.table.prepare(current.fields.keys(), current.fields.size);
  for (const [field, value] of current.fields) created.table.set(field, value);
  return { header: { ...created.header, expireAtMs: current.expireAtMs }, table: created.table };
}

/** The hash at `key`, a new empty one when absent, or WRONGTYPE. */
function openOrCreateHash(context: DataCommandContext, key: string): OpenHash | Reply {
  const hash = openHash(context, key);
  return hash === null ? createTable(context, 'hash') : hash;
}

function isReply(value: unknown): value is Reply {
  return typeof value === 'object' && value !== null && 'kind' in value;
}

function hsetCommand(commandName: 'hset' | 'hmset'): DataCommandHandler {
  return (args, context) => {
    if (args.length % 2 === 1) return arityError(commandName);
    const key = keyAt(args, 1);
    const hash = openOrCreateHash(context, key);
    if (isReply(hash)) return hash;
    const fields: string[] = [];
    for (let index = 2; index < args.length; index += 2) fields.push(keyAt(args, index));
    hash.table.prepare(fields, new Set(fields).size);
    let created = 0;
    for (let index = 2; index < args.length; index += 2) {
      if (hash.table.set(keyAt(args, index), Buffer.from(args[index + 1] as Buffer))) created++;
    }
    saveTable(context, key, hash.header, hash.table);
    return commandName === 'hset' ? integer(created) : OK;
  };
}

function hsetnx(args: Buffer[], context: DataCommandContext): Reply {
  const key = keyAt(args, 1);
  const hash = openOrCreateHash(context, key);
  if (isReply(hash)) return hash;
  const field = keyAt(args, 2);
  hash.table.prepare([field], 1);
  if (hash.table.has(field)) return ZERO;
  hash.table.set(field, Buffer.from(args[3] as Buffer));
  saveTable(context, key, hash.header, hash.table);
  return ONE;
}

function hget(args: Buffer[], context: DataCommandContext): Reply {
  const hash = openHash(context, keyAt(args, 1));
  if (hash === null) return NULL;
  if (isReply(hash)) return hash;
  const field = keyAt(args, 2);
  hash.table.prepare([field]);
  return valueReply(hash.table.get(field));
}

function hmget(args: Buffer[], context: DataCommandContext): Reply {
  const hash = openHash(context, keyAt(args, 1));
  if (isReply(hash)) return hash;
  const fields = args.slice(2).map((field) => field.toString('latin1'));
  if (hash === null) return array(fields.map(() => NULL));
  hash.table.prepare(fields);
  return array(fields.map((field) => valueReply(hash.table.get(field))));
}

function hdel(args: Buffer[], context: DataCommandContext): Reply {
  const key = keyAt(args, 1);
  const hash = openHash(context, key);
  if (hash === null) return ZERO;
  if (isReply(hash)) return hash;
  const fields = args.slice(2).map((field) => field.toString('latin1'));
  hash.table.prepare(fields);
  let deleted = 0;
  for (const field of fields) if (hash.table.delete(field)) deleted++;
  if (deleted > 0) saveTable(context, key, hash.header, hash.table);
  return integer(deleted);
}

function hlen(args: Buffer[], context: DataCommandContext): Reply {
  const current = readLive(context, keyAt(args, 1));
  if (current === null) return ZERO;
  if (current.type !== 'hash') return WRONG_TYPE;
  return integer(isCollectionHeader(current) ? current.size : current.fields.size);
}

function hstrlen(args: Buffer[], context: DataCommandContext): Reply {
  const hash = openHash(context, keyAt(args, 1));
  if (hash === null) return ZERO;
  if (isReply(hash)) return hash;
  const field = keyAt(args, 2);
  hash.table.prepare([field]);
  return integer(hash.table.get(field)?.length ?? 0);
}

function hexists(args: Buffer[], context: DataCommandContext): Reply {
  const hash = openHash(context, keyAt(args, 1));
  if (hash === null) return ZERO;
  if (isReply(hash)) return hash;
  const field = keyAt(args, 2);
  hash.table.prepare([field]);
  return hash.table.has(field) ? ONE : ZERO;
}

/** HGETALL answers a map (a flat array in RESP2); HKEYS and HVALS answer arrays. */
function hashListing(part: 'entries' | 'fields' | 'values'): DataCommandHandler {
  return (args, context) => {
    const hash = openHash(context, keyAt(args, 1));
    if (isReply(hash)) return hash;
    if (hash === null) return part === 'entries' ? { kind: 'map', entries: [] } : array([]);
    hash.table.loadAll();
    if (part === 'entries') {
      const entries: [Reply, Reply][] = [];
      for (const [field, value] of hash.table.entries()) entries.push([fieldReply(field), bulk(value)]);
      return { kind: 'map', entries };
    }
    const items: Reply[] = [];
    for (const [field, value] of hash.table.entries())
      items.push(part === 'fields' ? fieldReply(field) : bulk(value));
    return array(items);
  };
}

function hincrby(args: Buffer[], context: DataCommandContext): Reply {
  const increment = parseInteger(args[3] as Buffer);
  if (increment === null) return NOT_AN_INTEGER;
  const key = keyAt(args, 1);
  const hash = openOrCreateHash(context, key);
  if (isReply(hash)) return hash;
  const field = keyAt(args, 2);
  hash.table.prepare([field], 1);
  const stored = hash.table.get(field);
  const value = stored === undefined ? 0n : parseInteger(stored);
  if (value === null) return error('ERR hash value is not an integer');
  const result = addInt64(value, increment);
  if (result === null) return INCREMENT_OVERFLOW;
  hash.table.set(field, Buffer.from(result.toString(), 'latin1'));
  saveTable(context, key, hash.header, hash.table);
  return integerReply(result);
}

function hincrbyfloat(args: Buffer[], context: DataCommandContext): Reply {
  const increment = parseLongDouble(args[3] as Buffer);
  if (increment === null) return NOT_A_FLOAT;
  if (increment.kind !== 'finite') return error('ERR value is NaN or Infinity');
  const key = keyAt(args, 1);
  const hash = openOrCreateHash(context, key);
  if (isReply(hash)) return hash;
  const field = keyAt(args, 2);
  hash.table.prepare([field], 1);
  const stored = hash.table.get(field);
  const value = stored === undefined ? LONG_DOUBLE_ZERO : parseLongDouble(stored);
  if (value === null) return error('ERR hash value is not a float');
  const sum = addLongDoubles(value, increment);
  if (sum === null) return NOT_FINITE_RESULT;
  const text = Buffer.from(formatLongDouble(sum), 'latin1');
  hash.table.set(field, text);
  saveTable(context, key, hash.header, hash.table);
  return bulk(text);
}

/** HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES] (NOVALUES as Redis 7.4). */
function hscan(args: Buffer[], context: DataCommandContext): Reply {
  const cursor = parseScanCursor(args[2] as Buffer);
  if (typeof cursor !== 'bigint') return cursor;
  const hash = openHash(context, keyAt(args, 1));
  if (hash === null) return EMPTY_SCAN;
  if (isReply(hash)) return hash;
  const options = parseScanOptions(args, 3, true);
  if (isReply(options)) return options;
  return scanReply(hash.table, cursor, options, !options.noValues);
}

/** HRANDFIELD key [count [WITHVALUES]], as t_hash.c hrandfieldCommand. */
function hrandfield(args: Buffer[], context: DataCommandContext): Reply {
  if (args.length >= 3) {
    const count = parseInteger(args[2] as Buffer);
    if (count === null) return NOT_AN_INTEGER;
    if (count < -(2n ** 63n - 1n)) {
      return error(
        'ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807',
      );
    }
    if (args.length > 4 || (args.length === 4 && keyword(args[3] as Buffer) !== 'WITHVALUES')) {
      return error('ERR syntax error');
    }
    const withValues = args.length === 4;
    if (withValues && (count < -(2n ** 62n) || count > 2n ** 62n - 1n))
      return error('ERR value is out of range');
    const hash = openHash(context, keyAt(args, 1));
    if (hash === null) return array([]);
    if (isReply(hash)) return hash;
    const picks = randomPicks(hash.table, count, context);
    if (picks === null) return error('ERR the count is larger than this server can answer in one reply');
    if (withValues)
      return { kind: 'pairs', entries: picks.map(([field, value]) => [fieldReply(field), bulk(value)]) };
    return array(picks.map(([field]) => fieldReply(field)));
  }
  const hash = openHash(context, keyAt(args, 1));
  if (hash === null) return NULL;
  if (isReply(hash)) return hash;
  const [pick] = randomPicks(hash.table, -1n, context) ?? [];
  return pick === undefined ? NULL : fieldReply(pick[0]);
}

function fieldReply(field: string): Reply {
  return bulk(Buffer.from(field, 'latin1'));
}

function valueReply(value: Buffer | undefined): Reply {
  return value === undefined ? NULL : bulk(value);
}

export const HASH_COMMANDS: ReadonlyArray<readonly [string, DataCommandHandler]> = [
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
  ['hscan', hscan],
  ['hrandfield', hrandfield],
];
