// Numbers as Redis reads and writes them in values and arguments: 64-bit integers (string2ll)
// and long doubles (string2ld and the "%.17Lf" text of INCRBYFLOAT).

export const INT64_MAX = 2n ** 63n - 1n;
export const INT64_MIN = -(2n ** 63n);

export function addInt64(value: bigint, increment: bigint): bigint | null {
  const result = value + increment;
  return result > INT64_MAX || result < INT64_MIN ? null : result;
}

/**
 * A signed 64-bit integer exactly as Redis's string2ll accepts it: optional '-', no '+', no
 * spaces, no leading zeros, at most 20 characters.
 */
export function parseInteger(bytes: Buffer): bigint | null {
  const length = bytes.length;
  if (length === 0 || length >= 21) return null;
  if (length === 1 && bytes[0] === DIGIT_ZERO) return 0n;
  const firstDigit = bytes[0] === MINUS ? 1 : 0;
  const leading = bytes[firstDigit];
  if (leading === undefined || leading <= DIGIT_ZERO || leading > DIGIT_NINE) return null;
  for (let index = firstDigit + 1; index < length; index++) {
    const digit = bytes[index] as number;
    if (digit < DIGIT_ZERO || digit > DIGIT_NINE) return null;
  }
  const value = BigInt(bytes.toString('latin1'));
  return value > INT64_MAX || value < INT64_MIN ? null : value;
}

const DIGIT_ZERO = 0x30;
const DIGIT_NINE = 0x39;
const MINUS = 0x2d;

// ---------------------------------------------------------------------------------------------
// INCRBYFLOAT and HINCRBYFLOAT compute in C's `long double`, which on x86-64 (where Redis runs)
// is the x87 80-bit format: a 64-bit significand and a 15-bit exponent. A JS double would give
// other digits (0.1 + 0.2 is 0.3 in Redis), so the format is emulated exactly with BigInt:
// strtold's correctly rounded parsing, the sum rounded to nearest-even, and printf's "%.17Lf"
// with its trailing zeros trimmed.

/** A long double: `significand × 2^exponent` when finite, the significand below 2^64. */
export type LongDouble =
  | {
      readonly kind: 'finite';
      readonly negative: boolean;
      readonly significand: bigint;
      readonly exponent: number;
    }
  | { readonly kind: 'infinite'; readonly negative: boolean };
export type FiniteLongDouble = Extract<LongDouble, { kind: 'finite' }>;

export const LONG_DOUBLE_ZERO: FiniteLongDouble = {
  kind: 'finite',
  negative: false,
  significand: 0n,
  exponent: 0,
};
const SIGNIFICAND_BITS = 64;
/** The exponent of the lowest bit of the smallest subnormal, 2^-16445. */
const LOWEST_BIT_EXPONENT = -16445;
/** The exponent of the highest bit of the largest finite value, just below 2^16384. */
const HIGHEST_BIT_EXPONENT = 16383;
/** Redis's MAX_LONG_DOUBLE_CHARS: string2ld refuses input of this length or more. */
const LONG_DOUBLE_CHARS_MAX = 5 * 1024;
const FRACTION_DIGITS = 17;
const FRACTION_SCALE = 10n ** BigInt(FRACTION_DIGITS);

const DECIMAL_FLOAT = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const HEX_FLOAT = /^([+-]?)0[xX]([\da-fA-F]*)(?:\.([\da-fA-F]*))?(?:[pP]([+-]?\d+))?$/;
const INFINITY_TEXT = /^([+-]?)inf(?:inity)?$/i;

/**
 * A float as Redis's string2ld accepts it: all of it readable by strtold (decimal, hex or
 * infinity), no leading space, not NaN, and no overflow or underflow to zero. Null otherwise.
 */
export function parseLongDouble(bytes: Buffer): LongDouble | null {
  if (bytes.length === 0 || bytes.length >= LONG_DOUBLE_CHARS_MAX) return null;
  const text = bytes.toString('latin1');
  const decimal = DECIMAL_FLOAT.exec(text);
  if (decimal !== null) {
    const [, sign, integerDigits = '', fractionDigits = '', exponentText = '0'] = decimal;
    if (integerDigits.length + fractionDigits.length === 0) return null;
    const exponent = Number(exponentText) - fractionDigits.length;
    return decimalToLongDouble(sign === '-', integerDigits + fractionDigits, exponent);
  }
  const hex = HEX_FLOAT.exec(text);
  if (hex !== null) {
    const [, sign, integerDigits = '', fractionDigits = '', exponentText = '0'] = hex;
    if (integerDigits.length + fractionDigits.length === 0) return null;
    const exponent = Number(exponentText) - 4 * fractionDigits.length;
    return hexToLongDouble(sign === '-', integerDigits + fractionDigits, exponent);
  }
  const infinity = INFINITY_TEXT.exec(text);
  if (infinity !== null) return { kind: 'infinite', negative: infinity[1] === '-' };
  return null;
}

