// The commands a data node serves, with the metadata Redis 7.0 reports for them in COMMAND
// (arity, flags, key specs, ACL categories, tips, docs with argument docs), how a request is
// matched to one, and the errors Redis gives when that fails.
//
// The metadata is Redis's own: redis-command-metadata.json is written by
// scripts/generate-command-table.mjs from a real Redis 7.0's COMMAND and COMMAND DOCS, and holds
// every command Redis has. Which of them this node serves, and by whom, follows from what is
// implemented: a command (or subcommand) is a 'data' command when data-commands.ts has a handler
// for it, a 'session' command when its full name is in SESSION_COMMANDS below (the connection
// layer, session.ts, runs it). Anything else is unknown to clients, as it would be on a Redis
// without it. This module does not import the handlers (they import its errors):
// served-commands.ts builds the node's table with createCommandTable(names of the handlers).
import { error, type Reply } from '../../../../libs/resp/src/reply.js';
import type { KeySpec } from './command-keys.js';
import generatedMetadata from './redis-command-metadata.json' with { type: 'json' };

export type { KeySpec } from './command-keys.js';
export { keysOf } from './command-keys.js';

export type CommandKind = 'data' | 'session';

/** One argument's docs, with COMMAND DOCS's field names and order. */
export interface ArgumentDocs {
  readonly name: string;
  readonly type: string;
  readonly key_spec_index?: number;
  readonly token?: string;
  readonly summary?: string;
  readonly since?: string;
  readonly flags?: readonly string[];
  readonly deprecated_since?: string;
  readonly arguments?: readonly ArgumentDocs[];
}

/** A command's docs, with COMMAND DOCS's field names and order (subcommands come with their entries). */
export interface CommandDocs {
  readonly summary: string;
  readonly since: string;
  readonly group: string;
  readonly complexity?: string;
  readonly doc_flags?: readonly string[];
  readonly deprecated_since?: string;
  readonly replaced_by?: string;
  /** [version, what changed] pairs. */
  readonly history?: readonly (readonly string[])[];
  readonly arguments?: readonly ArgumentDocs[];
}

/** A command as Redis describes it, served or not. */
export interface CommandDefinition {
  /** The lowercase full name Redis reports: `get`, or `client|setname` for a subcommand. */
  readonly name: string;
  /** Argument count including the command name; a negative arity means at least that many. */
  readonly arity: number;
  /** Command flags as COMMAND INFO names them: write, readonly, denyoom, fast, noscript… */
  readonly flags: readonly string[];
  /** COMMAND INFO's legacy key range: 0, 0, 0 without keys; a negative lastKey counts from the end. */
  readonly firstKey: number;
  readonly lastKey: number;
  readonly keyStep: number;
  readonly aclCategories: readonly string[];
  readonly tips: readonly string[];
  readonly keySpecs: readonly KeySpec[];
  readonly docs: CommandDocs;
  readonly subcommands?: readonly CommandDefinition[];
}

/** A served command: its definition, who runs it, and only its served subcommands. */
export interface CommandSpec extends Omit<CommandDefinition, 'subcommands'> {
  readonly kind: CommandKind;
  /** Keyed by the lowercase subcommand name (`setname`); null for a command without subcommands. */
  readonly subcommands: ReadonlyMap<string, CommandSpec> | null;
}

/**
 * The commands the connection layer (session.ts) runs, by full name. A container (CLIENT) is
 * served when any of its subcommands is, and lists only those.
 */
export const SESSION_COMMANDS: ReadonlySet<string> = new Set([
  'ping',
  'echo',
  'hello',
  'auth',
  'select',
  'quit',
  'reset',
  'client|help',
  'client|id',
  'client|info',
  'client|getname',
  'client|setname',
  'client|list',
  'client|setinfo',
  'client|no-evict',
  // session-admin: the connection and admin commands (server/session.ts, server/admin-commands.ts)
  'client|kill',
  'client|reply',
  'client|no-touch',
  'client|pause',
  'client|unpause',
  'config|get',
  'config|set',
  'config|resetstat',
  'config|rewrite',
  'config|help',
  'time',
  'wait',
  'lastsave',
  'save',
  'bgsave',
  'bgrewriteaof',
  'shutdown',
  'debug',
  'monitor',
  'info',
  'command',
  'command|help',
  'command|count',
  'command|docs',
  'command|info',
  'command|list',
  'command|getkeys',
  'command|getkeysandflags',
  'dbsize',
  'scan',
  'keys',
  'randomkey',
  'memory|doctor',
  'memory|help',
  'memory|malloc-stats',
  'memory|purge',
  'memory|stats',
  'multi',
  'exec',
  'discard',
  'watch',
  'unwatch',
  'borealis|help',
  'borealis|consistency',
  'borealis|session',
]);

