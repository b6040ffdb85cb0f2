// The arguments of an inline request line, split the way Redis's sdssplitargs splits them, so a
// line means here exactly what it means to Redis.

const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;
const BACKSLASH = 0x5c;
const LOWER_X = 0x78;

enum Quoting {
  None,
  Double,
  Single,
}

/** C's isspace() in the C locale: what may surround arguments and follow a closing quote. */
function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || (byte !== undefined && byte >= 0x09 && byte <= 0x0d);
}

/** Only these end an unquoted argument: sdssplitargs does not treat \v and \f as separators there. */
function endsUnquoted(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  return -1;
}

function unescaped(byte: number): number {
  switch (byte) {
    case 0x6e: // n
      return 0x0a;
    case 0x72: // r
      return 0x0d;
    case 0x74: // t
      return 0x09;
    case 0x62: // b
      return 0x08;
    case 0x61: // a
      return 0x07;
    default:
      return byte;
  }
}

/**
 * The arguments of `line` (without its line ending), or `null` for unbalanced quotes, which
 * includes a closing quote followed by anything but a space. "…" understands \n \r \t \b \a \xHH
 * and takes any other escaped byte literally; '…' only understands \'. An argument without quotes
 * is returned as a view of `line`. The line ends at its first NUL, as the C string it is to Redis.
 */
export function splitInlineArgs(line: Buffer): Buffer[] | null {
  const nul = line.indexOf(0);
  const end = nul === -1 ? line.length : nul;
  const args: Buffer[] = [];
  let at = 0;
  for (;;) {
    while (at < end && isSpace(line[at])) at++;
    if (at === end) return args;
    const start = at;
    // Stays null while the argument is a plain run of the line's bytes.
    let built: number[] | null = null;
    let quoting = Quoting.None;
    let argumentEnd = -1;
    while (argumentEnd === -1) {
      if (at === end) {
        if (quoting !== Quoting.None) return null;
        argumentEnd = at;
        break;
      }
      const byte = line[at] as number;
      if (quoting === Quoting.Double) {
        const high = byte === BACKSLASH && line[at + 1] === LOWER_X ? hexValue(line[at + 2]) : -1;
        const low = high === -1 || at + 3 >= end ? -1 : hexValue(line[at + 3]);
        if (low !== -1) {
          built?.push(high * 16 + low);
          at += 4;
        } else if (byte === BACKSLASH && at + 1 < end) {
          built?.push(unescaped(line[at + 1] as number));
          at += 2;
        } else if (byte === DOUBLE_QUOTE) {
          if (at + 1 < end && !isSpace(line[at + 1])) return null;
          at++;
          argumentEnd = at;
        } else {
          built?.push(byte);
          at++;
        }
      } else if (quoting === Quoting.Single) {
        if (byte === BACKSLASH && at + 1 < end && line[at + 1] === SINGLE_QUOTE) {
          built?.push(SINGLE_QUOTE);
          at += 2;
        } else if (byte === SINGLE_QUOTE) {
          if (at + 1 < end && !isSpace(line[at + 1])) return null;
          at++;
          argumentEnd = at;
        } else {
          built?.push(byte);
          at++;
        }
      } else if (endsUnquoted(byte)) {
        argumentEnd = at;
        at++;
      } else if (byte === DOUBLE_QUOTE || byte === SINGLE_QUOTE) {
        built ??= Array.from(line.subarray(start, at));
        quoting = byte === DOUBLE_QUOTE ? Quoting.Double : Quoting.Single;
        at++;
      } else {
        built?.push(byte);
        at++;
      }
    }
    args.push(built === null ? line.subarray(start, argumentEnd) : Buffer.from(built));
  }
}
