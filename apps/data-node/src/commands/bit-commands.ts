// Bitmaps: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO over string values.
//
// Bit 0 is the most significant bit of the first byte, as in Redis. Where Redis 7.0 and 7.4
// differ, this follows 7.4: BITCOUNT and BITPOS check all their arguments before looking the key
// up (7.0 answered 0 or -1 for a missing key whatever the arguments; 7.4 refuses bad ones first).
//
// A string is written whole in one transaction, so a command that would grow one past what a
// transaction may write is refused before the value is built (stringGrowthRefusal); offsets up to
// Redis's own 512 MB bound are otherwise valid.
import { array, error, integer, NULL, type Reply } from '../../../../libs/resp/src/reply.js';
import { cString, keyAt, keyword } from './arguments.js';
import {
  type DataCommandContext,
  type DataCommandHandler,
  readLive,
  type StringValue,
} from './context-access.js';
import { parseInteger } from './number-text.js';
import { NOT_AN_INTEGER, ONE, stringGrowthRefusal, WRONG_TYPE, ZERO } from './replies.js';

const SYNTAX_ERROR = error('ERR syntax error');
const BAD_BIT_OFFSET = error('ERR bit offset is not an integer or out of range');
const BAD_BIT_VALUE = error('ERR bit is not an integer or out of range');
const BAD_BITFIELD_TYPE = error(
  'ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.',
);
/** Redis's proto-max-bulk-len, in bytes: no bit offset may address a byte at or beyond it. */
const STRING_BYTES_MAX = 512n * 1024n * 1024n;
const INT64_BITS = 64;

/** Set bits per byte value. */
const POPCOUNT = Uint8Array.from({ length: 256 }, (_unused, byte) => {
  let count = 0;
  for (let rest = byte; rest !== 0; rest >>= 1) count += rest & 1;
  return count;
});

/**
 * A bit offset argument: a non-negative integer addressing a byte below 512 MB. With `bits`
 * (BITFIELD), `#n` means the n-th field of that width. Null when invalid.
 */
function parseBitOffset(argument: Buffer, bits = 0): bigint | null {
  const byField = bits > 0 && argument[0] === 0x23; // '#'
  let offset = parseInteger(byField ? argument.subarray(1) : argument);
  if (offset === null) return null;
  // Redis multiplies in 64-bit arithmetic, which wraps.
  if (byField) offset = BigInt.asIntN(64, offset * BigInt(bits));
  if (offset < 0n || offset >> 3n >= STRING_BYTES_MAX) return null;
  return offset;
}

/** The key's string for reading: null when absent, WRONGTYPE when it holds another type. */
function readString(context: DataCommandContext, key: string): StringValue | null | Reply {
  const current = readLive(context, key);
  if (current === null) return null;
  return current.type === 'string' ? current : WRONG_TYPE;
}

function isReply(value: unknown): value is Reply {
  return typeof value === 'object' && value !== null && 'kind' in value;
}

/**
 * The key's bytes, zero-padded to at least `length` bytes, in a fresh buffer to modify; or a
 * reply when the key holds another type or the string would grow too large.
 */
function writableString(
  context: DataCommandContext,
  key: string,
  length: number,
): { bytes: Buffer; previous: StringValue | null } | Reply {
  const previous = readString(context, key);
  if (isReply(previous)) return previous;
  const previousLength = previous?.value.length ?? 0;
  if (length > previousLength) {
    const refusal = stringGrowthRefusal(length);
    if (refusal !== null) return refusal;
  }
  const bytes = Buffer.alloc(Math.max(length, previousLength));
  previous?.value.copy(bytes);
  return { bytes, previous };
}

function storeString(
  context: DataCommandContext,
  key: string,
  bytes: Buffer,
  previous: StringValue | null,
): void {
  // An unchanged string needs no write (a SETBIT that sets a bit already set).
  if (previous?.value.equals(bytes)) return;
  context.write(key, { type: 'string', value: bytes, expireAtMs: previous?.expireAtMs ?? null });
}

function bitAt(bytes: Buffer, offset: number): number {
  const byte = bytes[offset >>> 3] ?? 0;
  return (byte >> (7 - (offset & 7))) & 1;
}

