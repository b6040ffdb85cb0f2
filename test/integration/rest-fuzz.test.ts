// Seeded fuzzing of the cluster write routes: 1,000 random and malformed requests to
// POST /v1/clusters and PATCH /v1/clusters/:id, sent as raw bytes over real HTTP; then 500
// random query strings and ids for the read routes of a cluster's autoscaling (events,
// autoscaling, metrics).
// The API must never answer 5xx, every error must have the API's error shape, every
// accepted create must be a real cluster, and the server must stay healthy afterwards.
// The suite runs a fixed seed so that CI is repeatable; `FUZZ_SEED=random npm test -- rest-fuzz`
// explores new ones. A failure prints its seed: `FUZZ_SEED=<seed> npm test -- rest-fuzz` replays it.

import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { clusterStates } from '../../apps/control-plane/src/clusters/cluster-state.js';
import { startIsolatedControlPlane } from '../support/control-plane.js';
import { mulberry32 } from '../support/prng.js';

type Running = Awaited<ReturnType<typeof startIsolatedControlPlane>>;

const REQUESTS = 1_000;
const READ_REQUESTS = 500;
const CONCURRENCY = 8;
const REQUEST_TIMEOUT_MS = 15_000;
const BODY_LIMIT_BYTES = 64 * 1024;
const MAX_EXAMPLES = 10;

const defaultSeed = 20_261_122;

function seedFromEnvironment(): number {
  const raw = process.env.FUZZ_SEED?.trim();
  if (!raw) return defaultSeed;
  if (raw === 'random') return randomInt(0, 2 ** 32);
  if (!/^\d{1,10}$/.test(raw) || Number(raw) >= 2 ** 32) {
    throw new Error(
      `FUZZ_SEED=${JSON.stringify(raw)} is invalid: use a whole number from 0 to 4294967295, or random`,
    );
  }
  return Number(raw);
}

const seed = seedFromEnvironment();

// --- seeded randomness -----------------------------------------------------------------

class Random {
  private readonly next: () => number;

  constructor(seedValue: number) {
    this.next = mulberry32(seedValue);
  }

  float(): number {
    return this.next();
  }

  /** A whole number from min to max, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T;
  }

  /** Picks by weight: [[weight, value], ...]. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((sum, [weight]) => sum + weight, 0);
    let roll = this.next() * total;
    for (const [weight, value] of choices) {
      roll -= weight;
      if (roll < 0) return value;
    }
    return (choices.at(-1) as readonly [number, T])[1];
  }
}

// --- a JSON model that can also express what JSON.stringify cannot ---------------------

/** A number written exactly as given: -0, 1e400, 0.50000000000000001, ... */
class RawNumber {
  constructor(readonly literal: string) {}
}

/** An object as an ordered list of entries: keys may repeat, and may be __proto__. */
class JsonObject {
  constructor(readonly entries: [string, Json][]) {}

  get(key: string): Json | undefined {
    return this.entries.findLast(([name]) => name === key)?.[1];
  }

  set(key: string, value: Json): void {
    const existing = this.entries.find(([name]) => name === key);
    if (existing) existing[1] = value;
    else this.entries.push([key, value]);
  }

  remove(key: string): void {
    const index = this.entries.findIndex(([name]) => name === key);
    if (index >= 0) this.entries.splice(index, 1);
  }

