// Sorted sets, check for check as Redis 7.0's t_zset.c (the order of the checks decides which
// error a client sees), over the layout of zset/zset-store.ts. Where 7.2+ differs and the project
// follows it (ZRANK/ZREVRANK WITHSCORE, the shortest text of a double), the differential test
// lists the difference.
import { formatDouble } from '../../../../libs/resp/src/double-text.js';
import { array, bulk, error, integer, NULL, type Reply } from '../../../../libs/resp/src/reply.js';
import { keyAt, keyword } from './arguments.js';
import { openTable } from './collections/buckets.js';
import { isCollectionHeader } from './collections/layout.js';
import { arityError } from './command-table.js';
import type { DataCommandContext, DataCommandHandler } from './context-access.js';
import { globMatch } from './glob.js';
import { INT64_MAX, parseInteger } from './number-text.js';
import { NOT_A_FLOAT, NOT_AN_INTEGER, WRONG_TYPE, ZERO } from './replies.js';
import type { CollectionHeader } from './stored-value.js';
import { compareEntries, type Entry } from './zset/order-tree.js';
import {
  compareMembers,
  type LexRange,
  lexGteMin,
  lexLteMax,
  parseLexRange,
  parseScore,
  parseScoreRange,
  type ScoreRange,
  scoreGteMin,
  scoreLteMax,
} from './zset/score-text.js';
import { readLiveValue, rewriteOpenedHeaders, WRONG_TYPE_VALUE, Zset } from './zset/zset-store.js';

const SYNTAX_ERROR = error('ERR syntax error');
const NAN_RESULT = error('ERR resulting score is not a number (NaN)');
const NOT_A_FLOAT_RANGE = error('ERR min or max is not a float');
const NOT_A_LEX_RANGE = error('ERR min or max not valid string range item');
const EMPTY_ARRAY = array([]);
const NULL_ARRAY: Reply = { kind: 'nullArray' };
/** Redis lists every element ZSCAN returns at once while a sorted set is a listpack. */
const LISTPACK_ENTRIES_MAX = 128;
/** ZRANDMEMBER with a negative count repeats members: the reply is bounded here. */
export const RANDOM_MEMBERS_MAX = 1_000_000;

function memberBulk(member: string): Reply {
  return bulk(Buffer.from(member, 'latin1'));
}

function scoreReply(score: number): Reply {
  return { kind: 'double', value: score };
}

/** Members, or member-score pairs (nested in RESP3, flat in RESP2). */
function entriesReply(entries: readonly Entry[], withScores: boolean): Reply {
  if (!withScores) return array(entries.map((entry) => memberBulk(entry.member)));
  return {
    kind: 'pairs',
    entries: entries.map((entry) => [memberBulk(entry.member), scoreReply(entry.score)] as [Reply, Reply]),
  };
}

type Opened = Zset | null | typeof WRONG_TYPE_VALUE;

function open(context: DataCommandContext, args: Buffer[], index: number): Opened {
  return Zset.open(context, keyAt(args, index));
}

function memberAt(args: Buffer[], index: number): string {
  return (args[index] as Buffer).toString('latin1');
}

/** getLongFromObject: a 64-bit integer, as a number (exact where it matters: below 2^53). */
function longAt(args: Buffer[], index: number): bigint | null {
  return parseInteger(args[index] as Buffer);
}

function clampToNumber(value: bigint): number {
  const limit = BigInt(Number.MAX_SAFE_INTEGER);
  return Number(value > limit ? limit : value < -limit ? -limit : value);
}

// ---------------------------------------------------------------------------------------------
// ZADD and ZINCRBY

