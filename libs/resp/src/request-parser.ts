// Client requests as a Redis 7 server reads them: a multibulk request (`*N` then N `$len`
// arguments) when the first byte is '*', an inline request line otherwise. Redis's own quirks are
// kept so that a request means the same here as to Redis: count lines are ended by '\r' alone and
// the byte after it is skipped unchecked, as are the two bytes after a bulk's data; a NUL stops
// the search for a line end (Redis searches with strchr), so such a request waits until it is too
// big; `*0` and negative counts, and lines without arguments, are no request at all.
import { ChunkReader, LINE_TOO_LONG } from './chunk-reader.js';
import { splitInlineArgs } from './inline-args.js';
import { ParseError } from './parse-error.js';

export interface RequestParserOptions {
  /** Most arguments of one multibulk request. */
  argsMax?: number;
  /** Longest bulk argument. */
  bulkBytesMax?: number;
  /** Longest inline request line, counting everything before its '\n' (a '\r' too). */
  inlineBytesMax?: number;
  /** Longest `*N` or `$N` count line, the '*' or '$' included. */
  countLineBytesMax?: number;
}

// Redis 7.0 takes up to INT_MAX arguments; earlier versions stopped at 1024*1024, a safer default.
export const REQUEST_ARGS_MAX_DEFAULT = 1024 * 1024;
export const REQUEST_BULK_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;
/** Redis's PROTO_INLINE_MAX_SIZE, which bounds count lines as well as inline requests. */
export const REQUEST_INLINE_BYTES_MAX_DEFAULT = 64 * 1024;
export const REQUEST_COUNT_LINE_BYTES_MAX_DEFAULT = 64 * 1024;

const STAR = 0x2a;
const DOLLAR = 0x24;
const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;
const MINUS = 0x2d;
const INT_MAX = 2 ** 31 - 1;
// Redis's LONG_STR_SIZE: string2ll refuses anything this long or longer.
const COUNT_DIGITS_LIMIT = 21;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const PROTOCOL_ERROR = 'ERR Protocol error:';

export class RequestParser {
  private readonly reader = new ChunkReader();
  private readonly argsMax: number;
  private readonly bulkBytesMax: number;
  private readonly inlineBytesMax: number;
  private readonly countLineBytesMax: number;
  /** The arguments read so far of the multibulk request being read, or null between requests. */
  private args: Buffer[] | null = null;
  private argsLeft = 0;
  /** Length of the bulk argument whose data is awaited, or -1 before its `$len` line. */
  private bulkLength = -1;
  /** A count line already read, waiting for the byte after its '\r': countSource[countStart..countEnd]. */
  private countPending = false;
  private countSource: Buffer = Buffer.alloc(0);
  private countStart = 0;
  private countEnd = 0;
  private failure: ParseError | null = null;

  constructor(options: RequestParserOptions = {}) {
    this.argsMax = options.argsMax ?? REQUEST_ARGS_MAX_DEFAULT;
    this.bulkBytesMax = options.bulkBytesMax ?? REQUEST_BULK_BYTES_MAX_DEFAULT;
    this.inlineBytesMax = options.inlineBytesMax ?? REQUEST_INLINE_BYTES_MAX_DEFAULT;
    this.countLineBytesMax = options.countLineBytesMax ?? REQUEST_COUNT_LINE_BYTES_MAX_DEFAULT;
  }

  /**
   * Adds received bytes. Arguments returned by next() may be views of these chunks, so a chunk must
   * not be modified afterwards, and an argument kept beyond its request (a stored value) is better
   * copied than left holding its whole chunk. Input after a protocol error is ignored.
   */
  push(chunk: Buffer): void {
    if (this.failure === null) this.reader.push(chunk);
  }

  /** Bytes received and not yet consumed as requests (CLIENT LIST's qbuf). */
  get bufferedBytes(): number {
    return this.reader.bufferedBytes;
  }

