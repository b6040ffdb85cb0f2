// The RESP fuzz of test/e2e/data-node-bad-input.test.ts and test/e2e/proxy-bad-input.test.ts: a
// server (a data node, or a proxy in front of one) fed 10,000 seeded random and malformed frames
// over raw sockets. A seeded generator of valid, wrong, malformed and truncated frames; a
// per-connection oracle (Redis's own request parser fed the same bytes): every request the server
// can read gets exactly one reply, in order, and a protocol error comes after the replies to the
// requests before it and closes that connection only; and a well-behaved client that INCRs a
// counter meanwhile. A worker may log in first on every connection it opens (`login`), so that the
// frames reach the writers behind a proxy rather than its NOAUTH answers.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { Redis } from 'ioredis';
import { resolveCommand } from '../../apps/data-node/src/commands/served-commands.js';
import { ParseError, type Reply, RequestParser } from '../../libs/resp/src/index.js';
import { RawConnection } from './clients.js';
import { mulberry32, sleep } from './prng.js';

const FRAME_COUNT = 10_000;
const WORKERS = 16;
/** Replies to one batch of frames must arrive within this long. */
const BATCH_REPLY_TIMEOUT_MS = 20_000;
/** A connection the server is expected to close must be closed within this long. */
export const CLOSE_TIMEOUT_MS = 5_000;
const FAILURES_MAX = 12;
export const PROBE_KEY = 'probe:counter';

const show = (bytes: Buffer | string, max = 160): string => {
  const text = JSON.stringify(typeof bytes === 'string' ? bytes : bytes.toString('latin1'));
  return text.length > max ? `${text.slice(0, max)}…(${bytes.length} bytes)` : text;
};
export const showReply = (reply: Reply | undefined): string => show(JSON.stringify(reply ?? null), 200);

// ---------------------------------------------------------------------------------------------
// The frame generator.