  keys(): string[] {
    return this.entries.map(([name]) => name);
  }
}

type Json = null | boolean | number | string | RawNumber | Json[] | JsonObject;

function encode(value: Json): string {
  if (value instanceof RawNumber) return value.literal;
  if (value instanceof JsonObject) {
    return `{${value.entries.map(([key, item]) => `${JSON.stringify(key)}:${encode(item)}`).join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map(encode).join(',')}]`;
  if (typeof value === 'number') {
    if (Object.is(value, -0)) return '-0';
    if (!Number.isFinite(value)) throw new Error(`cannot encode ${value}: use a RawNumber`);
  }
  return JSON.stringify(value);
}

const specialNumbers: readonly Json[] = [
  0,
  -0,
  1,
  -1,
  0.5,
  -0.5,
  0.1,
  0.25,
  0.3,
  1.25,
  1.3333333333333333,
  Math.PI,
  0.1 + 0.2,
  2.5000000000000004,
  255.9,
  256,
  256.5,
  257,
  8,
  8.5,
  16,
  17,
  86_400,
  86_401,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 32,
  2 ** 53,
  Number.MAX_SAFE_INTEGER + 2,
  -Number.MAX_SAFE_INTEGER,
  1e308,
  -1e308,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  1e-300,
  new RawNumber('-0'),
  new RawNumber('-0.0'),
  new RawNumber('0e0'),
  new RawNumber('1e400'),
  new RawNumber('-1e400'),
  new RawNumber('1e-400'),
  new RawNumber('4.9e-324'),
  new RawNumber('0.50000000000000001'),
  new RawNumber('5E-1'),
  new RawNumber('4.0'),
  new RawNumber('1000000000000000000000000000000000000001'),
  new RawNumber(`1${'0'.repeat(400)}`),
  new RawNumber(`0.${'0'.repeat(400)}1`),
];

const unicodeSamples = [
  'é',
  'ß',
  'İ',
  'ﬀ',
  'Ω',
  '中文',
  '日本語',
  '🙂',
  '👩‍👩‍👧',
  '\u0000',
  '\u0007',
  '\u001f',
  '\u007f',
  '\u00a0',
  '\u200b',
  '\u200d',
  '\u2028',
  '\u2029',
  '\ufeff',
  '\ufffd',
  '\ud800',
  '\udfff',
  '\u202e',
  'а', // Cyrillic a, looks like Latin a
  '\n',
  '\r\n',
  '\t',
  '"',
  '\\',
  '/',
  '\'; DROP TABLE "Cluster"; --',
  '\u0024{jndi:ldap://x}', // a log4shell-style lookup
  '%00',
  '%s%s%n',
  '{{7*7}}',
  '<script>',
];

function randomAsciiString(r: Random, length: number): string {
  let text = '';
  for (let i = 0; i < length; i += 1) text += String.fromCharCode(r.int(0x20, 0x7e));
  return text;
}

function randomString(r: Random): string {
  return r.weighted<() => string>([
    [2, () => ''],
    [4, () => randomAsciiString(r, r.int(1, 20))],
    [3, () => Array.from({ length: r.int(1, 8) }, () => r.pick(unicodeSamples)).join('')],
    [
      1,
      () =>
        r.pick([
          'serverless',
          'provisioned',
          'instance',
          'cluster',
          'null',
          'true',
          '0',
          '-0',
          '1e308',
          'NaN',
        ]),
    ],
    [1, () => 'x'.repeat(r.int(1_000, 10_000))],
    [1, () => r.pick(unicodeSamples).repeat(r.int(1_000, 8_000))],
    [0.5, () => 'a'.repeat(r.int(62, 66))],
  ])();
}

function randomNumber(r: Random): Json {
  return r.weighted<() => Json>([
    [4, () => r.pick(specialNumbers)],
    [2, () => r.int(-1_000_000, 1_000_000)],
    [2, () => (r.float() - 0.5) * 10 ** r.int(-10, 300)],
    [1, () => r.int(0, 512) / 2],
    [1, () => r.int(0, 1_000) / 8 + 0.0001],
  ])();
}

function randomKey(r: Random): string {
  return r.weighted<() => string>([
    [3, () => randomAsciiString(r, r.int(1, 12))],
    [2, () => r.pick(['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'])],
    [
      2,
      () =>
        r.pick(['minCU', 'min_cu', 'MinCu', 'maxcu', 'name ', ' mode', 'writers', 'id', 'state', 'endpoint']),
    ],
    [1, () => ''],
    [1, () => r.pick(unicodeSamples)],
    [0.5, () => 'k'.repeat(r.int(200, 5_000))],
  ])();
}

function randomJson(r: Random, depth = 0): Json {
  const leaf = depth >= 4 || r.chance(0.4 + depth * 0.15);
  if (leaf) {
    return r.weighted<() => Json>([
      [1, () => null],
      [1, () => r.chance(0.5)],
      [3, () => randomNumber(r)],
      [3, () => randomString(r)],
    ])();
  }
  if (r.chance(0.5)) return Array.from({ length: r.int(0, 6) }, () => randomJson(r, depth + 1));
  return new JsonObject(Array.from({ length: r.int(0, 6) }, () => [randomKey(r), randomJson(r, depth + 1)]));
}

// --- bodies shaped like real requests, then broken in one place ------------------------

const settingFields = [
  'minCu',
  'maxCu',
  'autoPauseSeconds',
  'cuPerWriterMax',
  'scaleDownWindowSeconds',
  'writerCount',
  'cuPerWriter',
  'readConsistency',
] as const;
const createFields = ['name', 'mode', ...settingFields] as const;
const prototypeKeys = ['__proto__', 'constructor', 'prototype'] as const;

function halfSteps(r: Random, min: number, max: number): number {
  return r.int(min * 2, max * 2) / 2;
}

function validServerlessSettings(r: Random): JsonObject {
  const body = new JsonObject([]);
  const minCu = r.chance(0.5) ? 0 : halfSteps(r, 0, 8);
  if (r.chance(0.7)) body.set('minCu', minCu);
  if (r.chance(0.7)) body.set('maxCu', halfSteps(r, Math.max(minCu, 4), 32));
  if (minCu === 0 && r.chance(0.5)) body.set('autoPauseSeconds', r.int(1, 86_400));
  if (r.chance(0.3)) body.set('cuPerWriterMax', halfSteps(r, 0.5, 8));
  if (r.chance(0.3)) body.set('scaleDownWindowSeconds', r.int(1, 3_600));
  if (r.chance(0.4)) body.set('readConsistency', r.pick(['instance', 'cluster']));
  return body;
}

function validCreateBody(r: Random, name: string): JsonObject {
  if (r.chance(0.6)) {
    const body = validServerlessSettings(r);
    body.entries.unshift(['name', name], ['mode', 'serverless']);
    return body;
  }
  const body = new JsonObject([
    ['name', name],
    ['mode', 'provisioned'],
  ]);
  if (r.chance(0.7)) body.set('writerCount', r.int(1, 16));
  if (r.chance(0.7)) body.set('cuPerWriter', halfSteps(r, 0.5, 8));
  if (r.chance(0.4)) body.set('readConsistency', r.pick(['instance', 'cluster']));
  return body;
}

function validUpdateBody(r: Random): JsonObject {
  const body = validServerlessSettings(r);
  if (body.entries.length === 0) body.set('readConsistency', r.pick(['instance', 'cluster']));
  return body;
}

function wrongType(r: Random, current: Json | undefined): Json {
  const options: (() => Json)[] = [
    () => String(typeof current === 'number' ? current : r.int(0, 10)),
    () => r.chance(0.5),
    () => [],
    () => [current ?? 1],
    () => new JsonObject([]),
    () => new JsonObject([['value', current ?? 1]]),
    () => '',
    () => r.int(0, 10),
    () => randomJson(r, 2),
  ];
  return r.pick(options)();
}

function outOfRange(r: Random, field: string): Json {
  switch (field) {
    case 'name':
      return r.pick([
        '',
        '-',
        'a'.repeat(64),
        'a'.repeat(r.int(65, 5_000)),
        '-orders',
        'orders-',
        'Orders',
        'ORDERS',
        'orders_db',
        'orders.db',
        'orders db',
        'orders\n',
        '\norders',
        'orders\u0000',
        'оrders', // Cyrillic o
        'ördérs',
        '🙂',
        '0',
        '00000000-0000-0000-0000-000000000000',
      ]);
    case 'mode':
      return r.pick([
        '',
        'Serverless',
        'SERVERLESS',
        ' serverless',
        'serverless ',
        'serverless\u0000',
        'turbo',
        'provisioned\n',
      ]);
    case 'readConsistency':
      return r.pick(['', 'Instance', 'CLUSTER', 'eventual', 'strong', 'cluster ', 'instance\u0000']);
    default:
      return r.pick(specialNumbers);
  }
}

type Mutation =
  | 'none'
  | 'wrong-type'
  | 'out-of-range'
  | 'null'
  | 'missing'
  | 'unknown-field'
  | 'prototype-key'
  | 'nested-prototype-key'
  | 'duplicate-key';

function prototypeValue(r: Random): Json {
  return r.pick<() => Json>([
    () => null,
    () => 'polluted',
    () => 1,
    () => [],
    () => new JsonObject([]),
    () => new JsonObject([['polluted', true]]),
    () => new JsonObject([['isAdmin', true]]),
    () => new JsonObject([['minCu', new RawNumber('1e308')]]),
    () => new JsonObject([['prototype', new JsonObject([['polluted', 'yes']])]]),
    () => new JsonObject([['__proto__', new JsonObject([['polluted', 'yes']])]]),
    () => new JsonObject([['name', 'evil']]),
    () => new JsonObject([['toString', 'not a function']]),
  ])();
}

function mutate(r: Random, body: JsonObject, fields: readonly string[]): Mutation {
  const mutation = r.weighted<Mutation>([
    [3, 'none'],
    [3, 'wrong-type'],
    [3, 'out-of-range'],
    [2, 'null'],
    [1, 'missing'],
    [2, 'unknown-field'],
    [2, 'prototype-key'],
    [1, 'nested-prototype-key'],
    [1, 'duplicate-key'],
  ]);
  const field = r.pick(fields);
  switch (mutation) {
    case 'none':
      break;
    case 'wrong-type':
      body.set(field, wrongType(r, body.get(field)));
      break;
    case 'out-of-range':
      body.set(field, outOfRange(r, field));
      break;
    case 'null':
      body.set(field, null);
      break;
    case 'missing':
      body.remove(body.keys().length > 0 ? r.pick(body.keys()) : field);
      break;
    case 'unknown-field':
      body.entries.splice(r.int(0, body.entries.length), 0, [randomKey(r), randomJson(r, 2)]);
      break;
    case 'prototype-key':
      body.entries.splice(r.int(0, body.entries.length), 0, [r.pick(prototypeKeys), prototypeValue(r)]);
      break;
    case 'nested-prototype-key':
      body.set(field, new JsonObject([[r.pick(prototypeKeys), prototypeValue(r)]]));
      break;
    case 'duplicate-key':
      body.entries.push([field, r.chance(0.5) ? outOfRange(r, field) : wrongType(r, body.get(field))]);
      break;
  }
  return mutation;
}

// --- requests ----------------------------------------------------------------------------

type Target = 'create' | 'update';

interface FuzzCase {
  index: number;
  target: Target;
  kind: string;
  body: string | Uint8Array | undefined;
  headers: Record<string, string>;
}

interface CaseShape {
  kind: string;
  body: string | Uint8Array | undefined;
  /** undefined: no Content-Type header at all. */
  contentType?: string | undefined;
  headers?: Record<string, string>;
}

const JSON_TYPE = 'application/json';

function plausibleBody(r: Random, target: Target, name: string): JsonObject {
  return target === 'create' ? validCreateBody(r, name) : validUpdateBody(r);
}

function utf8(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}

const invalidUtf8Sequences: readonly number[][] = [
  [0xff],
  [0xfe, 0xff],
  [0xc3, 0x28],
  [0xa0, 0xa1],
  [0xe2, 0x28, 0xa1],
  [0xf0, 0x28, 0x8c, 0x28],
  [0xc0, 0xaf], // overlong "/"
  [0xc0, 0xa2], // overlong '"'
  [0xed, 0xa0, 0x80], // UTF-8 encoded surrogate
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0x80],
  [0xe2, 0x82], // cut-off sequence
];

function withInvalidUtf8(r: Random, text: string): Uint8Array {
  const bytes = [...Buffer.from(text, 'utf8')];
  for (let count = r.int(1, 3); count > 0; count -= 1) {
    const sequence = r.pick(invalidUtf8Sequences);
    // Inside a string value is the interesting place, so prefer positions after a quote.
    const quotes = bytes.flatMap((byte, position) => (byte === 0x22 ? [position + 1] : []));
    const at = quotes.length > 0 && r.chance(0.7) ? r.pick(quotes) : r.int(0, bytes.length);
    bytes.splice(at, 0, ...sequence);
  }
  if (r.chance(0.15)) bytes.unshift(0xef, 0xbb, 0xbf); // a BOM too
  return new Uint8Array(bytes);
}

function deeplyNested(r: Random, target: Target, name: string): string {
  const shape = r.pick(['array', 'object', 'mixed'] as const);
  // Stay under the body limit so that the nesting reaches the parser and the validation.
  const depth =
    shape === 'array' ? r.pick([5_000, 5_000, 20_000, 30_000]) : r.pick([1_000, 5_000, 5_000, 12_000]);
  let nested: string;
  if (shape === 'array') nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
  else if (shape === 'object') nested = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  else nested = `${'[{"a":'.repeat(depth / 2)}null${'}]'.repeat(depth / 2)}`;
  const where = r.pick(['top', 'field', 'unknown-field'] as const);
  if (where === 'top') return nested;
  const body = plausibleBody(r, target, name);
  const field = where === 'field' ? r.pick(target === 'create' ? createFields : settingFields) : 'nested';
  body.set(field, new RawNumber(nested));
  return encode(body);
}

function overLimit(r: Random, target: Target, name: string): string {
  const body = plausibleBody(r, target, name);
  const base = encode(body);
  const size = BODY_LIMIT_BYTES + r.pick([-1, 0, 1, 1, 2, 16, 100, 1_000]);
  // A padding string (in a known or unknown field) brings the body to exactly `size` bytes.
  const key = r.pick(['padding', 'name', 'readConsistency']);
  body.set(key, '');
  const without = Buffer.byteLength(encode(body));
  body.set(key, 'p'.repeat(Math.max(0, size - without)));
  const text = encode(body);
  return Buffer.byteLength(text) === size
    ? text
    : base + ' '.repeat(Math.max(0, size - Buffer.byteLength(base)));
}

function formEncoded(body: JsonObject): string {
  return body.entries
    .map(
      ([key, value]) =>
        `${encodeURIComponent(key)}=${encodeURIComponent(typeof value === 'string' ? value : encode(value))}`,
    )
    .join('&');
}

function generateCase(r: Random, target: Target, index: number): CaseShape {
  const name = `fz${seed.toString(36)}-${index}`;
  const kind = r.weighted<string>([
    [30, 'mutated'],
    [12, 'random-json'],
    [6, 'top-level'],
    [6, 'truncated'],
    [6, 'invalid-utf8'],
    [4, 'empty'],
    [8, 'content-type'],
    [3, 'content-encoding'],
    [5, 'deeply-nested'],
    [4, 'over-limit'],
    [3, 'whitespace'],
    [2, 'garbage'],
  ]);
  switch (kind) {
    case 'mutated': {
      const body = plausibleBody(r, target, name);
      const mutation = mutate(r, body, target === 'create' ? createFields : settingFields);
      return { kind: `mutated:${mutation}`, body: encode(body), contentType: JSON_TYPE };
    }
    case 'random-json': {
      const value = r.chance(0.7)
        ? new JsonObject(Array.from({ length: r.int(0, 8) }, () => [randomKey(r), randomJson(r, 1)]))
        : randomJson(r);
      return { kind, body: encode(value), contentType: JSON_TYPE };
    }
    case 'top-level': {
      const value = r.pick<() => Json>([
        () => null,
        () => true,
        () => false,
        () => randomNumber(r),
        () => randomString(r),
        () => [],
        () => [plausibleBody(r, target, name)],
        () => [1, 2, 3],
        () => randomJson(r, 3),
      ])();
      return { kind, body: encode(value), contentType: JSON_TYPE };
    }
    case 'truncated': {
      const text = encode(plausibleBody(r, target, name));
      return { kind, body: text.slice(0, r.int(0, Math.max(0, text.length - 1))), contentType: JSON_TYPE };
    }
    case 'invalid-utf8':
      return {
        kind,
        body: withInvalidUtf8(r, encode(plausibleBody(r, target, name))),
        contentType: JSON_TYPE,
      };
    case 'empty':
      return r.pick<() => CaseShape>([
        () => ({ kind: 'empty:json', body: '', contentType: JSON_TYPE }),
        () => ({ kind: 'empty:no-body', body: undefined, contentType: JSON_TYPE }),
        () => ({ kind: 'empty:no-content-type', body: undefined, contentType: undefined }),
        () => ({ kind: 'empty:spaces', body: '   \r\n\t ', contentType: JSON_TYPE }),
      ])();
    case 'content-type': {
      const body = plausibleBody(r, target, name);
      const contentType = r.pick<string | undefined>([
        undefined,
        'text/plain',
        'text/plain; charset=utf-8',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=xyz',
        'application/octet-stream',
        'application/xml',
        'application/json; charset=utf-16',
        'application/json; charset=utf-16le',
        'application/json; charset=latin1',
        'application/json; charset=iso-8859-1',
        'application/json; charset=utf-32',
        'application/json; charset=nonsense',
        'application/json; charset=UTF-8',
        'APPLICATION/JSON',
        'application/merge-patch+json',
        'application/vnd.api+json',
        'application/json;;;',
        'application/json; charset="',
        'application/json; charset',
        'application/json; charset=utf-8; charset=utf-16',
        'application/jsonx',
        'application',
        '/',
        ';',
        '*/*',
        '',
      ]);
      const form = contentType === 'application/x-www-form-urlencoded' && r.chance(0.7);
      const text = form ? formEncoded(body) : encode(body);
      // A Uint8Array body makes fetch send no Content-Type of its own.
      return { kind: `content-type:${contentType ?? '(none)'}`, body: utf8(text), contentType };
    }
    case 'content-encoding': {
      const text = encode(plausibleBody(r, target, name));
      return r.pick<() => CaseShape>([
        () => ({
          kind: 'content-encoding:gzip',
          body: new Uint8Array(gzipSync(text)),
          contentType: JSON_TYPE,
          headers: { 'content-encoding': 'gzip' },
        }),
        () => ({
          kind: 'content-encoding:gzip-not-gzip',
          body: text,
          contentType: JSON_TYPE,
          headers: { 'content-encoding': 'gzip' },
        }),
        () => ({
          kind: 'content-encoding:deflate-garbage',
          body: utf8(randomAsciiString(r, 64)),
          contentType: JSON_TYPE,
          headers: { 'content-encoding': 'deflate' },
        }),
        () => ({
          kind: 'content-encoding:br-garbage',
          body: utf8(randomAsciiString(r, 64)),
          contentType: JSON_TYPE,
          headers: { 'content-encoding': 'br' },
        }),
        () => ({
          kind: 'content-encoding:unknown',
          body: text,
          contentType: JSON_TYPE,
          headers: { 'content-encoding': 'x-borealis' },
        }),
        () => ({
          kind: 'content-encoding:gzip-bomb',
          body: new Uint8Array(gzipSync(`{"padding":"${'z'.repeat(4 * 1024 * 1024)}"}`)),
          contentType: JSON_TYPE,
          headers: { 'content-encoding': 'gzip' },
        }),
      ])();
    }
    case 'deeply-nested':
      return { kind, body: deeplyNested(r, target, name), contentType: JSON_TYPE };
    case 'over-limit':
      return { kind, body: overLimit(r, target, name), contentType: JSON_TYPE };
    case 'whitespace': {
      // Valid JSON with odd but legal whitespace, or illegal JSON extensions.
      const text = encode(plausibleBody(r, target, name));
      return r.pick<() => CaseShape>([
        () => ({
          kind: 'whitespace:legal',
          body: ` \n\t\r${text.replaceAll(',', ' ,\n ').replaceAll(':', '\t:\r\n')} \n`,
          contentType: JSON_TYPE,
        }),
        () => ({ kind: 'whitespace:trailing-comma', body: text.replace(/}$/, ',}'), contentType: JSON_TYPE }),
        () => ({ kind: 'whitespace:comment', body: `/* hi */${text}`, contentType: JSON_TYPE }),
        () => ({ kind: 'whitespace:single-quotes', body: text.replaceAll('"', "'"), contentType: JSON_TYPE }),
        () => ({ kind: 'whitespace:two-objects', body: `${text}${text}`, contentType: JSON_TYPE }),
        () => ({ kind: 'whitespace:nul', body: `${text}\u0000`, contentType: JSON_TYPE }),
        () => ({ kind: 'whitespace:nbsp', body: `\u00a0${text}`, contentType: JSON_TYPE }),
        () => ({ kind: 'whitespace:NaN', body: text.replace(/}$/, ',"minCu":NaN}'), contentType: JSON_TYPE }),
      ])();
    }
    default: {
      const bytes = new Uint8Array(r.int(1, 512));
      for (let i = 0; i < bytes.length; i += 1) bytes[i] = r.int(0, 255);
      if (r.chance(0.5)) bytes[0] = 0x7b; // '{'
      return { kind: 'garbage', body: bytes, contentType: JSON_TYPE };
    }
  }
}

