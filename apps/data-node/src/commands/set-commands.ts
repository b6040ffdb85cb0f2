// Sets, on the collection layout (ADR 0008): members in buckets (collections/buckets.ts), so
// SADD, SREM, SISMEMBER and SMOVE read the header and one bucket per member. Checks and error
// texts follow Redis 7.0's t_set.c in order.
//
// Order: Redis keeps a set of integers only (at most `set-max-intset-entries`, 512) as a sorted
// intset and answers it in ascending order; the header's flag byte remembers whether the set is
// still such a set (it stops being one for good, as in Redis, once it holds anything else).
// Such sets, and results of SUNION/SDIFF/SINTER that would be intsets in Redis, answer sorted;
// other sets answer in bucket order, where Redis uses its hash table's.
import { array, bulk, error, integer, NULL, type Reply } from '../../../../libs/resp/src/reply.js';
import { keyAt, keyword } from './arguments.js';
import {
  type BucketTable,
  createTable,
  loadTogether,
  openTable,
  saveTable,
  tableFlagsOf,
} from './collections/buckets.js';
import { EMPTY_SCAN, parseScanCursor, parseScanOptions } from './collections/collection-scan.js';
import { type CollectionHeader, isCollectionHeader } from './collections/layout.js';
import { randomPicks } from './collections/random-picks.js';
import type { DataCommandContext, DataCommandHandler } from './context-access.js';
import { readLive } from './context-access.js';
import { globMatch } from './glob.js';
import { parseInteger } from './number-text.js';
import { NOT_AN_INTEGER, ONE, WRONG_TYPE, ZERO } from './replies.js';

/** Redis's `set-max-intset-entries`. */
export const INTSET_ENTRIES_MAX = 512;
const INTSET_FLAG = 0x01;
const SYNTAX_ERROR = error('ERR syntax error');
const EMPTY_SET: Reply = { kind: 'set', items: [] };

interface OpenSet {
  header: CollectionHeader;
  table: BucketTable;
  intset: boolean;
}

function isReply(value: unknown): value is Reply {
  return typeof value === 'object' && value !== null && 'kind' in value;
}

function isIntegerMember(member: string): boolean {
  return parseInteger(Buffer.from(member, 'latin1')) !== null;
}

/** The set at `key`, null when absent, or WRONGTYPE. */
function openSet(context: DataCommandContext, key: string): OpenSet | null | Reply {
  const current = readLive(context, key);
  if (current === null) return null;
  if (current.type !== 'set' || !isCollectionHeader(current)) return WRONG_TYPE;
  return {
    header: current,
    table: openTable(context, current),
    intset: (tableFlagsOf(current) & INTSET_FLAG) !== 0,
  };
}

/** A new set, an intset when its first member is an integer (Redis's setTypeCreate). */
function createSet(context: DataCommandContext, firstMember: string): OpenSet {
  const intset = isIntegerMember(firstMember);
  const { header, table } = createTable(context, 'set', intset ? INTSET_FLAG : 0);
  return { header, table, intset };
}

/** Adds members (their buckets loaded in one round); the count of new ones. */
function addMembers(set: OpenSet, members: readonly string[]): number {
  set.table.prepare(members, new Set(members).size);
  let added = 0;
  for (const member of members) {
    if (!set.table.set(member, Buffer.alloc(0))) continue;
    added++;
    if (set.intset && !isIntegerMember(member)) set.intset = false;
  }
  if (set.table.size > INTSET_ENTRIES_MAX) set.intset = false;
  return added;
}

function saveSet(context: DataCommandContext, key: string, set: OpenSet): void {
  saveTable(context, key, set.header, set.table, set.intset ? INTSET_FLAG : 0);
}

/** Every member, in the order Redis would answer them (see the file comment). */
function allMembers(set: OpenSet): string[] {
  set.table.loadAll();
  const members = [...set.table.entries()].map(([member]) => member);
  return set.intset ? sortNumerically(members) : members;
}

function sortNumerically(members: string[]): string[] {
  return members
    .map((member) => [BigInt(member), member] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, member]) => member);
}

