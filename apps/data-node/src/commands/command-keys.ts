// Which arguments of a request are keys, found as Redis 7.0 finds them (db.c): from the command's
// key specs (where the search begins: an index or a keyword; how keys follow: a range or a count
// argument), falling back, as Redis does, to a command's own rule where its specs cannot say.
// The same answer serves the transaction engine (the keys a command works on) and COMMAND
// GETKEYS / GETKEYSANDFLAGS.

export type BeginSearch =
  | { readonly type: 'index'; readonly spec: { readonly index: number } }
  | { readonly type: 'keyword'; readonly spec: { readonly keyword: string; readonly startfrom: number } }
  | { readonly type: 'unknown'; readonly spec: Readonly<Record<string, never>> };

export type FindKeys =
  | {
      readonly type: 'range';
      readonly spec: { readonly lastkey: number; readonly keystep: number; readonly limit: number };
    }
  | {
      readonly type: 'keynum';
      readonly spec: { readonly keynumidx: number; readonly firstkey: number; readonly keystep: number };
    }
  | { readonly type: 'unknown'; readonly spec: Readonly<Record<string, never>> };

/** One key spec, with the field names and order of COMMAND INFO. */
export interface KeySpec {
  readonly notes?: string;
  /** Key access flags as COMMAND INFO names them: RO, RW, OW, RM, access, update, insert, delete… */
  readonly flags: readonly string[];
  readonly begin_search: BeginSearch;
  readonly find_keys: FindKeys;
}

/** What key finding needs of a command. */
export interface KeyedCommand {
  /** The full lowercase name: `get`, `memory|usage`. */
  readonly name: string;
  readonly arity: number;
  readonly keySpecs: readonly KeySpec[];
}

export interface KeyReference {
  /** The argument's index in the request (0 is the command name). */
  readonly position: number;
  readonly flags: readonly string[];
}

/** The keys a request touches, as latin1 strings (Redis's COMMAND GETKEYS, without its errors). */
export function keysOf(command: KeyedCommand, args: readonly Buffer[]): string[] {
  const fixed = fixedKeyPositions(command);
  if (fixed !== null) {
    // Nearly every command: positions worked out once for the command (fixedKeyPositions).
    const { first, lastkey, step } = fixed;
    const last = lastkey >= 0 ? first + lastkey : args.length + lastkey;
    const keys: string[] = [];
    if (last >= args.length || last < first || first >= args.length) return keys;
    for (let position = first; position <= last; position += step) {
      keys.push((args[position] as Buffer).toString('latin1'));
    }
    return keys;
  }
  return (keyReferences(command, args) ?? []).map(({ position }) =>
    (args[position] as Buffer).toString('latin1'),
  );
}

/** Keys from argument `first` to `lastkey` past it (counted from the end when negative), every `step`th. */
interface FixedKeyPositions {
  first: number;
  lastkey: number;
  step: number;
}

const fixedPositions = new WeakMap<KeyedCommand, FixedKeyPositions | null>();

/**
 * The key positions of a command whose keys one spec finds from a fixed index over a range with
 * no limit (GET, SET, MGET, DEL, HSET…, nearly every request), as `keysFromSpecs` would find them
 * for any arguments; null for the others, which take the general way. Worked out once per command:
 * walking the specs for each request was a few percent of a data node's CPU under GETs. SET and
 * BITFIELD's own rules decide their keys' flags only, not where the keys are.
 */
function fixedKeyPositions(command: KeyedCommand): FixedKeyPositions | null {
  let fixed = fixedPositions.get(command);
  if (fixed === undefined) {
    fixed = findFixedKeyPositions(command);
    fixedPositions.set(command, fixed);
  }
  return fixed;
}

/** Own rules that give the keys their specs give, with flags that depend on the arguments. */
const FLAGS_ONLY_RULES: ReadonlySet<string> = new Set(['set', 'bitfield']);

function findFixedKeyPositions(command: KeyedCommand): FixedKeyPositions | null {
  if (OWN_RULES.has(command.name) && !FLAGS_ONLY_RULES.has(command.name)) return null;
  const specs = command.keySpecs.filter((spec) => !spec.flags.includes('not_key'));
  const [spec] = specs;
  if (specs.length !== 1 || spec === undefined || spec.flags.includes('incomplete')) return null;
  const { begin_search: begin, find_keys: find } = spec;
  if (begin.type !== 'index' || find.type !== 'range' || begin.spec.index <= 0) return null;
  const { lastkey, keystep, limit } = find.spec;
  if ((lastkey < 0 && limit !== 0) || keystep <= 0) return null;
  return { first: begin.spec.index, lastkey, step: keystep };
}