function generateCases(): FuzzCase[] {
  const r = new Random(seed);
  return Array.from({ length: REQUESTS }, (_, index) => {
    const target: Target = r.chance(0.5) ? 'create' : 'update';
    const shape = generateCase(r, target, index);
    const headers: Record<string, string> = { ...shape.headers };
    if (shape.contentType !== undefined) headers['content-type'] = shape.contentType;
    return { index, target, kind: shape.kind, body: shape.body, headers };
  });
}

// --- checks ------------------------------------------------------------------------------

interface Outcome {
  status: number;
  contentType: string;
  text: string;
  json: unknown;
}

interface Violation {
  fuzzCase: FuzzCase;
  problem: string;
  outcome?: Outcome;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Fields = Record<string, unknown>;

function isRecord(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function halfStepIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value * 2) && value >= min && value <= max;
}

/** What is wrong with a cluster as the API shows it (empty when nothing is): shape and the settings rules. */
function clusterProblems(view: unknown): string[] {
  if (!isRecord(view)) return ['not a JSON object'];
  const problems: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };
  check(typeof view.id === 'string' && uuidPattern.test(view.id), 'id is not a UUID');
  check(
    typeof view.name === 'string' && /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(view.name),
    'name is not a DNS label',
  );
  check(
    typeof view.state === 'string' && (clusterStates as string[]).includes(view.state),
    'state is unknown',
  );
  check(
    view.readConsistency === 'instance' || view.readConsistency === 'cluster',
    'readConsistency is unknown',
  );
  const endpoint = view.endpoint;
  check(
    isRecord(endpoint) &&
      typeof endpoint.host === 'string' &&
      Number.isInteger(endpoint.port) &&
      typeof endpoint.uri === 'string',
    'endpoint is not { host, port, uri }',
  );
  for (const field of ['createdAt', 'updatedAt']) {
    check(
      typeof view[field] === 'string' && !Number.isNaN(Date.parse(view[field] as string)),
      `${field} is not a date`,
    );
  }
  if (view.mode === 'serverless') {
    const { minCu, maxCu, autoPauseSeconds } = view;
    check(halfStepIn(minCu, 0, 256), 'minCu is not 0..256 in steps of 0.5');
    check(halfStepIn(maxCu, 0.5, 256), 'maxCu is not 0.5..256 in steps of 0.5');
    check((minCu as number) <= (maxCu as number), 'minCu is above maxCu');
    if (minCu === 0) {
      check(
        Number.isInteger(autoPauseSeconds) &&
          (autoPauseSeconds as number) >= 1 &&
          (autoPauseSeconds as number) <= 86_400,
        'autoPauseSeconds is not 1..86400 while minCu is 0',
      );
    } else {
      check(autoPauseSeconds === null, 'autoPauseSeconds is set while minCu is above 0');
    }
    check(
      view.writerCount === null && view.cuPerWriter === null,
      'a serverless cluster has writerCount or cuPerWriter',
    );
  } else if (view.mode === 'provisioned') {
    const { writerCount, cuPerWriter } = view;
    check(
      Number.isInteger(writerCount) && (writerCount as number) >= 1 && (writerCount as number) <= 16,
      'writerCount is not 1..16',
    );
    check(halfStepIn(cuPerWriter, 0.5, 8), 'cuPerWriter is not 0.5..8 in steps of 0.5');
    check((writerCount as number) * (cuPerWriter as number) <= 256, 'writerCount × cuPerWriter is above 256');
    check(
      view.minCu === null && view.maxCu === null && view.autoPauseSeconds === null,
      'a provisioned cluster has serverless settings',
    );
  } else {
    problems.push('mode is unknown');
  }
  return problems;
}