/** digits × 10^exponent, correctly rounded; null when it overflows or underflows to zero. */
function decimalToLongDouble(negative: boolean, digits: string, exponent: number): LongDouble | null {
  const significantDigits = digits.replace(/^0+/, '');
  if (significantDigits === '') return LONG_DOUBLE_ZERO;
  // The value lies in [10^(magnitude-1), 10^magnitude). Far outside 1e-4951..1.2e4932 the
  // answer is known without building huge numbers.
  const magnitude = significantDigits.length + exponent;
  if (magnitude > 4940 || magnitude < -4960) return null;
  const mantissa = BigInt(significantDigits);
  if (exponent >= 0) return nonZeroOrNull(roundToLongDouble(negative, mantissa * 10n ** BigInt(exponent), 0));
  // Divide with enough quotient bits for rounding, then fold the remainder into a sticky bit so
  // that a tie is only a tie when the division was exact.
  const divisor = 10n ** BigInt(-exponent);
  const shift = Math.max(0, bitLength(divisor) - bitLength(mantissa) + SIGNIFICAND_BITS + 2);
  const scaled = mantissa << BigInt(shift);
  const quotient = scaled / divisor;
  const sticky = scaled % divisor === 0n ? 0n : 1n;
  return nonZeroOrNull(roundToLongDouble(negative, (quotient << 1n) | sticky, -shift - 1));
}

function hexToLongDouble(negative: boolean, digits: string, exponent: number): LongDouble | null {
  const mantissa = BigInt(`0x${digits}`);
  if (mantissa === 0n) return LONG_DOUBLE_ZERO;
  const topBit = bitLength(mantissa) - 1 + exponent;
  if (topBit > HIGHEST_BIT_EXPONENT + 1 || topBit < LOWEST_BIT_EXPONENT - 2) return null;
  return nonZeroOrNull(roundToLongDouble(negative, mantissa, exponent));
}

/** strtold reports overflow and underflow to zero as ERANGE, which string2ld refuses. */
function nonZeroOrNull(value: LongDouble): LongDouble | null {
  if (value.kind === 'infinite' || value.significand === 0n) return null;
  return value;
}

/** magnitude × 2^exponent rounded to nearest-even at 64 bits, or at the subnormal limit. */
function roundToLongDouble(negative: boolean, magnitude: bigint, exponent: number): LongDouble {
  if (magnitude === 0n) return LONG_DOUBLE_ZERO;
  let significand = magnitude;
  let resultExponent = exponent;
  const shift = Math.max(bitLength(magnitude) - SIGNIFICAND_BITS, LOWEST_BIT_EXPONENT - exponent);
  if (shift > 0) {
    const shiftBits = BigInt(shift);
    significand = magnitude >> shiftBits;
    const remainder = magnitude - (significand << shiftBits);
    const half = 1n << (shiftBits - 1n);
    if (remainder > half || (remainder === half && (significand & 1n) === 1n)) significand += 1n;
    resultExponent += shift;
    if (significand >> BigInt(SIGNIFICAND_BITS) !== 0n) {
      significand >>= 1n;
      resultExponent += 1;
    }
  }
  if (significand === 0n) return LONG_DOUBLE_ZERO;
  if (resultExponent + bitLength(significand) - 1 > HIGHEST_BIT_EXPONENT)
    return { kind: 'infinite', negative };
  return { kind: 'finite', negative, significand, exponent: resultExponent };
}

/** The rounded sum, or null when it is not finite (an infinite operand, or overflow). */
export function addLongDoubles(a: LongDouble, b: LongDouble): FiniteLongDouble | null {
  if (a.kind !== 'finite' || b.kind !== 'finite') return null;
  const exponent = Math.min(a.exponent, b.exponent);
  const aScaled = (a.negative ? -a.significand : a.significand) << BigInt(a.exponent - exponent);
  const bScaled = (b.negative ? -b.significand : b.significand) << BigInt(b.exponent - exponent);
  const sum = aScaled + bScaled;
  const rounded = roundToLongDouble(sum < 0n, sum < 0n ? -sum : sum, exponent);
  return rounded.kind === 'finite' ? rounded : null;
}

/**
 * Redis's human-friendly long double text: printf's "%.17Lf" (exact digits, rounded half to
 * even), trailing zeros and a trailing point removed, "-0" made "0". Even the largest long
 * double (4,933 digits) fits Redis's buffer, so no text is ever cut.
 */
export function formatLongDouble(value: FiniteLongDouble): string {
  const scaled = value.significand * FRACTION_SCALE;
  let digits: bigint;
  if (value.exponent >= 0) {
    digits = scaled << BigInt(value.exponent);
  } else {
    const shift = BigInt(-value.exponent);
    digits = scaled >> shift;
    const remainder = scaled - (digits << shift);
    const half = 1n << (shift - 1n);
    if (remainder > half || (remainder === half && (digits & 1n) === 1n)) digits += 1n;
  }
  const text = digits.toString().padStart(FRACTION_DIGITS + 1, '0');
  const sign = value.negative ? '-' : '';
  const integerPart = text.slice(0, -FRACTION_DIGITS);
  const fraction = text.slice(-FRACTION_DIGITS).replace(/0+$/, '');
  const result = `${sign}${integerPart}${fraction === '' ? '' : `.${fraction}`}`;
  return result === '-0' ? '0' : result;
}

function bitLength(value: bigint): number {
  return value === 0n ? 0 : value.toString(2).length;
}