/**
 * The request's keys with their flags, in Redis's order; null where Redis finds none because the
 * arguments do not fit the specs (a count of 0, beyond the arguments, or no number): either the
 * request names no key (EVAL with 0 keys) or the command itself will answer an error.
 */
export function keyReferences(command: KeyedCommand, args: readonly Buffer[]): KeyReference[] | null {
  const ownRule = OWN_RULES.get(command.name);
  // Redis trusts a command's own rule over specs whose flags depend on the arguments (SET's GET).
  if (ownRule !== undefined && hasVariableFlags(command)) return ownRule(args);
  const fromSpecs = keysFromSpecs(command, args);
  if (fromSpecs !== null || ownRule === undefined) return fromSpecs;
  return ownRule(args);
}

/** Whether COMMAND GETKEYS accepts the command at all (Redis's doesCommandHaveKeys). */
export function commandHasKeys(command: KeyedCommand): boolean {
  return OWN_RULES.has(command.name) || command.keySpecs.some((spec) => !spec.flags.includes('not_key'));
}

function hasVariableFlags(command: KeyedCommand): boolean {
  return command.keySpecs.some((spec) => spec.flags.includes('variable_flags'));
}

/** Redis's getKeysUsingKeySpecs: null when a spec is unknown, incomplete or does not fit. */
function keysFromSpecs(command: KeyedCommand, args: readonly Buffer[]): KeyReference[] | null {
  const found: KeyReference[] = [];
  for (const spec of command.keySpecs) {
    if (spec.flags.includes('not_key')) continue;
    const first = beginSearch(spec.begin_search, args);
    if (first === null) return null;
    if (first === 0) continue; // the keyword is absent: this spec has no keys in the request
    const range = findKeys(spec.find_keys, first, args);
    if (range === null) return null;
    const { start, last, step } = range;
    if (last >= args.length || last < start || start >= args.length || step <= 0) return null;
    for (let position = start; position <= last; position += step)
      found.push({ position, flags: spec.flags });
    if (spec.flags.includes('incomplete')) return null;
  }
  return found;
}

/** The index where the keys start; 0 when a keyword is absent; null for an unknown search. */
function beginSearch(search: BeginSearch, args: readonly Buffer[]): number | null {
  switch (search.type) {
    case 'index':
      return search.spec.index;
    case 'keyword': {
      // From `startfrom` towards the end (or, when negative, from the end towards the start);
      // the last argument (or the first) is never taken as the keyword: no key could follow it.
      const { keyword, startfrom } = search.spec;
      const start = startfrom > 0 ? startfrom : args.length + startfrom;
      const end = startfrom > 0 ? args.length - 1 : 1;
      const direction = start <= end ? 1 : -1;
      for (let index = start; index !== end; index += direction) {
        if (index >= args.length || index < 1) break;
        if (cStringEqualsIgnoringCase(args[index] as Buffer, keyword)) return index + 1;
      }
      return 0;
    }
    default:
      return null;
  }
}

function findKeys(
  find: FindKeys,
  first: number,
  args: readonly Buffer[],
): { start: number; last: number; step: number } | null {
  switch (find.type) {
    case 'range': {
      const { lastkey, keystep, limit } = find.spec;
      if (lastkey >= 0) return { start: first, last: first + lastkey, step: keystep };
      if (limit === 0) return { start: first, last: args.length + lastkey, step: keystep };
      // A limit divides what follows: XREAD STREAMS k1 k2 id1 id2 names half of it.
      return {
        start: first,
        last: first + (Math.trunc((args.length - first) / limit) + lastkey),
        step: keystep,
      };
    }
    case 'keynum': {
      const { keynumidx, firstkey, keystep } = find.spec;
      const countArgument = args[first + keynumidx];
      if (countArgument === undefined) return null;
      const count = parseStrictInteger(countArgument);
      if (count === null || count < 0n) return null;
      const start = first + firstkey;
      // Redis adds the count as a C int: a count beyond 2^31 wraps.
      return { start, last: start + Number(BigInt.asIntN(32, count)) - 1, step: keystep };
    }
    default:
      return null;
  }
}

type OwnRule = (args: readonly Buffer[]) => KeyReference[] | null;

/**
 * Commands whose specs Redis does not use alone: a count given as `numkeys` (read with C's atoi
 * where the spec's strict parse failed), and SET and BITFIELD, whose key flags depend on the
 * arguments. The rules of commands the node does not serve and has no plan to (SORT's BY/GET
 * patterns, MIGRATE's KEYS, XREAD's fallback search for STREAMS) are left out: for those, only
 * COMMAND GETKEYS on an odd request could tell the difference, and it answers "Invalid command"
 * for a command that is not served anyway.
 */
