// The commands a data node knows, with the metadata Redis 7.0 reports for them in COMMAND (arity,
// flags, key positions, ACL categories, key specs, docs), how a request is matched to one, the
// errors Redis gives when that fails, and the replies of COMMAND and its subcommands.
//
// `kind` says who runs a command: 'data' commands run in the pure core (data-commands.ts) as one
// transaction over their keys; 'session' commands belong to the connection layer.
import { array, bulk, error, integer, NULL, type Reply, simple } from '../../../../libs/resp/src/reply.js';
import { globMatch } from './glob.js';

export type CommandKind = 'data' | 'session';

export interface KeySpec {
  /** Key access flags as COMMAND INFO names them: RO, RW, OW, RM, access, update, insert, delete… */
  readonly flags: readonly string[];
  readonly notes?: string;
}

export interface CommandDocs {
  readonly summary: string;
  readonly since: string;
  readonly group: string;
  readonly complexity?: string;
  readonly deprecatedSince?: string;
  readonly replacedBy?: string;
}

export interface CommandSpec {
  /** The lowercase full name Redis reports: `get`, or `client|setname` for a subcommand. */
  readonly name: string;
  readonly kind: CommandKind;
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
  /** Keyed by the lowercase subcommand name (`setname`); null for a command without subcommands. */
  readonly subcommands: ReadonlyMap<string, CommandSpec> | null;
}

interface CommandDefinition {
  readonly name: string;
  /** Subcommands take their container's kind. */
  readonly kind?: CommandKind;
  readonly arity: number;
  readonly flags: readonly string[];
  readonly keys?: { readonly first: number; readonly last: number; readonly step: number };
  readonly aclCategories: readonly string[];
  readonly tips?: readonly string[];
  readonly keySpecs?: readonly KeySpec[];
  readonly docs: CommandDocs;
  readonly subcommands?: readonly CommandDefinition[];
}