// Borealis's own command, in the shape Redis uses for a container and its subcommands.
const BOREALIS_DEFINITION: CommandDefinition = {
  name: 'borealis',
  arity: -2,
  flags: [],
  firstKey: 0,
  lastKey: 0,
  keyStep: 0,
  aclCategories: ['@slow'],
  tips: [],
  keySpecs: [],
  docs: {
    summary: 'A container for Borealis-specific commands about the connection',
    since: '0.1.0',
    group: 'connection',
    complexity: 'Depends on subcommand.',
  },
  subcommands: [
    borealisSubcommand('borealis|consistency', -2, {
      summary:
        "Get or set the connection's read consistency: INSTANCE (the writer's cache), CLUSTER (linearizable, from the replicas) or DEFAULT (the cluster's setting)",
      since: '0.1.0',
      group: 'connection',
      complexity: 'O(1)',
      arguments: [
        {
          name: 'consistency',
          type: 'oneof',
          flags: ['optional'],
          arguments: [
            { name: 'instance', type: 'pure-token', token: 'INSTANCE' },
            { name: 'cluster', type: 'pure-token', token: 'CLUSTER' },
            { name: 'default', type: 'pure-token', token: 'DEFAULT' },
          ],
        },
      ],
    }),
    borealisSubcommand('borealis|help', 2, {
      summary: 'Show helpful text about the different subcommands',
      since: '0.1.0',
      group: 'connection',
      complexity: 'O(1)',
    }),
    borealisSubcommand('borealis|session', 3, {
      summary:
        'Sent by the endpoint on the writer it moves a session to, so that its reads go to the replicas until the writer cache cannot be older than its previous writes',
      since: '0.1.0',
      group: 'connection',
      complexity: 'O(1)',
      arguments: [{ name: 'moved', type: 'pure-token', token: 'MOVED' }],
    }),
  ],
};

function borealisSubcommand(name: string, arity: number, docs: CommandDocs): CommandDefinition {
  return {
    name,
    arity,
    flags: ['noscript', 'loading', 'stale', 'fast'],
    firstKey: 0,
    lastKey: 0,
    keyStep: 0,
    aclCategories: ['@fast', '@connection'],
    tips: [],
    keySpecs: [],
    docs,
  };
}

/**
 * Served because Redis 7.2 added them and clients send them at connect (where 7.0 and 7.4 differ
 * we follow 7.4), so the 7.0 reference knows nothing of them: their definitions are Redis 7.4's,
 * less the `sentinel` flag that 7.2 gave every CLIENT subcommand and 7.0's do not show.
 */
const NEWER_SUBCOMMANDS: readonly CommandDefinition[] = [
  {
    name: 'client|no-touch',
    arity: 3,
    flags: ['noscript', 'loading', 'stale'],
    firstKey: 0,
    lastKey: 0,
    keyStep: 0,
    aclCategories: ['@slow', '@connection'],
    tips: [],
    keySpecs: [],
    docs: {
      summary: 'Controls whether commands sent by the client affect the LRU/LFU of accessed keys.',
      since: '7.2.0',
      group: 'connection',
      complexity: 'O(1)',
      arguments: [
        {
          name: 'enabled',
          type: 'oneof',
          arguments: [
            { name: 'on', type: 'pure-token', token: 'ON' },
            { name: 'off', type: 'pure-token', token: 'OFF' },
          ],
        },
      ],
    },
  },
  {
    name: 'client|setinfo',
    arity: 4,
    flags: ['noscript', 'loading', 'stale'],
    firstKey: 0,
    lastKey: 0,
    keyStep: 0,
    aclCategories: ['@slow', '@connection'],
    tips: [],
    keySpecs: [],
    docs: {
      summary: 'Sets information specific to the client or connection.',
      since: '7.2.0',
      group: 'connection',
      complexity: 'O(1)',
      arguments: [
        {
          name: 'attr',
          type: 'oneof',
          arguments: [
            { name: 'libname', type: 'string', token: 'lib-name' },
            { name: 'libver', type: 'string', token: 'lib-ver' },
          ],
        },
      ],
    },
  },
];

