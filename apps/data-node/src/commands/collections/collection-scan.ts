// HSCAN and SSCAN (and ZSCAN's member index): Redis's cursor parsing, options and reply shape
// (db.c scanGenericCommand) over a bucket table's reverse-binary scan.
import { array, bulk, error, type Reply } from '../../../../../libs/resp/src/reply.js';
import { cString, keyword } from '../arguments.js';
import { globMatch } from '../glob.js';
import { parseInteger } from '../number-text.js';
import type { BucketTable } from './buckets.js';

const INVALID_CURSOR = error('ERR invalid cursor');
const SYNTAX_ERROR = error('ERR syntax error');
const CURSOR_SPACE = 2n ** 64n;

/** The reply for a missing key: cursor 0, no elements. */
export const EMPTY_SCAN: Reply = array([bulk('0'), array([])]);

/**
 * The cursor as Redis's strtoul reads it: optional sign and digits up to the first NUL byte
 * (an empty string is 0; a negative one wraps around 2^64); null when Redis says "invalid cursor".
 */
export function parseScanCursor(argument: Buffer): bigint | Reply {
  const text = cString(argument);
  if (text === '') return 0n;
  if (!/^[+-]?[0-9]+$/.test(text)) return INVALID_CURSOR;
  const negative = text.startsWith('-');
  const magnitude = BigInt(text.replace(/^[+-]/, ''));
  if (magnitude >= CURSOR_SPACE) return INVALID_CURSOR;
  return negative && magnitude !== 0n ? CURSOR_SPACE - magnitude : magnitude;
}

export interface ScanOptions {
  count: number;
  pattern: string | null;
  noValues: boolean;
}

/** COUNT, MATCH and (for hashes, as Redis 7.4) NOVALUES, from `args[start]` on. */
export function parseScanOptions(args: Buffer[], start: number, allowNoValues: boolean): ScanOptions | Reply {
  const options: ScanOptions = { count: 10, pattern: null, noValues: false };
  for (let index = start; index < args.length; ) {
    const option = keyword(args[index] as Buffer);
    const hasValue = index + 1 < args.length;
    if (option === 'COUNT' && hasValue) {
      const count = parseInteger(args[index + 1] as Buffer);
      if (count === null) return error('ERR value is not an integer or out of range');
      if (count < 1n) return SYNTAX_ERROR;
      options.count = count > 1_000_000n ? 1_000_000 : Number(count);
      index += 2;
    } else if (option === 'MATCH' && hasValue) {
      const pattern = (args[index + 1] as Buffer).toString('latin1');
      options.pattern = pattern === '*' ? null : pattern;
      index += 2;
    } else if (option === 'NOVALUES' && allowNoValues) {
      options.noValues = true;
      index += 1;
    } else {
      return SYNTAX_ERROR;
    }
  }
  return options;
}

/** One scan call's reply: the next cursor, then members (with their values unless `withValues` is false). */
export function scanReply(
  table: BucketTable,
  cursor: bigint,
  options: ScanOptions,
  withValues: boolean,
): Reply {
  const page = table.scan(Number(cursor % 2n ** 32n), options.count);
  const items: Reply[] = [];
  for (const [member, value] of page.entries) {
    if (options.pattern !== null && !globMatch(options.pattern, member)) continue;
    items.push(bulk(Buffer.from(member, 'latin1')));
    if (withValues) items.push(bulk(value));
  }
  return array([bulk(String(page.cursor)), array(items)]);
}