// Taken from Redis 7.0's COMMAND INFO and COMMAND DOCS (argument docs left out), so that clients
// that inspect the server see what they would see on Redis. CLIENT and COMMAND list only the
// subcommands the connection layer serves.
const COMMAND_DEFINITIONS: readonly CommandDefinition[] = [
  // Run by the pure core.
  {
    name: 'exists',
    kind: 'data',
    arity: -2,
    flags: ['readonly', 'fast'],
    keys: { first: 1, last: -1, step: 1 },
    aclCategories: ['@keyspace', '@read', '@fast'],
    tips: ['request_policy:multi_shard', 'response_policy:agg_sum'],
    keySpecs: [{ flags: ['RO'] }],
    docs: {
      summary: 'Determine if a key exists',
      since: '1.0.0',
      group: 'generic',
      complexity: 'O(N) where N is the number of keys to check.',
    },
  },
  {
    name: 'type',
    kind: 'data',
    arity: 2,
    flags: ['readonly', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@keyspace', '@read', '@fast'],
    keySpecs: [{ flags: ['RO'] }],
    docs: {
      summary: 'Determine the type stored at key',
      since: '1.0.0',
      group: 'generic',
      complexity: 'O(1)',
    },
  },
  {
    name: 'del',
    kind: 'data',
    arity: -2,
    flags: ['write'],
    keys: { first: 1, last: -1, step: 1 },
    aclCategories: ['@keyspace', '@write', '@slow'],
    tips: ['request_policy:multi_shard', 'response_policy:agg_sum'],
    keySpecs: [{ flags: ['RM', 'delete'] }],
    docs: {
      summary: 'Delete a key',
      since: '1.0.0',
      group: 'generic',
      complexity:
        'O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).',
    },
  },
  {
    name: 'unlink',
    kind: 'data',
    arity: -2,
    flags: ['write', 'fast'],
    keys: { first: 1, last: -1, step: 1 },
    aclCategories: ['@keyspace', '@write', '@fast'],
    tips: ['request_policy:multi_shard', 'response_policy:agg_sum'],
    keySpecs: [{ flags: ['RM', 'delete'] }],
    docs: {
      summary:
        'Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.',
      since: '4.0.0',
      group: 'generic',
      complexity:
        'O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.',
    },
  },
  {
    name: 'expire',
    kind: 'data',
    arity: -3,
    flags: ['write', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@keyspace', '@write', '@fast'],
    keySpecs: [{ flags: ['RW', 'update'] }],
    docs: {
      summary: "Set a key's time to live in seconds",
      since: '1.0.0',
      group: 'generic',
      complexity: 'O(1)',
    },
  },
  {
    name: 'pexpire',
    kind: 'data',
    arity: -3,
    flags: ['write', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@keyspace', '@write', '@fast'],
    keySpecs: [{ flags: ['RW', 'update'] }],
    docs: {
      summary: "Set a key's time to live in milliseconds",
      since: '2.6.0',
      group: 'generic',
      complexity: 'O(1)',
    },
  },
  {
    name: 'expireat',
    kind: 'data',
    arity: -3,
    flags: ['write', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@keyspace', '@write', '@fast'],
    keySpecs: [{ flags: ['RW', 'update'] }],
    docs: {
      summary: 'Set the expiration for a key as a UNIX timestamp',
      since: '1.2.0',
      group: 'generic',
      complexity: 'O(1)',
    },
  },
  {
    name: 'pexpireat',
    kind: 'data',
    arity: -3,
    flags: ['write', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@keyspace', '@write', '@fast'],
    keySpecs: [{ flags: ['RW', 'update'] }],
    docs: {
      summary: 'Set the expiration for a key as a UNIX timestamp specified in milliseconds',
      since: '2.6.0',
      group: 'generic',
      complexity: 'O(1)',
    },
  },
  {
    name: 'ttl',
    kind: 'data',
    arity: 2,
    flags: ['readonly', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@keyspace', '@read', '@fast'],
    tips: ['nondeterministic_output'],
    keySpecs: [{ flags: ['RO', 'access'] }],
    docs: {
      summary: 'Get the time to live for a key in seconds',
      since: '1.0.0',
      group: 'generic',
      complexity: 'O(1)',
    },
  },
  {
    name: 'pttl',
    kind: 'data',
    arity: 2,
    flags: ['readonly', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@keyspace', '@read', '@fast'],
    tips: ['nondeterministic_output'],
    keySpecs: [{ flags: ['RO', 'access'] }],
    docs: {
      summary: 'Get the time to live for a key in milliseconds',
      since: '2.6.0',
      group: 'generic',
      complexity: 'O(1)',
    },
  },
  {
    name: 'expiretime',
    kind: 'data',
    arity: 2,
    flags: ['readonly', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@keyspace', '@read', '@fast'],
    keySpecs: [{ flags: ['RO', 'access'] }],
    docs: {
      summary: 'Get the expiration Unix timestamp for a key',
      since: '7.0.0',
      group: 'generic',
      complexity: 'O(1)',
    },
  },
  {
    name: 'pexpiretime',
    kind: 'data',
    arity: 2,
    flags: ['readonly', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@keyspace', '@read', '@fast'],
    keySpecs: [{ flags: ['RO', 'access'] }],
    docs: {
      summary: 'Get the expiration Unix timestamp for a key in milliseconds',
      since: '7.0.0',
      group: 'generic',
      complexity: 'O(1)',
    },
  },
  {
    name: 'persist',
    kind: 'data',
    arity: 2,
    flags: ['write', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@keyspace', '@write', '@fast'],
    keySpecs: [{ flags: ['RW', 'update'] }],
    docs: {
      summary: 'Remove the expiration from a key',
      since: '2.2.0',
      group: 'generic',
      complexity: 'O(1)',
    },
  },
  {
    name: 'get',
    kind: 'data',
    arity: 2,
    flags: ['readonly', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@read', '@string', '@fast'],
    keySpecs: [{ flags: ['RO', 'access'] }],
    docs: { summary: 'Get the value of a key', since: '1.0.0', group: 'string', complexity: 'O(1)' },
  },
  {
    name: 'set',
    kind: 'data',
    arity: -3,
    flags: ['write', 'denyoom'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@string', '@slow'],
    keySpecs: [
      {
        flags: ['RW', 'access', 'update', 'variable_flags'],
        notes: 'RW and ACCESS due to the optional `GET` argument',
      },
    ],
    docs: { summary: 'Set the string value of a key', since: '1.0.0', group: 'string', complexity: 'O(1)' },
  },
  {
    name: 'setnx',
    kind: 'data',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['OW', 'insert'] }],
    docs: {
      summary: 'Set the value of a key, only if the key does not exist',
      since: '1.0.0',
      group: 'string',
      complexity: 'O(1)',
    },
  },
  {
    name: 'setex',
    kind: 'data',
    arity: 4,
    flags: ['write', 'denyoom'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@string', '@slow'],
    keySpecs: [{ flags: ['OW', 'update'] }],
    docs: {
      summary: 'Set the value and expiration of a key',
      since: '2.0.0',
      group: 'string',
      complexity: 'O(1)',
    },
  },
  {
    name: 'psetex',
    kind: 'data',
    arity: 4,
    flags: ['write', 'denyoom'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@string', '@slow'],
    keySpecs: [{ flags: ['OW', 'update'] }],
    docs: {
      summary: 'Set the value and expiration in milliseconds of a key',
      since: '2.6.0',
      group: 'string',
      complexity: 'O(1)',
    },
  },
  {
    name: 'getset',
    kind: 'data',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'] }],
    docs: {
      summary: 'Set the string value of a key and return its old value',
      since: '1.0.0',
      group: 'string',
      complexity: 'O(1)',
      deprecatedSince: '6.2.0',
      replacedBy: '`SET` with the `!GET` argument',
    },
  },
  {
    name: 'getdel',
    kind: 'data',
    arity: 2,
    flags: ['write', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'delete'] }],
    docs: {
      summary: 'Get the value of a key and delete the key',
      since: '6.2.0',
      group: 'string',
      complexity: 'O(1)',
    },
  },
  {
    name: 'getex',
    kind: 'data',
    arity: -2,
    flags: ['write', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'], notes: 'RW and UPDATE because it changes the TTL' }],
    docs: {
      summary: 'Get the value of a key and optionally set its expiration',
      since: '6.2.0',
      group: 'string',
      complexity: 'O(1)',
    },
  },
  {
    name: 'mget',
    kind: 'data',
    arity: -2,
    flags: ['readonly', 'fast'],
    keys: { first: 1, last: -1, step: 1 },
    aclCategories: ['@read', '@string', '@fast'],
    tips: ['request_policy:multi_shard'],
    keySpecs: [{ flags: ['RO', 'access'] }],
    docs: {
      summary: 'Get the values of all the given keys',
      since: '1.0.0',
      group: 'string',
      complexity: 'O(N) where N is the number of keys to retrieve.',
    },
  },
  {
    name: 'mset',
    kind: 'data',
    arity: -3,
    flags: ['write', 'denyoom'],
    keys: { first: 1, last: -1, step: 2 },
    aclCategories: ['@write', '@string', '@slow'],
    tips: ['request_policy:multi_shard', 'response_policy:all_succeeded'],
    keySpecs: [{ flags: ['OW', 'update'] }],
    docs: {
      summary: 'Set multiple keys to multiple values',
      since: '1.0.1',
      group: 'string',
      complexity: 'O(N) where N is the number of keys to set.',
    },
  },
  {
    name: 'msetnx',
    kind: 'data',
    arity: -3,
    flags: ['write', 'denyoom'],
    keys: { first: 1, last: -1, step: 2 },
    aclCategories: ['@write', '@string', '@slow'],
    tips: ['request_policy:multi_shard', 'response_policy:agg_min'],
    keySpecs: [{ flags: ['OW', 'insert'] }],
    docs: {
      summary: 'Set multiple keys to multiple values, only if none of the keys exist',
      since: '1.0.1',
      group: 'string',
      complexity: 'O(N) where N is the number of keys to set.',
    },
  },
  {
    name: 'append',
    kind: 'data',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'insert'] }],
    docs: {
      summary: 'Append a value to a key',
      since: '2.0.0',
      group: 'string',
      complexity:
        'O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.',
    },
  },
  {
    name: 'strlen',
    kind: 'data',
    arity: 2,
    flags: ['readonly', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@read', '@string', '@fast'],
    keySpecs: [{ flags: ['RO'] }],
    docs: {
      summary: 'Get the length of the value stored in a key',
      since: '2.2.0',
      group: 'string',
      complexity: 'O(1)',
    },
  },
  {
    name: 'getrange',
    kind: 'data',
    arity: 4,
    flags: ['readonly'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@read', '@string', '@slow'],
    keySpecs: [{ flags: ['RO', 'access'] }],
    docs: {
      summary: 'Get a substring of the string stored at a key',
      since: '2.4.0',
      group: 'string',
      complexity:
        'O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.',
    },
  },
  {
    name: 'substr',
    kind: 'data',
    arity: 4,
    flags: ['readonly'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@read', '@string', '@slow'],
    keySpecs: [{ flags: ['RO', 'access'] }],
    docs: {
      summary: 'Get a substring of the string stored at a key',
      since: '1.0.0',
      group: 'string',
      complexity:
        'O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.',
      deprecatedSince: '2.0.0',
      replacedBy: '`GETRANGE`',
    },
  },
  {
    name: 'setrange',
    kind: 'data',
    arity: 4,
    flags: ['write', 'denyoom'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@string', '@slow'],
    keySpecs: [{ flags: ['RW', 'update'] }],
    docs: {
      summary: 'Overwrite part of a string at key starting at the specified offset',
      since: '2.2.0',
      group: 'string',
      complexity:
        'O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.',
    },
  },
  {
    name: 'incr',
    kind: 'data',
    arity: 2,
    flags: ['write', 'denyoom', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'] }],
    docs: {
      summary: 'Increment the integer value of a key by one',
      since: '1.0.0',
      group: 'string',
      complexity: 'O(1)',
    },
  },
  {
    name: 'decr',
    kind: 'data',
    arity: 2,
    flags: ['write', 'denyoom', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'] }],
    docs: {
      summary: 'Decrement the integer value of a key by one',
      since: '1.0.0',
      group: 'string',
      complexity: 'O(1)',
    },
  },
  {
    name: 'incrby',
    kind: 'data',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'] }],
    docs: {
      summary: 'Increment the integer value of a key by the given amount',
      since: '1.0.0',
      group: 'string',
      complexity: 'O(1)',
    },
  },
  {
    name: 'decrby',
    kind: 'data',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'] }],
    docs: {
      summary: 'Decrement the integer value of a key by the given number',
      since: '1.0.0',
      group: 'string',
      complexity: 'O(1)',
    },
  },
  {
    name: 'incrbyfloat',
    kind: 'data',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@string', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'] }],
    docs: {
      summary: 'Increment the float value of a key by the given amount',
      since: '2.6.0',
      group: 'string',
      complexity: 'O(1)',
    },
  },
  {
    name: 'hset',
    kind: 'data',
    arity: -4,
    flags: ['write', 'denyoom', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@hash', '@fast'],
    keySpecs: [{ flags: ['RW', 'update'] }],
    docs: {
      summary: 'Set the string value of a hash field',
      since: '2.0.0',
      group: 'hash',
      complexity:
        'O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.',
    },
  },
  {
    name: 'hsetnx',
    kind: 'data',
    arity: 4,
    flags: ['write', 'denyoom', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@hash', '@fast'],
    keySpecs: [{ flags: ['RW', 'insert'] }],
    docs: {
      summary: 'Set the value of a hash field, only if the field does not exist',
      since: '2.0.0',
      group: 'hash',
      complexity: 'O(1)',
    },
  },
  {
    name: 'hmset',
    kind: 'data',
    arity: -4,
    flags: ['write', 'denyoom', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@hash', '@fast'],
    keySpecs: [{ flags: ['RW', 'update'] }],
    docs: {
      summary: 'Set multiple hash fields to multiple values',
      since: '2.0.0',
      group: 'hash',
      complexity: 'O(N) where N is the number of fields being set.',
      deprecatedSince: '4.0.0',
      replacedBy: '`HSET` with multiple field-value pairs',
    },
  },
  {
    name: 'hget',
    kind: 'data',
    arity: 3,
    flags: ['readonly', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@read', '@hash', '@fast'],
    keySpecs: [{ flags: ['RO', 'access'] }],
    docs: { summary: 'Get the value of a hash field', since: '2.0.0', group: 'hash', complexity: 'O(1)' },
  },
  {
    name: 'hmget',
    kind: 'data',
    arity: -3,
    flags: ['readonly', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@read', '@hash', '@fast'],
    keySpecs: [{ flags: ['RO', 'access'] }],
    docs: {
      summary: 'Get the values of all the given hash fields',
      since: '2.0.0',
      group: 'hash',
      complexity: 'O(N) where N is the number of fields being requested.',
    },
  },
  {
    name: 'hdel',
    kind: 'data',
    arity: -3,
    flags: ['write', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@hash', '@fast'],
    keySpecs: [{ flags: ['RW', 'delete'] }],
    docs: {
      summary: 'Delete one or more hash fields',
      since: '2.0.0',
      group: 'hash',
      complexity: 'O(N) where N is the number of fields to be removed.',
    },
  },
  {
    name: 'hgetall',
    kind: 'data',
    arity: 2,
    flags: ['readonly'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@read', '@hash', '@slow'],
    tips: ['nondeterministic_output_order'],
    keySpecs: [{ flags: ['RO', 'access'] }],
    docs: {
      summary: 'Get all the fields and values in a hash',
      since: '2.0.0',
      group: 'hash',
      complexity: 'O(N) where N is the size of the hash.',
    },
  },
  {
    name: 'hlen',
    kind: 'data',
    arity: 2,
    flags: ['readonly', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@read', '@hash', '@fast'],
    keySpecs: [{ flags: ['RO'] }],
    docs: {
      summary: 'Get the number of fields in a hash',
      since: '2.0.0',
      group: 'hash',
      complexity: 'O(1)',
    },
  },
  {
    name: 'hexists',
    kind: 'data',
    arity: 3,
    flags: ['readonly', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@read', '@hash', '@fast'],
    keySpecs: [{ flags: ['RO'] }],
    docs: { summary: 'Determine if a hash field exists', since: '2.0.0', group: 'hash', complexity: 'O(1)' },
  },
  {
    name: 'hincrby',
    kind: 'data',
    arity: 4,
    flags: ['write', 'denyoom', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@hash', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'] }],
    docs: {
      summary: 'Increment the integer value of a hash field by the given number',
      since: '2.0.0',
      group: 'hash',
      complexity: 'O(1)',
    },
  },
  {
    name: 'hincrbyfloat',
    kind: 'data',
    arity: 4,
    flags: ['write', 'denyoom', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@write', '@hash', '@fast'],
    keySpecs: [{ flags: ['RW', 'access', 'update'] }],
    docs: {
      summary: 'Increment the float value of a hash field by the given amount',
      since: '2.6.0',
      group: 'hash',
      complexity: 'O(1)',
    },
  },
  {
    name: 'hkeys',
    kind: 'data',
    arity: 2,
    flags: ['readonly'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@read', '@hash', '@slow'],
    tips: ['nondeterministic_output_order'],
    keySpecs: [{ flags: ['RO', 'access'] }],
    docs: {
      summary: 'Get all the fields in a hash',
      since: '2.0.0',
      group: 'hash',
      complexity: 'O(N) where N is the size of the hash.',
    },
  },
  {
    name: 'hvals',
    kind: 'data',
    arity: 2,
    flags: ['readonly'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@read', '@hash', '@slow'],
    tips: ['nondeterministic_output_order'],
    keySpecs: [{ flags: ['RO', 'access'] }],
    docs: {
      summary: 'Get all the values in a hash',
      since: '2.0.0',
      group: 'hash',
      complexity: 'O(N) where N is the size of the hash.',
    },
  },
  {
    name: 'hstrlen',
    kind: 'data',
    arity: 3,
    flags: ['readonly', 'fast'],
    keys: { first: 1, last: 1, step: 1 },
    aclCategories: ['@read', '@hash', '@fast'],
    keySpecs: [{ flags: ['RO'] }],
    docs: {
      summary: 'Get the length of the value of a hash field',
      since: '3.2.0',
      group: 'hash',
      complexity: 'O(1)',
    },
  },
  // Served by the connection layer.
  {
    name: 'ping',
    kind: 'session',
    arity: -1,
    flags: ['fast'],
    aclCategories: ['@fast', '@connection'],
    tips: ['request_policy:all_shards', 'response_policy:all_succeeded'],
    docs: { summary: 'Ping the server', since: '1.0.0', group: 'connection', complexity: 'O(1)' },
  },
  {
    name: 'echo',
    kind: 'session',
    arity: 2,
    flags: ['loading', 'stale', 'fast'],
    aclCategories: ['@fast', '@connection'],
    docs: { summary: 'Echo the given string', since: '1.0.0', group: 'connection', complexity: 'O(1)' },
  },
  {
    name: 'hello',
    kind: 'session',
    arity: -1,
    flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'],
    aclCategories: ['@fast', '@connection'],
    docs: { summary: 'Handshake with Redis', since: '6.0.0', group: 'connection', complexity: 'O(1)' },
  },
  {
    name: 'auth',
    kind: 'session',
    arity: -2,
    flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'],
    aclCategories: ['@fast', '@connection'],
    docs: {
      summary: 'Authenticate to the server',
      since: '1.0.0',
      group: 'connection',
      complexity: 'O(N) where N is the number of passwords defined for the user',
    },
  },
  {
    name: 'select',
    kind: 'session',
    arity: 2,
    flags: ['loading', 'stale', 'fast'],
    aclCategories: ['@fast', '@connection'],
    docs: {
      summary: 'Change the selected database for the current connection',
      since: '1.0.0',
      group: 'connection',
      complexity: 'O(1)',
    },
  },
  {
    name: 'quit',
    kind: 'session',
    arity: -1,
    flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'],
    aclCategories: ['@fast', '@connection'],
    docs: { summary: 'Close the connection', since: '1.0.0', group: 'connection', complexity: 'O(1)' },
  },
  {
    name: 'reset',
    kind: 'session',
    arity: 1,
    flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'],
    aclCategories: ['@fast', '@connection'],
    docs: { summary: 'Reset the connection', since: '6.2.0', group: 'connection', complexity: 'O(1)' },
  },
  {
    name: 'client',
    kind: 'session',
    arity: -2,
    flags: [],
    aclCategories: ['@slow'],
    docs: {
      summary: 'A container for client connection commands',
      since: '2.4.0',
      group: 'connection',
      complexity: 'Depends on subcommand.',
    },
    subcommands: [
      {
        name: 'client|help',
        arity: 2,
        flags: ['loading', 'stale'],
        aclCategories: ['@slow', '@connection'],
        docs: {
          summary: 'Show helpful text about the different subcommands',
          since: '5.0.0',
          group: 'connection',
          complexity: 'O(1)',
        },
      },
      {
        name: 'client|id',
        arity: 2,
        flags: ['noscript', 'loading', 'stale'],
        aclCategories: ['@slow', '@connection'],
        docs: {
          summary: 'Returns the client ID for the current connection',
          since: '5.0.0',
          group: 'connection',
          complexity: 'O(1)',
        },
      },
      {
        name: 'client|info',
        arity: 2,
        flags: ['noscript', 'loading', 'stale'],
        aclCategories: ['@slow', '@connection'],
        tips: ['nondeterministic_output'],
        docs: {
          summary: 'Returns information about the current client connection.',
          since: '6.2.0',
          group: 'connection',
          complexity: 'O(1)',
        },
      },
      {
        name: 'client|getname',
        arity: 2,
        flags: ['noscript', 'loading', 'stale'],
        aclCategories: ['@slow', '@connection'],
        docs: {
          summary: 'Get the current connection name',
          since: '2.6.9',
          group: 'connection',
          complexity: 'O(1)',
        },
      },
      {
        name: 'client|setname',
        arity: 3,
        flags: ['noscript', 'loading', 'stale'],
        aclCategories: ['@slow', '@connection'],
        docs: {
          summary: 'Set the current connection name',
          since: '2.6.9',
          group: 'connection',
          complexity: 'O(1)',
        },
      },
      {
        name: 'client|list',
        arity: -2,
        flags: ['admin', 'noscript', 'loading', 'stale'],
        aclCategories: ['@admin', '@slow', '@dangerous', '@connection'],
        tips: ['nondeterministic_output'],
        docs: {
          summary: 'Get the list of client connections',
          since: '2.4.0',
          group: 'connection',
          complexity: 'O(N) where N is the number of client connections',
        },
      },
      {
        name: 'client|setinfo',
        arity: 4,
        flags: ['noscript', 'loading', 'stale'],
        aclCategories: ['@slow', '@connection'],
        docs: {
          summary:
            'Set client or connection specific info (Redis 7.2; accepted so that newer clients can send it at connect)',
          since: '7.2.0',
          group: 'connection',
          complexity: 'O(1)',
        },
      },
      {
        name: 'client|no-evict',
        arity: 3,
        flags: ['admin', 'noscript', 'loading', 'stale'],
        aclCategories: ['@admin', '@slow', '@dangerous', '@connection'],
        docs: {
          summary: 'Set client eviction mode for the current connection',
          since: '7.0.0',
          group: 'connection',
          complexity: 'O(1)',
        },
      },
    ],
  },
  {
    name: 'info',
    kind: 'session',
    arity: -1,
    flags: ['loading', 'stale'],
    aclCategories: ['@slow', '@dangerous'],
    tips: ['nondeterministic_output', 'request_policy:all_shards', 'response_policy:special'],
    docs: {
      summary: 'Get information and statistics about the server',
      since: '1.0.0',
      group: 'server',
      complexity: 'O(1)',
    },
  },
  {
    name: 'command',
    kind: 'session',
    arity: -1,
    flags: ['loading', 'stale'],
    aclCategories: ['@slow', '@connection'],
    tips: ['nondeterministic_output_order'],
    docs: {
      summary: 'Get array of Redis command details',
      since: '2.8.13',
      group: 'server',
      complexity: 'O(N) where N is the total number of Redis commands',
    },
    subcommands: [
      {
        name: 'command|help',
        arity: 2,
        flags: ['loading', 'stale'],
        aclCategories: ['@slow', '@connection'],
        docs: {
          summary: 'Show helpful text about the different subcommands',
          since: '5.0.0',
          group: 'server',
          complexity: 'O(1)',
        },
      },
      {
        name: 'command|count',
        arity: 2,
        flags: ['loading', 'stale'],
        aclCategories: ['@slow', '@connection'],
        docs: {
          summary: 'Get total number of Redis commands',
          since: '2.8.13',
          group: 'server',
          complexity: 'O(1)',
        },
      },
      {
        name: 'command|docs',
        arity: -2,
        flags: ['loading', 'stale'],
        aclCategories: ['@slow', '@connection'],
        tips: ['nondeterministic_output_order'],
        docs: {
          summary: 'Get array of specific Redis command documentation',
          since: '7.0.0',
          group: 'server',
          complexity: 'O(N) where N is the number of commands to look up',
        },
      },
      {
        name: 'command|info',
        arity: -2,
        flags: ['loading', 'stale'],
        aclCategories: ['@slow', '@connection'],
        tips: ['nondeterministic_output_order'],
        docs: {
          summary: 'Get array of specific Redis command details, or all when no argument is given.',
          since: '2.8.13',
          group: 'server',
          complexity: 'O(N) where N is the number of commands to look up',
        },
      },
      {
        name: 'command|list',
        arity: -2,
        flags: ['loading', 'stale'],
        aclCategories: ['@slow', '@connection'],
        tips: ['nondeterministic_output_order'],
        docs: {
          summary: 'Get an array of Redis command names',
          since: '7.0.0',
          group: 'server',
          complexity: 'O(N) where N is the total number of Redis commands',
        },
      },
    ],
  },
  {
    name: 'dbsize',
    kind: 'session',
    arity: 1,
    flags: ['readonly', 'fast'],
    aclCategories: ['@keyspace', '@read', '@fast'],
    tips: ['request_policy:all_shards', 'response_policy:agg_sum'],
    docs: {
      summary: 'Return the number of keys in the selected database',
      since: '1.0.0',
      group: 'server',
      complexity: 'O(1)',
    },
  },
  {
    name: 'scan',
    kind: 'session',
    arity: -2,
    flags: ['readonly'],
    aclCategories: ['@keyspace', '@read', '@slow'],
    tips: ['nondeterministic_output', 'request_policy:special'],
    docs: {
      summary: 'Incrementally iterate the keys space',
      since: '2.8.0',
      group: 'generic',
      complexity:
        'O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.',
    },
  },
  {
    name: 'keys',
    kind: 'session',
    arity: 2,
    flags: ['readonly'],
    aclCategories: ['@keyspace', '@read', '@slow', '@dangerous'],
    tips: ['request_policy:all_shards', 'nondeterministic_output_order'],
    docs: {
      summary: 'Find all keys matching the given pattern',
      since: '1.0.0',
      group: 'generic',
      complexity:
        'O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.',
    },
  },
  {
    name: 'multi',
    kind: 'session',
    arity: 1,
    flags: ['noscript', 'loading', 'stale', 'fast', 'allow_busy'],
    aclCategories: ['@fast', '@transaction'],
    docs: {
      summary: 'Mark the start of a transaction block',
      since: '1.2.0',
      group: 'transactions',
      complexity: 'O(1)',
    },
  },
  {
    name: 'exec',
    kind: 'session',
    arity: 1,
    flags: ['noscript', 'loading', 'stale', 'skip_slowlog'],
    aclCategories: ['@slow', '@transaction'],
    docs: {
      summary: 'Execute all commands issued after MULTI',
      since: '1.2.0',
      group: 'transactions',
      complexity: 'Depends on commands in the transaction',
    },
  },
  {
    name: 'discard',
    kind: 'session',
    arity: 1,
    flags: ['noscript', 'loading', 'stale', 'fast', 'allow_busy'],
    aclCategories: ['@fast', '@transaction'],
    docs: {
      summary: 'Discard all commands issued after MULTI',
      since: '2.0.0',
      group: 'transactions',
      complexity: 'O(N), when N is the number of queued commands',
    },
  },
  {
    name: 'watch',
    kind: 'session',
    arity: -2,
    flags: ['noscript', 'loading', 'stale', 'fast', 'allow_busy'],
    keys: { first: 1, last: -1, step: 1 },
    aclCategories: ['@fast', '@transaction'],
    keySpecs: [{ flags: ['RO'] }],
    docs: {
      summary: 'Watch the given keys to determine execution of the MULTI/EXEC block',
      since: '2.2.0',
      group: 'transactions',
      complexity: 'O(1) for every key.',
    },
  },
  {
    name: 'unwatch',
    kind: 'session',
    arity: 1,
    flags: ['noscript', 'loading', 'stale', 'fast', 'allow_busy'],
    aclCategories: ['@fast', '@transaction'],
    docs: {
      summary: 'Forget about all watched keys',
      since: '2.2.0',
      group: 'transactions',
      complexity: 'O(1)',
    },
  },
  {
    name: 'borealis',
    kind: 'session',
    arity: -2,
    flags: ['noscript', 'loading', 'stale', 'fast'],
    aclCategories: ['@fast', '@connection'],
    docs: {
      summary: "Borealis-specific information and controls for the connection's cluster",
      since: '0.1.0',
      group: 'server',
      complexity: 'O(1)',
    },
  },
];

function buildSpec(definition: CommandDefinition, kind: CommandKind): CommandSpec {
  const subcommands =
    definition.subcommands === undefined
      ? null
      : new Map(
          definition.subcommands.map((sub) => [
            sub.name.slice(sub.name.indexOf('|') + 1),
            buildSpec(sub, kind),
          ]),
        );
  return Object.freeze({
    name: definition.name,
    kind,
    arity: definition.arity,
    flags: definition.flags,
    firstKey: definition.keys?.first ?? 0,
    lastKey: definition.keys?.last ?? 0,
    keyStep: definition.keys?.step ?? 0,
    aclCategories: definition.aclCategories,
    tips: definition.tips ?? [],
    keySpecs: definition.keySpecs ?? [],
    docs: definition.docs,
    subcommands,
  });
}

/** Every top-level command, in a stable order (Redis's own order is its hash table's). */
export const COMMAND_SPECS: readonly CommandSpec[] = COMMAND_DEFINITIONS.map((definition) =>
  buildSpec(definition, definition.kind ?? 'session'),
);

const SPECS_BY_NAME: ReadonlyMap<string, CommandSpec> = new Map(
  COMMAND_SPECS.map((spec) => [spec.name, spec]),
);

/** The top-level command named by `name` (any case). */
export function lookupCommand(name: Buffer | string): CommandSpec | undefined {
  return SPECS_BY_NAME.get(lowerCaseName(name));
}

export function lookupSubcommand(container: CommandSpec, name: Buffer | string): CommandSpec | undefined {
  return container.subcommands?.get(lowerCaseName(name));
}

export type CommandResolution = { readonly spec: CommandSpec } | { readonly error: Reply };

/**
 * Finds the command (or subcommand) a request names and checks its arity, in Redis's order, so
 * that the first failing check gives Redis's error. `args[0]` is the command name.
 */
export function resolveCommand(args: readonly Buffer[]): CommandResolution {
  const name = args[0];
  const command = name === undefined ? undefined : lookupCommand(name);
  if (command === undefined) return { error: unknownCommandError(args) };
  let spec = command;
  const subcommandName = args[1];
  if (command.subcommands !== null && subcommandName !== undefined) {
    const subcommand = lookupSubcommand(command, subcommandName);
    if (subcommand === undefined) return { error: unknownSubcommandError(args) };
    spec = subcommand;
  }
  if (!arityMatches(spec.arity, args.length)) return { error: arityError(spec.name) };
  return { spec };
}

export function arityMatches(arity: number, argumentCount: number): boolean {
  return arity >= 0 ? argumentCount === arity : argumentCount >= -arity;
}

/** The keys a request touches, as latin1 strings, from the command's legacy key range. */
export function keysOf(spec: CommandSpec, args: readonly Buffer[]): string[] {
  if (spec.firstKey <= 0 || spec.keyStep <= 0) return [];
  const last = spec.lastKey < 0 ? args.length + spec.lastKey : Math.min(spec.lastKey, args.length - 1);
  const keys: string[] = [];
  for (let index = spec.firstKey; index <= last; index += spec.keyStep) {
    const key = args[index];
    if (key !== undefined) keys.push(key.toString('latin1'));
  }
  return keys;
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

/**
 * The whole COMMAND command: `args` is the request, `args[0]` being COMMAND itself. Checks the
 * subcommand and its arity as Redis does, then answers with one of the replies below.
 */
export function commandReply(args: readonly Buffer[]): Reply {
  const resolution = resolveCommand(args);
  if ('error' in resolution) return resolution.error;
  switch (resolution.spec.name) {
    case 'command':
      return commandAllReply();
    case 'command|count':
      return commandCountReply();
    case 'command|info':
      return commandInfoReply(args.slice(2));
    case 'command|docs':
      return commandDocsReply(args.slice(2));
    case 'command|list':
      return commandListReply(args.slice(2));
    case 'command|help':
      return commandHelpReply();
    default:
      return unknownSubcommandError(args);
  }
}

/** COMMAND without a subcommand: every command's COMMAND INFO entry. */
export function commandAllReply(): Reply {
  return array(COMMAND_SPECS.map(commandInfoEntry));
}

export function commandCountReply(): Reply {
  return integer(COMMAND_SPECS.length);
}

/** COMMAND INFO name…: one entry per name (`client|setname` names a subcommand), null when unknown. */
export function commandInfoReply(names: readonly Buffer[]): Reply {
  if (names.length === 0) return commandAllReply();
  return array(
    names.map((name) => {
      const spec = lookupByFullName(name);
      return spec === undefined ? NULL : commandInfoEntry(spec);
    }),
  );
}

/** COMMAND DOCS [name…]: a map from full name to docs; unknown names are left out. */
export function commandDocsReply(names: readonly Buffer[]): Reply {
  const specs =
    names.length === 0
      ? COMMAND_SPECS
      : names.map(lookupByFullName).filter((spec): spec is CommandSpec => spec !== undefined);
  return { kind: 'map', entries: specs.map((spec) => [bulk(spec.name), commandDocsEntry(spec)]) };
}

/**
 * COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: `options` are the
 * arguments after LIST. Subcommands follow their container, as in Redis.
 */
export function commandListReply(options: readonly Buffer[]): Reply {
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
  for (const spec of COMMAND_SPECS) visit(spec);
  return array(names);
}

export function commandHelpReply(): Reply {
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
    'HELP',
    '    Prints this help.',
  ];
  return array(lines.map(simple));
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
    { kind: 'set', items: spec.keySpecs.map((keySpec) => keySpecEntry(spec, keySpec)) },
    // Redis answers an empty set for a command without subcommands, an array otherwise.
    subcommands === null ? { kind: 'set', items: [] } : array(subcommands.map(commandInfoEntry)),
  ]);
}

/** Every key spec here starts at an index and covers a range, both derived from the legacy range. */
function keySpecEntry(spec: CommandSpec, keySpec: KeySpec): Reply {
  const relativeLastKey = spec.lastKey >= 0 ? spec.lastKey - spec.firstKey : spec.lastKey;
  return map([
    ...(keySpec.notes === undefined ? [] : [['notes', bulk(keySpec.notes)] as const]),
    ['flags', { kind: 'set', items: keySpec.flags.map(simple) }],
    [
      'begin_search',
      map([
        ['type', bulk('index')],
        ['spec', map([['index', integer(spec.firstKey)]])],
      ]),
    ],
    [
      'find_keys',
      map([
        ['type', bulk('range')],
        [
          'spec',
          map([
            ['lastkey', integer(relativeLastKey)],
            ['keystep', integer(spec.keyStep)],
            ['limit', integer(0)],
          ]),
        ],
      ]),
    ],
  ]);
}

function commandDocsEntry(spec: CommandSpec): Reply {
  const { docs } = spec;
  const fields: [string, Reply][] = [
    ['summary', bulk(docs.summary)],
    ['since', bulk(docs.since)],
    ['group', bulk(docs.group)],
  ];
  if (docs.complexity !== undefined) fields.push(['complexity', bulk(docs.complexity)]);
  if (docs.deprecatedSince !== undefined) {
    fields.push(['doc_flags', { kind: 'set', items: [simple('deprecated')] }]);
    fields.push(['deprecated_since', bulk(docs.deprecatedSince)]);
  }
  if (docs.replacedBy !== undefined) fields.push(['replaced_by', bulk(docs.replacedBy)]);
  if (spec.subcommands !== null) {
    const subcommands = [...spec.subcommands.values()];
    fields.push([
      'subcommands',
      { kind: 'map', entries: subcommands.map((sub) => [bulk(sub.name), commandDocsEntry(sub)]) },
    ]);
  }
  return map(fields);
}

function map(fields: readonly (readonly [string, Reply])[]): Reply {
  return { kind: 'map', entries: fields.map(([name, value]) => [bulk(name), value]) };
}

/** As Redis's lookupCommandBySds: `name` or `container|subcommand`, any case. */
function lookupByFullName(fullName: Buffer): CommandSpec | undefined {
  const parts = fullName.toString('latin1').split('|');
  const [containerName, subcommandName] = parts;
  if (parts.length > 2 || containerName === undefined) return undefined;
  const container = lookupCommand(containerName);
  if (subcommandName === undefined) return container;
  return container === undefined ? undefined : lookupSubcommand(container, subcommandName);
}

function lowerCaseName(name: Buffer | string): string {
  return (typeof name === 'string' ? name : name.toString('latin1')).toLowerCase();
}

/** The bytes before the first NUL (where C stops reading), at most `maxBytes` of them. */
function cString(bytes: Buffer, maxBytes = Number.POSITIVE_INFINITY): string {
  const nul = bytes.indexOf(0);
  const end = Math.min(nul < 0 ? bytes.length : nul, maxBytes);
  return bytes.toString('latin1', 0, end);
}

/** C's toupper in the C locale, which leaves bytes above 0x7f alone. */
function asciiUpperCase(text: string): string {
  return text.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}

/** Redis replaces CR and LF in an error with spaces so that the reply stays one line. */
function withoutLineBreaks(message: string): string {
  return message.replace(/[\r\n]/g, ' ');
}