  /**
   * The next request's arguments; `null` until more bytes arrive. A ParseError carries the error
   * line Redis sends for the same input; every later call returns it again, as the connection is
   * to be closed.
   */
  next(): Buffer[] | ParseError | null {
    if (this.failure !== null) return this.failure;
    for (;;) {
      if (this.args === null) {
        const first = this.reader.byteAt(0);
        if (first === -1) return null;
        // A count line waiting for the byte after its '\r' has had its '*' consumed already.
        if (first !== STAR && !this.countPending) {
          const inline = this.readInline();
          if (inline === null || inline instanceof ParseError) return inline;
          if (inline.length > 0) return inline;
          continue;
        }
        const read = this.readCountLine('too big mbulk count string');
        if (read !== true) return read;
        const count = parseRedisInteger(this.countSource, this.countStart + 1, this.countEnd);
        if (count === null || count > INT_MAX || count > this.argsMax) {
          return this.fail('invalid multibulk length');
        }
        if (count <= 0) continue;
        this.args = [];
        this.argsLeft = count;
      }
      while (this.argsLeft > 0) {
        if (this.bulkLength === -1) {
          const read = this.readCountLine('too big bulk count string');
          if (read !== true) return read;
          // An empty line's first byte, to Redis, is its '\r'.
          const first =
            this.countStart === this.countEnd ? CR : (this.countSource[this.countStart] as number);
          if (first !== DOLLAR) return this.fail(`expected '$', got '${printable(first)}'`);
          const length = parseRedisInteger(this.countSource, this.countStart + 1, this.countEnd);
          if (length === null || length < 0 || length > this.bulkBytesMax) {
            return this.fail('invalid bulk length');
          }
          this.bulkLength = length;
        }
        const data = this.reader.readExact(this.bulkLength, 2);
        if (data === null) return null;
        (this.args as Buffer[]).push(data);
        this.bulkLength = -1;
        this.argsLeft--;
      }
      const request = this.args as Buffer[];
      this.args = null;
      return request;
    }
  }

  private readInline(): Buffer[] | ParseError | null {
    const line = this.reader.readLine(LF, this.inlineBytesMax, NUL);
    if (line === null) return null;
    if (line === LINE_TOO_LONG) return this.fail('too big inline request');
    const content = line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, -1) : line;
    return splitInlineArgs(content) ?? this.fail('unbalanced quotes in request');
  }

  /**
   * Reads a count line into countSource, countStart and countEnd (without its '\r'), answering
   * true once the byte after the '\r', skipped unchecked, has arrived too.
   */
  private readCountLine(tooBig: string): true | ParseError | null {
    if (!this.countPending) {
      const found = this.reader.findLine(CR, this.countLineBytesMax, NUL);
      if (found === false) return null;
      if (found === LINE_TOO_LONG) return this.fail(tooBig);
      this.countPending = true;
      this.countSource = this.reader.lineSource;
      this.countStart = this.reader.lineStart;
      this.countEnd = this.reader.lineEnd;
    }
    if (!this.reader.skip(1)) return null;
    this.countPending = false;
    return true;
  }

  private fail(reason: string): ParseError {
    this.failure = new ParseError(`${PROTOCOL_ERROR} ${reason}`);
    this.args = null;
    this.countPending = false;
    this.reader.clear();
    return this.failure;
  }
}

/** The byte as Redis's "%c" shows it in an error line, where '\r' and '\n' become spaces. */
function printable(byte: number): string {
  return byte === CR || byte === LF ? ' ' : String.fromCharCode(byte);
}

/**
 * The integer in source[start..end], by the rules of Redis's string2ll: an optional '-', no '+',
 * no leading zeros, no "-0", within 64 bits and under 21 characters; otherwise null. Values beyond
 * 2^53 lose precision, which no bound they are compared with can notice.
 */
function parseRedisInteger(source: Buffer, start: number, end: number): number | null {
  const length = end - start;
  if (length <= 0 || length >= COUNT_DIGITS_LIMIT) return null;
  if (length === 1 && source[start] === 0x30) return 0;
  const negative = source[start] === MINUS;
  const firstDigit = negative ? start + 1 : start;
  const leading = firstDigit < end ? (source[firstDigit] as number) : -1;
  if (leading < 0x31 || leading > 0x39) return null;
  let value = 0;
  for (let index = firstDigit; index < end; index++) {
    const byte = source[index] as number;
    if (byte < 0x30 || byte > 0x39) return null;
    value = value * 10 + (byte - 0x30);
  }
  if (end - firstDigit <= 15) return negative ? -value : value;
  const exact = BigInt(source.toString('latin1', start, end));
  return exact < INT64_MIN || exact > INT64_MAX ? null : Number(exact);
}