/**
 * Served as Redis 7.2 changed them (where 7.0 and 7.4 differ we follow 7.4): ZRANK and ZREVRANK
 * take WITHSCORE, so their arity is -3 and their docs gain the argument and its history.
 */
const NEWER_ARGUMENTS: ReadonlyMap<
  string,
  { readonly arity: number; readonly argument: ArgumentDocs; readonly history: readonly string[] }
> = new Map(
  ['zrank', 'zrevrank'].map((name) => [
    name,
    {
      arity: -3,
      argument: {
        name: 'withscore',
        type: 'pure-token',
        token: 'WITHSCORE',
        since: '7.2.0',
        flags: ['optional'],
      },
      history: ['7.2.0', 'Added the optional `WITHSCORE` argument.'],
    },
  ]),
);

// The kinds of key spec command-keys.ts knows how to follow.
const KNOWN_BEGIN_SEARCH: ReadonlySet<string> = new Set(['index', 'keyword', 'unknown']);
const KNOWN_FIND_KEYS: ReadonlySet<string> = new Set(['range', 'keynum', 'unknown']);

/** Every command Redis 7.0 has, then Borealis's own and the newer ones, sorted by name. */
export const ALL_DEFINITIONS: readonly CommandDefinition[] = withOwnDefinitions(
  checkedDefinitions((generatedMetadata as { commands: unknown }).commands),
);

/**
 * The generated file's commands, checked where the node's behaviour depends on them (names,
 * arities, key specs): a file edited by hand, or by a future Redis with a new kind of key spec,
 * stops the node at start rather than finding wrong keys. The tests compare the rest with Redis.
 */
function checkedDefinitions(commands: unknown): readonly CommandDefinition[] {
  if (!Array.isArray(commands)) throw new Error('redis-command-metadata.json: no command list');
  const check = (definition: CommandDefinition): void => {
    const where = `redis-command-metadata.json: ${String(definition?.name)}`;
    if (typeof definition?.name !== 'string' || !Number.isInteger(definition.arity)) {
      throw new Error(`${where}: no name or arity`);
    }
    if (!Array.isArray(definition.flags) || typeof definition.docs?.summary !== 'string') {
      throw new Error(`${where}: no flags or docs`);
    }
    for (const spec of definition.keySpecs ?? []) {
      if (!KNOWN_BEGIN_SEARCH.has(spec?.begin_search?.type) || !KNOWN_FIND_KEYS.has(spec?.find_keys?.type)) {
        throw new Error(`${where}: a key spec of an unknown kind`);
      }
    }
    for (const subcommand of definition.subcommands ?? []) check(subcommand);
  };
  for (const definition of commands as CommandDefinition[]) check(definition);
  return commands as CommandDefinition[];
}

function withOwnDefinitions(generated: readonly CommandDefinition[]): CommandDefinition[] {
  const byName = (left: CommandDefinition, right: CommandDefinition): number =>
    left.name < right.name ? -1 : left.name > right.name ? 1 : 0;
  const definitions = generated.map((generatedDefinition) => {
    const changed = NEWER_ARGUMENTS.get(generatedDefinition.name);
    const definition: CommandDefinition =
      changed === undefined
        ? generatedDefinition
        : {
            ...generatedDefinition,
            arity: changed.arity,
            docs: {
              ...generatedDefinition.docs,
              history: [...(generatedDefinition.docs.history ?? []), changed.history],
              arguments: [...(generatedDefinition.docs.arguments ?? []), changed.argument],
            },
          };
    const newer = NEWER_SUBCOMMANDS.filter((sub) => containerName(sub.name) === definition.name);
    if (newer.length === 0) return definition;
    return { ...definition, subcommands: [...(definition.subcommands ?? []), ...newer].sort(byName) };
  });
  return [...definitions, BOREALIS_DEFINITION].sort(byName);
}