function errorBodyProblems(status: number, outcome: Outcome): string[] {
  if (!outcome.contentType.includes('application/json'))
    return [`Content-Type is ${JSON.stringify(outcome.contentType)}, not JSON`];
  const body = outcome.json;
  if (!isRecord(body)) return ['error body is not a JSON object'];
  const problems: string[] = [];
  if (typeof body.statusCode !== 'number' || body.statusCode !== status)
    problems.push(`statusCode ${JSON.stringify(body.statusCode)} is not ${status}`);
  if (typeof body.error !== 'string') problems.push('error is not a string');
  if (typeof body.message !== 'string' || body.message.trim() === '')
    problems.push('message is not a non-empty string');
  if (!('details' in body)) problems.push('details is missing');
  return problems;
}

function bodyBytes(body: FuzzCase['body']): Uint8Array {
  if (body === undefined) return new Uint8Array();
  return typeof body === 'string' ? utf8(body) : body;
}

/** The body as the server reads it: gunzipped when sent with Content-Encoding: gzip. */
function decodedBody(fuzzCase: FuzzCase): Buffer {
  const bytes = Buffer.from(bodyBytes(fuzzCase.body));
  return fuzzCase.headers['content-encoding'] === 'gzip' ? gunzipSync(bytes) : bytes;
}

