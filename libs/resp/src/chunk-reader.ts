// The bytes received so far, read as delimited lines and fixed-size blocks. Chunks are kept as
// pushed: a line or block inside one chunk is read in place, one spanning chunks is joined once
// when complete, and a line search resumes where the previous call stopped. So a pipeline costs
// O(bytes) however it is split, and a large block arriving in many small chunks is never re-copied.

/** findLine's answer for a line that has grown past its bound without being terminated. */
export const LINE_TOO_LONG = Symbol('line too long');

const EMPTY = Buffer.alloc(0);
// Consumed chunks are dropped from the front of the queue in batches, not one shift() at a time.
const CONSUMED_CHUNKS_KEPT_MAX = 64;
// Lines this short are searched byte by byte: cheaper than a call into native code.
const INLINE_SEARCH_BYTES = 32;

export class ChunkReader {
  /**
   * The last line findLine found: bytes lineStart..lineEnd of lineSource, its delimiter excluded.
   * Read it before the next call that consumes bytes; the bytes themselves stay valid.
   */
  lineSource: Buffer = EMPTY;
  lineStart = 0;
  lineEnd = 0;

  private chunks: Buffer[] = [];
  /** Index in `chunks` of the chunk holding the first unread byte. */
  private head = 0;
  /** Position of the first unread byte in chunks[head]. */
  private offset = 0;
  private unread = 0;
  // Where the search for the current line's delimiter resumes, and how many line bytes precede it.
  private scanChunk = 0;
  private scanOffset = 0;
  private scannedBytes = 0;
  /** The current line held a blocker byte before any delimiter: it can never be completed. */
  private blocked = false;

  get bufferedBytes(): number {
    return this.unread;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.unread += chunk.length;
  }

  /** The unread byte `index` bytes ahead, or -1 when there is none. */
  byteAt(index: number): number {
    if (index >= this.unread) return -1;
    let position = this.offset + index;
    for (let chunkIndex = this.head; ; chunkIndex++) {
      const chunk = this.chunks[chunkIndex] as Buffer;
      if (position < chunk.length) return chunk[position] as number;
      position -= chunk.length;
    }
  }

  /**
   * Looks for the next `delimiter` and, once it has arrived, consumes the line and the delimiter,
   * sets lineSource, lineStart and lineEnd, and answers true. Answers false while the delimiter has
   * not arrived, LINE_TOO_LONG once more than `maxBytes` precede it. With a `blocker` byte, the
   * search treats that byte as the end of the input, the way a C string search stops at NUL: a line
   * with a blocker before its delimiter never completes, and becomes LINE_TOO_LONG once more than
   * `maxBytes` are buffered. Until a line is found, every call must pass the same arguments.
   */
  findLine(delimiter: number, maxBytes: number, blocker = -1): boolean | typeof LINE_TOO_LONG {
    if (this.blocked) return this.unread > maxBytes ? LINE_TOO_LONG : false;
    while (this.scanChunk < this.chunks.length) {
      const chunk = this.chunks[this.scanChunk] as Buffer;
      const from = this.scanOffset;
      const found = indexOfByte(chunk, delimiter, from);
      const end = found === -1 ? chunk.length : found;
      if (blocker >= 0 && includesByte(chunk, blocker, from, end)) {
        this.blocked = true;
        return this.unread > maxBytes ? LINE_TOO_LONG : false;
      }
      const lineBytes = this.scannedBytes + (end - from);
      if (lineBytes > maxBytes) return LINE_TOO_LONG;
      if (found !== -1) {
        this.takeLine(found, lineBytes);
        return true;
      }
      this.scannedBytes = lineBytes;
      this.scanChunk++;
      this.scanOffset = 0;
    }
    return false;
  }

  /** findLine's line as a buffer of its own (a view when it lay in one chunk), or its other answers. */
  readLine(delimiter: number, maxBytes: number, blocker = -1): Buffer | null | typeof LINE_TOO_LONG {
    const found = this.findLine(delimiter, maxBytes, blocker);
    if (found !== true) return found === false ? null : found;
    return this.lineSource.subarray(this.lineStart, this.lineEnd);
  }

  /**
   * The next `length` bytes, then `trailing` more consumed unseen; `null` (consuming nothing) until
   * all of them are buffered.
   */
  readExact(length: number, trailing = 0): Buffer | null {
    if (this.unread < length + trailing) return null;
    if (length === 0) {
      this.advance(trailing);
      return EMPTY;
    }
    const first = this.chunks[this.head] as Buffer;
    let block: Buffer;
    if (this.offset + length <= first.length) {
      block = first.subarray(this.offset, this.offset + length);
    } else {
      block = Buffer.allocUnsafe(length);
      let written = 0;
      let index = this.head;
      let from = this.offset;
      while (written < length) {
        const chunk = this.chunks[index] as Buffer;
        const to = Math.min(chunk.length, from + length - written);
        written += chunk.copy(block, written, from, to);
        index++;
        from = 0;
      }
    }
    this.advance(length + trailing);
    return block;
  }

  /** Consumes `length` bytes if that many are buffered. */
  skip(length: number): boolean {
    if (this.unread < length) return false;
    this.advance(length);
    return true;
  }

  /** Drops everything buffered, for a stream that will not be read further. */
  clear(): void {
    this.advance(this.unread);
  }

  private takeLine(delimiterAt: number, lineBytes: number): void {
    if (this.scanChunk === this.head) {
      this.lineSource = this.chunks[this.head] as Buffer;
      this.lineStart = this.offset;
      this.lineEnd = delimiterAt;
    } else {
      const parts = [(this.chunks[this.head] as Buffer).subarray(this.offset)];
      for (let index = this.head + 1; index < this.scanChunk; index++)
        parts.push(this.chunks[index] as Buffer);
      parts.push((this.chunks[this.scanChunk] as Buffer).subarray(0, delimiterAt));
      this.lineSource = Buffer.concat(parts, lineBytes);
      this.lineStart = 0;
      this.lineEnd = lineBytes;
    }
    this.advance(lineBytes + 1);
  }

  private advance(length: number): void {
    this.unread -= length;
    let offset = this.offset + length;
    while (this.head < this.chunks.length && offset >= (this.chunks[this.head] as Buffer).length) {
      offset -= (this.chunks[this.head] as Buffer).length;
      this.head++;
    }
    this.offset = offset;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head > CONSUMED_CHUNKS_KEPT_MAX) {
      this.chunks.splice(0, this.head);
      this.head = 0;
    }
    this.scanChunk = this.head;
    this.scanOffset = this.offset;
    this.scannedBytes = 0;
    this.blocked = false;
  }
}

function indexOfByte(bytes: Buffer, byte: number, from: number): number {
  const end = Math.min(bytes.length, from + INLINE_SEARCH_BYTES);
  for (let index = from; index < end; index++) if (bytes[index] === byte) return index;
  return end === bytes.length ? -1 : bytes.indexOf(byte, end);
}

function includesByte(bytes: Buffer, byte: number, from: number, to: number): boolean {
  for (let index = from; index < to; index++) if (bytes[index] === byte) return true;
  return false;
}
