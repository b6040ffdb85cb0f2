// Lists: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LRANGE LLEN LINDEX LSET LREM LTRIM LINSERT LPOS LMOVE
// RPOPLPUSH LMPOP, with Redis 7.0's replies and errors (t_list.c), over the layout of
// list-layout.ts. Each handler checks in Redis's order, since that order decides which error a
// client sees. A list that becomes empty is deleted.
//
// The blocking forms (BLPOP, BRPOP, BLMOVE, BLMPOP, BRPOPLPUSH) are not served: a data command
// runs as one transaction and cannot wait for another client's push, and answering them only when
// data is there would turn a wait into a wrong null reply; they stay unknown commands.
import { array, bulk, error, integer, NULL, OK, type Reply } from '../../../../libs/resp/src/reply.js';
import { keyAt, keyword } from './arguments.js';
import { isCollectionHeader } from './collections/layout.js';
import { arityError } from './command-table.js';
import type { DataCommandContext, DataCommandHandler } from './context-access.js';
import {
  beginListCommand,
  type ListHeader,
  listCommandSawTornRead,
  range,
  StoredList,
} from './list-layout.js';
import { parseInteger } from './number-text.js';
import { NOT_AN_INTEGER, WRONG_TYPE, ZERO } from './replies.js';
import { isExpired, type StoredValue } from './stored-value.js';

const NULL_ARRAY: Reply = { kind: 'nullArray' };
const EMPTY_ARRAY: Reply = array([]);
const SYNTAX_ERROR = error('ERR syntax error');
const NO_SUCH_KEY = error('ERR no such key');
const INDEX_OUT_OF_RANGE = error('ERR index out of range');
const OUT_OF_RANGE_POSITIVE = error('ERR value is out of range, must be positive');
const INDEX_SPACE_FULL = error('ERR the list cannot grow further at this end');

/** Redis's `long` arguments are 64-bit; positions beyond ±2^53 behave like any out-of-range one. */
const CLAMP = BigInt(Number.MAX_SAFE_INTEGER);
function clamped(value: bigint): number {
  return Number(value > CLAMP ? CLAMP : value < -CLAMP ? -CLAMP : value);
}

type Lookup = { list: StoredList | null } | { error: Reply };

/** The list at `key`: null when absent or expired, an error when the key holds another type. */
function lookupList(context: DataCommandContext, key: string): Lookup {
  const value: StoredValue | null = context.read(key);
  if (value === null || isExpired(value, context.nowMs)) return { list: null };
  if (value.type !== 'list' || !isCollectionHeader(value)) return { error: WRONG_TYPE };
  return { list: StoredList.open(context, key, value as ListHeader) };
}

function bulks(elements: readonly Buffer[]): Reply {
  return array(elements.map((element) => bulk(element)));
}

/** Redis's getListPositionFromObjectOrReply: LEFT is the head, RIGHT the tail. */
function parseEnd(argument: Buffer): 'tail' | 'head' | null {
  const word = keyword(argument);
  if (word === 'RIGHT') return 'tail';
  if (word === 'LEFT') return 'head';
  return null;
}

/** LPUSH, RPUSH, LPUSHX, RPUSHX key element [element ...]: the list's length after the push. */
function pushCommand(atTail: boolean, onlyIfExists: boolean): DataCommandHandler {
  return (args, context) => {
    const key = keyAt(args, 1);
    const lookup = lookupList(context, key);
    if ('error' in lookup) return lookup.error;
    if (lookup.list === null && onlyIfExists) return ZERO;
    const list = lookup.list ?? StoredList.create(context, key);
    const elements = args.slice(2).map((argument) => Buffer.from(argument));
    if (!list.hasRoomFor(elements.length)) return INDEX_SPACE_FULL;
    list.prepare(list.slotKeys(atTail, elements.length));
    list.push(atTail, elements);
    list.save();
    return integer(list.size);
  };
}

/** Removes and returns `count` elements at one end, in pop order; deletes their keys. */
function popElements(list: StoredList, atTail: boolean, count: number): Buffer[] {
  const positions = list.endPositions(atTail, count);
  list.prepare(list.popKeys(atTail, count));
  const elements = list.read(positions);
  for (const position of positions) list.remove(position);
  list.drop(atTail, count);
  list.save();
  return elements;
}