/** SETBIT key offset 0|1: the bit's previous value. */
function setbit(args: Buffer[], context: DataCommandContext): Reply {
  const offset = parseBitOffset(args[2] as Buffer);
  if (offset === null) return BAD_BIT_OFFSET;
  const on = parseInteger(args[3] as Buffer);
  if (on === null || (on !== 0n && on !== 1n)) return BAD_BIT_VALUE;
  const key = keyAt(args, 1);
  const bitOffset = Number(offset);
  const target = writableString(context, key, (bitOffset >>> 3) + 1);
  if (isReply(target)) return target;
  const { bytes, previous } = target;
  const before = bitAt(bytes, bitOffset);
  const mask = 1 << (7 - (bitOffset & 7));
  const byteIndex = bitOffset >>> 3;
  bytes[byteIndex] = on === 1n ? (bytes[byteIndex] as number) | mask : (bytes[byteIndex] as number) & ~mask;
  storeString(context, key, bytes, previous);
  return before === 1 ? ONE : ZERO;
}

/** GETBIT key offset: 0 beyond the string's end or without the key. */
function getbit(args: Buffer[], context: DataCommandContext): Reply {
  const offset = parseBitOffset(args[2] as Buffer);
  if (offset === null) return BAD_BIT_OFFSET;
  const current = readString(context, keyAt(args, 1));
  if (isReply(current)) return current;
  if (current === null || offset >= BigInt(current.value.length) * 8n) return ZERO;
  return bitAt(current.value, Number(offset)) === 1 ? ONE : ZERO;
}

/** BYTE or BIT: the unit of BITCOUNT's and BITPOS's range; null when neither. */
function parseRangeUnit(argument: Buffer): boolean | null {
  const unit = keyword(argument);
  if (unit === 'BIT') return true;
  if (unit === 'BYTE') return false;
  return null;
}

/**
 * A [start, end] range over `total` units (bytes or bits), negative counting from the end,
 * clamped to the string as Redis does (a start beyond the end leaves start > end: empty).
 */
function clampRange(start: bigint, end: bigint, total: bigint): [bigint, bigint] {
  let from = start < 0n ? start + total : start;
  let to = end < 0n ? end + total : end;
  if (from < 0n) from = 0n;
  if (to < 0n) to = 0n;
  if (to >= total) to = total - 1n;
  return [from, to];
}

/** Set bits among bit positions [fromBit, toBit] of `bytes` (both inside the string). */
function countBits(bytes: Buffer, fromBit: number, toBit: number): number {
  const firstByte = fromBit >>> 3;
  const lastByte = toBit >>> 3;
  let count = 0;
  for (let index = firstByte; index <= lastByte; index++) count += POPCOUNT[bytes[index] as number] as number;
  // Take off the bits of the edge bytes that lie outside the range.
  const before = (bytes[firstByte] as number) & ~(0xff >> (fromBit & 7)) & 0xff;
  const after = (bytes[lastByte] as number) & (0xff >> ((toBit & 7) + 1));
  return count - (POPCOUNT[before] as number) - (POPCOUNT[after] as number);
}

/** BITCOUNT key [start end [BYTE|BIT]] */
function bitcount(args: Buffer[], context: DataCommandContext): Reply {
  let start = 0n;
  let end = -1n;
  let inBits = false;
  if (args.length === 4 || args.length === 5) {
    const parsedStart = parseInteger(args[2] as Buffer);
    if (parsedStart === null) return NOT_AN_INTEGER;
    const parsedEnd = parseInteger(args[3] as Buffer);
    if (parsedEnd === null) return NOT_AN_INTEGER;
    if (args.length === 5) {
      const unit = parseRangeUnit(args[4] as Buffer);
      if (unit === null) return SYNTAX_ERROR;
      inBits = unit;
    }
    start = parsedStart;
    end = parsedEnd;
  } else if (args.length !== 2) {
    return SYNTAX_ERROR;
  }
  const current = readString(context, keyAt(args, 1));
  if (isReply(current)) return current;
  if (current === null) return ZERO;
  if (start < 0n && end < 0n && start > end) return ZERO;
  const bytes = current.value;
  const total = BigInt(bytes.length) * (inBits ? 8n : 1n);
  const [from, to] = clampRange(start, end, total);
  if (from > to) return ZERO;
  const fromBit = inBits ? Number(from) : Number(from) * 8;
  const toBit = inBits ? Number(to) : Number(to) * 8 + 7;
  return integer(countBits(bytes, fromBit, toBit));
}

