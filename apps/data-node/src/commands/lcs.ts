// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: the longest common subsequence of
// two strings, by the dynamic-programming table Redis uses, walked back the same way so that
// ties resolve to the same subsequence and the same match ranges.
//
// The table has (len1 + 1) × (len2 + 1) cells: Redis allows up to 512 MB of it. Here a command
// runs on the writer's one thread (and may run more than once per transaction), so the table is
// bounded by LCS_TABLE_CELLS_MAX (64 MiB, about two strings of 4 KiB); beyond it the command is
// refused with an error that says so.
import { array, bulk, error, integer, type Reply } from '../../../../libs/resp/src/reply.js';
import { keyAt, keyword } from './arguments.js';
import { type DataCommandContext, type DataCommandHandler, readLive } from './context-access.js';
import { parseInteger } from './number-text.js';
import { NOT_AN_INTEGER } from './replies.js';

export const LCS_TABLE_CELLS_MAX = 16 * 1024 * 1024;

const EMPTY = Buffer.alloc(0);

function lcs(args: Buffer[], context: DataCommandContext): Reply {
  const first = readLive(context, keyAt(args, 1));
  const second = readLive(context, keyAt(args, 2));
  if ((first !== null && first.type !== 'string') || (second !== null && second.type !== 'string')) {
    return error('ERR The specified keys must contain string values');
  }
  const a = first?.value ?? EMPTY;
  const b = second?.value ?? EMPTY;
  let wantLength = false;
  let wantIndexes = false;
  let withMatchLength = false;
  let minMatchLength = 0n;
  for (let index = 3; index < args.length; index++) {
    const option = keyword(args[index] as Buffer);
    const hasMore = index < args.length - 1;
    if (option === 'IDX') wantIndexes = true;
    else if (option === 'LEN') wantLength = true;
    else if (option === 'WITHMATCHLEN') withMatchLength = true;
    else if (option === 'MINMATCHLEN' && hasMore) {
      const parsed = parseInteger(args[++index] as Buffer);
      if (parsed === null) return NOT_AN_INTEGER;
      minMatchLength = parsed < 0n ? 0n : parsed;
    } else return error('ERR syntax error');
  }
  if (wantLength && wantIndexes) {
    return error('ERR If you want both the length and indexes, please just use IDX.');
  }
  const cells = (a.length + 1) * (b.length + 1);
  if (cells > LCS_TABLE_CELLS_MAX) {
    return error(
      `ERR LCS of strings of ${a.length} and ${b.length} bytes needs ${cells} table cells; Borealis computes LCS over at most ${LCS_TABLE_CELLS_MAX} cells (about two strings of 4 KiB)`,
    );
  }
  const table = lcsTable(a, b);
  const width = b.length + 1;
  const cell = (i: number, j: number): number => table[i * width + j] as number;
  const length = cell(a.length, b.length);
  if (wantLength) return integer(length);

  // Walk back from the end, collecting the subsequence and the ranges of contiguous matches.
  const result = Buffer.alloc(length);
  const matches: Reply[] = [];
  let remaining = length;
  let i = a.length;
  let j = b.length;
  let range: { aStart: number; aEnd: number; bStart: number; bEnd: number } | null = null;
  while (i > 0 && j > 0) {
    let emit = false;
    if (a[i - 1] === b[j - 1]) {
      result[--remaining] = a[i - 1] as number;
      if (range === null) range = { aStart: i - 1, aEnd: i - 1, bStart: j - 1, bEnd: j - 1 };
      else if (range.aStart === i && range.bStart === j) {
        range.aStart--;
        range.bStart--;
      } else emit = true;
      // A match at the first byte of either string ends the walk: emit what is open.
      if (range.aStart === 0 || range.bStart === 0) emit = true;
      i--;
      j--;
    } else {
      if (cell(i - 1, j) > cell(i, j - 1)) i--;
      else j--;
      if (range !== null) emit = true;
    }
    if (emit && range !== null) {
      const matchLength = range.aEnd - range.aStart + 1;
      if (wantIndexes && (minMatchLength === 0n || BigInt(matchLength) >= minMatchLength)) {
        const entry = [
          array([integer(range.aStart), integer(range.aEnd)]),
          array([integer(range.bStart), integer(range.bEnd)]),
        ];
        if (withMatchLength) entry.push(integer(matchLength));
        matches.push(array(entry));
      }
      range = null;
    }
  }
  if (!wantIndexes) return bulk(result);
  return {
    kind: 'map',
    entries: [
      [bulk('matches'), array(matches)],
      [bulk('len'), integer(length)],
    ],
  };
}

/** LCS(i, j) for every prefix pair, row by row: cell (i, j) at i × (len(b) + 1) + j. */
function lcsTable(a: Buffer, b: Buffer): Uint32Array {
  const width = b.length + 1;
  const table = new Uint32Array((a.length + 1) * width);
  for (let i = 1; i <= a.length; i++) {
    const row = i * width;
    const above = row - width;
    const byte = a[i - 1];
    for (let j = 1; j <= b.length; j++) {
      if (byte === b[j - 1]) table[row + j] = (table[above + j - 1] as number) + 1;
      else {
        const up = table[above + j] as number;
        const left = table[row + j - 1] as number;
        table[row + j] = Math.max(up, left);
      }
    }
  }
  return table;
}

export const LCS_COMMANDS: ReadonlyArray<readonly [string, DataCommandHandler]> = [['lcs', lcs]];
