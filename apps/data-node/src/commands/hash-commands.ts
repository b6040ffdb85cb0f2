// Hashes. A write that leaves a hash empty deletes the key.
import { array, bulk, error, integer, NULL, OK, type Reply } from '../../../../libs/resp/src/reply.js';
import { keyAt } from './arguments.js';
import { arityError } from './command-table.js';
import {
  type DataCommandContext,
  type DataCommandHandler,
  type HashValue,
  hashValue,
  readLive,
} from './context-access.js';
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
];
