// Replies shared by the command families.
import { WRITE_BYTES_MAX } from '../../../../libs/limits/src/index.js';
import { error, integer, type Reply } from '../../../../libs/resp/src/reply.js';

export const WRONG_TYPE = error('WRONGTYPE Operation against a key holding the wrong kind of value');
export const NOT_AN_INTEGER = error('ERR value is not an integer or out of range');
export const NOT_A_FLOAT = error('ERR value is not a valid float');
export const INCREMENT_OVERFLOW = error('ERR increment or decrement would overflow');
export const NOT_FINITE_RESULT = error('ERR increment would produce NaN or Infinity');
export const ZERO = integer(0);
export const ONE = integer(1);

export function invalidExpireTime(commandName: string): Reply {
  return error(`ERR invalid expire time in '${commandName}' command`);
}

export function integerReply(value: bigint): Reply {
  return integer(
    value >= Number.MIN_SAFE_INTEGER && value <= Number.MAX_SAFE_INTEGER ? Number(value) : value,
  );
}

/** As Redis's addReplyErrorFormat: line breaks trimmed at the ends and made spaces inside. */
export function formattedError(message: string): Reply {
  return error(`ERR ${message.replace(/^[\r\n]+|[\r\n]+$/g, '').replace(/[\r\n]/g, ' ')}`);
}

/**
 * A string is written whole in one transaction, so it may not grow beyond what one transaction
 * writes (WRITE_BYTES_MAX, below Redis's 512 MB): refused before the value is built, rather than
 * allocating it for the engine to refuse. Null when `length` bytes are fine.
 */
export function stringGrowthRefusal(length: number): Reply | null {
  if (length <= WRITE_BYTES_MAX) return null;
  return error(
    `ERR the string would grow to ${length} bytes; a transaction writes at most ${WRITE_BYTES_MAX} bytes (keys and values together), so Borealis strings stay below that`,
  );
}
