// The bytes a request is forwarded as. Most clients send every request as a canonical multibulk
// (`*N\r\n` then `$len\r\n<data>\r\n` per argument); the RequestParser hands out arguments as
// views of the received chunk, so such a request is already in memory, in one piece, just before
// its arguments: it is forwarded from there, without a copy. Anything else (inline requests,
// arguments split across reads, Redis's tolerated odd line ends) is encoded canonically, which
// means the same to a writer's parser.
//
// The check is byte for byte: the span is taken only if every header byte is what canonical
// encoding would write and every argument lies where it would, so the span *is* the canonical
// encoding of the arguments, wherever they came from.

const STAR = 0x2a;
const DOLLAR = 0x24;
const CR = 0x0d;
const LF = 0x0a;

/** Where a request's bytes are: `length` bytes of `memory` from `offset`. */
export interface RequestBytes {
  memory: ArrayBufferLike;
  offset: number;
  length: number;
}

/**
 * Sets `target` to the request's canonical bytes: in place when the received bytes are canonical,
 * else a copy. (An out-parameter: this runs for every request.)
 */
export function locateRequest(args: readonly Buffer[], target: RequestBytes): void {
  if (!findCanonicalSpan(args, target)) setBytes(target, encodeRequest(args));
}

export function setBytes(target: RequestBytes, buffer: Buffer): void {
  target.memory = buffer.buffer;
  target.offset = buffer.byteOffset;
  target.length = buffer.length;
}

export function bufferOf(bytes: RequestBytes): Buffer {
  return Buffer.from(bytes.memory, bytes.offset, bytes.length);
}

/** The canonical multibulk encoding of `args`. */
export function encodeRequest(args: readonly (Buffer | string)[]): Buffer {
  const buffers = args.map((arg) => (typeof arg === 'string' ? Buffer.from(arg, 'latin1') : arg));
  let length = headerLength(buffers.length);
  for (const arg of buffers) length += headerLength(arg.length) + arg.length + 2;
  const out = Buffer.allocUnsafe(length);
  let at = out.write(`*${buffers.length}\r\n`, 0, 'latin1');
  for (const arg of buffers) {
    at += out.write(`$${arg.length}\r\n`, at, 'latin1');
    at += arg.copy(out, at);
    out[at++] = CR;
    out[at++] = LF;
  }
  return out;
}

// A view of the memory the last requests lay in: consecutive requests of a pipeline share it, so
// it is made once per received chunk rather than once per request.
let viewedMemory: ArrayBufferLike | null = null;
let view: Uint8Array<ArrayBufferLike> = new Uint8Array(0);

/** Sets `target` to the span holding exactly the canonical encoding of `args`, if there is one. */
export function findCanonicalSpan(args: readonly Buffer[], target: RequestBytes): boolean {
  const last = args[args.length - 1];
  if (last === undefined || last.length === 0) return false;
  let length = headerLength(args.length);
  for (const arg of args) length += headerLength(arg.length) + arg.length + 2;
  const memory = last.buffer;
  const end = last.byteOffset + last.length + 2;
  const start = end - length;
  if (start < 0 || end > memory.byteLength) return false;
  if (memory !== viewedMemory) {
    view = new Uint8Array(memory);
    viewedMemory = memory;
  }
  let at = matchHeader(view, start, STAR, args.length);
  for (const arg of args) {
    if (at < 0) return false;
    at = matchHeader(view, at, DOLLAR, arg.length);
    if (at < 0) return false;
    if (arg.length > 0 && (arg.buffer !== memory || arg.byteOffset !== at)) return false;
    at += arg.length;
    if (view[at] !== CR || view[at + 1] !== LF) return false;
    at += 2;
  }
  if (at !== end) return false;
  target.memory = memory;
  target.offset = start;
  target.length = length;
  return true;
}

/** Bytes of `*N\r\n` or `$N\r\n`. */
function headerLength(value: number): number {
  return 3 + decimalDigits(value);
}

function decimalDigits(value: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return digits;
}

/** Checks `<prefix><value>\r\n` at `at`; the position after it, or -1. */
function matchHeader(bytes: Uint8Array, at: number, prefix: number, value: number): number {
  if (bytes[at] !== prefix) return -1;
  const digits = decimalDigits(value);
  let rest = value;
  for (let index = at + digits; index > at; index--) {
    if (bytes[index] !== 0x30 + (rest % 10)) return -1;
    rest = Math.floor(rest / 10);
  }
  const after = at + 1 + digits;
  return bytes[after] === CR && bytes[after + 1] === LF ? after + 2 : -1;
}
