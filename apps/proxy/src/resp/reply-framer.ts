// Finds where each reply of a writer's byte stream ends, RESP2 and RESP3, without decoding it:
// the proxy passes reply bytes to its client as they came and needs only their boundaries, the
// top-level type (an error? a null?) and a bound on what it holds. The libs/resp ReplyParser
// builds a value for every element; this scans bytes once, resumes where the last chunk ended,
// and a reply that lies in one chunk comes out as a range of that chunk, with no copy.
//
// The bounds are those of ReplyParser; a reply longer than `replyBytesMax` is scanned to its end
// without being kept and reported as oversize, so the proxy answers that one request with an
// error instead of holding it. Malformed input is a FramingError: the stream is lost.

export interface ReplyFramerOptions {
  bulkBytesMax?: number;
  lineBytesMax?: number;
  aggregateLengthMax?: number;
  depthMax?: number;
  /** Longest reply kept whole; a longer one is skipped and reported as oversize. */
  replyBytesMax?: number;
}

export class FramingError {
  constructor(readonly message: string) {}
}

const EMPTY = Buffer.alloc(0);
const CR = 0x0d;
const LF = 0x0a;
const MINUS = 0x2d;

// Scanner states.
const AT_TYPE = 0;
const IN_LINE = 1;
const IN_BULK = 2;
const AT_BULK_CR = 3;
const AT_BULK_LF = 4;

/** What the bytes after a type byte are. */
const SCALAR_LINE = 1;
const BLOB_LENGTH = 2;
const AGGREGATE_LENGTH = 3;
const PAIRS_LENGTH = 4;
const ATTRIBUTE_LENGTH = 5;

const TYPE_OF_BYTE = new Uint8Array(256);
for (const byte of '+-:,#_(') TYPE_OF_BYTE[byte.charCodeAt(0)] = SCALAR_LINE;
for (const byte of '$!=') TYPE_OF_BYTE[byte.charCodeAt(0)] = BLOB_LENGTH;
for (const byte of '*~>') TYPE_OF_BYTE[byte.charCodeAt(0)] = AGGREGATE_LENGTH;
TYPE_OF_BYTE['%'.charCodeAt(0)] = PAIRS_LENGTH;
TYPE_OF_BYTE['|'.charCodeAt(0)] = ATTRIBUTE_LENGTH;

const BULK_BYTE = '$'.charCodeAt(0);
const ARRAY_BYTE = '*'.charCodeAt(0);
const NULL_BYTE = '_'.charCodeAt(0);
const ERROR_BYTE = '-'.charCodeAt(0);
const BLOB_ERROR_BYTE = '!'.charCodeAt(0);
const PUSH_BYTE = '>'.charCodeAt(0);
const ATTRIBUTE_BYTE = '|'.charCodeAt(0);

export class ReplyFramer {
  /** The reply next() found: bytes start..end of source (its own copy when it spanned chunks). */
  source: Buffer = EMPTY;
  start = 0;
  end = 0;
  /** Its first byte that is not an attribute's ('+', '-', '*', …). */
  topType = 0;
  /** A null: `$-1`, `*-1` or RESP3 `_`. */
  isNull = false;
  /** Longer than replyBytesMax: scanned and dropped; source is empty. */
  oversize = false;

  private readonly bulkBytesMax: number;
  private readonly lineBytesMax: number;
  private readonly aggregateLengthMax: number;
  private readonly depthMax: number;
  private readonly replyBytesMax: number;

  /** Received chunks from the one holding the current reply's first byte. */
  private chunks: Buffer[] = [];
  private scanChunk = 0;
  private scanOffset = 0;
  private replyChunk = 0;
  private replyOffset = 0;
  private replyStarted = false;
  private replyBytes = 0;
  private dropping = false;

  private state = AT_TYPE;
  private lineKind = 0;
  private lineTypeByte = 0;
  private lineBytes = 0;
  private lineValue = 0;
  private lineNegative = false;
  private lineDigits = 0;
  private lineBad = false;
  private previousByte = 0;
  private bulkLeft = 0;
  /** Elements still to come in each open aggregate, outermost first; attributes are marked. */
  private readonly remaining: number[] = [];
  private readonly attribute: boolean[] = [];
  private failure: FramingError | null = null;

  constructor(options: ReplyFramerOptions = {}) {
    this.bulkBytesMax = options.bulkBytesMax ?? 512 * 1024 * 1024;
    this.lineBytesMax = options.lineBytesMax ?? 1024 * 1024;
    this.aggregateLengthMax = options.aggregateLengthMax ?? 16 * 1024 * 1024;
    this.depthMax = options.depthMax ?? 512;
    this.replyBytesMax = options.replyBytesMax ?? 64 * 1024 * 1024;
  }

