// CONFIG GET / CONFIG SET over the parameters clients and tools read (ARCHITECTURE.md, "CONFIG
// parameters"). Values live in this node process: another writer of the same cluster has its own.
// Parsing, bounds and error texts follow Redis 7 (config.c), so that a client sees the same
// replies; most parameters are kept only to be read back, since the storage does not use
// Redis's encodings or persistence.
import { globMatch } from '../commands/glob.js';

type ParameterKind =
  | { type: 'integer'; min: bigint; max: bigint }
  /** A size in bytes with an optional unit (`100mb`), as Redis's memtoull reads it. */
  | { type: 'memory'; min: bigint; max: bigint }
  | { type: 'bool' }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'save' }
  | { type: 'keyspace-events' }
  /** Read-only here: CONFIG SET refuses it as Redis refuses an immutable parameter. */
  | { type: 'immutable' };

interface ParameterDefinition {
  readonly name: string;
  readonly alias?: string;
  readonly kind: ParameterKind;
  readonly defaultValue: string;
}

const INT_MIN = -(2n ** 31n);
const INT_MAX = 2n ** 31n - 1n;
const LONG_MAX = 2n ** 63n - 1n;
const ULONG_LONG_MAX = 2n ** 64n - 1n;

const int = (min: bigint, max: bigint): ParameterKind => ({ type: 'integer', min, max });
const memory = (min: bigint, max: bigint): ParameterKind => ({ type: 'memory', min, max });

/** In the order CONFIG GET answers (Redis's own order is its dict's). */
const PARAMETERS: readonly ParameterDefinition[] = [
  { name: 'maxmemory', kind: memory(0n, ULONG_LONG_MAX), defaultValue: '0' },
  {
    name: 'maxmemory-policy',
    kind: {
      type: 'enum',
      values: [
        'volatile-lru',
        'volatile-lfu',
        'volatile-random',
        'volatile-ttl',
        'allkeys-lru',
        'allkeys-lfu',
        'allkeys-random',
        'noeviction',
      ],
    },
    defaultValue: 'noeviction',
  },
  { name: 'maxmemory-samples', kind: int(1n, 64n), defaultValue: '5' },
  { name: 'timeout', kind: int(0n, INT_MAX), defaultValue: '0' },
  { name: 'databases', kind: { type: 'immutable' }, defaultValue: '1' },
  { name: 'maxclients', kind: { type: 'immutable' }, defaultValue: '0' },
  { name: 'save', kind: { type: 'save' }, defaultValue: '' },
  { name: 'appendonly', kind: { type: 'bool' }, defaultValue: 'no' },
  {
    name: 'appendfsync',
    kind: { type: 'enum', values: ['everysec', 'always', 'no'] },
    defaultValue: 'everysec',
  },
  { name: 'notify-keyspace-events', kind: { type: 'keyspace-events' }, defaultValue: '' },
  {
    name: 'hash-max-listpack-entries',
    alias: 'hash-max-ziplist-entries',
    kind: int(0n, LONG_MAX),
    defaultValue: '512',
  },
  {
    name: 'hash-max-listpack-value',
    alias: 'hash-max-ziplist-value',
    kind: memory(0n, LONG_MAX),
    defaultValue: '64',
  },
  {
    name: 'list-max-listpack-size',
    alias: 'list-max-ziplist-size',
    kind: int(INT_MIN, INT_MAX),
    defaultValue: '-2',
  },
  { name: 'list-compress-depth', kind: int(0n, INT_MAX), defaultValue: '0' },
  { name: 'set-max-intset-entries', kind: int(0n, LONG_MAX), defaultValue: '512' },
  { name: 'set-max-listpack-entries', kind: int(0n, LONG_MAX), defaultValue: '128' },
  { name: 'set-max-listpack-value', kind: memory(0n, LONG_MAX), defaultValue: '64' },
  {
    name: 'zset-max-listpack-entries',
    alias: 'zset-max-ziplist-entries',
    kind: int(0n, LONG_MAX),
    defaultValue: '128',
  },
  {
    name: 'zset-max-listpack-value',
    alias: 'zset-max-ziplist-value',
    kind: memory(0n, LONG_MAX),
    defaultValue: '64',
  },
  { name: 'slowlog-log-slower-than', kind: int(-1n, LONG_MAX), defaultValue: '10000' },
  { name: 'slowlog-max-len', kind: int(0n, LONG_MAX), defaultValue: '128' },
  { name: 'busy-reply-threshold', alias: 'lua-time-limit', kind: int(0n, LONG_MAX), defaultValue: '5000' },
];

