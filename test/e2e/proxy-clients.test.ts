// Real clients through a real proxy process to two real data nodes (writers with a password of
// their own) over six storage nodes, with the route written into Redis as the control plane
// writes it: AUTH and its errors, HELLO 3 AUTH, RESET and QUIT, 1,000 pipelined commands from
// ioredis, MULTI/EXEC and WATCH across writers, a scripted redis-cli session (RESP2 and RESP3),
// redis-benchmark, and what /health and /metrics say about it.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Reply } from '../../libs/resp/src/index.js';
import { text } from '../support/clients.js';
import { mulberry32 } from '../support/prng.js';
import { ProxyStack, type TestRoute } from '../support/proxy.js';
import { waitUntil } from '../support/wait.js';

const PASSWORD = 'correct horse battery staple';
const WRITER_PASSWORD = 'writers-only secret';
const TOOL_TIMEOUT_MS = 30_000;
const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';
const NOAUTH = 'NOAUTH Authentication required.';
const EXECABORT = 'EXECABORT Transaction discarded because of previous errors.';

describe('clients through the proxy', { timeout: 110_000 }, () => {
  const stack = new ProxyStack({
    writers: ['w1', 'w2'].map((id) => ({ id, cluster: 'proxy-clients' })),
    writerPassword: WRITER_PASSWORD,
  });
  const { clients } = stack;
  let route: TestRoute;

  const port = () => route.port;
  const login = (options = {}) => clients.redis(port(), { password: PASSWORD, ...options });

  before(async () => {
    await stack.start();
    route = await stack.newRoute({ password: PASSWORD });
    await stack.publish(route);
  });

  after(() => stack.stop());

  it('answers NOAUTH before AUTH, WRONGPASS for a wrong password or user, and serves after AUTH', async () => {
    const connection = await clients.raw(port());
    const replies = await connection.call(
      ['GET', 'k'],
      ['NOSUCH', 'x'],
      ['GET'],
      ['AUTH', 'wrong password'],
      ['AUTH', 'someone', PASSWORD],
      ['AUTH', 'a', 'b', 'c'],
      ['PING'],
      ['AUTH', PASSWORD],
      ['SET', 'auth:k', 'v'],
      ['GET', 'auth:k'],
      ['AUTH', 'default', PASSWORD],
    );
    assert.deepEqual(replies.map(text), [
      NOAUTH,
      "ERR unknown command 'NOSUCH', with args beginning with: 'x' ",
      "ERR wrong number of arguments for 'get' command",
      WRONGPASS,
      WRONGPASS,
      'ERR syntax error',
      NOAUTH,
      'OK',
      'OK',
      'v',
      'OK',
    ]);
    // ioredis logs in with HELLO 3 AUTH: a wrong password is its connection's error.
    const errors: string[] = [];
    const refused = clients.redis(port(), { password: 'not it' }, (cause) => errors.push(cause.message));
    await assert.rejects(refused);
    assert.deepEqual(errors, [WRONGPASS]);
    const client = await login();
    assert.equal(await client.get('auth:k'), 'v');
  });

  it('speaks RESP3 after HELLO 3 AUTH, and RESP2 again after HELLO 2 or RESET', async () => {
    const connection = await clients.raw(port());
    const [noauth] = await connection.call(['HELLO', '3']);
    assert.match(text(noauth) ?? '', /^NOAUTH HELLO must be called with the client already authenticated/);
    const [hello] = await connection.call([
      'HELLO',
      '3',
      'AUTH',
      'default',
      PASSWORD,
      'SETNAME',
      'resp3-client',
    ]);
    assert.equal(hello?.kind, 'map');
    const fields = new Map(
      (hello as Extract<Reply, { kind: 'map' }>).entries.map(([key, value]) => [text(key), text(value)]),
    );
    assert.equal(fields.get('proto'), '3');
    assert.equal(fields.get('server'), 'redis');
    const replies = await connection.call(
      ['HSET', 'resp3:h', 'a', '1'],
      ['HGETALL', 'resp3:h'],
      ['GET', 'resp3:missing'],
      ['CLIENT', 'GETNAME'],
      ['HELLO', '2'],
      ['HGETALL', 'resp3:h'],
      ['GET', 'resp3:missing'],
      ['HELLO', '3'],
      ['RESET'],
      ['GET', 'resp3:missing'],
    );
    assert.deepEqual(
      replies.map((reply) => reply.kind),
      ['integer', 'map', 'null', 'bulk', 'array', 'array', 'null', 'map', 'simple', 'error'],
    );
    assert.equal(text(replies[3]), 'resp3-client');
    assert.equal(text(replies[8]), 'RESET');
    assert.equal(text(replies[9]), NOAUTH);
  });

  it('answers 1,000 pipelined commands from ioredis in order', async () => {
    const client = await login();
    const random = mulberry32(20261205);
    const pipeline = client.pipeline();
    const expected: unknown[] = [];
    const counters = new Map<string, number>();
    for (let index = 0; index < 1_000; index++) {
      const key = `pipe:${Math.floor(random() * 20)}`;
      if (random() < 0.5) {
        const next = (counters.get(key) ?? 0) + 1;
        counters.set(key, next);
        pipeline.incr(key);
        expected.push(next);
      } else {
        pipeline.get(key);
        expected.push(counters.has(key) ? String(counters.get(key)) : null);
      }
    }
    const results = (await pipeline.exec()) ?? [];
    assert.equal(results.length, 1_000);
    assert.deepEqual(
      results.map(([error]) => error),
      results.map(() => null),
    );
    assert.deepEqual(
      results.map(([, value]) => value),
      expected,
    );
  });

  it('runs MULTI/EXEC, and WATCH across writers: a concurrent change makes EXEC answer null', async () => {
    const first = await login();
    const second = await login();
    assert.deepEqual(await first.multi().set('tx:a', '1').incr('tx:a').get('tx:a').exec(), [
      [null, 'OK'],
      [null, 2],
      [null, '2'],
    ]);
    await first.watch('tx:a');
    assert.equal(await second.set('tx:a', 'changed'), 'OK');
    assert.equal(await first.multi().set('tx:a', 'mine').exec(), null);
    assert.equal(await first.get('tx:a'), 'changed');
    await first.watch('tx:a');
    assert.deepEqual(await first.multi().set('tx:a', 'mine').exec(), [[null, 'OK']]);
    const aborted = await first
      .multi()
      .set('tx:b', '1')
      .call('NOSUCH')
      .exec()
      .catch((cause: Error) => cause);
    assert.ok(aborted instanceof Error);
    assert.match(aborted.message, /EXECABORT/);
    assert.equal(await second.get('tx:b'), null);
  });

  it('serves a scripted redis-cli session, in RESP2 and RESP3, and refuses one without -a', async () => {
    const script = [
      'DEL cli:s cli:n cli:h',
      'PING',
      'CLIENT SETNAME cli-session',
      'CLIENT GETNAME',
      'SET cli:s hello',
      'APPEND cli:s " world"',
      'GET cli:s',
      'INCRBY cli:n 5',
      'HSET cli:h name ada',
      'HGETALL cli:h',
      'MULTI',
      'INCR cli:n',
      'NOSUCH cmd',
      'EXEC',
      'MULTI',
      'INCR cli:n',
      'GET cli:n',
      'EXEC',
      'GET',
    ].join('\n');
    const expected = [
      '0',
      'PONG',
      'OK',
      'cli-session',
      'OK',
      '11',
      'hello world',
      '5',
      '1',
      'name',
      'ada',
      'OK',
      'QUEUED',
      "ERR unknown command 'NOSUCH', with args beginning with: 'cmd' ",
      '',
      EXECABORT,
      '',
      'OK',
      'QUEUED',
      'QUEUED',
      '6',
      '6',
      "ERR wrong number of arguments for 'get' command",
      '',
    ];
    const resp2 = await clients.tool(
      'redis-cli',
      ['--no-auth-warning', '-a', PASSWORD, '-p', String(port())],
      `${script}\n`,
      TOOL_TIMEOUT_MS,
    );
    assert.equal(resp2.code, 0, resp2.stderr);
    assert.equal(resp2.stdout, expected.map((line) => `${line}\n`).join(''));
    const resp3 = await clients.tool(
      'redis-cli',
      ['-3', '--no-auth-warning', '-a', PASSWORD, '-p', String(port())],
      'HGETALL cli:h\nGET cli:missing\nMULTI\nGET cli:n\nEXEC\n',
      TOOL_TIMEOUT_MS,
    );
    assert.equal(resp3.code, 0, resp3.stderr);
    assert.equal(resp3.stdout, 'name ada\n\nOK\nQUEUED\n6\n');
    const refused = await clients.tool('redis-cli', ['-p', String(port())], 'GET cli:s\n', TOOL_TIMEOUT_MS);
    assert.equal(refused.stdout, `${NOAUTH}\n\n`);
  });

  it('runs redis-benchmark from 20 connections without an error', async () => {
    const result = await clients.tool(
      'redis-benchmark',
      [
        '-p',
        String(port()),
        '-a',
        PASSWORD,
        '-t',
        'set,get,incr',
        '-n',
        '600',
        '-c',
        '20',
        '-r',
        '1000',
        '--csv',
      ],
      '',
      90_000,
    );
    const output = `${result.stdout}\n${result.stderr}`;
    assert.equal(result.code, 0, output);
    assert.ok(!/error/i.test(output.replace('Could not fetch server CONFIG', '')), output);
    const tests = result.stdout.split('\n').filter((line) => /^"(SET|GET|INCR)"/.test(line));
    assert.equal(tests.length, 3, output);
  });

  it('refuses MONITOR with the reason, keeps CLIENT REPLY itself, checks CLIENT SETINFO, forwards the admin commands', async () => {
    const connection = await clients.raw(port());
    connection.send(
      ['AUTH', PASSWORD],
      ['MONITOR'],
      ['CLIENT', 'SETINFO', 'lib-name', 'redis py'],
      ['CLIENT', 'SETINFO', 'lib-name', 'redis-py'],
      ['CONFIG', 'GET', 'maxmemory-policy'],
      ['CONFIG', 'SET', 'nosuch', '1'],
      ['WAIT', '1', '0'],
      ['SAVE'],
      ['CLIENT', 'REPLY', 'SKIP'],
      ['SET', 'reply:k', 'skipped'],
      ['GET', 'reply:k'],
      ['CLIENT', 'REPLY', 'OFF'],
      ['SET', 'reply:k', 'unanswered'],
      ['PING', 'unanswered'],
      ['CLIENT', 'REPLY', 'ON'],
      ['GET', 'reply:k'],
      ['CLIENT', 'REPLY', 'maybe'],
      ['MULTI'],
      ['MONITOR'],
      ['EXEC'],
    );
    await connection.waitForReplies(15);
    const replies = connection.replies;
    assert.match(text(replies[7]) ?? '', /^ERR SAVE is not needed on Borealis: /);
    assert.deepEqual(replies.map(text), [
      'OK',
      "ERR MONITOR is not available through a Borealis endpoint: the endpoint spreads sessions over several writers and pairs each request with one reply; run MONITOR on a data node's own port",
      'ERR lib-name cannot contain spaces, newlines or special characters.',
      'OK',
      'array',
      "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'",
      '3',
      text(replies[7]),
      // CLIENT REPLY SKIP: neither it nor the SET after it is answered; OFF: nothing until ON.
      'skipped',
      'OK',
      'unanswered',
      'ERR syntax error',
      'OK',
      'ERR MONITOR cannot be queued in MULTI on a Borealis endpoint; send it outside the transaction',
      EXECABORT,
    ]);
  });

  it('closes a connection after a protocol error, and reads no more of what the client keeps sending', async () => {
    // Half-open allowed: the client writes on after the endpoint's FIN, up to 128 MiB.
    const socket = connect({ host: '127.0.0.1', port: port(), allowHalfOpen: true });
    const limit = 128 * 1024 * 1024;
    const outcome = await new Promise<{ bytes: number; reply: string }>((resolve) => {
      const chunk = Buffer.alloc(1024 * 1024, 0x61);
      let reply = '';
      let ended = false;
      socket.on('data', (data: Buffer) => {
        reply += data.toString('latin1');
      });
      socket.on('error', () => {
        ended = true;
      });
      socket.on('close', () => resolve({ bytes: socket.bytesWritten, reply }));
      socket.on('connect', () => {
        socket.write(
          `*2\r\n$4\r\nAUTH\r\n$${PASSWORD.length}\r\n${PASSWORD}\r\n*99999999999999999999999\r\n`,
        );
        const pump = (): void => {
          while (!ended && socket.bytesWritten < limit) {
            if (!socket.write(chunk)) {
              socket.once('drain', pump);
              return;
            }
          }
          if (socket.bytesWritten >= limit) socket.end();
        };
        pump();
      });
    });
    assert.ok(
      outcome.bytes < 48 * 1024 * 1024,
      `the client wrote ${outcome.bytes} bytes before the connection ended`,
    );
    assert.ok(outcome.reply === '' || outcome.reply.startsWith('+OK\r\n'), JSON.stringify(outcome.reply));
  });

  it('answers everything a client sent before closing its side, then closes', async () => {
    const connection = await clients.raw(port());
    connection.send(['AUTH', PASSWORD], ['SET', 'half:k', 'v'], ['GET', 'half:k'], ['PING']);
    connection.socket.end();
    await waitUntil('the proxy to close the connection', 10_000, () => connection.closed);
    assert.deepEqual(connection.replies.map(text), ['OK', 'OK', 'v', 'PONG']);
  });

  it('quits after answering what came before QUIT, and reports connections and commands', async () => {
    const connection = await clients.raw(port());
    connection.send(['AUTH', PASSWORD], ['SET', 'quit:k', '1'], ['QUIT'], ['GET', 'quit:k']);
    await connection.waitForReplies(3);
    await waitUntil('the proxy to close the connection after QUIT', 5_000, () => connection.closed);
    assert.deepEqual(connection.replies.map(text), ['OK', 'OK', 'OK'], 'nothing after QUIT');
    const running = stack.proxy;
    const cluster = await running.cluster(route.clusterId);
    assert.equal(cluster?.version, route.version);
    assert.equal(cluster?.mode, 'open');
    assert.ok((cluster?.connections as number) >= 1, JSON.stringify(cluster));
    const metric = (name: string, labels?: Record<string, string>) => running.metric(name, labels);
    const forwarded = await metric('borealis_proxy_commands_forwarded_total', { cluster: route.clusterId });
    assert.ok(forwarded > 1_000, `${forwarded} commands forwarded`);
    const failures = await metric('borealis_proxy_auth_failures_total');
    assert.ok(failures >= 3, `${failures} auth failures`);
    const remembered = await metric('borealis_proxy_auth_remembered_total');
    assert.ok(remembered >= 5, `${remembered} passwords remembered`);
    assert.equal(await metric('borealis_proxy_writer_failures_total'), 0);
  });
});
