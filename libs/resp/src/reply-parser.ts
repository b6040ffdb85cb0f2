// Server replies, RESP2 and RESP3, read as Reply values. Each RESP3 type maps to the closest Reply
// kind: a big number to a bigint integer, a boolean to the integer 1 or 0, a blob error to an
// error, a push to an array; attributes are read and dropped. Every size the peer announces is
// checked against a bound before anything is buffered for it, aggregates are read without
// recursion, and malformed input is answered with a ParseError, never a throw.
import { ChunkReader, LINE_TOO_LONG } from './chunk-reader.js';
import { ParseError } from './parse-error.js';
import type { Reply } from './reply.js';

export interface ReplyParserOptions {
  /** Longest bulk string, verbatim string or blob error. */
  bulkBytesMax?: number;
  /** Longest line: a simple string, an error, a number or a length, its type byte included. */
  lineBytesMax?: number;
  /** Most elements of one array, set or push, or entries of one map or attribute. */
  aggregateLengthMax?: number;
  /** Deepest nesting of aggregates. */
  depthMax?: number;
}

/** Redis's own default proto-max-bulk-len. */
export const REPLY_BULK_BYTES_MAX_DEFAULT = 512 * 1024 * 1024;
export const REPLY_LINE_BYTES_MAX_DEFAULT = 1024 * 1024;
export const REPLY_AGGREGATE_LENGTH_MAX_DEFAULT = 16 * 1024 * 1024;
export const REPLY_DEPTH_MAX_DEFAULT = 512;

const CR = 0x0d;
const LF = 0x0a;

enum Type {
  Simple = 0x2b, // +
  Error = 0x2d, // -
  Integer = 0x3a, // :
  Bulk = 0x24, // $
  Array = 0x2a, // *
  Null = 0x5f, // _
  Double = 0x2c, // ,
  Boolean = 0x23, // #
  BlobError = 0x21, // !
  Verbatim = 0x3d, // =
  BigNumber = 0x28, // (
  Map = 0x25, // %
  Set = 0x7e, // ~
  Push = 0x3e, // >
  Attribute = 0x7c, // |
}

type BlobType = Type.Bulk | Type.BlobError | Type.Verbatim;
type AggregateType = Type.Array | Type.Set | Type.Push | Type.Map | Type.Attribute;

interface Aggregate {
  type: AggregateType;
  /** Map and attribute entries are gathered flat: key, value, key, value… */
  items: Reply[];
  left: number;
}

const SHOWN_CHARS_MAX = 40;

/** readElement's answer when it opened an aggregate or skipped an empty attribute: read on. */
const READ_ON = Symbol('read on');

const DECIMAL_INTEGER = /^[+-]?\d+$/;
const DECIMAL_FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL_DOUBLES: Record<string, number> = {
  inf: Number.POSITIVE_INFINITY,
  '+inf': Number.POSITIVE_INFINITY,
  '-inf': Number.NEGATIVE_INFINITY,
  nan: Number.NaN,
  '-nan': Number.NaN,
};

export class ReplyParser {
  private readonly reader = new ChunkReader();
  private readonly bulkBytesMax: number;
  private readonly lineBytesMax: number;
  private readonly aggregateLengthMax: number;
  private readonly depthMax: number;
  /** The aggregates being read, outermost first. */
  private readonly openAggregates: Aggregate[] = [];
  /** A blob whose length line has been read and whose data is awaited. */
  private blob: { type: BlobType; length: number } | null = null;
  private failure: ParseError | null = null;

  constructor(options: ReplyParserOptions = {}) {
    this.bulkBytesMax = options.bulkBytesMax ?? REPLY_BULK_BYTES_MAX_DEFAULT;
    this.lineBytesMax = options.lineBytesMax ?? REPLY_LINE_BYTES_MAX_DEFAULT;
    this.aggregateLengthMax = options.aggregateLengthMax ?? REPLY_AGGREGATE_LENGTH_MAX_DEFAULT;
    this.depthMax = options.depthMax ?? REPLY_DEPTH_MAX_DEFAULT;
  }

  /**
   * Adds received bytes. Bulk strings returned by next() may be views of these chunks, so a chunk
   * must not be modified afterwards. Input after a protocol error is ignored.
   */
  push(chunk: Buffer): void {
    if (this.failure === null) this.reader.push(chunk);
  }

  /** The next whole reply; `null` until more bytes arrive. After a ParseError, always that error. */
  next(): Reply | ParseError | null {
    if (this.failure !== null) return this.failure;
    try {
      return this.readReply();
    } catch (cause) {
      // Nothing above is meant to throw; should something (an allocation) still fail, the stream
      // is as lost as after malformed input.
      return this.fail(cause instanceof Error ? cause.message : String(cause));
    }
  }

  private readReply(): Reply | ParseError | null {
    for (;;) {
      const element = this.readElement();
      if (element === null || element instanceof ParseError) return element;
      if (element === READ_ON) continue;
      let done: Reply | undefined = element;
      while (done !== undefined) {
        const parent = this.openAggregates.at(-1);
        if (parent === undefined) return done;
        parent.items.push(done);
        parent.left--;
        if (parent.left > 0) break;
        this.openAggregates.pop();
        done = closed(parent);
      }
    }
  }