const BY_NAME: ReadonlyMap<string, ParameterDefinition> = new Map(
  PARAMETERS.flatMap((parameter) =>
    parameter.alias === undefined
      ? [[parameter.name, parameter]]
      : [
          [parameter.name, parameter],
          [parameter.alias, parameter],
        ],
  ),
);

/** Keyspace event classes in the order Redis prints them; `A` stands for all of ALL_CLASSES. */
const ALL_CLASSES = 'g$lshzxetd';
const EVENT_CHARACTERS = 'Ag$lshzxeKEtmdn';

export type ConfigSetResult = { ok: true } | { ok: false; error: string };

/** Values that the node, not CONFIG SET, decides (maxclients follows the writer's size). */
export interface ConfigOverrides {
  maxclients(): number;
}

export class ServerConfig {
  private readonly values = new Map<string, string>(
    PARAMETERS.map((parameter) => [parameter.name, parameter.defaultValue]),
  );

  constructor(private readonly overrides: ConfigOverrides | null = null) {}

  /** The value of a parameter by its canonical name or alias. */
  get(name: string): string | undefined {
    const parameter = BY_NAME.get(name.toLowerCase());
    return parameter === undefined ? undefined : this.valueOf(parameter);
  }

  /** Idle seconds after which a connection is closed; 0 never. */
  get timeoutSeconds(): number {
    return Number(this.get('timeout') ?? 0);
  }