/** The body as the server parsed it: JSON.parse gives the same object (the last of repeated keys wins in both). */
function parsedBody(fuzzCase: FuzzCase): unknown {
  try {
    return JSON.parse(
      decodedBody(fuzzCase)
        .toString('utf8')
        .replace(/^\ufeff/, ''),
    );
  } catch {
    return undefined;
  }
}

/** Why an accepted body should have been refused: it is not an object, or has a field the route does not know. */
function acceptedBodyProblems(sent: unknown, allowed: readonly string[]): string[] {
  if (!isRecord(sent)) return ['a body that is not a JSON object was accepted'];
  const unknown = Object.keys(sent).filter((key) => !allowed.includes(key));
  return unknown.length > 0
    ? [`unknown fields were accepted instead of refused: ${JSON.stringify(unknown)}`]
    : [];
}

function excerpt(text: string, limit = 240): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}… (${text.length} characters)`;
}

function describeBody(body: FuzzCase['body']): string {
  if (body === undefined) return '(no body)';
  const bytes = bodyBytes(body);
  const text = Buffer.from(bytes).toString('utf8');
  const valid = Buffer.from(text, 'utf8').equals(Buffer.from(bytes));
  if (valid) return `${JSON.stringify(excerpt(text))} (${bytes.length} bytes)`;
  const hex = Buffer.from(bytes.subarray(0, 160)).toString('hex');
  return `bytes (not valid UTF-8), hex: ${hex}${bytes.length > 160 ? '…' : ''} (${bytes.length} bytes)`;
}

function describeViolation(violation: Violation): string {
  const { fuzzCase, problem, outcome } = violation;
  const method = fuzzCase.target === 'create' ? 'POST /v1/clusters' : 'PATCH /v1/clusters/:id';
  return [
    `#${fuzzCase.index} ${method} [${fuzzCase.kind}] headers ${JSON.stringify(fuzzCase.headers)}`,
    `  body: ${describeBody(fuzzCase.body)}`,
    `  problem: ${problem}`,
    outcome
      ? `  response: ${outcome.status} ${JSON.stringify(excerpt(outcome.text, 400))}`
      : '  response: none',
  ].join('\n');
}

