// Scores and ranges as Redis reads them (t_zset.c, util.c). Scores are C doubles: ZADD and the
// weights go through string2d (strtod over the whole argument, no leading space, no NaN, no
// overflow or underflow to zero); range bounds go through zslParseRangeItem (strtod up to the
// first NUL, leading space allowed, overflow allowed, "" is 0); lex bounds through
// zslParseLexRangeItem.

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const HEX = /^([+-]?)0[xX]([\da-fA-F]+\.?[\da-fA-F]*|\.[\da-fA-F]+)(?:[pP]([+-]?\d+))?$/;
const INFINITY_TEXT = /^([+-]?)inf(?:inity)?$/i;
const HEX_DIGITS_KEPT = 40;
/** strtod's isspace: space, \t, \n, \v, \f, \r. */
const LEADING_SPACE = /^[ \t\n\v\f\r]+/;

interface Strtod {
  value: number;
  /** strtod set ERANGE: the text's value overflowed, or underflowed to zero. */
  outOfRange: boolean;
}

/** strtod over all of `text`, or null when strtod would stop before its end (NaN included). */
function strtodWhole(text: string): Strtod | null {
  if (DECIMAL.test(text)) {
    const value = Number(text);
    const mantissa = text.replace(/[eE].*$/, '');
    const outOfRange = !Number.isFinite(value) || (value === 0 && /[1-9]/.test(mantissa));
    return { value, outOfRange };
  }
  const hex = HEX.exec(text);
  if (hex !== null) return hexValue(hex[1] === '-', hex[2] as string, Number(hex[3] ?? '0'));
  const infinity = INFINITY_TEXT.exec(text);
  if (infinity !== null) {
    return {
      value: infinity[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY,
      outOfRange: false,
    };
  }
  return null;
}

function hexValue(negative: boolean, digits: string, binaryExponent: number): Strtod {
  const [integerDigits = '', fractionDigits = ''] = digits.split('.');
  // The pattern guarantees at least one digit. Past 40 hex digits (160 bits, far more than a
  // double's rounding needs) the rest only matters as nonzero or not: a sticky digit stands for
  // it, so that a long argument costs no big-number arithmetic.
  let all = `${integerDigits}${fractionDigits}`;
  let exponent = binaryExponent - 4 * fractionDigits.length;
  if (all.length > HEX_DIGITS_KEPT) {
    const rest = all.slice(HEX_DIGITS_KEPT);
    all = all.slice(0, HEX_DIGITS_KEPT) + (/[1-9a-f]/i.test(rest) ? '1' : '0');
    exponent += 4 * (rest.length - 1);
  }
  let mantissa = BigInt(`0x${all}`);
  if (mantissa === 0n) return { value: negative ? -0 : 0, outOfRange: false };
  // Keep 64 significant bits and a sticky bit, so that Number() rounds as strtod does.
  const bits = mantissa.toString(2).length;
  if (bits > 64) {
    const shift = BigInt(bits - 64);
    const sticky = (mantissa & ((1n << shift) - 1n)) === 0n ? 0n : 1n;
    mantissa = (mantissa >> shift) | sticky;
    exponent += bits - 64;
  }
  const topBit = mantissa.toString(2).length - 1 + exponent;
  if (topBit > 1023) return { value: negative ? -Infinity : Infinity, outOfRange: true };
  if (topBit < -1080) return { value: negative ? -0 : 0, outOfRange: true };
  // Two steps so that neither power of two over- or underflows on its own.
  const half = Math.trunc(exponent / 2);
  const magnitude = Number(mantissa) * 2 ** half * 2 ** (exponent - half);
  return { value: negative ? -magnitude : magnitude, outOfRange: magnitude === 0 };
}

/** A score, increment or weight as string2d accepts it; null for "value is not a valid float". */
export function parseScore(bytes: Buffer): number | null {
  if (bytes.length === 0 || bytes.length > 5 * 1024) return null;
  const parsed = strtodWhole(bytes.toString('latin1'));
  if (parsed === null || parsed.outOfRange || Number.isNaN(parsed.value)) return null;
  return parsed.value;
}

/** The C string strtod sees: the bytes before the first NUL. */
function cText(bytes: Buffer): string {
  const nul = bytes.indexOf(0);
  return bytes.toString('latin1', 0, nul < 0 ? bytes.length : nul);
}

/** strtod over a C string as zslParseRangeItem checks it: all read, not NaN; "" reads as 0. */
function rangeNumber(text: string): number | null {
  if (text === '') return 0;
  const parsed = strtodWhole(text.replace(LEADING_SPACE, ''));
  if (parsed === null || Number.isNaN(parsed.value)) return null;
  return parsed.value;
}

export interface ScoreRange {
  min: number;
  max: number;
  minExclusive: boolean;
  maxExclusive: boolean;
}

function rangeItem(bytes: Buffer): { value: number; exclusive: boolean } | null {
  const text = cText(bytes);
  const exclusive = text.startsWith('(');
  const value = rangeNumber(exclusive ? text.slice(1) : text);
  return value === null ? null : { value, exclusive };
}

/** zslParseRange; null for "min or max is not a float". */
export function parseScoreRange(minBytes: Buffer, maxBytes: Buffer): ScoreRange | null {
  const min = rangeItem(minBytes);
  const max = rangeItem(maxBytes);
  if (min === null || max === null) return null;
  return { min: min.value, max: max.value, minExclusive: min.exclusive, maxExclusive: max.exclusive };
}

export function scoreGteMin(score: number, range: ScoreRange): boolean {
  return range.minExclusive ? score > range.min : score >= range.min;
}

export function scoreLteMax(score: number, range: ScoreRange): boolean {
  return range.maxExclusive ? score < range.max : score <= range.max;
}

/** A lex bound: a member (latin1) or one of the two infinities '-' and '+'. */
export type LexBound =
  | { kind: 'min' }
  | { kind: 'max' }
  | { kind: 'member'; member: string; exclusive: boolean };

export interface LexRange {
  min: LexBound;
  max: LexBound;
}

function lexItem(bytes: Buffer): LexBound | null {
  // '+' and '-' are checked as C strings (c[1] != '\0'); members keep every byte.
  switch (bytes[0]) {
    case 0x2b:
      return bytes.length === 1 || bytes[1] === 0 ? { kind: 'max' } : null;
    case 0x2d:
      return bytes.length === 1 || bytes[1] === 0 ? { kind: 'min' } : null;
    case 0x28:
      return { kind: 'member', member: bytes.toString('latin1', 1), exclusive: true };
    case 0x5b:
      return { kind: 'member', member: bytes.toString('latin1', 1), exclusive: false };
    default:
      return null;
  }
}

/** zslParseLexRange; null for "min or max not valid string range item". */
export function parseLexRange(minBytes: Buffer, maxBytes: Buffer): LexRange | null {
  const min = lexItem(minBytes);
  const max = lexItem(maxBytes);
  return min === null || max === null ? null : { min, max };
}

/** Members compare as memcmp over their bytes; latin1 strings compare the same way. */
export function compareMembers(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function lexGteMin(member: string, range: LexRange): boolean {
  const { min } = range;
  if (min.kind === 'min') return true;
  if (min.kind === 'max') return false;
  const order = compareMembers(member, min.member);
  return min.exclusive ? order > 0 : order >= 0;
}

export function lexLteMax(member: string, range: LexRange): boolean {
  const { max } = range;
  if (max.kind === 'max') return true;
  if (max.kind === 'min') return false;
  const order = compareMembers(member, max.member);
  return max.exclusive ? order < 0 : order <= 0;
}