/** A computed result in Redis's order: sorted when Redis would hold it as an intset. */
function resultOrder(members: string[]): string[] {
  return members.length <= INTSET_ENTRIES_MAX && members.every(isIntegerMember)
    ? sortNumerically(members)
    : members;
}

function memberReply(member: string): Reply {
  return bulk(Buffer.from(member, 'latin1'));
}

function setReply(members: readonly string[]): Reply {
  return { kind: 'set', items: members.map(memberReply) };
}

function membersOf(args: Buffer[], from: number): string[] {
  return args.slice(from).map((arg) => arg.toString('latin1'));
}

function sadd(args: Buffer[], context: DataCommandContext): Reply {
  const key = keyAt(args, 1);
  const members = membersOf(args, 2);
  const existing = openSet(context, key);
  if (isReply(existing)) return existing;
  const set = existing ?? createSet(context, members[0] as string);
  const added = addMembers(set, members);
  if (added > 0 || existing === null) saveSet(context, key, set);
  return integer(added);
}

function srem(args: Buffer[], context: DataCommandContext): Reply {
  const key = keyAt(args, 1);
  const set = openSet(context, key);
  if (set === null) return ZERO;
  if (isReply(set)) return set;
  const members = membersOf(args, 2);
  set.table.prepare(members);
  let removed = 0;
  for (const member of members) if (set.table.delete(member)) removed++;
  if (removed > 0) saveSet(context, key, set);
  return integer(removed);
}

function smove(args: Buffer[], context: DataCommandContext): Reply {
  const sourceKey = keyAt(args, 1);
  const destinationKey = keyAt(args, 2);
  const member = keyAt(args, 3);
  const source = openSet(context, sourceKey);
  const destination = openSet(context, destinationKey);
  if (source === null) return ZERO;
  if (isReply(source)) return source;
  if (isReply(destination)) return destination;
  if (sourceKey === destinationKey) {
    source.table.prepare([member]);
    return source.table.has(member) ? ONE : ZERO;
  }
  source.table.prepare([member]);
  if (!source.table.delete(member)) return ZERO;
  saveSet(context, sourceKey, source);
  const target = destination ?? createSet(context, member);
  addMembers(target, [member]);
  saveSet(context, destinationKey, target);
  return ONE;
}

function sismember(args: Buffer[], context: DataCommandContext): Reply {
  const set = openSet(context, keyAt(args, 1));
  if (set === null) return ZERO;
  if (isReply(set)) return set;
  const member = keyAt(args, 2);
  set.table.prepare([member]);
  return set.table.has(member) ? ONE : ZERO;
}

function smismember(args: Buffer[], context: DataCommandContext): Reply {
  const set = openSet(context, keyAt(args, 1));
  if (isReply(set)) return set;
  const members = membersOf(args, 2);
  if (set === null) return array(members.map(() => ZERO));
  set.table.prepare(members);
  return array(members.map((member) => (set.table.has(member) ? ONE : ZERO)));
}

function scard(args: Buffer[], context: DataCommandContext): Reply {
  const set = openSet(context, keyAt(args, 1));
  if (set === null) return ZERO;
  if (isReply(set)) return set;
  return integer(set.table.size);
}

function smembers(args: Buffer[], context: DataCommandContext): Reply {
  const set = openSet(context, keyAt(args, 1));
  if (set === null) return EMPTY_SET;
  if (isReply(set)) return set;
  return setReply(allMembers(set));
}

/** SRANDMEMBER key [count]. */
function srandmember(args: Buffer[], context: DataCommandContext): Reply {
  if (args.length > 3) return SYNTAX_ERROR;
  if (args.length === 3) {
    const count = parseInteger(args[2] as Buffer);
    if (count === null) return NOT_AN_INTEGER;
    if (count < -(2n ** 63n - 1n)) {
      return error(
        'ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807',
      );
    }
    const set = openSet(context, keyAt(args, 1));
    if (set === null) return array([]);
    if (isReply(set)) return set;
    const picks = pickMembers(set, count, context);
    return picks === null ? tooManyPicks() : array(picks.map(memberReply));
  }
  const set = openSet(context, keyAt(args, 1));
  if (set === null) return NULL;
  if (isReply(set)) return set;
  const [member] = pickMembers(set, -1n, context) ?? [];
  return member === undefined ? NULL : memberReply(member);
}

