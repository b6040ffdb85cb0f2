// The pure core of the data commands: one Redis command over the values of its keys, with the
// replies and error texts of Redis 7.0. Storage, transactions and time stay outside: values come
// and go through a DataCommandContext, and the clock is `nowMs`.
//
// Each handler follows its Redis counterpart (t_string.c, t_hash.c, bitops.c, expire.c, db.c, object.c) check for
// check, because the order of the checks decides which error a client sees. Values read from the
// context are never mutated: a change writes a new value.
import type { Reply } from '../../../../libs/resp/src/reply.js';
import { BIT_COMMANDS } from './bit-commands.js';
import { arityError, arityMatches, type CommandSpec, unknownCommandError } from './command-table.js';
import type { DataCommandContext, DataCommandHandler } from './context-access.js';
import { COUNTER_COMMANDS } from './counter-commands.js';
import { FLUSH_COMMANDS } from './flush-commands.js';
import { HASH_COMMANDS } from './hash-commands.js';
import { KEY_COMMANDS } from './key-commands.js';
import { LCS_COMMANDS } from './lcs.js';
import { LIST_COMMANDS } from './list-commands.js';
import { SET_COMMANDS } from './set-commands.js';
import { STRING_COMMANDS } from './string-commands.js';
import { ZSET_COMMANDS } from './zset-commands.js';

export type { DataCommandContext } from './context-access.js';

export function executeDataCommand(spec: CommandSpec, args: Buffer[], context: DataCommandContext): Reply {
  const handler = spec.kind === 'data' ? HANDLERS.get(spec.name) : undefined;
  if (handler === undefined) return unknownCommandError(args);
  if (!arityMatches(spec.arity, args.length)) return arityError(spec.name);
  return handler(args, context);
}

const HANDLERS: ReadonlyMap<string, DataCommandHandler> = new Map<string, DataCommandHandler>([
  ...KEY_COMMANDS,
  ...STRING_COMMANDS,
  ...COUNTER_COMMANDS,
  ...HASH_COMMANDS,
  ...BIT_COMMANDS,
  ...LCS_COMMANDS,
  ...LIST_COMMANDS,
  ...SET_COMMANDS,
  ...FLUSH_COMMANDS,
  ...ZSET_COMMANDS,
]);

/** The full names of the commands with a data handler: the command table serves these as 'data'. */
export const DATA_COMMAND_NAMES: readonly string[] = [...HANDLERS.keys()];