/** The first bit equal to `bit` among positions [fromBit, toBit], or -1. */
function findBit(bytes: Buffer, bit: number, fromBit: number, toBit: number): number {
  const skip = bit === 1 ? 0x00 : 0xff;
  let position = fromBit;
  while (position <= toBit) {
    // Whole bytes that cannot hold the bit are skipped at once.
    if ((position & 7) === 0 && position + 7 <= toBit && bytes[position >>> 3] === skip) {
      position += 8;
      continue;
    }
    if (bitAt(bytes, position) === bit) return position;
    position++;
  }
  return -1;
}

/** BITPOS key bit [start [end [BYTE|BIT]]] */
function bitpos(args: Buffer[], context: DataCommandContext): Reply {
  const bitArgument = parseInteger(args[2] as Buffer);
  if (bitArgument === null) return NOT_AN_INTEGER;
  if (bitArgument !== 0n && bitArgument !== 1n) return error('ERR The bit argument must be 1 or 0.');
  const bit = Number(bitArgument);
  let start = 0n;
  let end: bigint | null = null;
  let inBits = false;
  if (args.length >= 4 && args.length <= 6) {
    const parsedStart = parseInteger(args[3] as Buffer);
    if (parsedStart === null) return NOT_AN_INTEGER;
    start = parsedStart;
    if (args.length === 6) {
      const unit = parseRangeUnit(args[5] as Buffer);
      if (unit === null) return SYNTAX_ERROR;
      inBits = unit;
    }
    if (args.length >= 5) {
      end = parseInteger(args[4] as Buffer);
      if (end === null) return NOT_AN_INTEGER;
    }
  } else if (args.length !== 3) {
    return SYNTAX_ERROR;
  }
  const current = readString(context, keyAt(args, 1));
  if (isReply(current)) return current;
  // A missing key is an endless run of zeros.
  if (current === null) return integer(bit === 1 ? -1 : 0);
  const bytes = current.value;
  const total = BigInt(bytes.length) * (inBits ? 8n : 1n);
  const [from, to] = clampRange(start, end ?? total - 1n, total);
  if (from > to) return integer(-1);
  const fromBit = inBits ? Number(from) : Number(from) * 8;
  const toBit = inBits ? Number(to) : Number(to) * 8 + 7;
  const found = findBit(bytes, bit, fromBit, toBit);
  if (found >= 0) return integer(found);
  // Looking for a clear bit with no end given, the string counts as padded with zeros.
  return integer(bit === 0 && end === null ? toBit + 1 : -1);
}

/** BITOP AND|OR|XOR|NOT destkey key [key ...]: the length of the string stored. */
function bitop(args: Buffer[], context: DataCommandContext): Reply {
  const operation = keyword(args[1] as Buffer);
  if (!['AND', 'OR', 'XOR', 'NOT'].includes(operation)) return SYNTAX_ERROR;
  if (operation === 'NOT' && args.length !== 4) {
    return error('ERR BITOP NOT must be called with a single source key.');
  }
  const sources: Buffer[] = [];
  for (let index = 3; index < args.length; index++) {
    const current = readString(context, keyAt(args, index));
    if (isReply(current)) return current;
    sources.push(current?.value ?? EMPTY);
  }
  const length = sources.reduce((longest, source) => Math.max(longest, source.length), 0);
  const destination = keyAt(args, 2);
  if (length === 0) {
    context.write(destination, null);
    return ZERO;
  }
  const result = Buffer.alloc(length);
  const first = sources[0] as Buffer;
  for (let index = 0; index < length; index++) {
    let output = first[index] ?? 0;
    if (operation === 'NOT') output = ~output & 0xff;
    for (let source = 1; source < sources.length; source++) {
      const byte = (sources[source] as Buffer)[index] ?? 0;
      if (operation === 'AND') output &= byte;
      else if (operation === 'OR') output |= byte;
      else output ^= byte;
    }
    result[index] = output;
  }
  // Stored as SET would: any expiry of the destination is gone.
  context.write(destination, { type: 'string', value: result, expireAtMs: null });
  return integer(length);
}