/** SPOP key [count]. */
function spop(args: Buffer[], context: DataCommandContext): Reply {
  if (args.length > 3) return SYNTAX_ERROR;
  const key = keyAt(args, 1);
  if (args.length === 3) {
    const count = parseInteger(args[2] as Buffer);
    if (count === null || count < 0n) return error('ERR value is out of range, must be positive');
    const set = openSet(context, key);
    if (set === null) return EMPTY_SET;
    if (isReply(set)) return set;
    if (count === 0n) return EMPTY_SET;
    const popped = count >= BigInt(set.table.size) ? allMembers(set) : pickMembers(set, count, context);
    if (popped === null) return tooManyPicks();
    removeMembers(context, key, set, popped);
    return setReply(popped);
  }
  const set = openSet(context, key);
  if (set === null) return NULL;
  if (isReply(set)) return set;
  const [member] = pickMembers(set, 1n, context) ?? [];
  if (member === undefined) return NULL;
  removeMembers(context, key, set, [member]);
  return memberReply(member);
}

function pickMembers(set: OpenSet, count: bigint, context: DataCommandContext): string[] | null {
  const picks = randomPicks(set.table, count, context);
  if (picks === null) return null;
  const members = picks.map(([member]) => member);
  // Every member (a count at least the size): in the set's own order, as Redis answers it.
  return count > 0n && count >= BigInt(set.table.size) && set.intset ? sortNumerically(members) : members;
}

function removeMembers(context: DataCommandContext, key: string, set: OpenSet, members: string[]): void {
  set.table.prepare(members);
  for (const member of members) set.table.delete(member);
  saveSet(context, key, set);
}

function tooManyPicks(): Reply {
  return error('ERR the count is larger than this server can answer in one reply');
}

type SetOperation = 'inter' | 'union' | 'diff';

/** The sets among `keys`, in order (a missing key is null); every key is type-checked first. */
function readSets(context: DataCommandContext, keys: readonly string[]): (OpenSet | null)[] | Reply {
  const sets: (OpenSet | null)[] = [];
  for (const key of keys) {
    const set = openSet(context, key);
    if (isReply(set)) return set;
    sets.push(set);
  }
  return sets;
}

/**
 * The result of SINTER, SUNION or SDIFF in rounds of reads: every set of a union at once; for an
 * intersection the smallest set, then the buckets of the others that could hold its members;
 * for a difference the first set, then likewise. SINTERCARD's `limit` stops an intersection early.
 */
function combine(
  context: DataCommandContext,
  sets: (OpenSet | null)[],
  operation: SetOperation,
  limit = 0,
): string[] {
  const present = sets.filter((set): set is OpenSet => set !== null);
  if (operation === 'union') {
    loadTogether(
      context,
      present.map((set) => ({ table: set.table })),
    );
    const union = new Set<string>();
    for (const set of present) for (const member of allMembers(set)) union.add(member);
    return [...union];
  }
  let base: OpenSet | null | undefined;
  let others: OpenSet[];
  if (operation === 'diff') {
    base = sets[0];
    others = sets.slice(1).filter((set): set is OpenSet => set !== null);
  } else {
    if (present.length !== sets.length) return [];
    const bySize = [...present].sort((a, b) => a.table.size - b.table.size);
    base = bySize[0];
    others = bySize.slice(1);
  }
  if (base === null || base === undefined) return [];
  const candidates = allMembers(base);
  loadTogether(
    context,
    others.map((set) => ({ table: set.table, members: candidates })),
  );
  const result: string[] = [];
  for (const member of candidates) {
    const inOthers = others.map((set) => set.table.has(member));
    const keep = operation === 'diff' ? !inOthers.includes(true) : !inOthers.includes(false);
    if (!keep) continue;
    result.push(member);
    if (limit > 0 && result.length >= limit) break;
  }
  return result;
}