/** The kind of a problem without its particulars, to group violations. */
function problemClass(problem: string): string {
  return problem.replace(/:.*$/s, '');
}

/** Up to `limit` violations, one of each kind of problem and request first, then in request order. */
function pickExamples(violations: Violation[], limit: number): Violation[] {
  const ordered = [...violations].sort((a, b) => a.fuzzCase.index - b.fuzzCase.index);
  const seen = new Set<string>();
  const firstOfEach = ordered.filter((violation) => {
    const group = `${problemClass(violation.problem)}|${violation.fuzzCase.kind}`;
    if (seen.has(group)) return false;
    seen.add(group);
    return true;
  });
  const rest = ordered.filter((violation) => !firstOfEach.includes(violation));
  return [...firstOfEach, ...rest].slice(0, limit).sort((a, b) => a.fuzzCase.index - b.fuzzCase.index);
}

async function runPool<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A snapshot of Object.prototype, to notice prototype pollution of the (in-process) server. */
function prototypeSnapshot(): Map<string | symbol, unknown> {
  return new Map(
    Reflect.ownKeys(Object.prototype).map((key) => [
      key,
      Object.getOwnPropertyDescriptor(Object.prototype, key)?.value,
    ]),
  );
}

// --- queries of the read routes ---------------------------------------------------------