/** LPOP and RPOP key [count]: one element as a bulk string, or with a count, an array. */
function popCommand(name: string, atTail: boolean): DataCommandHandler {
  return (args, context) => {
    if (args.length > 3) return arityError(name);
    const withCount = args.length === 3;
    let count = 0;
    if (withCount) {
      const parsed = parseInteger(args[2] as Buffer);
      if (parsed === null || parsed < 0n) return OUT_OF_RANGE_POSITIVE;
      count = clamped(parsed);
    }
    const lookup = lookupList(context, keyAt(args, 1));
    if ('error' in lookup) return lookup.error;
    const { list } = lookup;
    if (list === null) return withCount ? NULL_ARRAY : NULL;
    if (withCount && count === 0) return EMPTY_ARRAY;
    if (!withCount) return bulk(popElements(list, atTail, 1)[0] as Buffer);
    return bulks(popElements(list, atTail, Math.min(count, list.size)));
  };
}

/** Redis's range rule (LRANGE, LTRIM): negative positions count from the end; null when empty. */
function normalizeRange(start: number, end: number, size: number): { start: number; end: number } | null {
  let first = start < 0 ? size + start : start;
  let last = end < 0 ? size + end : end;
  if (first < 0) first = 0;
  if (first > last || first >= size) return null;
  if (last >= size) last = size - 1;
  return { start: first, end: last };
}

function lrange(args: Buffer[], context: DataCommandContext): Reply {
  const start = parseInteger(args[2] as Buffer);
  const end = parseInteger(args[3] as Buffer);
  if (start === null || end === null) return NOT_AN_INTEGER;
  const lookup = lookupList(context, keyAt(args, 1));
  if ('error' in lookup) return lookup.error;
  const { list } = lookup;
  if (list === null) return EMPTY_ARRAY;
  const span = normalizeRange(clamped(start), clamped(end), list.size);
  if (span === null) return EMPTY_ARRAY;
  return bulks(list.readRange(span.start, span.end - span.start + 1));
}

function llen(args: Buffer[], context: DataCommandContext): Reply {
  const lookup = lookupList(context, keyAt(args, 1));
  if ('error' in lookup) return lookup.error;
  return integer(lookup.list?.size ?? 0);
}

/** A position from the head for a Redis index (negative from the tail), or null outside the list. */
function positionOf(index: bigint, size: number): number | null {
  const position = index < 0n ? BigInt(size) + index : index;
  return position < 0n || position >= BigInt(size) ? null : Number(position);
}

function lindex(args: Buffer[], context: DataCommandContext): Reply {
  const lookup = lookupList(context, keyAt(args, 1));
  if ('error' in lookup) return lookup.error;
  const { list } = lookup;
  if (list === null) return NULL;
  const index = parseInteger(args[2] as Buffer);
  if (index === null) return NOT_AN_INTEGER;
  const position = positionOf(index, list.size);
  if (position === null) return NULL;
  return bulk(list.read([position])[0] as Buffer);
}

function lset(args: Buffer[], context: DataCommandContext): Reply {
  const lookup = lookupList(context, keyAt(args, 1));
  if ('error' in lookup) return lookup.error;
  const { list } = lookup;
  if (list === null) return NO_SUCH_KEY;
  const index = parseInteger(args[2] as Buffer);
  if (index === null) return NOT_AN_INTEGER;
  const position = positionOf(index, list.size);
  if (position === null) return INDEX_OUT_OF_RANGE;
  list.prepare([list.keyAt(position)]);
  list.set(position, Buffer.from(args[3] as Buffer));
  return OK;
}

/**
 * Rewrites the list without the elements at `removed` (ascending positions). The kept elements
 * close the gaps by moving towards the tail (the head side is rewritten) or towards the head (the
 * tail side is), whichever touches fewer keys; `scanned` says which positions were already read
 * (from the head up to `scanned.headEnd`, from the tail down to `scanned.tailStart`).
 */