function zaddGeneric(args: Buffer[], context: DataCommandContext, incrCommand: boolean): Reply {
  let nx = false;
  let xx = false;
  let gt = false;
  let lt = false;
  let ch = false;
  let incr = incrCommand;
  let scoreIndex = 2;
  for (; scoreIndex < args.length; scoreIndex++) {
    const option = keyword(args[scoreIndex] as Buffer);
    if (option === 'NX') nx = true;
    else if (option === 'XX') xx = true;
    else if (option === 'CH') ch = true;
    else if (option === 'INCR') incr = true;
    else if (option === 'GT') gt = true;
    else if (option === 'LT') lt = true;
    else break;
  }
  const elements = args.length - scoreIndex;
  if (elements % 2 !== 0 || elements === 0) return SYNTAX_ERROR;
  if (nx && xx) return error('ERR XX and NX options at the same time are not compatible');
  if ((gt && nx) || (lt && nx) || (gt && lt)) {
    return error('ERR GT, LT, and/or NX options at the same time are not compatible');
  }
  if (incr && elements > 2) return error('ERR INCR option supports a single increment-element pair');
  const pairs: { score: number; member: string }[] = [];
  for (let index = scoreIndex; index < args.length; index += 2) {
    const score = parseScore(args[index] as Buffer);
    if (score === null) return NOT_A_FLOAT;
    pairs.push({ score, member: memberAt(args, index + 1) });
  }
  const opened = open(context, args, 1);
  if (opened === WRONG_TYPE_VALUE) return WRONG_TYPE;
  if (opened === null && xx) return incr ? NULL : ZERO;
  const zset = opened ?? Zset.create(context, keyAt(args, 1));
  // One round for the members' scores, then one per tree level for every path to change.
  const current = zset.scoresOf(pairs.map((pair) => pair.member));
  if (!incr) {
    const touched: Entry[] = [];
    pairs.forEach((pair, index) => {
      const score = current[index];
      if (score !== null && score !== undefined) touched.push({ score, member: pair.member });
      touched.push(pair);
    });
    zset.prefetch(touched);
  }
  let added = 0;
  let updated = 0;
  let processed = 0;
  let lastScore = 0;
  for (const pair of pairs) {
    const existing = zset.scoreOf(pair.member);
    let score = pair.score;
    if (existing !== null) {
      if (nx) continue;
      if (incr) {
        score += existing;
        if (Number.isNaN(score)) return NAN_RESULT;
      }
      if ((lt && score >= existing) || (gt && score <= existing)) continue;
      if (score !== existing) {
        zset.set(pair.member, score);
        updated++;
      }
    } else {
      if (xx) continue;
      zset.set(pair.member, score);
      added++;
    }
    processed++;
    lastScore = score;
  }
  if (added > 0 || updated > 0) zset.save();
  if (incr) return processed > 0 ? scoreReply(lastScore) : NULL;
  return integer(ch ? added + updated : added);
}

// ---------------------------------------------------------------------------------------------
// Point reads and removal

function zrem(args: Buffer[], context: DataCommandContext): Reply {
  const zset = open(context, args, 1);
  if (zset === null) return ZERO;
  if (zset === WRONG_TYPE_VALUE) return WRONG_TYPE;
  const members = args.slice(2).map((arg) => arg.toString('latin1'));
  const scores = zset.scoresOf(members);
  const touched: Entry[] = [];
  members.forEach((member, index) => {
    const score = scores[index];
    if (score !== null && score !== undefined) touched.push({ score, member });
  });
  zset.prefetch(touched);
  let deleted = 0;
  for (const member of members) {
    if (zset.delete(member)) deleted++;
    if (zset.size === 0) break;
  }
  if (deleted > 0) zset.save();
  return integer(deleted);
}

function zscore(args: Buffer[], context: DataCommandContext): Reply {
  const zset = open(context, args, 1);
  if (zset === null) return NULL;
  if (zset === WRONG_TYPE_VALUE) return WRONG_TYPE;
  const score = zset.scoreOf(memberAt(args, 2));
  return score === null ? NULL : scoreReply(score);
}

function zmscore(args: Buffer[], context: DataCommandContext): Reply {
  const zset = open(context, args, 1);
  if (zset === WRONG_TYPE_VALUE) return WRONG_TYPE;
  const members = args.slice(2).map((arg) => arg.toString('latin1'));
  if (zset === null) return array(members.map(() => NULL));
  return array(zset.scoresOf(members).map((score) => (score === null ? NULL : scoreReply(score))));
}

function zcard(args: Buffer[], context: DataCommandContext): Reply {
  const zset = open(context, args, 1);
  if (zset === null) return ZERO;
  if (zset === WRONG_TYPE_VALUE) return WRONG_TYPE;
  return integer(zset.size);
}

function zrankCommand(reverse: boolean, name: string): DataCommandHandler {
  return (args, context) => {
    if (args.length > 4) return arityError(name);
    let withScore = false;
    if (args.length === 4) {
      if (keyword(args[3] as Buffer) !== 'WITHSCORE') return SYNTAX_ERROR;
      withScore = true;
    }
    const missing = withScore ? NULL_ARRAY : NULL;
    const zset = open(context, args, 1);
    if (zset === null) return missing;
    if (zset === WRONG_TYPE_VALUE) return WRONG_TYPE;
    const member = memberAt(args, 2);
    const rank = zset.rankOf(member);
    if (rank === null) return missing;
    const shown = reverse ? zset.size - 1 - rank : rank;
    if (!withScore) return integer(shown);
    return array([integer(shown), scoreReply(zset.scoreOf(member) as number)]);
  };
}

// ---------------------------------------------------------------------------------------------
// Ranges

/** The ranks [start, end) of the entries inside a score range. */
function scoreRanks(zset: Zset, range: ScoreRange): [number, number] {
  const start = zset.countBefore((entry) => !scoreGteMin(entry.score, range));
  const end = zset.countBefore((entry) => scoreLteMax(entry.score, range));
  return [start, Math.max(start, end)];
}

