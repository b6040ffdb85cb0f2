// Replies to bytes. RESP3 gets each kind's own type; RESP2 gets what Redis itself sends a RESP2
// client for that kind (see reply.ts). Replies are encoded into one buffer however many there are,
// so that a pipeline's answers leave in one socket write.
import { formatDouble } from './double-text.js';
import { OK, type Reply } from './reply.js';

export type RespVersion = 2 | 3;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
// Within these bounds a number is an exact integer of 64 bits.
const INT64_MIN_NUMBER = -(2 ** 63);
const INT64_END_NUMBER = 2 ** 63;

/**
 * The bytes of one reply. Throws a RangeError for a reply no protocol can carry: an integer that is
 * not a whole number, or a verbatim format that is not three bytes.
 */
export function encodeReply(reply: Reply, protocol: RespVersion): Buffer {
  // The replies nearly every command gives (GET's value, SET's OK) are written directly: encoding
  // them through `Output` (a text part, a list of parts, a second copy) was a few percent of a data
  // node's CPU under cached GETs.
  if (reply.kind === 'bulk' && typeof reply.value !== 'string') return encodeBulkBytes(reply.value);
  if (reply === OK) return OK_BYTES;
  const output = new Output();
  appendReply(output, reply, protocol);
  return output.toBuffer();
}

/** The bytes of all `replies`, in order, in one buffer. Throws as encodeReply does. */
export function encodeReplies(replies: Iterable<Reply>, protocol: RespVersion): Buffer {
  const output = new Output();
  for (const reply of replies) appendReply(output, reply, protocol);
  return output.toBuffer();
}

/**
 * Text is gathered in one string (V8 joins them without copying) and buffers are kept as they are,
 * so the result is written once into a buffer of its exact size.
 */
class Output {
  private readonly parts: (string | Buffer)[] = [];
  private gathered = '';
  private bytes = 0;

  /** `byteLength` is the UTF-8 size of `text`, which every caller knows already. */
  appendText(text: string, byteLength: number): void {
    this.gathered += text;
    this.bytes += byteLength;
  }

  appendBuffer(bytes: Buffer): void {
    if (this.gathered.length > 0) {
      this.parts.push(this.gathered);
      this.gathered = '';
    }
    this.parts.push(bytes);
    this.bytes += bytes.length;
  }

  toBuffer(): Buffer {
    if (this.parts.length === 0) return Buffer.from(this.gathered, 'utf8');
    if (this.gathered.length > 0) this.parts.push(this.gathered);
    const result = Buffer.allocUnsafe(this.bytes);
    let at = 0;
    for (const part of this.parts) {
      at += typeof part === 'string' ? result.write(part, at, 'utf8') : part.copy(result, at);
    }
    return result;
  }
}

function appendReply(output: Output, reply: Reply, protocol: RespVersion): void {
  switch (reply.kind) {
    case 'simple':
      appendLine(output, '+', reply.value);
      return;
    case 'error':
      appendLine(output, '-', reply.message);
      return;
    case 'integer':
      appendInteger(output, reply.value, protocol);
      return;
    case 'bulk':
      appendBulk(output, reply.value);
      return;
    case 'null':
      appendAscii(output, protocol === 3 ? '_\r\n' : '$-1\r\n');
      return;
    case 'nullArray':
      appendAscii(output, protocol === 3 ? '_\r\n' : '*-1\r\n');
      return;
    case 'array':
      appendAggregate(output, '*', reply.items, protocol);
      return;
    case 'set':
      appendAggregate(output, protocol === 3 ? '~' : '*', reply.items, protocol);
      return;
    case 'map':
      appendAscii(
        output,
        protocol === 3 ? `%${reply.entries.length}\r\n` : `*${reply.entries.length * 2}\r\n`,
      );
      for (const [key, value] of reply.entries) {
        appendReply(output, key, protocol);
        appendReply(output, value, protocol);
      }
      return;
    case 'pairs':
      appendAscii(output, `*${protocol === 3 ? reply.entries.length : reply.entries.length * 2}\r\n`);
      for (const [first, second] of reply.entries) {
        if (protocol === 3) appendAscii(output, '*2\r\n');
        appendReply(output, first, protocol);
        appendReply(output, second, protocol);
      }
      return;
    case 'double': {
      const text = formatDouble(reply.value);
      appendAscii(output, protocol === 3 ? `,${text}\r\n` : `$${text.length}\r\n${text}\r\n`);
      return;
    }
    case 'verbatim':
      appendVerbatim(output, reply.format, reply.value, protocol);
      return;
    default:
      throw new RangeError(`unknown reply kind ${(reply as { kind: unknown }).kind}`);
  }
}