  /**
   * CONFIG GET pattern…: name/value pairs. As Redis: an argument without glob characters is
   * answered under the name as given (any case), a pattern under the matching canonical names
   * and aliases; each name once.
   */
  getMatching(patterns: readonly string[]): [string, string][] {
    const found = new Map<string, string>();
    for (const pattern of patterns) {
      if (!/[*?[]/.test(pattern)) {
        const parameter = BY_NAME.get(pattern.toLowerCase());
        if (parameter !== undefined) found.set(pattern, this.valueOf(parameter));
        continue;
      }
      for (const parameter of PARAMETERS) {
        for (const name of parameter.alias === undefined
          ? [parameter.name]
          : [parameter.name, parameter.alias]) {
          if (globMatch(pattern, name, { ignoreCase: true })) found.set(name, this.valueOf(parameter));
        }
      }
    }
    return [...found];
  }

  /** CONFIG SET name value [name value …]: all applied, or none (the first problem is reported). */
  set(pairs: readonly [string, string][]): ConfigSetResult {
    const parsed = new Map<ParameterDefinition, string>();
    for (const [name, value] of pairs) {
      const parameter = BY_NAME.get(name.toLowerCase());
      if (parameter === undefined) {
        return { ok: false, error: `ERR Unknown option or number of arguments for CONFIG SET - '${name}'` };
      }
      const failed = (reason: string): ConfigSetResult => ({
        ok: false,
        error: `ERR CONFIG SET failed (possibly related to argument '${name}') - ${reason}`,
      });
      if (parsed.has(parameter)) return failed('duplicate parameter');
      const normalized = normalize(parameter.kind, value);
      if (typeof normalized !== 'string') return failed(normalized.reason);
      parsed.set(parameter, normalized);
    }
    for (const [parameter, value] of parsed) this.values.set(parameter.name, value);
    return { ok: true };
  }

  private valueOf(parameter: ParameterDefinition): string {
    if (parameter.name === 'maxclients' && this.overrides !== null)
      return String(this.overrides.maxclients());
    return this.values.get(parameter.name) ?? parameter.defaultValue;
  }
}

/** The value as CONFIG GET will print it, or why it is refused (Redis's words). */
export function normalize(kind: ParameterKind, value: string): string | { reason: string } {
  switch (kind.type) {
    case 'immutable':
      return { reason: "can't set immutable config" };
    case 'bool': {
      const lower = value.toLowerCase();
      return lower === 'yes' || lower === 'no' ? lower : { reason: "argument must be 'yes' or 'no'" };
    }
    case 'enum': {
      const lower = value.toLowerCase();
      return kind.values.includes(lower)
        ? lower
        : { reason: `argument(s) must be one of the following: ${kind.values.join(', ')}` };
    }
    case 'integer': {
      const number = parseLongLong(value);
      if (number === null) return { reason: "argument couldn't be parsed into an integer" };
      return withinBounds(number, kind.min, kind.max);
    }
    case 'memory': {
      const bytes = parseMemory(value);
      if (bytes === null) return { reason: 'argument must be a memory value' };
      return withinBounds(bytes, kind.min, kind.max);
    }
    case 'save':
      return parseSave(value);
    case 'keyspace-events':
      return parseKeyspaceEvents(value);
  }
}

function withinBounds(number: bigint, min: bigint, max: bigint): string | { reason: string } {
  if (number < min || number > max) return { reason: `argument must be between ${min} and ${max} inclusive` };
  return String(number);
}

/** Redis's string2ll: an optional '-', digits without a leading zero, within 64 bits. */
export function parseLongLong(text: string): bigint | null {
  if (!/^(0|-?[1-9]\d*)$/.test(text) || text.length > 20) return null;
  const number = BigInt(text);
  return number < -(2n ** 63n) || number > LONG_MAX ? null : number;
}

const MEMORY_UNITS: Readonly<Record<string, bigint>> = {
  '': 1n,
  b: 1n,
  k: 1000n,
  kb: 1024n,
  m: 1000n * 1000n,
  mb: 1024n * 1024n,
  g: 1000n * 1000n * 1000n,
  gb: 1024n * 1024n * 1024n,
};

/** Redis's memtoull: digits then an optional unit (b, k, kb, m, mb, g, gb; any case). */
export function parseMemory(text: string): bigint | null {
  const match = /^(\d*)([a-zA-Z]*)$/.exec(text);
  if (match === null) return null;
  const digits = match[1] as string;
  const unit = MEMORY_UNITS[(match[2] as string).toLowerCase()];
  if (unit === undefined) return null;
  // strtoull saturates at its maximum rather than failing, and memtoull takes what it gives.
  const number = digits.length > 21 ? ULONG_LONG_MAX : BigInt(digits === '' ? '0' : digits);
  const bytes = (number > ULONG_LONG_MAX ? ULONG_LONG_MAX : number) * unit;
  return bytes > ULONG_LONG_MAX ? ULONG_LONG_MAX : bytes;
}

/** `save`: empty, or pairs of non-negative "seconds changes" separated by single spaces. */
function parseSave(value: string): string | { reason: string } {
  if (value === '') return '';
  const parts = value.split(' ');
  if (parts.length % 2 !== 0 || !parts.every((part) => /^\d{1,18}$/.test(part))) {
    return { reason: 'Invalid save parameters' };
  }
  return parts.map((part) => String(BigInt(part))).join(' ');
}

/** notify-keyspace-events: classes as Redis's keyspaceEventsFlagsToString prints them. */
function parseKeyspaceEvents(value: string): string | { reason: string } {
  const classes = new Set<string>();
  for (const character of value) {
    if (!EVENT_CHARACTERS.includes(character)) {
      return { reason: `Invalid event class character. Use '${EVENT_CHARACTERS}'.` };
    }
    if (character === 'A') for (const each of ALL_CLASSES) classes.add(each);
    else classes.add(character);
  }
  let text = '';
  if ([...ALL_CLASSES].every((each) => classes.has(each))) text = 'A';
  // As Redis: `n` (new key) is not part of `A`, and is not printed next to it.
  else for (const each of `${ALL_CLASSES}n`) if (classes.has(each)) text += each;
  for (const each of 'KEm') if (classes.has(each)) text += each;
  return text;
}