/** The ranks [start, end) of the entries inside a lex range (members of one score). */
function lexRanks(zset: Zset, range: LexRange): [number, number] {
  const start = zset.countBefore((entry) => !lexGteMin(entry.member, range));
  const end = zset.countBefore((entry) => lexLteMax(entry.member, range));
  return [start, Math.max(start, end)];
}

function zcount(args: Buffer[], context: DataCommandContext): Reply {
  const range = parseScoreRange(args[2] as Buffer, args[3] as Buffer);
  if (range === null) return NOT_A_FLOAT_RANGE;
  const zset = open(context, args, 1);
  if (zset === null) return ZERO;
  if (zset === WRONG_TYPE_VALUE) return WRONG_TYPE;
  const [start, end] = scoreRanks(zset, range);
  return integer(end - start);
}

function zlexcount(args: Buffer[], context: DataCommandContext): Reply {
  const range = parseLexRange(args[2] as Buffer, args[3] as Buffer);
  if (range === null) return NOT_A_LEX_RANGE;
  const zset = open(context, args, 1);
  if (zset === null) return ZERO;
  if (zset === WRONG_TYPE_VALUE) return WRONG_TYPE;
  const [start, end] = lexRanks(zset, range);
  return integer(end - start);
}

/** Rank bounds as Redis sanitizes them; null for an empty range. */
function rankBounds(startArg: bigint, endArg: bigint, length: number): [number, number] | null {
  const size = BigInt(length);
  let start = startArg < 0n ? startArg + size : startArg;
  let end = endArg < 0n ? endArg + size : endArg;
  if (start < 0n) start = 0n;
  if (start > end || start >= size) return null;
  if (end >= size) end = size - 1n;
  return [Number(start), Number(end)];
}

/** `count` entries after skipping `offset`, from ranks [start, end), from the top when reversed. */
function limitedRange(
  zset: Zset,
  [start, end]: [number, number],
  offset: bigint,
  limit: bigint,
  reverse: boolean,
): Entry[] {
  // A negative offset walks off the end in Redis; a negative limit means no limit.
  if (offset < 0n || start >= end) return [];
  const skip = clampToNumber(offset);
  const take = limit < 0n ? end - start : clampToNumber(limit);
  if (!reverse) {
    const from = start + skip;
    return zset.range(from, Math.min(end, from + take));
  }
  const to = end - skip;
  return zset.range(Math.max(start, to - take), to).reverse();
}

type RangeType = 'auto' | 'rank' | 'score' | 'lex';
type Direction = 'auto' | 'forward' | 'reverse';

/** zrangeGenericCommand: ZRANGE, ZRANGESTORE and the older range commands. */
function zrangeGeneric(
  args: Buffer[],
  context: DataCommandContext,
  argStart: number,
  store: boolean,
  initialType: RangeType,
  initialDirection: Direction,
): Reply {
  let rangeType = initialType;
  let direction = initialDirection;
  let minIndex = argStart + 1;
  let maxIndex = argStart + 2;
  let withScores = false;
  let offset = 0n;
  let limit = -1n;
  for (let index = argStart + 3; index < args.length; index++) {
    const left = args.length - index - 1;
    const option = keyword(args[index] as Buffer);
    if (!store && option === 'WITHSCORES') withScores = true;
    else if (option === 'LIMIT' && left >= 2) {
      const parsedOffset = longAt(args, index + 1);
      if (parsedOffset === null) return NOT_AN_INTEGER;
      const parsedLimit = longAt(args, index + 2);
      if (parsedLimit === null) return NOT_AN_INTEGER;
      offset = parsedOffset;
      limit = parsedLimit;
      index += 2;
    } else if (direction === 'auto' && option === 'REV') direction = 'reverse';
    else if (rangeType === 'auto' && option === 'BYLEX') rangeType = 'lex';
    else if (rangeType === 'auto' && option === 'BYSCORE') rangeType = 'score';
    else return SYNTAX_ERROR;
  }
  if (direction === 'auto') direction = 'forward';
  if (rangeType === 'auto') rangeType = 'rank';
  if (limit !== -1n && rangeType === 'rank') {
    return error('ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX');
  }
  if (withScores && rangeType === 'lex') {
    return error('ERR syntax error, WITHSCORES not supported in combination with BYLEX');
  }
  const reverse = direction === 'reverse';
  if (reverse && rangeType !== 'rank') [minIndex, maxIndex] = [maxIndex, minIndex];

  let rankArgs: [bigint, bigint] | null = null;
  let scoreRange: ScoreRange | null = null;
  let lexRange: LexRange | null = null;
  if (rangeType === 'rank') {
    const start = longAt(args, minIndex);
    const end = longAt(args, maxIndex);
    if (start === null || end === null) return NOT_AN_INTEGER;
    rankArgs = [start, end];
  } else if (rangeType === 'score') {
    scoreRange = parseScoreRange(args[minIndex] as Buffer, args[maxIndex] as Buffer);
    if (scoreRange === null) return NOT_A_FLOAT_RANGE;
  } else {
    lexRange = parseLexRange(args[minIndex] as Buffer, args[maxIndex] as Buffer);
    if (lexRange === null) return NOT_A_LEX_RANGE;
  }

  const zset = open(context, args, argStart);
  if (zset === WRONG_TYPE_VALUE) return WRONG_TYPE;
  let entries: Entry[] = [];
  if (zset !== null) {
    if (rankArgs !== null) {
      const bounds = rankBounds(rankArgs[0], rankArgs[1], zset.size);
      if (bounds !== null) {
        const [start, end] = bounds;
        entries = reverse
          ? zset.range(zset.size - 1 - end, zset.size - start).reverse()
          : zset.range(start, end + 1);
      }
    } else if (scoreRange !== null) {
      entries = limitedRange(zset, scoreRanks(zset, scoreRange), offset, limit, reverse);
    } else if (lexRange !== null) {
      entries = limitedRange(zset, lexRanks(zset, lexRange), offset, limit, reverse);
    }
  }
  if (store) {
    Zset.store(context, keyAt(args, 1), reverse ? [...entries].reverse() : entries);
    return integer(entries.length);
  }
  return entriesReply(entries, withScores);
}