/** `client` for `client|setname`, `get` for `get`. */
export function containerName(fullName: string): string {
  const bar = fullName.indexOf('|');
  return bar < 0 ? fullName : fullName.slice(0, bar);
}

export type CommandResolution = { readonly spec: CommandSpec } | { readonly error: Reply };

/** The command a subcommand belongs to (`client` for `client|list`), or the command itself. */
export function topLevelName(spec: CommandSpec): string {
  const bar = spec.name.indexOf('|');
  return bar < 0 ? spec.name : spec.name.slice(0, bar);
}

/** The commands one node serves, and how requests are matched to them. */
export interface CommandTable {
  /** Every served top-level command, sorted by name (Redis's own order is its hash table's). */
  readonly specs: readonly CommandSpec[];
  /** The top-level command named by `name` (any case). */
  lookup(name: Buffer | string): CommandSpec | undefined;
  /** As Redis's lookupCommandBySds: `name` or `container|subcommand`, any case. */
  lookupByFullName(fullName: Buffer | string): CommandSpec | undefined;
  /**
   * Finds the command (or subcommand) a request names and checks its arity, in Redis's order,
   * so that the first failing check gives Redis's error. `args[0]` is the command name.
   */
  resolve(args: readonly Buffer[]): CommandResolution;
}

/**
 * The table of the commands served by the data handlers named `dataCommandNames` (full names:
 * `get`, `object|encoding`) and by the connection layer (SESSION_COMMANDS). A handler for a
 * command Redis does not have, or a command claimed by both, is a programming error.
 */
export function createCommandTable(
  dataCommandNames: Iterable<string>,
  definitions: readonly CommandDefinition[] = ALL_DEFINITIONS,
): CommandTable {
  const kinds = new Map<string, CommandKind>();
  for (const name of SESSION_COMMANDS) kinds.set(name, 'session');
  for (const name of dataCommandNames) {
    if (kinds.has(name)) throw new Error(`command table: ${name} is both a data and a session command`);
    kinds.set(name, 'data');
  }
  const known = new Set(
    definitions.flatMap((definition) => [definition, ...(definition.subcommands ?? [])]).map((d) => d.name),
  );
  for (const name of kinds.keys()) {
    if (!known.has(name)) throw new Error(`command table: ${name} is served but has no Redis definition`);
  }
  // A request names a container's subcommand, so a data handler for the container never runs.
  for (const definition of definitions) {
    if (definition.subcommands !== undefined && kinds.get(definition.name) === 'data') {
      throw new Error(
        `command table: register ${definition.name}'s subcommands (${definition.name}|…), not ${definition.name}`,
      );
    }
  }
  const specs = definitions
    .map((definition) => servedSpec(definition, kinds))
    .filter((spec): spec is CommandSpec => spec !== null);
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  // Every request looks its name up a few times (routing, its run, its metrics): the spellings
  // met so far ('GET', 'get') answer without lower-casing a copy each time. Bounded, as a client
  // may spell names in any case; beyond the bound a name is lower-cased as before.
  const bySpelling = new Map<string, CommandSpec>();
  const lookup = (name: Buffer | string): CommandSpec | undefined => {
    const spelling = typeof name === 'string' ? name : name.toString('latin1');
    const known = bySpelling.get(spelling);
    if (known !== undefined) return known;
    const spec = byName.get(spelling.toLowerCase());
    if (spec !== undefined && bySpelling.size < COMMAND_SPELLINGS_MAX) bySpelling.set(spelling, spec);
    return spec;
  };
  const lookupByFullName = (fullName: Buffer | string): CommandSpec | undefined => {
    const parts = (typeof fullName === 'string' ? fullName : fullName.toString('latin1')).split('|');
    const [container, subcommand] = parts;
    if (parts.length > 2 || container === undefined) return undefined;
    const spec = lookup(container);
    if (subcommand === undefined) return spec;
    return spec?.subcommands?.get(lowerCaseName(subcommand));
  };
  const resolve = (args: readonly Buffer[]): CommandResolution => {
    const name = args[0];
    const command = name === undefined ? undefined : lookup(name);
    if (command === undefined) return { error: unknownCommandError(args) };
    let spec = command;
    const subcommandName = args[1];
    if (command.subcommands !== null && subcommandName !== undefined) {
      const subcommand = command.subcommands.get(lowerCaseName(subcommandName));
      if (subcommand === undefined) return { error: unknownSubcommandError(args) };
      spec = subcommand;
    }
    if (!arityMatches(spec.arity, args.length)) return { error: arityError(spec.name) };
    return { spec };
  };
  return { specs, lookup, lookupByFullName, resolve };
}

