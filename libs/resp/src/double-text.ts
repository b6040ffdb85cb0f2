// A double as Redis (7.2 and later) writes it, in RESP3 `,` replies and RESP2 bulk strings alike:
// "inf", "-inf", "nan", "-0", integers up to 2^62 in full, and otherwise the shortest digits that
// read back as the same double, laid out as Redis's fpconv_dtoa lays them out.

// Redis prints integers exactly up to LLONG_MAX/2, which as a double is 2^62.
const EXACT_INTEGER_MAX = 2 ** 62;

export function formatDouble(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  if (Number.isInteger(value) && Math.abs(value) <= EXACT_INTEGER_MAX) {
    return Number.isSafeInteger(value) ? String(value) : BigInt(value).toString();
  }
  const [mantissa, exponentText] = Math.abs(value).toExponential().split('e') as [string, string];
  const sign = value < 0 ? '-' : '';
  return sign + layOut(mantissa.replace('.', ''), Number(exponentText));
}

/** fpconv_dtoa's emit_digits: `digits` with the first one at the decimal place `exponent`. */
function layOut(digits: string, exponent: number): string {
  const count = digits.length;
  // The value is digits × 10^scale.
  const scale = exponent - (count - 1);
  const magnitude = Math.abs(exponent);
  if (scale >= 0 && magnitude < count + 7) return digits + '0'.repeat(scale);
  if (scale < 0 && (scale > -7 || magnitude < 4)) {
    const integerDigits = count + scale;
    if (integerDigits <= 0) return `0.${'0'.repeat(-integerDigits)}${digits}`;
    return `${digits.slice(0, integerDigits)}.${digits.slice(integerDigits)}`;
  }
  const fraction = count > 1 ? `.${digits.slice(1)}` : '';
  return `${digits[0]}${fraction}e${exponent < 0 ? '-' : '+'}${magnitude}`;
}