function rangeCommand(
  argStart: number,
  store: boolean,
  type: RangeType,
  direction: Direction,
): DataCommandHandler {
  return (args, context) => zrangeGeneric(args, context, argStart, store, type, direction);
}

/** zremrangeGenericCommand. */
function zremrange(type: 'rank' | 'score' | 'lex'): DataCommandHandler {
  return (args, context) => {
    let ranks: (zset: Zset) => [number, number] | null;
    if (type === 'rank') {
      const start = longAt(args, 2);
      const end = longAt(args, 3);
      if (start === null || end === null) return NOT_AN_INTEGER;
      ranks = (zset) => {
        const bounds = rankBounds(start, end, zset.size);
        return bounds === null ? null : [bounds[0], bounds[1] + 1];
      };
    } else if (type === 'score') {
      const range = parseScoreRange(args[2] as Buffer, args[3] as Buffer);
      if (range === null) return NOT_A_FLOAT_RANGE;
      ranks = (zset) => scoreRanks(zset, range);
    } else {
      const range = parseLexRange(args[2] as Buffer, args[3] as Buffer);
      if (range === null) return NOT_A_LEX_RANGE;
      ranks = (zset) => lexRanks(zset, range);
    }
    const zset = open(context, args, 1);
    if (zset === null) return ZERO;
    if (zset === WRONG_TYPE_VALUE) return WRONG_TYPE;
    const bounds = ranks(zset);
    if (bounds === null || bounds[0] >= bounds[1]) return ZERO;
    const doomed = zset.range(bounds[0], bounds[1]);
    zset.scoresOf(doomed.map((entry) => entry.member));
    for (const entry of doomed) zset.delete(entry.member);
    zset.save();
    return integer(doomed.length);
  };
}

// ---------------------------------------------------------------------------------------------
// Popping

/** genericZpopCommand: pops from the first non-empty key of `keys`. */
function pop(
  context: DataCommandContext,
  keys: readonly string[],
  max: boolean,
  count: number,
): { key: string; entries: Entry[] } | null | typeof WRONG_TYPE_VALUE {
  let zset: Zset | null = null;
  for (const key of keys) {
    const opened = Zset.open(context, key);
    if (opened === null) continue;
    if (opened === WRONG_TYPE_VALUE) return WRONG_TYPE_VALUE;
    zset = opened;
    break;
  }
  if (zset === null) return null;
  const taken = Math.min(count, zset.size);
  const entries = max ? zset.range(zset.size - taken, zset.size).reverse() : zset.range(0, taken);
  zset.scoresOf(entries.map((entry) => entry.member));
  for (const entry of entries) zset.delete(entry.member);
  if (entries.length > 0) zset.save();
  return { key: zset.key, entries };
}

function zpop(max: boolean): DataCommandHandler {
  return (args, context) => {
    if (args.length > 3) return SYNTAX_ERROR;
    let count = -1;
    if (args.length === 3) {
      // getPositiveLongFromObjectOrReply answers a non-integer with the same message.
      const parsed = longAt(args, 2);
      if (parsed === null || parsed < 0n) return error('ERR value is out of range, must be positive');
      count = clampToNumber(parsed);
    }
    const result = pop(context, [keyAt(args, 1)], max, count === -1 ? 1 : count);
    if (result === WRONG_TYPE_VALUE) return WRONG_TYPE;
    if (result === null) return EMPTY_ARRAY;
    if (count !== -1) return entriesReply(result.entries, true);
    return array(result.entries.flatMap((entry) => [memberBulk(entry.member), scoreReply(entry.score)]));
  };
}