function servedSpec(
  definition: CommandDefinition,
  kinds: ReadonlyMap<string, CommandKind>,
): CommandSpec | null {
  const { subcommands: subcommandDefinitions, ...fields } = definition;
  const kind = kinds.get(definition.name);
  if (subcommandDefinitions === undefined)
    return kind === undefined ? null : Object.freeze({ ...fields, kind, subcommands: null });
  const subcommands = new Map<string, CommandSpec>();
  for (const subcommandDefinition of subcommandDefinitions) {
    const subcommand = servedSpec(subcommandDefinition, kinds);
    if (subcommand !== null)
      subcommands.set(subcommand.name.slice(subcommand.name.indexOf('|') + 1), subcommand);
  }
  if (kind === undefined && subcommands.size === 0) return null;
  // A container runs itself only without a subcommand (COMMAND); CLIENT alone fails its arity.
  return Object.freeze({ ...fields, kind: kind ?? 'session', subcommands });
}

export function arityMatches(arity: number, argumentCount: number): boolean {
  return arity >= 0 ? argumentCount === arity : argumentCount >= -arity;
}

/** `name` is the full lowercase name, as Redis prints it: `get`, `client|setname`. */
export function arityError(name: string): Reply {
  return error(`ERR wrong number of arguments for '${name}' command`);
}

// Redis builds the next two messages with C's printf, so an argument ends at its first NUL byte,
// and each argument is cut to what still fits in 128 bytes. The messages hold client bytes as
// latin1 characters, like keys, to be written back as the same bytes.

export function unknownCommandError(args: readonly Buffer[]): Reply {
  let quotedArgs = '';
  for (let index = 1; index < args.length && quotedArgs.length < 128; index++) {
    quotedArgs += `'${cString(args[index] as Buffer, 128 - quotedArgs.length)}' `;
  }
  const name = args[0] === undefined ? '' : cString(args[0], 128);
  return error(withoutLineBreaks(`ERR unknown command '${name}', with args beginning with: ${quotedArgs}`));
}

/** For a container command (CLIENT, COMMAND…) whose `args[1]` names no subcommand of it. */
export function unknownSubcommandError(args: readonly Buffer[]): Reply {
  const subcommand = args[1] === undefined ? '' : cString(args[1], 128);
  const container = args[0] === undefined ? '' : asciiUpperCase(cString(args[0]));
  return error(withoutLineBreaks(`ERR unknown subcommand '${subcommand}'. Try ${container} HELP.`));
}

/** Spellings of command names `lookup` remembers (a few per command in practice). */
const COMMAND_SPELLINGS_MAX = 4096;

function lowerCaseName(name: Buffer | string): string {
  return (typeof name === 'string' ? name : name.toString('latin1')).toLowerCase();
}

/** The bytes before the first NUL (where C stops reading), at most `maxBytes` of them. */
export function cString(bytes: Buffer, maxBytes = Number.POSITIVE_INFINITY): string {
  const nul = bytes.indexOf(0);
  const end = Math.min(nul < 0 ? bytes.length : nul, maxBytes);
  return bytes.toString('latin1', 0, end);
}

/** C's toupper in the C locale, which leaves bytes above 0x7f alone. */
export function asciiUpperCase(text: string): string {
  return text.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}

/** Redis replaces CR and LF in an error with spaces so that the reply stays one line. */
function withoutLineBreaks(message: string): string {
  return message.replace(/[\r\n]/g, ' ');
}