class Random {
  constructor(private readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  bytes(n: number): Buffer {
    const bytes = Buffer.allocUnsafe(n);
    for (let index = 0; index < n; index++) bytes[index] = this.int(256);
    return bytes;
  }
}

interface Frame {
  kind: string;
  bytes: Buffer;
  /** Requests the server reads from it; null for random bytes (whatever the parser makes of them). */
  requests: number | null;
  /** The protocol error it causes, or null. */
  fatal: string | null;
  /** Leaves the connection mid-request: nothing may follow it on that connection. */
  terminal: boolean;
  /** The error its one request must be answered with. */
  expectError?: RegExp;
}

type Arg = string | Buffer;

export const enc = (text: string) => Buffer.from(text, 'latin1');
function multibulk(args: readonly Arg[]): Buffer {
  const parts: Buffer[] = [enc(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? enc(arg) : arg;
    parts.push(enc(`$${bytes.length}\r\n`), bytes, enc('\r\n'));
  }
  return Buffer.concat(parts);
}

const protocolError = (reason: string) => `ERR Protocol error: ${reason}`;
const complete = (kind: string, bytes: Buffer, requests = 1, expectError?: RegExp): Frame => ({
  kind,
  bytes,
  requests,
  fatal: null,
  terminal: false,
  ...(expectError === undefined ? {} : { expectError }),
});
const fatal = (kind: string, bytes: Buffer | string, reason: string, requests = 0): Frame => ({
  kind,
  bytes: typeof bytes === 'string' ? enc(bytes) : bytes,
  requests,
  fatal: protocolError(reason),
  terminal: true,
});
const unfinished = (kind: string, bytes: Buffer | string): Frame => ({
  kind,
  bytes: typeof bytes === 'string' ? enc(bytes) : bytes,
  requests: 0,
  fatal: null,
  terminal: true,
});

const NUMBERS = [
  '0',
  '1',
  '-1',
  '7',
  '100',
  '4096',
  '-4096',
  'abc',
  '',
  '3.5',
  '1e3',
  ' 1',
  '007',
  '9223372036854775807',
  '-9223372036854775808',
  '9223372036854775808',
];
const FLOATS = ['0.5', '-1.25', '1e3', 'inf', '-inf', 'nan', '1e400', 'x', '3', ''];
const OFFSETS = ['0', '1', '5', '64', '4096', '-1', 'x'];
const key = (r: Random) => `fz:${r.int(40)}`;
const field = (r: Random) => `f${r.int(8)}`;
function value(r: Random): Buffer {
  switch (r.int(5)) {
    case 0:
      return enc(r.pick(NUMBERS));
    case 1:
      return r.bytes(r.int(40));
    case 2:
      return enc('v'.repeat(r.int(300)));
    case 3:
      return Buffer.alloc(0);
    default:
      return enc(`value-${r.int(1000)}`);
  }
}
function mixCase(name: string, r: Random): string {
  if (!r.chance(0.3)) return name;
  return [...name].map((char) => (r.chance(0.5) ? char.toLowerCase() : char.toUpperCase())).join('');
}

/** Commands that read keys: served from the cache or 3 replicas. */
const READS: ((r: Random) => Arg[])[] = [
  (r) => ['GET', key(r)],
  (r) => ['MGET', key(r), key(r), key(r)],
  (r) => ['EXISTS', key(r), key(r)],
  (r) => ['TYPE', key(r)],
  (r) => ['TTL', key(r)],
  (r) => ['PTTL', key(r)],
  (r) => ['STRLEN', key(r)],
  (r) => ['GETRANGE', key(r), r.pick(NUMBERS), r.pick(NUMBERS)],
  (r) => ['HGET', key(r), field(r)],
  (r) => ['HGETALL', key(r)],
  (r) => ['HMGET', key(r), field(r), field(r)],
  (r) => ['HLEN', key(r)],
  (r) => ['HKEYS', key(r)],
  (r) => ['HSTRLEN', key(r), field(r)],
];
/** Commands that may write: a transaction on the six storage nodes each. */
const WRITES: ((r: Random) => Arg[])[] = [
  (r) => ['SET', key(r), value(r)],
  (r) => [
    'SET',
    key(r),
    value(r),
    r.pick(['EX', 'PX', 'NX', 'XX', 'GET', 'KEEPTTL', 'BOGUS']),
    r.pick(NUMBERS),
  ],
  (r) => ['INCR', key(r)],
  (r) => ['INCRBY', key(r), r.pick(NUMBERS)],
  (r) => ['INCRBYFLOAT', key(r), r.pick(FLOATS)],
  (r) => ['APPEND', key(r), value(r)],
  (r) => ['SETRANGE', key(r), r.pick(OFFSETS), value(r)],
  (r) => ['DEL', key(r), key(r)],
  (r) => ['EXPIRE', key(r), r.pick(NUMBERS)],
  (r) => ['PERSIST', key(r)],
  (r) => ['GETDEL', key(r)],
  (r) => ['HSET', key(r), field(r), value(r)],
  (r) => ['HINCRBY', key(r), field(r), r.pick(NUMBERS)],
  (r) => ['HDEL', key(r), field(r)],
  (r) => ['MSET', key(r), value(r), key(r), value(r)],
];
/** Commands about the connection or the whole keyspace. */
const SESSION: ((r: Random) => Arg[])[] = [
  () => ['PING'],
  (r) => ['PING', value(r)],
  (r) => ['ECHO', value(r)],
  (r) => ['SELECT', r.pick(NUMBERS)],
  () => ['CLIENT', 'ID'],
  (r) => ['CLIENT', 'SETNAME', r.pick(['fuzz', '', 'a b', 'x\ny'])],
  () => ['CLIENT', 'GETNAME'],
  () => ['CLIENT', 'INFO'],
  (r) => ['CLIENT', r.pick(['LIST', 'KILL', 'NOPE'])],
  (r) => ['INFO', r.pick(['borealis', 'stats', 'clients', 'everything', 'nosuch'])],
  () => ['COMMAND', 'COUNT'],
  (r) => ['COMMAND', 'INFO', r.pick(['get', 'set', 'nosuch'])],
  (r) => ['COMMAND', 'DOCS', r.pick(['get', 'client|setname', 'borealis', 'nosuch'])],
  (r) => [
    'COMMAND',
    r.pick(['GETKEYS', 'GETKEYSANDFLAGS']),
    ...r.pick([['MSET', 'a', '1', 'b'], ['GET'], ['NOSUCH', 'x']]),
  ],
  () => ['DBSIZE'],
  (r) => [
    'SCAN',
    r.pick(['0', '1', 'abc', '99999999999']),
    'MATCH',
    'fz:*',
    'COUNT',
    r.pick(['5', '100', '0', 'x']),
  ],
  (r) => ['KEYS', `fz:${r.int(10)}*`],
  () => ['MULTI'],
  () => ['EXEC'],
  () => ['DISCARD'],
  (r) => ['WATCH', key(r)],
  () => ['UNWATCH'],
  (r) => ['HELLO', r.pick(['2', '3', '4', 'x'])],
  () => ['AUTH', 'nopass'],
  (r) => ['BOREALIS', 'CONSISTENCY', r.pick(['INSTANCE', 'CLUSTER', 'DEFAULT', 'bogus'])],
  () => ['RESET'],
];

function validArgs(r: Random): Arg[] {
  const roll = r.int(100);
  const make = roll < 10 ? r.pick(WRITES) : roll < 55 ? r.pick(READS) : r.pick(SESSION);
  const args = make(r);
  return [mixCase(args[0] as string, r), ...args.slice(1)];
}

/** Wrong argument counts that the command table refuses before anything runs. */
const WRONG_ARITY: ((r: Random) => Arg[])[] = [
  () => ['GET'],
  (r) => ['GET', key(r), key(r)],
  (r) => ['SET', key(r)],
  () => ['ECHO'],
  () => ['INCR'],
  (r) => ['INCR', key(r), '1'],
  () => ['MGET'],
  () => ['EXISTS'],
  (r) => ['TYPE', key(r), key(r)],
  (r) => ['HSET', key(r), field(r)],
  (r) => ['HGET', key(r)],
  () => ['SELECT'],
  () => ['DBSIZE', 'x'],
  () => ['SCAN'],
  () => ['KEYS'],
  () => ['WATCH'],
  () => ['MULTI', 'x'],
  () => ['EXEC', 'x'],
  () => ['CLIENT'],
  () => ['CLIENT', 'SETNAME'],
  () => ['CLIENT', 'ID', 'x'],
  (r) => ['GETRANGE', key(r), '0'],
  (r) => ['SETEX', key(r), '1'],
  (r) => ['HINCRBY', key(r), field(r)],
  (r) => ['MSET', key(r)],
];

/**
 * Names no writer serves (Redis has some of them). Never FLUSHDB/FLUSHALL: served now, and a flush
 * would empty the well-behaved client's keys.
 */
const UNKNOWN_NAMES = [
  'PFADD',
  'GEOADD',
  'SUBSCRIBE',
  'EVAL',
  'REPLICAOF',
  'PSYNC',
  'XADD',
  'XRANGE',
  'GETX',
  '',
];

/** An argument as an inline request writes it: bare, or quoted with escapes. */
function inlineArg(arg: Buffer, r: Random): string {
  const bare = /^[A-Za-z0-9:*._-]+$/.test(arg.toString('latin1'));
  if (bare && !r.chance(0.3)) return arg.toString('latin1');
  if (bare && r.chance(0.5)) return `'${arg.toString('latin1')}'`;
  let quoted = '"';
  for (const byte of arg) {
    if (byte === 0x22 || byte === 0x5c) quoted += `\\${String.fromCharCode(byte)}`;
    else if (byte >= 0x20 && byte < 0x7f && !r.chance(0.05)) quoted += String.fromCharCode(byte);
    else quoted += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `${quoted}"`;
}

const FRAME_KINDS: [number, (r: Random) => Frame][] = [
  [30, (r) => complete('valid', multibulk(validArgs(r)))],
  [
    8,
    (r) =>
      complete(
        'wrong arity',
        multibulk(r.pick(WRONG_ARITY)(r)),
        1,
        /^ERR wrong number of arguments for '[a-z|-]+' command$/,
      ),
  ],
  [
    8,
    (r) => {
      const name = r.chance(0.5) ? r.pick(UNKNOWN_NAMES) : `zz${r.bytes(1 + r.int(8)).toString('hex')}`;
      const args: Arg[] = [name];
      for (let count = r.int(4); count > 0; count--) args.push(value(r));
      return complete('unknown command', multibulk(args), 1, /^ERR unknown command '/);
    },
  ],
  [
    8,
    (r) => {
      // Built from commands without side effects on the connection's state.
      const args = (r.chance(0.5) ? r.pick(READS) : r.pick(SESSION.slice(0, 3)))(r).map((arg) =>
        typeof arg === 'string' ? enc(arg) : arg,
      );
      const line = args.map((arg) => inlineArg(arg, r)).join(r.pick([' ', '  ', '\t']));
      return complete('inline', enc(`${r.pick(['', ' '])}${line}${r.pick(['\r\n', '\n', ' \r\n'])}`));
    },
  ],
  [
    3,
    (r) =>
      fatal(
        'unbalanced quotes',
        r.pick([
          `SET ${key(r)} "abc\r\n`,
          "ECHO 'x\r\n",
          'ECHO "a"b\r\n',
          `GET "${key(r)}"x\r\n`,
          'PING "\\"\r\n',
        ]),
        'unbalanced quotes in request',
      ),
  ],
  [
    3,
    (r) =>
      fatal(
        'bad multibulk length',
        r.pick([
          '*abc\r\n',
          '*1x\r\n',
          '*01\r\n',
          '*+1\r\n',
          '*\r\n',
          '* 1\r\n',
          '*-0\r\n',
          '*2147483648\r\n',
        ]),
        'invalid multibulk length',
      ),
  ],
  [
    3,
    (r) =>
      fatal(
        'bad bulk length',
        `*2\r\n$3\r\nGET\r\n${r.pick(['$abc', '$-1', '$-5', '$', '$01', '$1.5', '$ 3'])}\r\nfz:1\r\n`,
        'invalid bulk length',
      ),
  ],
  [
    2,
    (r) =>
      fatal(
        'huge bulk length',
        `*3\r\n$3\r\nSET\r\n$4\r\nfz:0\r\n$${r.pick(['2147483648', '67108865', '9223372036854775807', '99999999999999999999'])}\r\nxyz`,
        'invalid bulk length',
      ),
  ],
  [
    3,
    (r) => {
      const [element, shown] = r.pick([
        [':1\r\n', ':'],
        ['*1\r\n$4\r\nPING\r\n', '*'],
        ['+OK\r\n', '+'],
        ['\r\n', ' '],
        ['PING\r\n', 'P'],
      ] as const);
      return fatal('nested or odd element', `*2\r\n$4\r\nECHO\r\n${element}`, `expected '$', got '${shown}'`);
    },
  ],
  [3, (r) => complete('no request (count)', enc(r.pick(['*0\r\n', '*-1\r\n', '*-100\r\n'])), 0)],
  [3, (r) => complete('no request (blank)', enc(r.pick(['\r\n', '\n', '   \r\n', '\t \r\n', ' \n'])), 0)],
  [
    4,
    (r) =>
      complete(
        'odd type byte',
        enc(
          `${r.pick([':1', '+PING', '-ERR x', '$4', '%2', '~1', '>3', '_', ',1.5', '#t', '(12', '!3', '=5', '|1'])}\r\n`,
        ),
        1,
        /^ERR unknown command '/,
      ),
  ],
  [
    2,
    (r) =>
      r.chance(0.5)
        ? complete('missing CRLF after data', enc('*1\r\n$4\r\nPINGxy'))
        : complete('count line CR and any byte', enc('*1\rX$4\r\nPING\r\n')),
  ],
  [2, () => fatal('count line without CR', '*1\n$4\r\nPING\r\n', 'invalid multibulk length')],
  [
    4,
    (r) => ({
      kind: 'random bytes',
      bytes: r.bytes(1 + r.int(r.chance(0.2) ? 2_000 : 60)),
      requests: null,
      fatal: null,
      terminal: true,
    }),
  ],
  [
    4,
    (r) => {
      const whole = multibulk(validArgs(r));
      return unfinished('truncated', whole.subarray(0, 1 + r.int(whole.length - 1)));
    },
  ],
  [
    0.5,
    (r) =>
      fatal(
        'over-long inline line',
        `${'A'.repeat(64 * 1024 + 1 + r.int(5_000))}\r\n`,
        'too big inline request',
      ),
  ],
  [
    0.5,
    (r) =>
      r.chance(0.5)
        ? fatal(
            'over-long count line',
            `*${'1'.repeat(64 * 1024 + r.int(100))}\r\n`,
            'too big mbulk count string',
          )
        : fatal(
            'over-long bulk count line',
            `*1\r\n$${'9'.repeat(64 * 1024 + r.int(100))}\r\n`,
            'too big bulk count string',
          ),
  ],
  [1, (r) => unfinished('NUL in a line', r.pick(['PI\0NG\r\n', '*1\0\r\n', 'GET fz:1\0\r\n']))],
  [
    1,
    (r) =>
      r.chance(0.5)
        ? unfinished('huge argument count', '*1000000\r\n$4\r\nPING\r\n')
        : fatal('too many arguments', '*1048577\r\n', 'invalid multibulk length'),
  ],
  [1, () => complete('quit', multibulk(['QUIT']))],
  [
    1,
    (r) =>
      r.chance(0.5)
        ? complete('big argument', multibulk(['ECHO', r.bytes(100_000)]))
        : complete('big value', multibulk(['SET', key(r), r.bytes(8_192)])),
  ],
];
const TOTAL_WEIGHT = FRAME_KINDS.reduce((sum, [weight]) => sum + weight, 0);

function generateFrame(r: Random): Frame {
  let roll = r.int(TOTAL_WEIGHT * 2) / 2;
  for (const [weight, make] of FRAME_KINDS) {
    if (roll < weight) return make(r);
    roll -= weight;
  }
  return (FRAME_KINDS[0] as [number, (r: Random) => Frame])[1](r);
}

// ---------------------------------------------------------------------------------------------
// One worker: connections one after the other, each with a few batches of frames.

/** Sends `login` and checks its OK; the reply is then dropped, so replies match frames again. */
async function loggedIn(connection: RawConnection, login: Buffer, failures: string[]): Promise<boolean> {
  connection.socket.write(login);
  await connection.until(() => connection.replies.length >= 1 || connection.closed, BATCH_REPLY_TIMEOUT_MS);
  const reply = connection.replies.shift();
  if (reply?.kind === 'simple' && reply.value === 'OK') return true;
  failures.push(`the log-in got ${showReply(reply)}`);
  connection.destroy();
  return false;
}

interface FuzzStats {
  frames: number;
  replies: number;
  errorReplies: number;
  protocolErrors: number;
  connections: number;
  kinds: Map<string, number>;
}

/**
 * An error line as the reply parser gives it back: the server sends the client bytes an error
 * quotes as they came (latin1 characters as bytes), and the parser decodes the line as UTF-8.
 */
function asReceived(message: string): string {
  return /[\u0080-\u00ff]/.test(message) && !/[\u0100-\uffff]/.test(message)
    ? Buffer.from(message, 'latin1').toString('utf8')
    : message;
}

/** What the server must answer to one request, or why the reply is wrong. */
function replyProblem(args: Buffer[], reply: Reply, frame: Frame): string | null {
  const resolution = resolveCommand(args);
  if ('error' in resolution) {
    const wanted = asReceived(resolution.error.kind === 'error' ? resolution.error.message : '');
    if (reply.kind !== 'error' || reply.message !== wanted) return `wanted the error ${show(wanted)}`;
  } else if (reply.kind === 'error' && /^ERR (internal error|Protocol error)/.test(reply.message)) {
    return 'a valid request was answered with an internal or protocol error';
  }
  if (frame.expectError !== undefined && (reply.kind !== 'error' || !frame.expectError.test(reply.message))) {
    return `wanted an error matching ${frame.expectError}`;
  }
  return null;
}

function isQuit(args: Buffer[]): boolean {
  const resolution = resolveCommand(args);
  return 'spec' in resolution && resolution.spec.name === 'quit';
}

interface FuzzWorkerOptions {
  seed: number;
  worker: number;
  frameBudget: number;
  port: number;
  stats: FuzzStats;
  failures: string[];
  /** Sent first on every connection, and answered OK, before any frame (AUTH through the proxy). */
  login: Buffer | null;
}

async function fuzzWorker(options: FuzzWorkerOptions): Promise<void> {
  const { seed, worker, frameBudget, port, stats, failures, login } = options;
  const r = new Random(mulberry32((seed ^ Math.imul(worker + 1, 0x9e3779b1)) >>> 0));
  let sent = 0;
  let connectionNumber = 0;
  while (sent < frameBudget && failures.length < FAILURES_MAX) {
    connectionNumber++;
    stats.connections++;
    const connection = await RawConnection.open(port);
    if (login !== null && !(await loggedIn(connection, login, failures))) return;
    const oracle = new RequestParser();
    const history: Frame[] = [];
    const where = () =>
      `seed ${seed}, worker ${worker}, connection ${connectionNumber}; frames on it:\n${history
        .map((frame) => `  [${frame.kind}] ${show(frame.bytes)}`)
        .join('\n')}`;
    const fail = (problem: string) => {
      failures.push(`${problem}\n${where()}\nreplies: ${connection.replies.map(showReply).join(', ')}`);
    };
    /** Replies owed so far on this connection, with the request each answers. */
    const owed: { args: Buffer[]; frame: Frame }[] = [];
    let checked = 0;
    let ending: 'open' | 'fatal' | 'quit' | 'unfinished' = 'open';
    let fatalMessage = '';
    let batches = 1 + r.int(4);
    while (ending === 'open' && batches-- > 0 && sent < frameBudget) {
      const batch: Frame[] = [];
      const size = 1 + r.int(6);
      while (batch.length < size && sent < frameBudget) {
        const frame = generateFrame(r);
        batch.push(frame);
        sent++;
        stats.frames++;
        stats.kinds.set(frame.kind, (stats.kinds.get(frame.kind) ?? 0) + 1);
        if (frame.terminal || frame.requests === null) break;
      }
      history.push(...batch);
      // What the server will read from these bytes, frame by frame.
      for (const frame of batch) {
        oracle.push(frame.bytes);
        let requests = 0;
        let error: string | null = null;
        for (;;) {
          const request = oracle.next();
          if (request === null) break;
          if (request instanceof ParseError) {
            error = request.message;
            break;
          }
          requests++;
          if (ending === 'open') owed.push({ args: request, frame });
          if (ending === 'open' && isQuit(request)) ending = 'quit';
        }
        if (frame.requests !== null && (requests !== frame.requests || error !== frame.fatal)) {
          fail(
            `generator and parser disagree on [${frame.kind}] ${show(frame.bytes)}: meant ${frame.requests} requests and ${frame.fatal}, parsed ${requests} and ${error}`,
          );
          connection.destroy();
          return;
        }
        if (error !== null && ending === 'open') {
          ending = 'fatal';
          fatalMessage = error;
        }
        if (frame.terminal && ending === 'open') ending = 'unfinished';
        if (ending !== 'open') break;
      }
      // The batch goes out in one to three writes, so requests also straddle TCP segments.
      const bytes = Buffer.concat(batch.map((frame) => frame.bytes));
      const cuts = [
        0,
        ...Array.from({ length: r.int(3) }, () => r.int(bytes.length + 1)).sort((a, b) => a - b),
      ];
      for (let index = 0; index < cuts.length; index++) {
        if (connection.closed) break;
        connection.socket.write(bytes.subarray(cuts[index], cuts[index + 1] ?? bytes.length));
        if (index + 1 < cuts.length) await sleep(r.int(3));
      }
      const wanted = owed.length + (ending === 'fatal' ? 1 : 0);
      const arrived = await connection.until(
        () => connection.replies.length >= wanted || connection.closed || connection.malformed !== null,
        BATCH_REPLY_TIMEOUT_MS,
      );
      if (connection.malformed !== null) {
        fail(`the node sent bytes that are not RESP: ${connection.malformed}`);
        connection.destroy();
        return;
      }
      if (!arrived || connection.replies.length < wanted) {
        fail(
          `${connection.replies.length} of ${wanted} replies ${arrived ? 'before the node closed the connection' : `after ${BATCH_REPLY_TIMEOUT_MS} ms`}`,
        );
        connection.destroy();
        return;
      }
      for (; checked < owed.length; checked++) {
        const { args, frame } = owed[checked] as { args: Buffer[]; frame: Frame };
        const reply = connection.replies[checked] as Reply;
        stats.replies++;
        if (reply.kind === 'error') stats.errorReplies++;
        const problem = replyProblem(args, reply, frame);
        if (problem !== null) {
          fail(
            `request ${checked} ${show(args.map((arg) => arg.toString('latin1')).join(' '))}: ${problem}, got ${showReply(reply)}`,
          );
          connection.destroy();
          return;
        }
      }
    }
    // The end of the connection: the server closes it after a protocol error or QUIT; otherwise we
    // half-close and the server must close its side without sending anything more.
    if (ending === 'fatal') {
      stats.protocolErrors++;
      const last = connection.replies[owed.length];
      if (last?.kind !== 'error' || last.message !== fatalMessage) {
        fail(
          `wanted the protocol error ${show(fatalMessage)} after ${owed.length} replies, got ${showReply(last)}`,
        );
        connection.destroy();
        return;
      }
    } else if (ending !== 'quit') {
      connection.end();
    }
    if (!(await connection.until(() => connection.closed, CLOSE_TIMEOUT_MS))) {
      fail(`the connection (${ending}) was not closed within ${CLOSE_TIMEOUT_MS} ms`);
      connection.destroy();
      return;
    }
    const total = owed.length + (ending === 'fatal' ? 1 : 0);
    if (connection.replies.length !== total || connection.malformed !== null) {
      fail(`${connection.replies.length} replies on a connection that was owed ${total}`);
      return;
    }
  }
}

export interface FuzzRunOptions {
  /** Names the run in its log line. */
  label: string;
  seed: number;
  port: number;
  /** Sent first on every connection, and answered OK, before any frame (AUTH through the proxy). */
  login: Buffer | null;
  /** The well-behaved client running meanwhile. */
  probe: CounterProbe | undefined;
  /** Fails if the server under test has exited. */
  assertAlive: () => void;
}

/**
 * FRAME_COUNT frames from WORKERS workers at once, each checked as it is answered; then no
 * failure, every frame sent, the server still running, and the well-behaved client served
 * meanwhile with every INCR in order.
 */
export async function fuzzAndCheck(options: FuzzRunOptions): Promise<void> {
  const { label, seed, port, login, probe, assertAlive } = options;
  const stats: FuzzStats = {
    frames: 0,
    replies: 0,
    errorReplies: 0,
    protocolErrors: 0,
    connections: 0,
    kinds: new Map(),
  };
  const failures: string[] = [];
  const probeBefore = probe?.replies ?? 0;
  const startedAt = Date.now();
  await Promise.all(
    Array.from({ length: WORKERS }, (_, worker) =>
      fuzzWorker({
        seed,
        worker,
        frameBudget: FRAME_COUNT / WORKERS,
        port,
        stats,
        failures,
        login,
      }).catch((cause: unknown) => {
        failures.push(`worker ${worker} (seed ${seed}) threw: ${(cause as Error).stack}`);
      }),
    ),
  );
  const elapsedMs = Date.now() - startedAt;
  console.log(
    `${label}: ${stats.frames} frames on ${stats.connections} connections in ${elapsedMs} ms: ${stats.replies} replies (${stats.errorReplies} errors), ${stats.protocolErrors} protocol-error closes; probe INCRs during it: ${(probe?.replies ?? 0) - probeBefore}`,
  );
  console.log(`frame kinds: ${[...stats.kinds].map(([kind, count]) => `${kind} ${count}`).join(', ')}`);
  assert.deepEqual(failures, [], `${failures.length} failures (seed ${seed}):\n${failures.join('\n\n')}`);
  assert.equal(stats.frames, FRAME_COUNT);
  assertAlive();
  assert.ok(
    (probe?.replies ?? 0) - probeBefore >= 5,
    'the well-behaved client was not served during the fuzz',
  );
  assert.deepEqual(probe?.problems, []);
}

// ---------------------------------------------------------------------------------------------
// The well-behaved client: INCR every few ms; each value must be the previous one plus one.

export class CounterProbe {
  last = 0;
  replies = 0;
  readonly problems: string[] = [];
  maxGapMs = 0;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(private readonly redis: Redis) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    let lastAt = Date.now();
    while (!this.stopped) {
      try {
        const value = await this.redis.incr(PROBE_KEY);
        if (value !== this.last + 1) this.problems.push(`INCR answered ${value} after ${this.last}`);
        this.last = value;
        this.replies++;
      } catch (cause) {
        this.problems.push(`INCR failed: ${(cause as Error).message}`);
        if (this.problems.length > 20) return;
      }
      const now = Date.now();
      this.maxGapMs = Math.max(this.maxGapMs, now - lastAt);
      lastAt = now;
      await sleep(3);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/**
 * `count` pipelined `PING <payload>` requests, after `prefix` (an AUTH, say); each payload starts
 * with its request's number in 10 digits, so that replies can be matched to requests.
 */
export function pingStream(count: number, payloadBytes: number, prefix: Buffer = Buffer.alloc(0)): Buffer {
  const header = enc(`*2\r\n$4\r\nPING\r\n$${payloadBytes}\r\n`);
  const frameBytes = header.length + payloadBytes + 2;
  const stream = Buffer.alloc(prefix.length + count * frameBytes, 0x2e);
  prefix.copy(stream, 0);
  for (let index = 0; index < count; index++) {
    const at = prefix.length + index * frameBytes;
    header.copy(stream, at);
    stream.write(String(index).padStart(10, '0'), at + header.length, 'latin1');
    stream.write('\r\n', at + header.length + payloadBytes, 'latin1');
  }
  return stream;
}

/** A socket connected to `port` whose replies are not read until it is resumed. */
export async function pausedSocket(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.pause();
  return socket;
}

/**
 * Writes `stream` to `socket` in 64 KiB pieces with back-pressure, so that what the kernel has
 * taken (what the server has read, plus the loopback buffers) is known as it goes: `handedOver`.
 */
export class BackPressuredWriter {
  handedOver = 0;
  private writing = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly socket: Socket,
    private readonly stream: Buffer,
  ) {
    this.done = this.write();
  }

  /** Stops after the piece in hand and waits for it. */
  async stop(): Promise<void> {
    this.writing = false;
    await this.done;
  }

  private async write(): Promise<void> {
    const { socket, stream } = this;
    for (let at = 0; at < stream.length && this.writing && !socket.destroyed; at += 64 * 1024) {
      const piece = stream.subarray(at, at + 64 * 1024);
      const more = socket.write(piece, () => {
        this.handedOver += piece.length;
      });
      if (!more) {
        await new Promise<void>((resolve) => {
          const done = () => {
            socket.off('drain', done);
            socket.off('close', done);
            resolve();
          };
          socket.on('drain', done);
          socket.on('close', done);
        });
      }
    }
  }
}