function removePositions(
  list: StoredList,
  removed: readonly number[],
  scanned: { headEnd: number; tailStart: number },
): void {
  const first = removed[0] as number;
  const last = removed[removed.length - 1] as number;
  const size = list.size;
  const unread = (from: number, to: number): number =>
    Math.max(0, Math.min(to, scanned.tailStart) - Math.max(from, scanned.headEnd));
  // Closing towards the head rewrites [first, size); towards the tail rewrites [0, last].
  const costTowardsHead = size - first + unread(first, size);
  const costTowardsTail = last + 1 + unread(0, last + 1);
  const gone = new Set(removed);
  if (costTowardsHead <= costTowardsTail) {
    const elements = list.readRange(first, size - first);
    let target = first;
    for (let position = first; position < size; position++) {
      if (gone.has(position)) continue;
      const element = elements[position - first] as Buffer;
      if (!element.equals(elements[target - first] as Buffer)) list.set(target, element);
      target++;
    }
    for (let position = target; position < size; position++) list.remove(position);
    list.drop(true, size - target);
  } else {
    const elements = list.readRange(0, last + 1);
    let target = last;
    for (let position = last; position >= 0; position--) {
      if (gone.has(position)) continue;
      const element = elements[position] as Buffer;
      if (!element.equals(elements[target] as Buffer)) list.set(target, element);
      target--;
    }
    for (let position = 0; position <= target; position++) list.remove(position);
    list.drop(false, target + 1);
  }
  list.save();
}

/** LREM key count element: removes up to |count| matches from the head (count > 0), the tail (< 0), or all (0). */
function lrem(args: Buffer[], context: DataCommandContext): Reply {
  const count = parseInteger(args[2] as Buffer);
  if (count === null) return NOT_AN_INTEGER;
  const lookup = lookupList(context, keyAt(args, 1));
  if ('error' in lookup) return lookup.error;
  const { list } = lookup;
  if (list === null) return ZERO;
  const element = args[3] as Buffer;
  const fromTail = count < 0n;
  const wanted = count === 0n ? Number.POSITIVE_INFINITY : clamped(fromTail ? -count : count);
  const removed: number[] = [];
  let seen = 0;
  list.scan(fromTail, list.size, (position, candidate) => {
    seen++;
    if (candidate.equals(element)) removed.push(position);
    return removed.length < wanted;
  });
  if (removed.length === 0) return ZERO;
  removed.sort((a, b) => a - b);
  const scanned = fromTail
    ? { headEnd: 0, tailStart: list.size - seen }
    : { headEnd: seen, tailStart: list.size };
  removePositions(list, removed, scanned);
  return integer(removed.length);
}

/** Trims of up to this many elements delete them in place; larger ones may move what is kept. */
const TRIM_IN_PLACE_MAX = 64;

function ltrim(args: Buffer[], context: DataCommandContext): Reply {
  const start = parseInteger(args[2] as Buffer);
  const end = parseInteger(args[3] as Buffer);
  if (start === null || end === null) return NOT_AN_INTEGER;
  const lookup = lookupList(context, keyAt(args, 1));
  if ('error' in lookup) return lookup.error;
  const { list } = lookup;
  if (list === null) return OK;
  const size = list.size;
  const span = normalizeRange(clamped(start), clamped(end), size);
  const fromHead = span === null ? size : span.start;
  const fromTail = span === null ? 0 : size - span.end - 1;
  if (fromHead === 0 && fromTail === 0) return OK;
  const kept = size - fromHead - fromTail;
  if (fromHead + fromTail > TRIM_IN_PLACE_MAX && kept < fromHead + fromTail) {
    // Cheaper to move what is kept to a new list than to delete what goes: the old element keys
    // are reclaimed in the background, so trimming most of a huge list costs O(kept).
    const elements = list.readRange(fromHead, kept);
    const successor = list.successor();
    successor.prepare(successor.slotKeys(true, kept));
    successor.push(true, elements);
    successor.save();
    return OK;
  }
  const gone = [...range(0, fromHead), ...range(size - fromTail, fromTail)];
  list.prepare(gone.map((position) => list.keyAt(position)));
  for (const position of gone) list.remove(position);
  list.drop(false, fromHead);
  list.drop(true, fromTail);
  list.save();
  return OK;
}

