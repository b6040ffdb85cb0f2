// What the proxy needs to know of a request, from the data node's command table (the one list of
// commands the writers serve): which commands it answers itself, which change the session's
// transaction state, and which data commands only read (a read in flight on a writer that fails
// is sent again; a write is not).

import type { Reply } from '../../../../libs/resp/src/index.js';
import { type CommandSpec, containerName } from '../../../data-node/src/commands/command-table.js';
import { resolveCommand } from '../../../data-node/src/commands/served-commands.js';

export type CommandClass =
  // Answered by the proxy.
  | 'auth'
  | 'hello'
  | 'quit'
  | 'reset'
  | 'client-setname'
  | 'client-getname'
  | 'client-id'
  | 'client-setinfo'
  | 'client-reply'
  // Refused by the proxy: it cannot carry them (ARCHITECTURE.md, "Known limits").
  | 'not-proxied'
  // Forwarded, with a part in the session's transaction state.
  | 'multi'
  | 'exec'
  | 'discard'
  | 'watch'
  | 'unwatch'
  | 'borealis'
  // Forwarded.
  | 'read'
  | 'write'
  | 'connection';

export type Classified = { spec: CommandSpec; commandClass: CommandClass } | { error: Reply };

/** Commands allowed before AUTH, as on the data node (and Redis). */
export const BEFORE_AUTH: ReadonlySet<CommandClass> = new Set(['auth', 'hello', 'quit', 'reset']);

/** Commands the proxy answers itself; inside MULTI they cannot be queued on a writer. */
export const ANSWERED_BY_PROXY: ReadonlySet<CommandClass> = new Set([
  'auth',
  'hello',
  'client-setname',
  'client-getname',
  'client-id',
  'client-setinfo',
  'client-reply',
  'not-proxied',
]);

const BY_NAME: Readonly<Record<string, CommandClass>> = {
  auth: 'auth',
  hello: 'hello',
  quit: 'quit',
  reset: 'reset',
  'client|setname': 'client-setname',
  'client|getname': 'client-getname',
  'client|id': 'client-id',
  'client|setinfo': 'client-setinfo',
  monitor: 'not-proxied',
  'client|reply': 'client-reply',
  multi: 'multi',
  exec: 'exec',
  discard: 'discard',
  watch: 'watch',
  unwatch: 'unwatch',
  borealis: 'borealis',
};

const classOfSpec = new Map<CommandSpec, CommandClass>();

/** The command a request names, as the writer would resolve it, or the error it would answer. */
export function classify(args: readonly Buffer[]): Classified {
  const resolution = resolveCommand(args);
  if ('error' in resolution) return resolution;
  const { spec } = resolution;
  let commandClass = classOfSpec.get(spec);
  if (commandClass === undefined) {
    commandClass = classOf(spec);
    classOfSpec.set(spec, commandClass);
  }
  return { spec, commandClass };
}

function classOf(spec: CommandSpec): CommandClass {
  // BOREALIS's subcommands all take part in the session's state as BOREALIS.
  const named = BY_NAME[spec.name] ?? (containerName(spec.name) === 'borealis' ? 'borealis' : undefined);
  if (named !== undefined) return named;
  if (spec.kind !== 'data') return 'connection';
  return spec.flags.includes('readonly') ? 'read' : 'write';
}