  /** Bytes received and not yet returned as part of a reply. */
  get bufferedBytes(): number {
    let bytes = 0;
    for (let index = this.replyChunk; index < this.chunks.length; index++)
      bytes += (this.chunks[index] as Buffer).length;
    return bytes - this.replyOffset;
  }

  push(chunk: Buffer): void {
    if (this.failure === null && chunk.length > 0) this.chunks.push(chunk);
  }

  /**
   * True once another whole reply has arrived (its place is in source, start, end), false while
   * it has not; a FramingError for malformed input, and for every call after it.
   */
  next(): boolean | FramingError {
    if (this.failure !== null) return this.failure;
    while (this.scanChunk < this.chunks.length) {
      const chunk = this.chunks[this.scanChunk] as Buffer;
      while (this.scanOffset < chunk.length) {
        const done = this.step(chunk);
        if (this.failure !== null) return this.failure;
        if (done) {
          this.emit();
          return true;
        }
      }
      this.scanChunk++;
      this.scanOffset = 0;
      if (this.dropping) this.dropScanned();
    }
    return false;
  }

  /** Consumes bytes of `chunk` in the current state; true when they complete a reply. */
  private step(chunk: Buffer): boolean {
    switch (this.state) {
      case AT_TYPE:
        return this.readType(chunk);
      case IN_LINE:
        return this.readLine(chunk);
      case IN_BULK: {
        const taken = Math.min(this.bulkLeft, chunk.length - this.scanOffset);
        this.advance(taken);
        this.bulkLeft -= taken;
        if (this.bulkLeft === 0) this.state = AT_BULK_CR;
        return false;
      }
      case AT_BULK_CR:
        if (chunk[this.scanOffset] !== CR) return this.fail('bulk data not ended by CRLF');
        this.advance(1);
        this.state = AT_BULK_LF;
        return false;
      default:
        if (chunk[this.scanOffset] !== LF) return this.fail('bulk data not ended by CRLF');
        this.advance(1);
        this.state = AT_TYPE;
        return this.elementDone();
    }
  }

  private readType(chunk: Buffer): boolean {
    const byte = chunk[this.scanOffset] as number;
    const kind = TYPE_OF_BYTE[byte] as number;
    if (kind === 0) return this.fail(`unknown reply type byte 0x${byte.toString(16).padStart(2, '0')}`);
    if (!this.replyStarted) {
      this.replyStarted = true;
      this.replyChunk = this.scanChunk;
      this.replyOffset = this.scanOffset;
      this.replyBytes = 0;
      this.topType = 0;
      this.isNull = false;
    }
    if (this.remaining.length === 0 && byte !== ATTRIBUTE_BYTE) this.topType = byte;
    this.advance(1);
    this.state = IN_LINE;
    this.lineKind = kind;
    this.lineTypeByte = byte;
    this.lineBytes = 1;
    this.lineValue = 0;
    this.lineNegative = false;
    this.lineDigits = 0;
    this.lineBad = false;
    this.previousByte = byte;
    return false;
  }

  private readLine(chunk: Buffer): boolean {
    if (this.lineKind === SCALAR_LINE) {
      // Only the end of a scalar's line matters here; the client reads its content.
      const newline = chunk.indexOf(LF, this.scanOffset);
      const end = newline === -1 ? chunk.length : newline;
      if (end > this.scanOffset) this.previousByte = chunk[end - 1] as number;
      this.lineBytes += end - this.scanOffset;
      this.advance(end - this.scanOffset);
      if (this.lineBytes > this.lineBytesMax) return this.fail(`line longer than ${this.lineBytesMax} bytes`);
      if (newline === -1) return false;
    } else {
      for (;;) {
        if (this.scanOffset >= chunk.length) return false;
        const byte = chunk[this.scanOffset] as number;
        if (byte === LF) break;
        this.lengthByte(byte);
        this.advance(1);
        if (++this.lineBytes > 24) return this.fail('length line too long');
      }
    }
    this.advance(1);
    if (this.previousByte !== CR || this.lineBytes < 2) return this.fail('line not ended by CRLF');
    this.state = AT_TYPE;
    return this.lineKind === SCALAR_LINE ? this.scalarDone() : this.lengthDone();
  }

  private lengthByte(byte: number): void {
    this.previousByte = byte;
    if (byte === CR) return;
    if (byte === MINUS && this.lineDigits === 0 && !this.lineNegative) this.lineNegative = true;
    else if (byte >= 0x30 && byte <= 0x39) {
      this.lineValue = this.lineValue * 10 + (byte - 0x30);
      this.lineDigits++;
    } else this.lineBad = true;
  }