const readRoutes = ['events', 'autoscaling', 'metrics'] as const;
const queryKeys = [
  'limit',
  'cursor',
  'from',
  'to',
  'step',
  'junk',
  '__proto__',
  'constructor',
  'limit[]',
  'from[a]',
];

function queryValue(r: Random): string {
  return r.pick<() => string>([
    () => String(r.int(-5, 5_000)),
    () => String(Date.now() - r.int(0, 7_200_000)),
    () => new Date(Date.now() - r.int(-3_600_000, 90_000_000)).toISOString(),
    () =>
      r.pick([
        '',
        ' ',
        '0',
        '-1',
        '1.5',
        '1e3',
        'NaN',
        'Infinity',
        '9'.repeat(r.int(10, 400)),
        'null',
        'true',
      ]),
    () => r.pick(['2026-13-45T99:99:99Z', '2026-12-03', 'yesterday', 'now', '2026-12-03T10:00:00+25:00']),
    () => randomAsciiString(r, r.int(0, 300)),
    () => randomString(r).slice(0, 200),
  ])();
}

/** Every byte percent-encoded (a lone surrogate becomes U+FFFD's bytes; encodeURIComponent would throw). */
function percentEncode(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
}

/** A path under /v1/clusters/:id with a random id (mostly the real one) and a random query string. */
function readCase(r: Random, clusterId: string): string {
  const id = r.weighted<string>([
    [8, clusterId],
    [1, '00000000-0000-4000-8000-000000000000'],
    [1, percentEncode(r.pick(['not-a-uuid', '', '..', '%00', randomString(r)]))],
  ]);
  const parts: string[] = [];
  for (let index = r.int(0, 4); index > 0; index--) {
    parts.push(`${percentEncode(r.pick(queryKeys))}=${percentEncode(queryValue(r))}`);
  }
  if (r.chance(0.05)) parts.push('%E0%A4%A=broken');
  return `/v1/clusters/${id}/${r.pick(readRoutes)}${parts.length > 0 ? `?${parts.join('&')}` : ''}`;
}

