// The COMMAND command over a command table: COMMAND, COUNT, LIST, INFO, DOCS, GETKEYS,
// GETKEYSANDFLAGS and HELP, each in the reply shape Redis 7.0 gives (sets and maps in RESP3,
// flattened to arrays in RESP2 by the encoder). Only served commands, and of a container only
// its served subcommands, are described.
import { array, bulk, error, integer, NULL, type Reply, simple } from '../../../../libs/resp/src/reply.js';
import { commandHasKeys, type KeySpec, keyReferences } from './command-keys.js';
import {
  type ArgumentDocs,
  asciiUpperCase,
  type CommandDocs,
  type CommandSpec,
  type CommandTable,
  cString,
  unknownSubcommandError,
} from './command-table.js';
import { globMatch } from './glob.js';

/**
 * The whole COMMAND command: `args` is the request, `args[0]` being COMMAND itself. Checks the
 * subcommand and its arity as Redis does, then answers with one of the replies below.
 */
export function commandReply(table: CommandTable, args: readonly Buffer[]): Reply {
  const resolution = table.resolve(args);
  if ('error' in resolution) return resolution.error;
  switch (resolution.spec.name) {
    case 'command':
      return array(table.specs.map(commandInfoEntry));
    case 'command|count':
      return integer(table.specs.length);
    case 'command|info':
      return commandInfoReply(table, args.slice(2));
    case 'command|docs':
      return commandDocsReply(table, args.slice(2));
    case 'command|list':
      return commandListReply(table, args.slice(2));
    case 'command|getkeys':
      return commandGetKeysReply(table, args.slice(2), false);
    case 'command|getkeysandflags':
      return commandGetKeysReply(table, args.slice(2), true);
    case 'command|help':
      return commandHelpReply();
    default:
      return unknownSubcommandError(args);
  }
}

/** COMMAND INFO name…: one entry per name (`client|setname` names a subcommand), null when unknown. */
function commandInfoReply(table: CommandTable, names: readonly Buffer[]): Reply {
  if (names.length === 0) return array(table.specs.map(commandInfoEntry));
  return array(
    names.map((name) => {
      const spec = table.lookupByFullName(name);
      return spec === undefined ? NULL : commandInfoEntry(spec);
    }),
  );
}

/** COMMAND DOCS [name…]: a map from full name to docs; unknown names are left out. */
function commandDocsReply(table: CommandTable, names: readonly Buffer[]): Reply {
  const specs =
    names.length === 0
      ? table.specs
      : names.map(table.lookupByFullName).filter((spec): spec is CommandSpec => spec !== undefined);
  return { kind: 'map', entries: specs.map((spec) => [bulk(spec.name), commandDocsEntry(spec)]) };
}

/**
 * COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: `options` are the
 * arguments after LIST. Subcommands follow their container, as in Redis.
 */
function commandListReply(table: CommandTable, options: readonly Buffer[]): Reply {
  let filter: (spec: CommandSpec) => boolean = () => true;
  if (options.length > 0) {
    const [keyword, filterType, filterArgument] = options;
    if (options.length !== 3 || asciiUpperCase(cString(keyword as Buffer)) !== 'FILTERBY') {
      return error('ERR syntax error');
    }
    const parsedFilter = listFilter(asciiUpperCase(cString(filterType as Buffer)), filterArgument as Buffer);
    if (parsedFilter === null) return error('ERR syntax error');
    filter = parsedFilter;
  }
  const names: Reply[] = [];
  const visit = (spec: CommandSpec): void => {
    if (filter(spec)) names.push(bulk(spec.name));
    for (const subcommand of spec.subcommands?.values() ?? []) visit(subcommand);
  };
  for (const spec of table.specs) visit(spec);
  return array(names);
}

function listFilter(filterType: string, argument: Buffer): ((spec: CommandSpec) => boolean) | null {
  switch (filterType) {
    case 'MODULE':
      // No command here comes from a module.
      return () => false;
    case 'ACLCAT': {
      const category = `@${cString(argument).toLowerCase()}`;
      return (spec) => spec.aclCategories.includes(category);
    }
    case 'PATTERN': {
      const pattern = argument.toString('latin1');
      return (spec) => globMatch(pattern, spec.name, { ignoreCase: true });
    }
    default:
      return null;
  }
}

/**
 * COMMAND GETKEYS / GETKEYSANDFLAGS command arg…: the keys of a full request, found as the node
 * finds them to run it. `request` is the request after GETKEYS.
 */
function commandGetKeysReply(table: CommandTable, request: readonly Buffer[], withFlags: boolean): Reply {
  const spec = requestedCommand(table, request);
  if (spec === undefined) return error('ERR Invalid command specified');
  if (!commandHasKeys(spec)) return error('ERR The command has no key arguments');
  if ((spec.arity > 0 && spec.arity !== request.length) || request.length < -spec.arity) {
    return error('ERR Invalid number of arguments specified for command');
  }
  const keys = keyReferences(spec, request) ?? [];
  if (keys.length === 0) {
    return spec.flags.includes('no_mandatory_keys')
      ? array([])
      : error('ERR Invalid arguments specified for command');
  }
  return array(
    keys.map(({ position, flags }) => {
      const key = bulk(request[position] as Buffer);
      return withFlags ? array([key, { kind: 'set', items: flags.map(simple) }]) : key;
    }),
  );
}

