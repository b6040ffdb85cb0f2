// Differential check against a real Redis 7: the same malformed bytes go to Redis on a raw socket
// and to RequestParser, and both must give the same protocol error, or both wait for more bytes.
// Only malformed protocol is sent, so no command ever runs on that Redis.
import assert from 'node:assert/strict';
import { connect as connectTcp, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { connect as connectTls } from 'node:tls';
import { ParseError, RequestParser } from '../../libs/resp/src/index.js';

const redisUrl = new URL(process.env.BOREALIS_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
// Redis answers a protocol error at once and closes; a request it is still waiting on gets no answer.
const ANSWER_TIMEOUT_MS = 5_000;
const SILENCE_MS = 300;

function bytes(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

function multibulk(args: string[]): Buffer {
  return bytes(
    `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`,
  );
}

function openSocket(): Promise<Socket> {
  const port = Number(redisUrl.port || 6379);
  const host = redisUrl.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket =
      redisUrl.protocol === 'rediss:'
        ? connectTls({ host, port, servername: host }, () => resolve(socket))
        : connectTcp({ host, port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** The AUTH a password in the URL calls for, answered before anything else. */
function authentication(): { request: Buffer; reply: string } | null {
  if (redisUrl.password === '') return null;
  const password = decodeURIComponent(redisUrl.password);
  const user = decodeURIComponent(redisUrl.username);
  return {
    request: multibulk(user === '' ? ['AUTH', password] : ['AUTH', user, password]),
    reply: '+OK\r\n',
  };
}

interface RedisAnswer {
  /** What Redis wrote back, one char per byte. */
  reply: string;
  closed: boolean;
}

/**
 * Sends `input` on a fresh connection; resolves when Redis closes it, or after a silence when it
 * is expected to keep waiting. An input Redis refuses is waited on until it closes (or the
 * deadline): on a busy machine its answer may come later than any silence window.
 */
async function askRedis(input: Buffer, expected: 'refusal' | 'waiting'): Promise<RedisAnswer> {
  const socket = await openSocket();
  const auth = authentication();
  const received: Buffer[] = [];
  try {
    return await new Promise<RedisAnswer>((resolve, reject) => {
      const answer = (closed: boolean) => {
        clearTimeout(silence);
        clearTimeout(deadline);
        let reply = Buffer.concat(received).toString('latin1');
        if (auth !== null) {
          if (!reply.startsWith(auth.reply)) reject(new Error(`AUTH failed: ${JSON.stringify(reply)}`));
          reply = reply.slice(auth.reply.length);
        }
        resolve({ reply, closed });
      };
      const silence = expected === 'waiting' ? setTimeout(() => answer(false), SILENCE_MS) : undefined;
      const deadline = setTimeout(() => answer(false), ANSWER_TIMEOUT_MS);
      // Once Redis has answered, only its closing the connection ends the wait.
      socket.on('data', (chunk: Buffer) => {
        received.push(chunk);
        clearTimeout(silence);
      });
      socket.on('close', () => answer(true));
      socket.on('error', () => undefined);
      socket.write(auth === null ? input : Buffer.concat([auth.request, input]));
    });
  } finally {
    socket.destroy();
  }
}

/** What our parser makes of `input` in one chunk: requests it would run, and its error, if any. */
function askParser(input: Buffer): { requests: number; error: string | null } {
  const parser = new RequestParser();
  parser.push(input);
  let requests = 0;
  for (let request = parser.next(); request !== null; request = parser.next()) {
    if (request instanceof ParseError) return { requests, error: request.message };
    requests++;
  }
  return { requests, error: null };
}

const tooLong = 'x'.repeat(70_000);

/** Inputs Redis must refuse with a protocol error. */
const refused: [string, string][] = [
  ['multibulk count not a number', '*x\r\n'],
  ['multibulk count over INT_MAX', '*2147483648\r\n'],
  ['multibulk count below 64 bits', '*-9223372036854775809\r\n'],
  ['multibulk count with a leading zero', '*01\r\n'],
  ['multibulk count with a plus sign', '*+1\r\n'],
  ['multibulk count with a trailing space', '*1 \r\n'],
  ['multibulk count of 21 characters', `*-${'1'.repeat(20)}\r\n`],
  ['integer instead of a bulk', '*3\r\n:1\r\n'],
  ['empty bulk header', '*1\r\n\r\n\r\n'],
  ['bulk header starting with \\n', '*1\r\n\n\r\n'],
  ['bulk header starting with a high byte', '*1\r\n\u00ff\r\n'],
  ['inline line instead of a bulk', '*2\r\nGET key\r\n'],
  ['negative bulk length', '*1\r\n$-1\r\n'],
  ['bulk length -0', '*1\r\n$-0\r\n'],
  ['bulk length not a number', '*1\r\n$x\r\n'],
  ['empty bulk length', '*1\r\n$\r\n'],
  ['bulk length with a leading zero', '*1\r\n$01\r\n'],
  ['bulk length over 64 bits', '*1\r\n$99999999999999999999\r\n'],
  ['bulk length over proto-max-bulk-len', '*1\r\n$1000000000000\r\n'],
  ['unbalanced double quote', 'SET "a\r\n'],
  ['unbalanced single quote', "SET 'a\r\n"],
  ['closing double quote followed by a letter', 'SET "a"b\r\n'],
  ['closing single quote followed by a letter', "SET 'a'b\r\n"],
  ['quotes inside an argument', 'ECHO a"b"c\r\n'],
  ['escaped closing quote', 'SET "a\\"\r\n'],
  ['inline request over 64 KiB', tooLong],
  ['multibulk count line over 64 KiB', `*${'1'.repeat(70_000)}`],
  ['bulk count line over 64 KiB', `*1\r\n$${'1'.repeat(70_000)}`],
  ['NUL in a multibulk count line', `*1\u0000\r\n${tooLong}`],
  ['NUL in a bulk count line', `*1\r\n$3\u0000\r\n${tooLong}`],
  ['NUL in an inline request', `ab\u0000cd\r\n${tooLong}`],
  ['error after requests that are no requests', '\r\n\n   \r\n*0\r\n*-1\r\n*-7\r\n*x\r\n'],
];

/** Inputs Redis keeps waiting on: no answer, connection left open. */
const waiting: [string, string][] = [
  ['count line without the byte after its \\r', '*1\r'],
  ['bulk length line without the byte after its \\r', '*1\r\n$3\r'],
  ['bulk data not all there', '*2\r\n$3\r\nGET\r\n$3\r\nke'],
  ['NUL in a count line, under 64 KiB', '*1\u0000\r\n$4\r\nPING\r\n'],
  ['NUL in an inline request, under 64 KiB', 'PI\u0000NG\r\n'],
  ['unterminated inline request with an open quote', 'SET "a'],
];

describe(`protocol errors, compared with the Redis at ${redisUrl.host}`, () => {
  for (const [name, input] of refused) {
    it(`refuses ${name} as Redis does`, async () => {
      const redis = await askRedis(bytes(input), 'refusal');
      assert.ok(redis.closed, `Redis kept the connection open after ${JSON.stringify(redis.reply)}`);
      const match = /^-(ERR Protocol error: [^\r\n]*)\r\n$/.exec(redis.reply);
      assert.ok(match, `Redis answered ${JSON.stringify(redis.reply)}`);
      assert.deepEqual(askParser(bytes(input)), { requests: 0, error: match[1] });
    });
  }

  for (const [name, input] of waiting) {
    it(`waits on ${name} as Redis does`, async () => {
      const redis = await askRedis(bytes(input), 'waiting');
      assert.deepEqual(redis, { reply: '', closed: false });
      assert.deepEqual(askParser(bytes(input)), { requests: 0, error: null });
    });
  }
});
