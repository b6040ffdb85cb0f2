// Counters: INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT. They keep the key's expiry.
import { bulk, error, type Reply } from '../../../../libs/resp/src/reply.js';
import { keyAt } from './arguments.js';
import { type DataCommandContext, type DataCommandHandler, readLive, stringValue } from './context-access.js';
import {
  addInt64,
  addLongDoubles,
  formatLongDouble,
  INT64_MIN,
  LONG_DOUBLE_ZERO,
  parseInteger,
  parseLongDouble,
} from './number-text.js';
import {
  INCREMENT_OVERFLOW,
  integerReply,
  NOT_A_FLOAT,
  NOT_AN_INTEGER,
  NOT_FINITE_RESULT,
  WRONG_TYPE,
} from './replies.js';

function incrementCommand(sign: 1n | -1n, withArgument: boolean): DataCommandHandler {
  return (args, context) => {
    let increment = sign;
    if (withArgument) {
      const parsed = parseInteger(args[2] as Buffer);
      if (parsed === null) return NOT_AN_INTEGER;
      // Negating INT64_MIN would overflow.
      if (sign < 0n && parsed === INT64_MIN) return error('ERR decrement would overflow');
      increment = sign * parsed;
    }
    const key = keyAt(args, 1);
    const current = readLive(context, key);
    if (current !== null && current.type !== 'string') return WRONG_TYPE;
    const value = current === null ? 0n : parseInteger(current.value);
    if (value === null) return NOT_AN_INTEGER;
    const result = addInt64(value, increment);
    if (result === null) return INCREMENT_OVERFLOW;
    context.write(key, stringValue(Buffer.from(result.toString(), 'latin1'), current?.expireAtMs ?? null));
    return integerReply(result);
  };
}

function incrbyfloat(args: Buffer[], context: DataCommandContext): Reply {
  const key = keyAt(args, 1);
  const current = readLive(context, key);
  if (current !== null && current.type !== 'string') return WRONG_TYPE;
  const value = current === null ? LONG_DOUBLE_ZERO : parseLongDouble(current.value);
  if (value === null) return NOT_A_FLOAT;
  const increment = parseLongDouble(args[2] as Buffer);
  if (increment === null) return NOT_A_FLOAT;
  const sum = addLongDoubles(value, increment);
  if (sum === null) return NOT_FINITE_RESULT;
  const text = Buffer.from(formatLongDouble(sum), 'latin1');
  context.write(key, stringValue(text, current?.expireAtMs ?? null));
  return bulk(text);
}

export const COUNTER_COMMANDS: ReadonlyArray<readonly [string, DataCommandHandler]> = [
  ['incr', incrementCommand(1n, false)],
  ['decr', incrementCommand(-1n, false)],
  ['incrby', incrementCommand(1n, true)],
  ['decrby', incrementCommand(-1n, true)],
  ['incrbyfloat', incrbyfloat],
];