  private scalarDone(): boolean {
    if (this.lineTypeByte === NULL_BYTE && this.remaining.length === 0) this.isNull = true;
    return this.elementDone();
  }

  private lengthDone(): boolean {
    if (this.lineBad || this.lineDigits === 0 || this.lineDigits > 15) return this.fail('invalid length');
    const type = this.lineTypeByte;
    if (this.lineNegative) {
      if (this.lineValue !== 1 || (type !== BULK_BYTE && type !== ARRAY_BYTE))
        return this.fail('invalid length');
      if (this.remaining.length === 0) this.isNull = true;
      return this.elementDone();
    }
    const length = this.lineValue;
    if (this.lineKind === BLOB_LENGTH) {
      if (length > this.bulkBytesMax) return this.fail(`bulk longer than ${this.bulkBytesMax} bytes`);
      this.bulkLeft = length;
      this.state = length === 0 ? AT_BULK_CR : IN_BULK;
      return false;
    }
    if (length > this.aggregateLengthMax)
      return this.fail(`aggregate of more than ${this.aggregateLengthMax}`);
    const elements = this.lineKind === AGGREGATE_LENGTH ? length : length * 2;
    if (elements === 0) return this.lineKind === ATTRIBUTE_LENGTH ? false : this.elementDone();
    if (this.remaining.length >= this.depthMax) return this.fail(`nested deeper than ${this.depthMax}`);
    this.remaining.push(elements);
    this.attribute.push(this.lineKind === ATTRIBUTE_LENGTH);
    return false;
  }

  /** One element is complete: closes the aggregates it completes; true when the reply is whole. */
  private elementDone(): boolean {
    for (;;) {
      const depth = this.remaining.length;
      if (depth === 0) return true;
      const left = (this.remaining[depth - 1] as number) - 1;
      if (left > 0) {
        this.remaining[depth - 1] = left;
        return false;
      }
      this.remaining.pop();
      // An attribute annotates the element after it: it completes nothing by itself.
      if (this.attribute.pop() === true) return false;
    }
  }

  private advance(bytes: number): void {
    this.scanOffset += bytes;
    this.replyBytes += bytes;
    if (!this.dropping && this.replyBytes > this.replyBytesMax) {
      this.dropping = true;
      this.dropScanned();
    }
  }

  /** Oversize: lets go of the chunks scanned so far. */
  private dropScanned(): void {
    this.chunks = this.chunks.slice(this.scanChunk);
    this.scanChunk = 0;
    this.replyChunk = 0;
    this.replyOffset = 0;
  }

  private emit(): void {
    this.oversize = this.dropping;
    if (this.dropping) {
      this.source = EMPTY;
      this.start = 0;
      this.end = 0;
    } else if (this.replyChunk === this.scanChunk) {
      this.source = this.chunks[this.scanChunk] as Buffer;
      this.start = this.replyOffset;
      this.end = this.scanOffset;
    } else {
      const parts = [(this.chunks[this.replyChunk] as Buffer).subarray(this.replyOffset)];
      for (let index = this.replyChunk + 1; index < this.scanChunk; index++)
        parts.push(this.chunks[index] as Buffer);
      parts.push((this.chunks[this.scanChunk] as Buffer).subarray(0, this.scanOffset));
      this.source = Buffer.concat(parts, this.replyBytes);
      this.start = 0;
      this.end = this.replyBytes;
    }
    this.dropping = false;
    this.replyStarted = false;
    this.releaseConsumed();
  }

  private releaseConsumed(): void {
    const current = this.chunks[this.scanChunk] as Buffer;
    if (this.scanChunk === this.chunks.length - 1 && this.scanOffset === current.length) {
      this.chunks = [];
      this.scanChunk = 0;
      this.scanOffset = 0;
    } else if (this.scanChunk > 32) {
      this.chunks = this.chunks.slice(this.scanChunk);
      this.scanChunk = 0;
    }
    this.replyChunk = this.scanChunk;
    this.replyOffset = this.scanOffset;
  }

  private fail(reason: string): false {
    this.failure = new FramingError(`Protocol error in a writer's reply: ${reason}`);
    this.chunks = [];
    return false;
  }
}

/** Whether a top-level type byte is an error reply (RESP2 `-`, RESP3 blob error `!`). */
export function isErrorType(type: number): boolean {
  return type === ERROR_BYTE || type === BLOB_ERROR_BYTE;
}

/** An out-of-band RESP3 push (never a reply to a request). */
export function isPushType(type: number): boolean {
  return type === PUSH_BYTE;
}
