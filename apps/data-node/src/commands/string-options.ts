// The options of SET and GETEX, and the absolute expiry their time options ask for.
import type { Reply } from '../../../../libs/resp/src/reply.js';
import { keyword } from './arguments.js';
import { INT64_MAX, parseInteger } from './number-text.js';
import { invalidExpireTime, NOT_AN_INTEGER } from './replies.js';

// The option flags of SET and GETEX, as Redis's OBJ_* flags: the parser below is a transcription
// of parseExtendedStringArgumentsOrReply, whose conditions decide which combinations are a
// syntax error (NX with XX is, EX twice is not).
export const SET_NX = 1 << 0;
export const SET_XX = 1 << 1;
export const SET_EX = 1 << 2;
export const SET_PX = 1 << 3;
export const SET_KEEPTTL = 1 << 4;
export const SET_GET = 1 << 5;
export const SET_EXAT = 1 << 6;
export const SET_PXAT = 1 << 7;
export const SET_PERSIST = 1 << 8;

export interface StringOptions {
  flags: number;
  /** The argument holding the time of EX, PX, EXAT or PXAT. */
  expire: Buffer | null;
}

export function parseStringOptions(
  args: Buffer[],
  firstOption: number,
  command: 'set' | 'getex',
): StringOptions | null {
  const isSet = command === 'set';
  let flags = 0;
  let expire: Buffer | null = null;
  for (let index = firstOption; index < args.length; index++) {
    const option = keyword(args[index] as Buffer);
    const next = args[index + 1];
    const has = (mask: number): boolean => (flags & mask) !== 0;
    if (option === 'NX' && !has(SET_XX) && isSet) {
      flags |= SET_NX;
    } else if (option === 'XX' && !has(SET_NX) && isSet) {
      flags |= SET_XX;
    } else if (option === 'GET' && isSet) {
      flags |= SET_GET;
    } else if (option === 'KEEPTTL' && !has(SET_PERSIST | SET_EX | SET_EXAT | SET_PX | SET_PXAT) && isSet) {
      flags |= SET_KEEPTTL;
    } else if (option === 'PERSIST' && !isSet && !has(SET_EX | SET_EXAT | SET_PX | SET_PXAT | SET_KEEPTTL)) {
      flags |= SET_PERSIST;
    } else if (option === 'EX' && !has(SET_KEEPTTL | SET_PERSIST | SET_EXAT | SET_PX | SET_PXAT) && next) {
      flags |= SET_EX;
      expire = next;
      index++;
    } else if (option === 'PX' && !has(SET_KEEPTTL | SET_PERSIST | SET_EX | SET_EXAT | SET_PXAT) && next) {
      flags |= SET_PX;
      expire = next;
      index++;
    } else if (option === 'EXAT' && !has(SET_KEEPTTL | SET_PERSIST | SET_EX | SET_PX | SET_PXAT) && next) {
      flags |= SET_EXAT;
      expire = next;
      index++;
    } else if (option === 'PXAT' && !has(SET_KEEPTTL | SET_PERSIST | SET_EX | SET_EXAT | SET_PX) && next) {
      flags |= SET_PXAT;
      expire = next;
      index++;
    } else {
      return null;
    }
  }
  return { flags, expire };
}

/**
 * The absolute expiry of EX, PX, EXAT or PXAT (and SETEX, PSETEX), as Redis's
 * getExpireMillisecondsOrReply: the time must be positive and the result must fit in 64 bits.
 */
export function expiryFromOption(
  flags: number,
  argument: Buffer,
  commandName: string,
  nowMs: number,
): bigint | Reply {
  const time = parseInteger(argument);
  if (time === null) return NOT_AN_INTEGER;
  const inSeconds = (flags & (SET_EX | SET_EXAT)) !== 0;
  if (time <= 0n || (inSeconds && time > INT64_MAX / 1000n)) return invalidExpireTime(commandName);
  let whenMs = inSeconds ? time * 1000n : time;
  if (flags & (SET_EX | SET_PX)) whenMs += BigInt(Math.floor(nowMs));
  // Redis's signed addition wraps to a negative number here, which it then refuses.
  if (whenMs > INT64_MAX) return invalidExpireTime(commandName);
  return whenMs;
}
