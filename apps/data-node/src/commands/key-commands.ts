// Keys: EXISTS, TYPE, DEL, UNLINK, the EXPIRE family, the TTL family, PERSIST.
import { error, integer, type Reply, simple } from '../../../../libs/resp/src/reply.js';
import { cString, keyAt, keyword } from './arguments.js';
import { type DataCommandContext, type DataCommandHandler, nowBigInt, readLive } from './context-access.js';
import { INT64_MAX, INT64_MIN, parseInteger } from './number-text.js';
import { formattedError, invalidExpireTime, NOT_AN_INTEGER, ONE, ZERO } from './replies.js';

function exists(args: Buffer[], context: DataCommandContext): Reply {
  let count = 0;
  for (let index = 1; index < args.length; index++) {
    if (readLive(context, keyAt(args, index)) !== null) count++;
  }
  return integer(count);
}

function typeCommand(args: Buffer[], context: DataCommandContext): Reply {
  return simple(readLive(context, keyAt(args, 1))?.type ?? 'none');
}

function del(args: Buffer[], context: DataCommandContext): Reply {
  let deleted = 0;
  for (let index = 1; index < args.length; index++) {
    const key = keyAt(args, index);
    if (readLive(context, key) === null) continue;
    context.write(key, null);
    deleted++;
  }
  return integer(deleted);
}

const EXPIRE_NX = 1;
const EXPIRE_XX = 2;
const EXPIRE_GT = 4;
const EXPIRE_LT = 8;

type TimeUnit = 'seconds' | 'milliseconds';

/** EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT key time [NX | XX | GT | LT]. */
function expireCommand(commandName: string, unit: TimeUnit, relative: boolean): DataCommandHandler {
  return (args, context) => {
    const flags = parseExpireFlags(args);
    if (typeof flags !== 'number') return flags;
    let when = parseInteger(args[2] as Buffer);
    if (when === null) return NOT_AN_INTEGER;
    if (unit === 'seconds') {
      if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) return invalidExpireTime(commandName);
      when *= 1000n;
    }
    const baseMs = relative ? nowBigInt(context) : 0n;
    if (when > INT64_MAX - baseMs) return invalidExpireTime(commandName);
    when += baseMs;

    const key = keyAt(args, 1);
    const current = readLive(context, key);
    if (current === null) return ZERO;
    if (!expiryConditionHolds(flags, when, current.expireAtMs)) return ZERO;
    if (when <= nowBigInt(context)) {
      context.write(key, null);
    } else {
      context.write(key, { ...current, expireAtMs: Number(when) });
    }
    return ONE;
  };
}

function parseExpireFlags(args: Buffer[]): number | Reply {
  let flags = 0;
  for (let index = 3; index < args.length; index++) {
    const option = args[index] as Buffer;
    switch (keyword(option)) {
      case 'NX':
        flags |= EXPIRE_NX;
        break;
      case 'XX':
        flags |= EXPIRE_XX;
        break;
      case 'GT':
        flags |= EXPIRE_GT;
        break;
      case 'LT':
        flags |= EXPIRE_LT;
        break;
      default:
        return formattedError(`Unsupported option ${cString(option)}`);
    }
  }
  if (flags & EXPIRE_NX && flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT)) {
    return error('ERR NX and XX, GT or LT options at the same time are not compatible');
  }
  if (flags & EXPIRE_GT && flags & EXPIRE_LT) {
    return error('ERR GT and LT options at the same time are not compatible');
  }
  return flags;
}

/** A key without an expiry counts as expiring at infinity for GT and LT. */
function expiryConditionHolds(flags: number, when: bigint, currentExpireAtMs: number | null): boolean {
  const current = currentExpireAtMs === null ? null : BigInt(currentExpireAtMs);
  if (flags & EXPIRE_NX && current !== null) return false;
  if (flags & EXPIRE_XX && current === null) return false;
  if (flags & EXPIRE_GT && (current === null || when <= current)) return false;
  if (flags & EXPIRE_LT && current !== null && when >= current) return false;
  return true;
}

/** TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 without the key, -1 without an expiry. */
function ttlCommand(unit: TimeUnit, absolute: boolean): DataCommandHandler {
  return (args, context) => {
    const current = readLive(context, keyAt(args, 1));
    if (current === null) return integer(-2);
    if (current.expireAtMs === null) return integer(-1);
    const remainingMs = Math.max(0, absolute ? current.expireAtMs : current.expireAtMs - context.nowMs);
    return integer(unit === 'milliseconds' ? remainingMs : Math.floor((remainingMs + 500) / 1000));
  };
}

function persist(args: Buffer[], context: DataCommandContext): Reply {
  const key = keyAt(args, 1);
  const current = readLive(context, key);
  if (current === null || current.expireAtMs === null) return ZERO;
  context.write(key, { ...current, expireAtMs: null });
  return ONE;
}

export const KEY_COMMANDS: ReadonlyArray<readonly [string, DataCommandHandler]> = [
  ['exists', exists],
  ['type', typeCommand],
  ['del', del],
  ['unlink', del],
  ['expire', expireCommand('expire', 'seconds', true)],
  ['pexpire', expireCommand('pexpire', 'milliseconds', true)],
  ['expireat', expireCommand('expireat', 'seconds', false)],
  ['pexpireat', expireCommand('pexpireat', 'milliseconds', false)],
  ['ttl', ttlCommand('seconds', false)],
  ['pttl', ttlCommand('milliseconds', false)],
  ['expiretime', ttlCommand('seconds', true)],
  ['pexpiretime', ttlCommand('milliseconds', true)],
  ['persist', persist],
];