const EMPTY = Buffer.alloc(0);

// ---------------------------------------------------------------------------------------------
// BITFIELD

type Overflow = 'WRAP' | 'SAT' | 'FAIL';

interface FieldOperation {
  opcode: 'GET' | 'SET' | 'INCRBY';
  signed: boolean;
  bits: number;
  offset: number;
  /** SET's value or INCRBY's increment. */
  argument: bigint;
  overflow: Overflow;
}

/** `i1`…`i64` or `u1`…`u63` (lower case only, as Redis); null when invalid. */
function parseFieldType(argument: Buffer): { signed: boolean; bits: number } | null {
  const sign = argument[0];
  if (sign !== 0x69 && sign !== 0x75) return null; // 'i', 'u'
  const signed = sign === 0x69;
  const bits = parseInteger(Buffer.from(cString(argument.subarray(1)), 'latin1'));
  if (bits === null || bits < 1n || bits > (signed ? 64n : 63n)) return null;
  return { signed, bits: Number(bits) };
}

/** Parses every operation first, as Redis does, so that a bad one fails the whole command. */
function parseFieldOperations(args: Buffer[]): FieldOperation[] | Reply {
  const operations: FieldOperation[] = [];
  let overflow: Overflow = 'WRAP';
  for (let index = 2; index < args.length; index++) {
    const remaining = args.length - index - 1;
    const name = keyword(args[index] as Buffer);
    let opcode: FieldOperation['opcode'];
    if (name === 'GET' && remaining >= 2) opcode = 'GET';
    else if (name === 'SET' && remaining >= 3) opcode = 'SET';
    else if (name === 'INCRBY' && remaining >= 3) opcode = 'INCRBY';
    else if (name === 'OVERFLOW' && remaining >= 1) {
      const mode = keyword(args[++index] as Buffer);
      if (mode !== 'WRAP' && mode !== 'SAT' && mode !== 'FAIL') {
        return error('ERR Invalid OVERFLOW type specified');
      }
      overflow = mode;
      continue;
    } else return SYNTAX_ERROR;
    const type = parseFieldType(args[index + 1] as Buffer);
    if (type === null) return BAD_BITFIELD_TYPE;
    const offset = parseBitOffset(args[index + 2] as Buffer, type.bits);
    if (offset === null) return BAD_BIT_OFFSET;
    let argument = 0n;
    if (opcode !== 'GET') {
      const parsed = parseInteger(args[index + 3] as Buffer);
      if (parsed === null) return NOT_AN_INTEGER;
      argument = parsed;
    }
    operations.push({ opcode, ...type, offset: Number(offset), argument, overflow });
    index += opcode === 'GET' ? 2 : 3;
  }
  return operations;
}

function readField(bytes: Buffer, offset: number, bits: number, signed: boolean): bigint {
  let value = 0n;
  for (let index = 0; index < bits; index++) value = (value << 1n) | BigInt(bitAt(bytes, offset + index));
  return signed ? BigInt.asIntN(bits, value) : value;
}

function writeField(bytes: Buffer, offset: number, bits: number, value: bigint): void {
  const pattern = BigInt.asUintN(bits, value);
  for (let index = 0; index < bits; index++) {
    const bit = Number((pattern >> BigInt(bits - 1 - index)) & 1n);
    const position = offset + index;
    const mask = 1 << (7 - (position & 7));
    const byteIndex = position >>> 3;
    bytes[byteIndex] = bit === 1 ? (bytes[byteIndex] as number) | mask : (bytes[byteIndex] as number) & ~mask;
  }
}

