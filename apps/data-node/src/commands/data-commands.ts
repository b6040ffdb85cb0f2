// The pure core of the data commands: one Redis command over the values of its keys, with the
// replies and error texts of Redis 7.0. Storage, transactions and time stay outside: values come
// and go through a DataCommandContext, and the clock is `nowMs`.
//
// Each handler follows its Redis counterpart (t_string.c, t_hash.c, expire.c, db.c) check for
// check, because the order of the checks decides which error a client sees. Values read from the
// context are never mutated: a change writes a new value.
import type { Reply } from '../../../../libs/resp/src/reply.js';
import { arityError, arityMatches, type CommandSpec, unknownCommandError } from './command-table.js';
import type { DataCommandContext, DataCommandHandler } from './context-access.js';
import { COUNTER_COMMANDS } from './counter-commands.js';
import { HASH_COMMANDS } from './hash-commands.js';
import { KEY_COMMANDS } from './key-commands.js';
import { STRING_COMMANDS } from './string-commands.js';

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
]);