/** As Redis's lookupCommand over a request: a container takes the subcommand that follows. */
function requestedCommand(table: CommandTable, request: readonly Buffer[]): CommandSpec | undefined {
  const [name, subcommandName] = request;
  const command = name === undefined ? undefined : table.lookup(name);
  if (command === undefined || command.subcommands === null || subcommandName === undefined) return command;
  return command.subcommands.get(subcommandName.toString('latin1').toLowerCase());
}

function commandHelpReply(): Reply {
  const lines = [
    'COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
    '(no subcommand)',
    '    Return details about all Redis commands.',
    'COUNT',
    '    Return the total number of commands in this Redis server.',
    'LIST',
    '    Return a list of all commands in this Redis server.',
    'INFO [<command-name> ...]',
    '    Return details about multiple Redis commands.',
    '    If no command names are given, documentation details for all',
    '    commands are returned.',
    'DOCS [<command-name> ...]',
    '    Return documentation details about multiple Redis commands.',
    '    If no command names are given, documentation details for all',
    '    commands are returned.',
    'GETKEYS <full-command>',
    '    Return the keys from a full Redis command.',
    'GETKEYSANDFLAGS <full-command>',
    '    Return the keys and the access flags from a full Redis command.',
    'HELP',
    '    Prints this help.',
  ];
  return array(lines.map(simple));
}

/** The 10-element array COMMAND and COMMAND INFO give for one command. */
function commandInfoEntry(spec: CommandSpec): Reply {
  const subcommands = spec.subcommands === null ? null : [...spec.subcommands.values()];
  return array([
    bulk(spec.name),
    integer(spec.arity),
    { kind: 'set', items: spec.flags.map(simple) },
    integer(spec.firstKey),
    integer(spec.lastKey),
    integer(spec.keyStep),
    { kind: 'set', items: spec.aclCategories.map(simple) },
    { kind: 'set', items: spec.tips.map(bulk) },
    { kind: 'set', items: spec.keySpecs.map(keySpecEntry) },
    // Redis answers an empty set for a command without subcommands, an array otherwise.
    subcommands === null ? { kind: 'set', items: [] } : array(subcommands.map(commandInfoEntry)),
  ]);
}

function keySpecEntry(keySpec: KeySpec): Reply {
  const { begin_search: search, find_keys: find } = keySpec;
  return map([
    ...(keySpec.notes === undefined ? [] : [['notes', bulk(keySpec.notes)] as const]),
    ['flags', { kind: 'set', items: keySpec.flags.map(simple) }],
    [
      'begin_search',
      map([
        ['type', bulk(search.type)],
        ['spec', integerFields(search.spec)],
      ]),
    ],
    [
      'find_keys',
      map([
        ['type', bulk(find.type)],
        ['spec', integerFields(find.spec)],
      ]),
    ],
  ]);
}

/** A key spec's parameters: numbers, except the keyword a search looks for. */
function integerFields(spec: Readonly<Record<string, string | number>>): Reply {
  return map(
    Object.entries(spec).map(([name, value]) => [
      name,
      typeof value === 'number' ? integer(value) : bulk(value),
    ]),
  );
}

function commandDocsEntry(spec: CommandSpec): Reply {
  const fields = docsFields(spec.docs);
  if (spec.subcommands !== null) {
    const subcommands = [...spec.subcommands.values()];
    fields.push([
      'subcommands',
      { kind: 'map', entries: subcommands.map((sub) => [bulk(sub.name), commandDocsEntry(sub)]) },
    ]);
  }
  return map(fields);
}

/** The docs' fields in their order, each in the type Redis gives it. */
function docsFields(docs: CommandDocs | ArgumentDocs): [string, Reply][] {
  return Object.entries(docs).map(([name, value]: [string, unknown]) => [name, docsField(name, value)]);
}

function docsField(name: string, value: unknown): Reply {
  switch (name) {
    case 'flags':
    case 'doc_flags':
      return { kind: 'set', items: (value as readonly string[]).map(simple) };
    case 'history':
      return {
        kind: 'set',
        items: (value as readonly (readonly string[])[]).map((entry) => array(entry.map(bulk))),
      };
    case 'arguments':
      return array((value as readonly ArgumentDocs[]).map((argument) => map(docsFields(argument))));
    case 'key_spec_index':
      return integer(value as number);
    default:
      return bulk(String(value));
  }
}

function map(fields: readonly (readonly [string, Reply])[]): Reply {
  return { kind: 'map', entries: fields.map(([name, value]) => [bulk(name), value]) };
}