function setOperation(operation: SetOperation): DataCommandHandler {
  return (args, context) => {
    const sets = readSets(context, membersOf(args, 1));
    if (isReply(sets)) return sets;
    return setReply(resultOrder(combine(context, sets, operation)));
  };
}

function setOperationStore(operation: SetOperation): DataCommandHandler {
  return (args, context) => {
    const destinationKey = keyAt(args, 1);
    const sets = readSets(context, membersOf(args, 2));
    if (isReply(sets)) return sets;
    const members = combine(context, sets, operation);
    if (members.length === 0) {
      if (readLive(context, destinationKey) !== null) context.write(destinationKey, null);
      return ZERO;
    }
    // Redis builds the result as an intset, and converts it as members require.
    const { header, table } = createTable(context, 'set', INTSET_FLAG);
    const result: OpenSet = { header, table, intset: true };
    addMembers(result, members);
    saveSet(context, destinationKey, result);
    return integer(members.length);
  };
}

/** SINTERCARD numkeys key [key ...] [LIMIT limit]. */
function sintercard(args: Buffer[], context: DataCommandContext): Reply {
  const numberOfKeys = parseInteger(args[1] as Buffer);
  if (numberOfKeys === null || numberOfKeys < 1n) return error('ERR numkeys should be greater than 0');
  if (numberOfKeys > BigInt(args.length - 2)) {
    return error("ERR Number of keys can't be greater than number of args");
  }
  const keyCount = Number(numberOfKeys);
  let limit = 0;
  for (let index = 2 + keyCount; index < args.length; index++) {
    const moreArgs = args.length - 1 - index;
    if (keyword(args[index] as Buffer) === 'LIMIT' && moreArgs > 0) {
      index++;
      const value = parseInteger(args[index] as Buffer);
      if (value === null || value < 0n) return error("ERR LIMIT can't be negative");
      limit = value > 2n ** 31n ? 2 ** 31 : Number(value);
    } else {
      return SYNTAX_ERROR;
    }
  }
  const sets = readSets(context, membersOf(args, 2).slice(0, keyCount));
  if (isReply(sets)) return sets;
  return integer(combine(context, sets, 'inter', limit).length);
}

/** SSCAN key cursor [MATCH pattern] [COUNT count]. */
function sscan(args: Buffer[], context: DataCommandContext): Reply {
  const cursor = parseScanCursor(args[2] as Buffer);
  if (typeof cursor !== 'bigint') return cursor;
  const set = openSet(context, keyAt(args, 1));
  if (set === null) return EMPTY_SCAN;
  if (isReply(set)) return set;
  const options = parseScanOptions(args, 3, false);
  if (isReply(options)) return options;
  // An intset answers all of itself at once, sorted, with cursor 0, as Redis does.
  const page = set.intset
    ? { cursor: 0, members: allMembers(set) }
    : (() => {
        const scanned = set.table.scan(Number(cursor % 2n ** 32n), options.count);
        return { cursor: scanned.cursor, members: scanned.entries.map(([member]) => member) };
      })();
  const { pattern } = options;
  const members =
    pattern === null ? page.members : page.members.filter((member) => globMatch(pattern, member));
  return array([bulk(String(page.cursor)), array(members.map(memberReply))]);
}

export const SET_COMMANDS: ReadonlyArray<readonly [string, DataCommandHandler]> = [
  ['sadd', sadd],
  ['srem', srem],
  ['smove', smove],
  ['sismember', sismember],
  ['smismember', smismember],
  ['scard', scard],
  ['smembers', smembers],
  ['srandmember', srandmember],
  ['spop', spop],
  ['sinter', setOperation('inter')],
  ['sunion', setOperation('union')],
  ['sdiff', setOperation('diff')],
  ['sinterstore', setOperationStore('inter')],
  ['sunionstore', setOperationStore('union')],
  ['sdiffstore', setOperationStore('diff')],
  ['sintercard', sintercard],
  ['sscan', sscan],
];