/**
 * `value + increment` for a field, or what the overflow mode makes of it: the new value, or null
 * when FAIL refuses. Redis computes the limits in 64-bit arithmetic that wraps, and an
 * unsigned field takes SET's value as the unsigned reading of its 64 bits; both are kept here
 * (SET i8 -9223372036854775808 counts as an overflow upwards, as in Redis).
 */
function fieldResult(value: bigint, increment: bigint, bits: number, signed: boolean, overflow: Overflow) {
  const sum = value + increment;
  let direction = 0;
  if (signed) {
    const max = bits === INT64_BITS ? 2n ** 63n - 1n : 2n ** BigInt(bits - 1) - 1n;
    const min = -max - 1n;
    const maxIncrement = BigInt.asIntN(64, max - value);
    const minIncrement = BigInt.asIntN(64, min - value);
    const full = bits === INT64_BITS;
    if (
      value > max ||
      (!full && increment > maxIncrement) ||
      (value >= 0n && increment > 0n && increment > maxIncrement)
    ) {
      direction = 1;
    } else if (
      value < min ||
      (!full && increment < minIncrement) ||
      (value < 0n && increment < 0n && increment < minIncrement)
    ) {
      direction = -1;
    }
    if (direction === 0) return sum;
    if (overflow === 'FAIL') return null;
    if (overflow === 'SAT') return direction > 0 ? max : min;
    return BigInt.asIntN(bits, sum);
  }
  const unsignedValue = BigInt.asUintN(64, value);
  const max = 2n ** BigInt(bits) - 1n;
  const maxIncrement = BigInt.asIntN(64, max - unsignedValue);
  const minIncrement = BigInt.asIntN(64, -unsignedValue);
  if (unsignedValue > max || (increment > 0n && increment > maxIncrement)) direction = 1;
  else if (increment < 0n && increment < minIncrement) direction = -1;
  if (direction === 0) return unsignedValue + increment;
  if (overflow === 'FAIL') return null;
  if (overflow === 'SAT') return direction > 0 ? max : 0n;
  return BigInt.asUintN(bits, unsignedValue + increment);
}

function bitfieldCommand(readOnly: boolean): DataCommandHandler {
  return (args, context) => {
    const operations = parseFieldOperations(args);
    if (isReply(operations)) return operations;
    const key = keyAt(args, 1);
    const writes = operations.filter((operation) => operation.opcode !== 'GET');
    if (writes.length === 0) {
      const current = readString(context, key);
      if (isReply(current)) return current;
      const bytes = current?.value ?? EMPTY;
      return array(
        operations.map((operation) =>
          integerOf(readField(bytes, operation.offset, operation.bits, operation.signed)),
        ),
      );
    }
    if (readOnly) return error('ERR BITFIELD_RO only supports the GET subcommand');
    const highestBit = writes.reduce(
      (highest, operation) => Math.max(highest, operation.offset + operation.bits - 1),
      0,
    );
    const target = writableString(context, key, Math.floor(highestBit / 8) + 1);
    if (isReply(target)) return target;
    const { bytes, previous } = target;
    const replies = operations.map((operation): Reply => {
      const { offset, bits, signed } = operation;
      const old = readField(bytes, offset, bits, signed);
      if (operation.opcode === 'GET') return integerOf(old);
      const isSet = operation.opcode === 'SET';
      const updated = isSet
        ? fieldResult(operation.argument, 0n, bits, signed, operation.overflow)
        : fieldResult(old, operation.argument, bits, signed, operation.overflow);
      if (updated === null) return NULL;
      writeField(bytes, offset, bits, updated);
      return integerOf(isSet ? old : updated);
    });
    // The string is created (or padded) even when every write failed, as in Redis.
    storeString(context, key, bytes, previous);
    return array(replies);
  };
}

function integerOf(value: bigint): Reply {
  return integer(
    value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value,
  );
}

export const BIT_COMMANDS: ReadonlyArray<readonly [string, DataCommandHandler]> = [
  ['setbit', setbit],
  ['getbit', getbit],
  ['bitcount', bitcount],
  ['bitpos', bitpos],
  ['bitop', bitop],
  ['bitfield', bitfieldCommand(false)],
  ['bitfield_ro', bitfieldCommand(true)],
];