/** LINSERT key BEFORE|AFTER pivot element: the new length, -1 without the pivot, 0 without the key. */
function linsert(args: Buffer[], context: DataCommandContext): Reply {
  const where = keyword(args[2] as Buffer);
  if (where !== 'AFTER' && where !== 'BEFORE') return SYNTAX_ERROR;
  const lookup = lookupList(context, keyAt(args, 1));
  if ('error' in lookup) return lookup.error;
  const { list } = lookup;
  if (list === null) return ZERO;
  const pivot = args[3] as Buffer;
  let found = -1;
  list.scan(false, list.size, (position, candidate) => {
    if (!candidate.equals(pivot)) return true;
    found = position;
    return false;
  });
  if (found < 0) return integer(-1);
  if (!list.hasRoomFor(1)) return INDEX_SPACE_FULL;
  const element = Buffer.from(args[4] as Buffer);
  // The new element takes position `at`; the elements before it move one towards the head, or
  // those from it on one towards the tail, whichever side touches fewer keys ([0, found] is read).
  const at = where === 'BEFORE' ? found : found + 1;
  const size = list.size;
  const costTowardsHead = at + 1;
  const costTowardsTail = size - at + 1 + Math.max(0, size - Math.max(at, found + 1));
  if (costTowardsHead <= costTowardsTail) {
    const moved = list.readRange(0, at);
    list.prepare(list.endKeys(false, 1));
    list.head--;
    list.size++;
    for (const [offset, value] of moved.entries()) list.set(offset, value);
    list.set(at, element);
  } else {
    const moved = list.readRange(at, size - at);
    list.prepare(list.endKeys(true, 1));
    list.size++;
    for (const [offset, value] of moved.entries()) list.set(at + 1 + offset, value);
    list.set(at, element);
  }
  list.save();
  return integer(list.size);
}

const RANK_ZERO = error(
  "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
);
// Redis 7.4 refuses the one rank that cannot be negated; 7.0 took it as a rank from the tail.
const RANK_OUT_OF_RANGE = error(
  'ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807',
);

/** LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]. */
function lpos(args: Buffer[], context: DataCommandContext): Reply {
  let rank = 1n;
  let count: bigint | null = null;
  let maxlen = 0n;
  for (let index = 3; index < args.length; index++) {
    const option = keyword(args[index] as Buffer);
    const value = args[index + 1];
    if (option === 'RANK' && value !== undefined) {
      index++;
      const parsed = parseInteger(value);
      if (parsed === null) return NOT_AN_INTEGER;
      if (parsed === -(2n ** 63n)) return RANK_OUT_OF_RANGE;
      if (parsed === 0n) return RANK_ZERO;
      rank = parsed;
    } else if (option === 'COUNT' && value !== undefined) {
      index++;
      const parsed = parseInteger(value);
      if (parsed === null || parsed < 0n) return error("ERR COUNT can't be negative");
      count = parsed;
    } else if (option === 'MAXLEN' && value !== undefined) {
      index++;
      const parsed = parseInteger(value);
      if (parsed === null || parsed < 0n) return error("ERR MAXLEN can't be negative");
      maxlen = parsed;
    } else {
      return SYNTAX_ERROR;
    }
  }
  const fromTail = rank < 0n;
  const skip = fromTail ? -rank : rank;
  const lookup = lookupList(context, keyAt(args, 1));
  if ('error' in lookup) return lookup.error;
  const { list } = lookup;
  if (list === null) return count === null ? NULL : EMPTY_ARRAY;
  const element = args[2] as Buffer;
  const limit = maxlen === 0n ? list.size : clamped(maxlen);
  const found: number[] = [];
  let matches = 0n;
  list.scan(fromTail, limit, (position, candidate) => {
    if (!candidate.equals(element)) return true;
    matches++;
    if (matches < skip) return true;
    found.push(position);
    if (count === null) return false;
    return count === 0n || BigInt(found.length) < count;
  });
  if (count !== null) return array(found.map((position) => integer(position)));
  return found.length === 0 ? NULL : integer(found[0] as number);
}