const OWN_RULES: ReadonlyMap<string, OwnRule> = new Map<string, OwnRule>([
  ['zunion', countedKeys(0, 1, 2)],
  ['zinter', countedKeys(0, 1, 2)],
  ['zdiff', countedKeys(0, 1, 2)],
  ['zunionstore', countedKeys(1, 2, 3)],
  ['zinterstore', countedKeys(1, 2, 3)],
  ['zdiffstore', countedKeys(1, 2, 3)],
  ['zintercard', countedKeys(0, 1, 2)],
  ['sintercard', countedKeys(0, 1, 2)],
  ['lmpop', countedKeys(0, 1, 2)],
  ['zmpop', countedKeys(0, 1, 2)],
  ['blmpop', countedKeys(0, 2, 3)],
  ['bzmpop', countedKeys(0, 2, 3)],
  ['eval', countedKeys(0, 2, 3)],
  ['eval_ro', countedKeys(0, 2, 3)],
  ['evalsha', countedKeys(0, 2, 3)],
  ['evalsha_ro', countedKeys(0, 2, 3)],
  ['fcall', countedKeys(0, 2, 3)],
  ['fcall_ro', countedKeys(0, 2, 3)],
  ['set', setKeys],
  ['bitfield', bitfieldKeys],
]);

/** Redis's genericGetKeys: `count` keys from `firstIndex`, then the destination, if any. */
function countedKeys(destinationIndex: number, countIndex: number, firstIndex: number): OwnRule {
  return (args) => {
    const count = atoi(args[countIndex] ?? Buffer.alloc(0));
    if (count < 1 || count > args.length - firstIndex) return null;
    const found: KeyReference[] = [];
    for (let index = 0; index < count; index++) found.push({ position: firstIndex + index, flags: [] });
    if (destinationIndex > 0) found.push({ position: destinationIndex, flags: [] });
    return found;
  };
}

function setKeys(args: readonly Buffer[]): KeyReference[] {
  const withGet = args.slice(3).some((arg) => cStringEqualsIgnoringCase(arg, 'get'));
  return [{ position: 1, flags: withGet ? ['RW', 'access', 'update'] : ['OW', 'update'] }];
}

/** Read-only when every operation is a complete GET (or OVERFLOW); anything else may write. */
function bitfieldKeys(args: readonly Buffer[]): KeyReference[] {
  let readOnly = true;
  for (let index = 2; index < args.length; index++) {
    const remaining = args.length - index - 1;
    const operation = args[index] as Buffer;
    if (cStringEqualsIgnoringCase(operation, 'get') && remaining >= 2) {
      index += 2;
    } else if (cStringEqualsIgnoringCase(operation, 'overflow') && remaining >= 1) {
      index += 1;
    } else {
      readOnly = false;
      break;
    }
  }
  return [{ position: 1, flags: readOnly ? ['RO', 'access'] : ['RW', 'access', 'update'] }];
}

/** C's strcasecmp on a NUL-terminated argument: the bytes before the first NUL must match. */
function cStringEqualsIgnoringCase(arg: Buffer, word: string): boolean {
  const nul = arg.indexOf(0);
  const text = arg.toString('latin1', 0, nul < 0 ? arg.length : nul);
  return text.length === word.length && text.toLowerCase() === word.toLowerCase();
}

/** Redis's string2ll: an optional minus, no leading zeros or spaces, within 64 bits. */
function parseStrictInteger(arg: Buffer): bigint | null {
  const text = arg.toString('latin1');
  if (!/^(0|-?[1-9][0-9]{0,19})$/.test(text)) return null;
  const value = BigInt(text);
  return value >= INT64_MIN && value <= INT64_MAX ? value : null;
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** C's atoi: leading spaces, a sign and the digits that follow; anything else reads as 0. */
function atoi(arg: Buffer): number {
  const match = /^[ \t\n\v\f\r]*([+-]?[0-9]+)/.exec(arg.toString('latin1'));
  if (match === null) return 0;
  // glibc's atoi is (int) strtol: saturated at 64 bits, then cut to the low 32.
  const parsed = BigInt(match[1] as string);
  const saturated = parsed > INT64_MAX ? INT64_MAX : parsed < INT64_MIN ? INT64_MIN : parsed;
  return Number(BigInt.asIntN(32, saturated));
}