function zmpop(args: Buffer[], context: DataCommandContext): Reply {
  // getRangeLongFromObjectOrReply with a message: it answers a non-integer with it too.
  const numkeys = longAt(args, 1);
  if (numkeys === null || numkeys < 1n) return error('ERR numkeys should be greater than 0');
  const whereIndex = 1 + Number(numkeys > BigInt(args.length) ? BigInt(args.length) : numkeys) + 1;
  if (whereIndex >= args.length) return SYNTAX_ERROR;
  const where = keyword(args[whereIndex] as Buffer);
  if (where !== 'MIN' && where !== 'MAX') return SYNTAX_ERROR;
  let count = -1;
  for (let index = whereIndex + 1; index < args.length; index++) {
    const more = args.length - 1 - index;
    if (count === -1 && keyword(args[index] as Buffer) === 'COUNT' && more > 0) {
      index++;
      const parsed = longAt(args, index);
      if (parsed === null || parsed < 1n) return error('ERR count should be greater than 0');
      count = clampToNumber(parsed);
    } else {
      return SYNTAX_ERROR;
    }
  }
  const keys = args.slice(2, whereIndex).map((arg) => arg.toString('latin1'));
  const result = pop(context, keys, where === 'MAX', count === -1 ? 1 : count);
  if (result === WRONG_TYPE_VALUE) return WRONG_TYPE;
  if (result === null) return NULL_ARRAY;
  return array([
    memberBulk(result.key),
    array(result.entries.map((entry) => array([memberBulk(entry.member), scoreReply(entry.score)]))),
  ]);
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER and ZSCAN

function zrandmember(args: Buffer[], context: DataCommandContext): Reply {
  if (args.length < 3) {
    const zset = open(context, args, 1);
    if (zset === null) return NULL;
    if (zset === WRONG_TYPE_VALUE) return WRONG_TYPE;
    const [entry] = zset.range(Math.floor(context.random() * zset.size), zset.size);
    return memberBulk((entry as Entry).member);
  }
  const parsed = longAt(args, 2);
  if (parsed === null) return NOT_AN_INTEGER;
  if (parsed < -INT64_MAX) {
    return error(
      'ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807',
    );
  }
  if (args.length > 4 || (args.length === 4 && keyword(args[3] as Buffer) !== 'WITHSCORES'))
    return SYNTAX_ERROR;
  const withScores = args.length === 4;
  if (withScores && (parsed < -INT64_MAX / 2n || parsed > INT64_MAX / 2n)) {
    return error('ERR value is out of range');
  }
  const zset = open(context, args, 1);
  if (zset === null) return EMPTY_ARRAY;
  if (zset === WRONG_TYPE_VALUE) return WRONG_TYPE;
  if (parsed === 0n) return EMPTY_ARRAY;
  const size = zset.size;
  if (parsed < 0n) {
    // Repeats allowed: each pick an independent rank.
    if (-parsed > BigInt(RANDOM_MEMBERS_MAX)) {
      return error(`ERR ZRANDMEMBER count is limited to ${RANDOM_MEMBERS_MAX} repeated members`);
    }
    const count = Number(-parsed);
    const all = count >= size / 4 ? zset.all() : null;
    const picks: Entry[] = [];
    for (let index = 0; index < count; index++) {
      const rank = Math.floor(context.random() * size);
      picks.push(all === null ? (zset.range(rank, rank + 1)[0] as Entry) : (all[rank] as Entry));
    }
    return entriesReply(picks, withScores);
  }
  if (parsed >= BigInt(size)) return entriesReply(zset.all(), withScores);
  // Distinct ranks by a partial Fisher-Yates shuffle over a sparse map of swapped positions.
  const count = Number(parsed);
  const swapped = new Map<number, number>();
  const ranks: number[] = [];
  for (let index = 0; index < count; index++) {
    const chosen = index + Math.floor(context.random() * (size - index));
    ranks.push(swapped.get(chosen) ?? chosen);
    swapped.set(chosen, swapped.get(index) ?? index);
  }
  const all = count >= size / 4 ? zset.all() : null;
  const picks = ranks.map((rank) =>
    all === null ? (zset.range(rank, rank + 1)[0] as Entry) : (all[rank] as Entry),
  );
  return entriesReply(picks, withScores);
}

/** parseScanCursorOrReply: strtoul over the C string, no leading space, no overflow. */
function parseCursor(bytes: Buffer): bigint | null {
  const nul = bytes.indexOf(0);
  const text = bytes.toString('latin1', 0, nul < 0 ? bytes.length : nul);
  if (text === '') return 0n;
  const match = /^([+-]?)(\d+)$/.exec(text);
  if (match === null) return null;
  const value = BigInt(match[2] as string);
  const max = 2n ** 64n - 1n;
  if (value > max) return null;
  return match[1] === '-' ? (max + 1n - value) % (max + 1n) : value;
}

function zscan(args: Buffer[], context: DataCommandContext): Reply {
  const cursor = parseCursor(args[2] as Buffer);
  if (cursor === null) return error('ERR invalid cursor');
  const zset = open(context, args, 1);
  if (zset === null) return array([bulk('0'), EMPTY_ARRAY]);
  if (zset === WRONG_TYPE_VALUE) return WRONG_TYPE;
  let count = 10;
  let pattern: string | null = null;
  for (let index = 3; index < args.length; index += 2) {
    const remaining = args.length - index;
    const option = keyword(args[index] as Buffer);
    if (option === 'COUNT' && remaining >= 2) {
      const parsed = longAt(args, index + 1);
      if (parsed === null) return NOT_AN_INTEGER;
      if (parsed < 1n) return SYNTAX_ERROR;
      count = clampToNumber(parsed);
    } else if (option === 'MATCH' && remaining >= 2) {
      pattern = memberAt(args, index + 1);
    } else {
      return SYNTAX_ERROR;
    }
  }
  // A small set answers whole with cursor 0, in order, as Redis does for a listpack. A larger
  // one pages by rank: the cursor is the rank where the next page starts. (Redis pages a large
  // set by hash order; a member removed mid-scan from before the cursor shifts the ranks after
  // it, so one such scan may miss a member that was there throughout.)
  let entries: Entry[];
  let next = 0n;
  if (zset.size <= LISTPACK_ENTRIES_MAX) {
    entries = zset.all();
  } else {
    entries = pageAt(zset, cursor, count);
    next = nextCursor(zset, cursor, count);
  }
  const items: Reply[] = [];
  for (const entry of entries) {
    if (pattern !== null && !globMatch(pattern, entry.member)) continue;
    items.push(memberBulk(entry.member), bulk(formatDouble(entry.score)));
  }
  return array([bulk(next.toString()), array(items)]);
}

function pageAt(zset: Zset, cursor: bigint, count: number): Entry[] {
  if (cursor >= BigInt(zset.size)) return [];
  const start = Number(cursor);
  return zset.range(start, start + count);
}

function nextCursor(zset: Zset, cursor: bigint, count: number): bigint {
  const next = cursor + BigInt(count);
  return next >= BigInt(zset.size) ? 0n : next;
}

// ---------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD

type SetOperation = 'union' | 'inter' | 'diff';
type Aggregate = 'sum' | 'min' | 'max';

/** A plain set as a source of ZUNION, ZINTER or ZDIFF: every member scores 1, as in Redis. */
class PlainSetSource {
  private readonly members = new Map<string, number>();

  constructor(context: DataCommandContext, header: CollectionHeader) {
    const table = openTable(context, header);
    table.loadAll();
    // Every bucket is loaded: the scan reads nothing more, and each call moves on at least one slot.
    let cursor = 0;
    for (let step = 0; step <= table.bucketCount; step++) {
      const page = table.scan(cursor, header.size + 1);
      for (const [member] of page.entries) this.members.set(member, 1);
      cursor = page.cursor;
      if (cursor === 0) break;
    }
  }

  get size(): number {
    return this.members.size;
  }

  /** In the sorted-set order of equal scores: by member. */
  all(): Entry[] {
    return [...this.members.keys()].sort(compareMembers).map((member) => ({ score: 1, member }));
  }

  scoresOf(members: readonly string[]): (number | null)[] {
    return members.map((member) => this.members.get(member) ?? null);
  }
}

type SetLike = Zset | PlainSetSource;

interface Source {
  zset: SetLike | null;
  weight: number;
}

function aggregate(target: number, value: number, how: Aggregate): number {
  if (how === 'sum') {
    const sum = target + value;
    // inf + -inf: Redis makes the NaN a 0.
    return Number.isNaN(sum) ? 0 : sum;
  }
  // As C compares: Math.min and Math.max would order -0 below 0, which Redis does not.
  // biome-ignore lint/complexity/useMathMinMax: the comparison must be C's
  if (how === 'min') return value < target ? value : target;
  // biome-ignore lint/complexity/useMathMinMax: the comparison must be C's
  return value > target ? value : target;
}

function weighted(weight: number, score: number): number {
  const product = weight * score;
  return Number.isNaN(product) ? 0 : product;
}

/** zunionInterDiffGenericCommand. */
function setOperationCommand(
  name: string,
  operation: SetOperation,
  mode: 'reply' | 'store' | 'cardinality',
): DataCommandHandler {
  return (args, context) => {
    const numkeysIndex = mode === 'store' ? 2 : 1;
    const numkeys = longAt(args, numkeysIndex);
    if (numkeys === null) return NOT_AN_INTEGER;
    if (numkeys < 1n) return error(`ERR at least 1 input key is needed for '${name}' command`);
    if (numkeys > BigInt(args.length - (numkeysIndex + 1))) return SYNTAX_ERROR;
    const setCount = Number(numkeys);
    const sources: Source[] = [];
    let index = numkeysIndex + 1;
    for (; index < numkeysIndex + 1 + setCount; index++) {
      const value = readLiveValue(context, keyAt(args, index));
      if (value !== null && value.type === 'set' && isCollectionHeader(value)) {
        sources.push({ zset: new PlainSetSource(context, value), weight: 1 });
        continue;
      }
      const zset = open(context, args, index);
      if (zset === WRONG_TYPE_VALUE) return WRONG_TYPE;
      sources.push({ zset, weight: 1 });
    }
    let how: Aggregate = 'sum';
    let withScores = false;
    let limit = 0n;
    while (index < args.length) {
      const remaining = args.length - index;
      const option = keyword(args[index] as Buffer);
      if (
        operation !== 'diff' &&
        mode !== 'cardinality' &&
        remaining >= setCount + 1 &&
        option === 'WEIGHTS'
      ) {
        index++;
        for (const source of sources) {
          const weight = parseScore(args[index] as Buffer);
          if (weight === null) return error('ERR weight value is not a float');
          source.weight = weight;
          index++;
        }
      } else if (operation !== 'diff' && mode !== 'cardinality' && remaining >= 2 && option === 'AGGREGATE') {
        const choice = keyword(args[index + 1] as Buffer);
        if (choice === 'SUM') how = 'sum';
        else if (choice === 'MIN') how = 'min';
        else if (choice === 'MAX') how = 'max';
        else return SYNTAX_ERROR;
        index += 2;
      } else if (remaining >= 1 && mode === 'reply' && option === 'WITHSCORES') {
        withScores = true;
        index++;
      } else if (mode === 'cardinality' && remaining >= 2 && option === 'LIMIT') {
        const parsed = longAt(args, index + 1);
        if (parsed === null || parsed < 0n) return error("ERR LIMIT can't be negative");
        limit = parsed;
        index += 2;
      } else {
        return SYNTAX_ERROR;
      }
    }
    if (mode === 'cardinality') return integer(interCardinality(context, sources, limit));
    const scores = combine(context, sources, operation, how);
    const entries = [...scores].map(([member, score]) => ({ score, member })).sort(compareEntries);
    if (mode === 'store') {
      Zset.store(context, keyAt(args, 1), entries);
      return integer(entries.length);
    }
    return entriesReply(entries, withScores);
  };
}

function combine(
  context: DataCommandContext,
  sources: Source[],
  operation: SetOperation,
  how: Aggregate,
): Map<string, number> {
  const result = new Map<string, number>();
  if (operation === 'union') {
    Zset.loadAll(context, presentSets(sources));
    // Smallest first, as Redis orders them: it fixes the order of the floating-point sums.
    const ordered = [...sources].sort((a, b) => (a.zset?.size ?? 0) - (b.zset?.size ?? 0));
    for (const { zset, weight } of ordered) {
      if (zset === null) continue;
      for (const entry of zset.all()) {
        const score = weighted(weight, entry.score);
        const existing = result.get(entry.member);
        result.set(entry.member, existing === undefined ? score : aggregate(existing, score, how));
      }
    }
    return result;
  }
  if (operation === 'diff') {
    const [first, ...others] = sources;
    if (first?.zset === null || first === undefined) return result;
    const entries = first.zset.all();
    const members = entries.map((entry) => entry.member);
    Zset.scoresAcross(context, presentSets(others), members);
    let remaining = entries;
    for (const { zset } of others) {
      if (zset === null) continue;
      if (remaining.length === 0) break;
      const scores = zset.scoresOf(remaining.map((entry) => entry.member));
      remaining = remaining.filter((_, position) => scores[position] === null);
    }
    for (const entry of remaining) result.set(entry.member, entry.score);
    return result;
  }
  // Intersection: the smallest set first, as Redis orders them, which also fixes the order in
  // which floating-point sums are taken.
  if (sources.some((source) => source.zset === null)) return result;
  const ordered = [...sources].sort((a, b) => (a.zset as SetLike).size - (b.zset as SetLike).size);
  const [first, ...others] = ordered as [Source, ...Source[]];
  const entries = (first.zset as SetLike).all();
  const members = entries.map((entry) => entry.member);
  Zset.scoresAcross(context, presentSets(others), members);
  const otherScores = others.map(({ zset }) => (zset as SetLike).scoresOf(members));
  entries.forEach((entry, position) => {
    let score = weighted(first.weight, entry.score);
    for (let other = 0; other < others.length; other++) {
      const value = otherScores[other]?.[position];
      if (value === null || value === undefined) return;
      // Redis makes a NaN product a 0 for the first set only; later ones aggregate it as is.
      score = aggregate(score, (others[other] as Source).weight * value, how);
    }
    result.set(entry.member, score);
  });
  return result;
}

/** The sorted sets among the sources (plain sets are read whole when opened). */
function presentSets(sources: readonly Source[]): Zset[] {
  return sources.flatMap((source) => (source.zset instanceof Zset ? [source.zset] : []));
}

function interCardinality(context: DataCommandContext, sources: Source[], limit: bigint): number {
  if (sources.some((source) => source.zset === null)) return 0;
  const ordered = [...sources].sort((a, b) => (a.zset as SetLike).size - (b.zset as SetLike).size);
  const [first, ...others] = ordered as [Source, ...Source[]];
  const members = (first.zset as SetLike).all().map((entry) => entry.member);
  Zset.scoresAcross(context, presentSets(others), members);
  const otherScores = others.map(({ zset }) => (zset as SetLike).scoresOf(members));
  let count = 0;
  for (let position = 0; position < members.length; position++) {
    if (otherScores.every((scores) => scores[position] !== null)) {
      count++;
      if (limit > 0n && BigInt(count) >= limit) break;
    }
  }
  return count;
}

/**
 * A sorted set is read over several rounds, and the rounds may see different versions of it (a
 * header from before another writer's commit, nodes from after). Such a run can meet a tree that
 * does not hold together. It answers an error rather than throwing (a throw would fail every
 * command of its group), and a write command writes the headers it opened back unchanged, so
 * that its commit validates what it read, fails, and the engine runs it again on fresh reads: the
 * client never sees that reply. (The engine's signal for a key not fetched yet is not an Error
 * and passes through.)
 */
function guarded(handler: DataCommandHandler, writes: boolean): DataCommandHandler {
  return (args, context) => {
    try {
      return handler(args, context);
    } catch (cause) {
      if (!(cause instanceof Error)) throw cause;
      if (writes) rewriteOpenedHeaders(context);
      return error(`ERR ${cause.message}`);
    }
  };
}

const READ_ONLY = new Set([
  'zscore',
  'zmscore',
  'zcard',
  'zcount',
  'zlexcount',
  'zrange',
  'zrevrange',
  'zrangebyscore',
  'zrevrangebyscore',
  'zrangebylex',
  'zrevrangebylex',
  'zrank',
  'zrevrank',
  'zrandmember',
  'zunion',
  'zinter',
  'zdiff',
  'zintercard',
  'zscan',
]);

const HANDLERS: ReadonlyArray<readonly [string, DataCommandHandler]> = [
  ['zadd', (args, context) => zaddGeneric(args, context, false)],
  ['zincrby', (args, context) => zaddGeneric(args, context, true)],
  ['zrem', zrem],
  ['zscore', zscore],
  ['zmscore', zmscore],
  ['zcard', zcard],
  ['zcount', zcount],
  ['zlexcount', zlexcount],
  ['zrange', rangeCommand(1, false, 'auto', 'auto')],
  ['zrangestore', rangeCommand(2, true, 'auto', 'auto')],
  ['zrevrange', rangeCommand(1, false, 'rank', 'reverse')],
  ['zrangebyscore', rangeCommand(1, false, 'score', 'forward')],
  ['zrevrangebyscore', rangeCommand(1, false, 'score', 'reverse')],
  ['zrangebylex', rangeCommand(1, false, 'lex', 'forward')],
  ['zrevrangebylex', rangeCommand(1, false, 'lex', 'reverse')],
  ['zrank', zrankCommand(false, 'zrank')],
  ['zrevrank', zrankCommand(true, 'zrevrank')],
  ['zpopmin', zpop(false)],
  ['zpopmax', zpop(true)],
  ['zmpop', zmpop],
  ['zrandmember', zrandmember],
  ['zremrangebyscore', zremrange('score')],
  ['zremrangebyrank', zremrange('rank')],
  ['zremrangebylex', zremrange('lex')],
  ['zunion', setOperationCommand('zunion', 'union', 'reply')],
  ['zinter', setOperationCommand('zinter', 'inter', 'reply')],
  ['zdiff', setOperationCommand('zdiff', 'diff', 'reply')],
  ['zunionstore', setOperationCommand('zunionstore', 'union', 'store')],
  ['zinterstore', setOperationCommand('zinterstore', 'inter', 'store')],
  ['zdiffstore', setOperationCommand('zdiffstore', 'diff', 'store')],
  ['zintercard', setOperationCommand('zintercard', 'inter', 'cardinality')],
  ['zscan', zscan],
];

export const ZSET_COMMANDS: ReadonlyArray<readonly [string, DataCommandHandler]> = HANDLERS.map(
  ([name, handler]) => [name, guarded(handler, !READ_ONLY.has(name))] as const,
);