/** Pops one element from `source` and pushes it onto `destination` (RPOPLPUSH, LMOVE). */
function moveCommand(
  context: DataCommandContext,
  args: Buffer[],
  from: 'head' | 'tail',
  to: 'head' | 'tail',
): Reply {
  const sourceKey = keyAt(args, 1);
  const destinationKey = keyAt(args, 2);
  const sourceLookup = lookupList(context, sourceKey);
  if ('error' in sourceLookup) return sourceLookup.error;
  const source = sourceLookup.list;
  if (source === null) return NULL;
  let destination: StoredList;
  if (destinationKey === sourceKey) {
    destination = source;
  } else {
    const destinationLookup = lookupList(context, destinationKey);
    if ('error' in destinationLookup) return destinationLookup.error;
    destination = destinationLookup.list ?? StoredList.create(context, destinationKey);
  }
  const poppedPosition = source.endPositions(from === 'tail', 1)[0] as number;
  const poppedKey = source.keyAt(poppedPosition);
  const popWindow = source.popKeys(from === 'tail', 1);
  source.drop(from === 'tail', 1);
  if (!destination.hasRoomFor(1)) return INDEX_SPACE_FULL;
  // One round for both ends; the popped key is read before it is deleted, as the same list may
  // reuse it as the slot.
  source.prepare([...popWindow, ...destination.slotKeys(to === 'tail', 1)]);
  const [element] = source.elementsAt([poppedKey]) as [Buffer];
  source.writeElement(poppedKey, null);
  destination.push(to === 'tail', [element]);
  if (destination !== source) source.save();
  destination.save();
  return bulk(element);
}

function rpoplpush(args: Buffer[], context: DataCommandContext): Reply {
  return moveCommand(context, args, 'tail', 'head');
}

function lmove(args: Buffer[], context: DataCommandContext): Reply {
  const from = parseEnd(args[3] as Buffer);
  if (from === null) return SYNTAX_ERROR;
  const to = parseEnd(args[4] as Buffer);
  if (to === null) return SYNTAX_ERROR;
  return moveCommand(context, args, from, to);
}

/** LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: [key, elements] of the first non-empty list. */
function lmpop(args: Buffer[], context: DataCommandContext): Reply {
  const numkeys = parseInteger(args[1] as Buffer);
  if (numkeys === null || numkeys < 1n) return error('ERR numkeys should be greater than 0');
  const whereIndex = 2n + numkeys;
  if (whereIndex >= BigInt(args.length)) return SYNTAX_ERROR;
  const where = parseEnd(args[Number(whereIndex)] as Buffer);
  if (where === null) return SYNTAX_ERROR;
  let count: bigint | null = null;
  for (let index = Number(whereIndex) + 1; index < args.length; index++) {
    const value = args[index + 1];
    if (count === null && keyword(args[index] as Buffer) === 'COUNT' && value !== undefined) {
      index++;
      const parsed = parseInteger(value);
      if (parsed === null || parsed < 1n) return error('ERR count should be greater than 0');
      count = parsed;
    } else {
      return SYNTAX_ERROR;
    }
  }
  for (let index = 2; index < Number(whereIndex); index++) {
    const key = keyAt(args, index);
    const lookup = lookupList(context, key);
    if ('error' in lookup) return lookup.error;
    const { list } = lookup;
    if (list === null) continue;
    const popped = popElements(list, where === 'tail', Math.min(clamped(count ?? 1n), list.size));
    return array([bulk(args[index] as Buffer), bulks(popped)]);
  }
  return NULL_ARRAY;
}

const LIST_TORN = error(
  'ERR the list changed while the command read it, and the change did not show as a conflict; retry the command',
);

/**
 * A handler whose reply is dropped when it saw its list torn (list-layout.ts, `tornRead`): then
 * it wrote only its header, unchanged, and the commit that validates its reads aborts, so the
 * engine runs it again; the error here goes out only if that commit did not abort.
 */
function guarded(handler: DataCommandHandler): DataCommandHandler {
  return (args, context) => {
    beginListCommand();
    const reply = handler(args, context);
    return listCommandSawTornRead() ? LIST_TORN : reply;
  };
}

const HANDLERS: ReadonlyArray<readonly [string, DataCommandHandler]> = [
  ['lpush', pushCommand(false, false)],
  ['rpush', pushCommand(true, false)],
  ['lpushx', pushCommand(false, true)],
  ['rpushx', pushCommand(true, true)],
  ['lpop', popCommand('lpop', false)],
  ['rpop', popCommand('rpop', true)],
  ['lrange', lrange],
  ['llen', llen],
  ['lindex', lindex],
  ['lset', lset],
  ['lrem', lrem],
  ['ltrim', ltrim],
  ['linsert', linsert],
  ['lpos', lpos],
  ['lmove', lmove],
  ['rpoplpush', rpoplpush],
  ['lmpop', lmpop],
];

export const LIST_COMMANDS: ReadonlyArray<readonly [string, DataCommandHandler]> = HANDLERS.map(
  ([name, handler]) => [name, guarded(handler)] as const,
);