describe(`REST API fuzzing (seed ${seed})`, () => {
  let running: Running;
  let apiKey: string;
  let patchedId: string;

  const call = async (
    method: string,
    path: string,
    init: { body?: FuzzCase['body']; headers?: Record<string, string> } = {},
  ): Promise<Outcome> => {
    const response = await fetch(`${running.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, ...init.headers },
      body: init.body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    const contentType = response.headers.get('content-type') ?? '';
    let json: unknown;
    if (contentType.includes('application/json')) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    return { status: response.status, contentType, text, json };
  };

  const callJson = (method: string, path: string, body?: unknown) =>
    call(
      method,
      path,
      body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': JSON_TYPE } },
    );

  before(async () => {
    running = await startIsolatedControlPlane();
    // A key of our own for raw requests, issued through the API with the bootstrap admin key.
    const issued = await running.admin.post('/v1/api-keys', { name: 'rest-fuzz', role: 'admin' });
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
    apiKey = issued.body.key;
    const created = await callJson('POST', '/v1/clusters', {
      name: 'fuzz-target',
      mode: 'serverless',
      minCu: 0,
      maxCu: 4,
    });
    assert.equal(created.status, 201, created.text);
    patchedId = (created.json as Fields).id as string;
  });

  after(async () => {
    await running?.close();
  });

  it(`answers ${REQUESTS} random and malformed writes without a 5xx (rerun with FUZZ_SEED=${seed})`, {
    timeout: 120_000,
  }, async (t) => {
    const cases = generateCases();
    const prototypeBefore = prototypeSnapshot();
    const violations: Violation[] = [];
    const statuses = new Map<number, number>();
    let created = 0;

    const verifyCreated = async (fuzzCase: FuzzCase, outcome: Outcome) => {
      const problems =
        outcome.status === 201 ? clusterProblems(outcome.json) : [`status ${outcome.status}, not 201`];
      const view = isRecord(outcome.json) ? outcome.json : {};
      if (typeof view.dataPassword !== 'string' || view.dataPassword === '') problems.push('no dataPassword');
      const sent = parsedBody(fuzzCase);
      problems.push(...acceptedBodyProblems(sent, createFields));
      if (isRecord(sent)) {
        for (const field of createFields) {
          // === also holds for -0 and 0, which JSON cannot tell apart on the way back.
          if (Object.hasOwn(sent, field) && sent[field] !== view[field]) {
            problems.push(
              `${field} was sent as ${JSON.stringify(sent[field])} but the cluster has ${JSON.stringify(view[field])}`,
            );
          }
        }
      }
      if (typeof view.id === 'string' && uuidPattern.test(view.id)) {
        const fetched = await call('GET', `/v1/clusters/${view.id}`);
        if (fetched.status !== 200 || (fetched.json as Fields | undefined)?.id !== view.id) {
          problems.push(`GET of the created cluster answered ${fetched.status}: ${excerpt(fetched.text)}`);
        }
        const deleted = await call('DELETE', `/v1/clusters/${view.id}`);
        if (deleted.status !== 204)
          problems.push(`DELETE of the created cluster answered ${deleted.status}: ${excerpt(deleted.text)}`);
        else created += 1;
      }
      if (problems.length > 0)
        violations.push({ fuzzCase, problem: `accepted create: ${problems.join('; ')}`, outcome });
    };

    await runPool(cases, CONCURRENCY, async (fuzzCase) => {
      const [method, path] =
        fuzzCase.target === 'create' ? ['POST', '/v1/clusters'] : ['PATCH', `/v1/clusters/${patchedId}`];
      let outcome: Outcome;
      try {
        outcome = await call(method, path, { body: fuzzCase.body, headers: fuzzCase.headers });
      } catch (error) {
        const reason =
          error instanceof Error
            ? `${error.message}${error.cause ? ` (${String(error.cause)})` : ''}`
            : String(error);
        violations.push({ fuzzCase, problem: `request failed without an HTTP response: ${reason}` });
        return;
      }
      statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
      if (outcome.status >= 500) {
        violations.push({ fuzzCase, problem: `server error ${outcome.status}`, outcome });
      } else if (outcome.status >= 400) {
        const problems = errorBodyProblems(outcome.status, outcome);
        if (problems.length > 0)
          violations.push({ fuzzCase, problem: `bad error body: ${problems.join('; ')}`, outcome });
      } else if (outcome.status >= 200 && outcome.status < 300) {
        if (fuzzCase.target === 'create') {
          await verifyCreated(fuzzCase, outcome);
        } else {
          const problems =
            outcome.status === 200 ? clusterProblems(outcome.json) : [`status ${outcome.status}, not 200`];
          if ((outcome.json as Fields | undefined)?.id !== patchedId)
            problems.push('the answer is not the patched cluster');
          if ((outcome.json as Fields | undefined)?.mode !== 'serverless') problems.push('the mode changed');
          problems.push(...acceptedBodyProblems(parsedBody(fuzzCase), settingFields));
          if (problems.length > 0)
            violations.push({ fuzzCase, problem: `accepted update: ${problems.join('; ')}`, outcome });
        }
      } else {
        violations.push({ fuzzCase, problem: `unexpected status ${outcome.status}`, outcome });
      }
    });

    const counts = [...statuses.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, count]) => `${status}×${count}`);
    t.diagnostic(`seed ${seed}: ${counts.join(', ')}; ${created} clusters created and deleted`);

    const prototypeAfter = prototypeSnapshot();
    const polluted = [...prototypeAfter.keys()].filter(
      (key) => !prototypeBefore.has(key) || prototypeBefore.get(key) !== prototypeAfter.get(key),
    );
    assert.deepEqual(polluted.map(String), [], `Object.prototype was changed by a request (seed ${seed})`);

    const total = [...statuses.values()].reduce((sum, count) => sum + count, 0);
    assert.equal(
      total + violations.filter((v) => !v.outcome).length,
      REQUESTS,
      'every request was sent once',
    );
    if (violations.length > 0) {
      const groups = new Map<string, number>();
      for (const { fuzzCase, problem } of violations) {
        const group = `${problemClass(problem)} [${fuzzCase.kind}]`;
        groups.set(group, (groups.get(group) ?? 0) + 1);
      }
      const summary = [...groups.entries()].map(([group, count]) => `  ${count}× ${group}`).join('\n');
      const examples = pickExamples(violations, MAX_EXAMPLES).map(describeViolation).join('\n');
      assert.fail(
        `${violations.length} of ${REQUESTS} requests broke the API's contract (seed ${seed}; rerun with FUZZ_SEED=${seed}):\n` +
          `${summary}\nexamples:\n${examples}`,
      );
    }
  });

  it(`answers ${READ_REQUESTS} random queries of the autoscaling read routes without a 5xx (rerun with FUZZ_SEED=${seed})`, {
    timeout: 120_000,
  }, async () => {
    const r = new Random(seed ^ 0x5eed);
    const problems: string[] = [];
    const queue = Array.from({ length: READ_REQUESTS }, () => readCase(r, patchedId));
    const worker = async () => {
      for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
        const outcome = await call('GET', path);
        const body = outcome.json as Fields | undefined;
        const shown = path.length > 200 ? `${path.slice(0, 200)}…` : path;
        if (outcome.status >= 500)
          problems.push(`${outcome.status} for GET ${shown}: ${outcome.text.slice(0, 300)}`);
        // 431: Node's HTTP parser refuses a request line past its header limit before the API sees it.
        else if (
          outcome.status >= 400 &&
          outcome.status !== 431 &&
          (body === undefined || typeof body.message !== 'string')
        )
          problems.push(`${outcome.status} without the error body for GET ${shown}`);
        else if (outcome.status === 200 && body === undefined)
          problems.push(`200 without JSON for GET ${shown}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    assert.deepEqual(problems.slice(0, MAX_EXAMPLES), []);
  });

  it('stays healthy and usable after the fuzzing', async () => {
    const health = await call('GET', '/health');
    assert.equal(health.status, 200, health.text);

    const normal = await callJson('POST', '/v1/clusters', {
      name: 'after-fuzz',
      mode: 'provisioned',
      writerCount: 2,
      cuPerWriter: 1.5,
    });
    assert.equal(normal.status, 201, normal.text);
    assert.deepEqual(clusterProblems(normal.json), []);
    const view = normal.json as Fields;
    assert.deepEqual([view.name, view.writerCount, view.cuPerWriter], ['after-fuzz', 2, 1.5]);
    const fetchedNormal = await call('GET', `/v1/clusters/${view.id}`);
    assert.equal(fetchedNormal.status, 200, fetchedNormal.text);

    const patched = await call('GET', `/v1/clusters/${patchedId}`);
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(clusterProblems(patched.json), [], `the fuzzed cluster is not valid: ${patched.text}`);
    assert.equal((patched.json as Fields).id, patchedId);
    assert.equal((patched.json as Fields).mode, 'serverless');
    assert.equal((patched.json as Fields).name, 'fuzz-target');

    const change = await callJson('PATCH', `/v1/clusters/${patchedId}`, { readConsistency: 'cluster' });
    assert.equal(change.status, 200, change.text);
    assert.equal((change.json as Fields).readConsistency, 'cluster');
  });
});