/**
 * `+OK` (the shared `OK` reply), met often enough to keep encoded; other `simple('OK')` objects
 * take the general way, to the same bytes. Shared: a socket write does not change it.
 */
const OK_BYTES = Buffer.from('+OK\r\n', 'latin1');

/** `$<length>\r\n<bytes>\r\n` in one buffer of its exact size. */
function encodeBulkBytes(value: Buffer): Buffer {
  const length = value.length;
  let digits = 1;
  for (let rest = length; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  const bytes = Buffer.allocUnsafe(1 + digits + 2 + length + 2);
  bytes[0] = 0x24; // '$'
  let rest = length;
  for (let at = digits; at >= 1; at--) {
    bytes[at] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
  let at = 1 + digits;
  bytes[at++] = 0x0d;
  bytes[at++] = 0x0a;
  at += value.copy(bytes, at);
  bytes[at++] = 0x0d;
  bytes[at] = 0x0a;
  return bytes;
}

function appendAscii(output: Output, text: string): void {
  output.appendText(text, text.length);
}

const LATIN1_HIGH = /[\u0080-\u00ff]/;
const BEYOND_LATIN1 = /[\u0100-\uffff]/;

/** A simple string or error: a line of its own, so line breaks inside become spaces, as in Redis. */
function appendLine(output: Output, prefix: '+' | '-', text: string): void {
  const oneLine = text.replace(/[\r\n]/g, ' ');
  // Errors quote client bytes, held as latin1 characters (as keys are): send those bytes back.
  if (LATIN1_HIGH.test(oneLine) && !BEYOND_LATIN1.test(oneLine)) {
    output.appendBuffer(Buffer.from(`${prefix}${oneLine}\r\n`, 'latin1'));
    return;
  }
  output.appendText(`${prefix}${oneLine}\r\n`, Buffer.byteLength(oneLine, 'utf8') + 3);
}

function appendBulk(output: Output, value: Buffer | string): void {
  if (typeof value === 'string') {
    const byteLength = Buffer.byteLength(value, 'utf8');
    const header = `$${byteLength}\r\n`;
    output.appendText(`${header}${value}\r\n`, header.length + byteLength + 2);
    return;
  }
  appendAscii(output, `$${value.length}\r\n`);
  output.appendBuffer(value);
  appendAscii(output, '\r\n');
}

function appendAggregate(output: Output, prefix: '*' | '~', items: Reply[], protocol: RespVersion): void {
  appendAscii(output, `${prefix}${items.length}\r\n`);
  for (const item of items) appendReply(output, item, protocol);
}

/** Beyond 64 bits an integer goes as RESP3's big number, or a RESP2 bulk string, as Redis sends one. */
function appendInteger(output: Output, value: number | bigint, protocol: RespVersion): void {
  let digits: string;
  let fits: boolean;
  if (typeof value === 'bigint') {
    digits = value.toString();
    fits = value >= INT64_MIN && value <= INT64_MAX;
  } else {
    if (!Number.isInteger(value)) throw new RangeError(`integer reply is not a whole number: ${value}`);
    digits = Number.isSafeInteger(value) ? String(value) : BigInt(value).toString();
    fits = value >= INT64_MIN_NUMBER && value < INT64_END_NUMBER;
  }
  if (fits) appendAscii(output, `:${digits}\r\n`);
  else if (protocol === 3) appendAscii(output, `(${digits}\r\n`);
  else appendAscii(output, `$${digits.length}\r\n${digits}\r\n`);
}

function appendVerbatim(output: Output, format: string, value: string, protocol: RespVersion): void {
  if (protocol === 2) {
    appendBulk(output, value);
    return;
  }
  const formatBytes = Buffer.byteLength(format, 'utf8');
  if (formatBytes !== 3) throw new RangeError(`verbatim format must be three bytes, got "${format}"`);
  const byteLength = formatBytes + 1 + Buffer.byteLength(value, 'utf8');
  const header = `=${byteLength}\r\n`;
  output.appendText(`${header}${format}:${value}\r\n`, header.length + byteLength + 2);
}
