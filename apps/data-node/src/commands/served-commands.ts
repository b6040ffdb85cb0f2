// The command table of a data node: Redis's metadata for what it implements, that is the data
// handlers registered in data-commands.ts and the connection layer's SESSION_COMMANDS. A new
// handler is served, with Redis's COMMAND INFO and DOCS, as soon as it is registered.
//
// It is a module of its own because the handlers import command-table.ts (for its errors):
// command-table.ts cannot import them back without a cycle.
import type { Reply } from '../../../../libs/resp/src/reply.js';
import { commandReply as commandReplyOver } from './command-command.js';
import {
  type CommandResolution,
  type CommandSpec,
  type CommandTable,
  createCommandTable,
  topLevelName,
} from './command-table.js';
import { DATA_COMMAND_NAMES } from './data-commands.js';

export const COMMAND_TABLE: CommandTable = createCommandTable(DATA_COMMAND_NAMES);

/** Every served top-level command, sorted by name. */
export const COMMAND_SPECS: readonly CommandSpec[] = COMMAND_TABLE.specs;

/** The served top-level command named by `name` (any case). */
export function lookupCommand(name: Buffer | string): CommandSpec | undefined {
  return COMMAND_TABLE.lookup(name);
}

/**
 * Finds the command (or subcommand) a request names and checks its arity, in Redis's order, so
 * that the first failing check gives Redis's error. `args[0]` is the command name.
 */
export function resolveCommand(args: readonly Buffer[]): CommandResolution {
  return COMMAND_TABLE.resolve(args);
}

/**
 * The top-level command a request is counted under in the node's metrics (`client` for CLIENT
 * LIST), from its resolution; a request refused before it resolved counts under the command it
 * names when there is one, else as `unknown`.
 */
export function commandLabel(args: readonly Buffer[], resolution: CommandResolution): string {
  if ('spec' in resolution) return topLevelName(resolution.spec);
  const name = args[0];
  return (name === undefined ? undefined : lookupCommand(name)?.name) ?? 'unknown';
}

/** The COMMAND command and its subcommands over this node's table. */
export function commandReply(args: readonly Buffer[]): Reply {
  return commandReplyOver(COMMAND_TABLE, args);
}