  /** One reply that is not an open aggregate: a scalar, a blob or an empty aggregate. */
  private readElement(): Reply | ParseError | typeof READ_ON | null {
    if (this.blob !== null) return this.readBlob(this.blob.type, this.blob.length);
    const type = this.reader.byteAt(0);
    if (type === -1) return null;
    const found = this.reader.findLine(LF, this.lineBytesMax);
    if (found === false) return null;
    if (found === LINE_TOO_LONG) return this.fail(`line longer than ${this.lineBytesMax} bytes`);
    const { lineSource, lineStart, lineEnd } = this.reader;
    if (lineEnd - lineStart < 2 || lineSource[lineEnd - 1] !== CR) return this.fail('line not ended by CRLF');
    const text = lineSource.toString('utf8', lineStart + 1, lineEnd - 1);
    switch (type) {
      case Type.Simple:
        return { kind: 'simple', value: text };
      case Type.Error:
        return { kind: 'error', message: text };
      case Type.Integer:
        return this.integer(text, false);
      case Type.BigNumber:
        return this.integer(text, true);
      case Type.Double:
        return this.double(text);
      case Type.Boolean:
        if (text === 't' || text === 'f') return { kind: 'integer', value: text === 't' ? 1 : 0 };
        return this.fail(`invalid boolean ${shown(text)}`);
      case Type.Null:
        return text === '' ? { kind: 'null' } : this.fail('invalid null');
      case Type.Bulk:
      case Type.BlobError:
      case Type.Verbatim:
        return this.openBlob(type, text);
      case Type.Array:
      case Type.Set:
      case Type.Push:
      case Type.Map:
      case Type.Attribute:
        return this.openAggregate(type, text);
      default:
        return this.fail(`unknown reply type byte 0x${type.toString(16).padStart(2, '0')}`);
    }
  }

  private openBlob(type: BlobType, text: string): Reply | ParseError | null {
    if (text === '-1' && type === Type.Bulk) return { kind: 'null' };
    const length = parseLength(text);
    if (length === null || length > this.bulkBytesMax) return this.fail(`invalid bulk length ${shown(text)}`);
    this.blob = { type, length };
    return this.readBlob(type, length);
  }

  private readBlob(type: BlobType, length: number): Reply | ParseError | null {
    if (this.reader.bufferedBytes < length + 2) return null;
    this.blob = null;
    if (this.reader.byteAt(length) !== CR || this.reader.byteAt(length + 1) !== LF) {
      return this.fail('bulk data not ended by CRLF');
    }
    const payload = this.reader.readExact(length, 2) as Buffer;
    if (type === Type.Bulk) return { kind: 'bulk', value: payload };
    if (type === Type.BlobError) return { kind: 'error', message: payload.toString('utf8') };
    if (length < 4 || payload[3] !== 0x3a) return this.fail('verbatim string without a format');
    return { kind: 'verbatim', format: payload.toString('utf8', 0, 3), value: payload.toString('utf8', 4) };
  }

  private openAggregate(type: AggregateType, text: string): Reply | ParseError | typeof READ_ON {
    if (text === '-1' && type === Type.Array) return { kind: 'nullArray' };
    const length = parseLength(text);
    if (length === null || length > this.aggregateLengthMax) {
      return this.fail(`invalid aggregate length ${shown(text)}`);
    }
    if (length === 0)
      return type === Type.Attribute ? READ_ON : (closed({ type, items: [], left: 0 }) as Reply);
    if (this.openAggregates.length >= this.depthMax)
      return this.fail(`aggregates nested deeper than ${this.depthMax}`);
    const isKeyed = type === Type.Map || type === Type.Attribute;
    this.openAggregates.push({ type, items: [], left: isKeyed ? length * 2 : length });
    return READ_ON;
  }

  private integer(text: string, big: boolean): Reply | ParseError {
    if (!DECIMAL_INTEGER.test(text)) return this.fail(`invalid integer ${shown(text)}`);
    if (big) return { kind: 'integer', value: BigInt(text) };
    if (text.length <= 15) return { kind: 'integer', value: Number(text) };
    const value = BigInt(text);
    const exact = Number(value);
    return { kind: 'integer', value: Number.isSafeInteger(exact) ? exact : value };
  }

  private double(text: string): Reply | ParseError {
    const special = SPECIAL_DOUBLES[text.toLowerCase()];
    if (special !== undefined) return { kind: 'double', value: special };
    if (!DECIMAL_FLOAT.test(text)) return this.fail(`invalid double ${shown(text)}`);
    return { kind: 'double', value: Number(text) };
  }

  private fail(reason: string): ParseError {
    this.failure = new ParseError(`Protocol error: ${reason}`);
    this.openAggregates.length = 0;
    this.blob = null;
    this.reader.clear();
    return this.failure;
  }
}

/** The reply a completed aggregate stands for; none for an attribute. */
function closed(aggregate: Aggregate): Reply | undefined {
  switch (aggregate.type) {
    case Type.Array:
    case Type.Push:
      return { kind: 'array', items: aggregate.items };
    case Type.Set:
      return { kind: 'set', items: aggregate.items };
    case Type.Map: {
      const entries: [Reply, Reply][] = [];
      for (let index = 0; index < aggregate.items.length; index += 2) {
        entries.push([aggregate.items[index] as Reply, aggregate.items[index + 1] as Reply]);
      }
      return { kind: 'map', entries };
    }
    case Type.Attribute:
      return undefined;
  }
}

/** Peer text quoted for an error message: escaped, so it cannot break the line, and cut short. */
function shown(text: string): string {
  return JSON.stringify(text.length > SHOWN_CHARS_MAX ? `${text.slice(0, SHOWN_CHARS_MAX)}…` : text);
}

/** A non-negative decimal length without sign or leading zeros, or null. */
function parseLength(text: string): number | null {
  if (text.length === 0 || text.length > 15) return null;
  if (text.length > 1 && text.charCodeAt(0) === 0x30) return null;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x30 || code > 0x39) return null;
  }
  return Number(text);
}
