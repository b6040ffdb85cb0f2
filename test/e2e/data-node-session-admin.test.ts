// Connection-level and admin commands on a real data node process over TCP (six real storage
// nodes behind it), compared with a real Redis 7.0 where the reply is deterministic: a protocol
// error ends the connection even for a client that keeps writing; CLIENT SETINFO's checks;
// CLIENT LIST/INFO fields; INFO cpu, memory, commandstats, errorstats and a keyspace that agrees
// with DBSIZE; CONFIG GET/SET/RESETSTAT and the idle timeout; TIME, WAIT, LASTSAVE; the
// commands that do not apply; MONITOR and its bound; CLIENT KILL, REPLY, NO-TOUCH, PAUSE.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Reply } from '../../libs/resp/src/index.js';
import { ClientSet, type RawConnection, text } from '../support/clients.js';
import { type RunningDataNode, startDataNode } from '../support/data-nodes.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';
import { waitUntil } from '../support/wait.js';

const MiB = 1024 * 1024;
const redisUrl = new URL(process.env.BOREALIS_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');

function infoFields(info: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of info.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

function fieldNames(clientLine: string): string[] {
  return clientLine
    .trim()
    .split(' ')
    .map((field) => field.slice(0, field.indexOf('=')));
}

function clientFields(clientLine: string): Map<string, string> {
  return new Map(
    clientLine
      .trim()
      .split(' ')
      .map((field) => [field.slice(0, field.indexOf('=')), field.slice(field.indexOf('=') + 1)]),
  );
}

describe('data node: connection and admin commands', { timeout: 180_000 }, () => {
  let fleet: StorageFleet | undefined;
  let node: RunningDataNode | undefined;
  const clients = new ClientSet();
  let redis: RawConnection;

  const port = (): number => {
    assert.ok(node, 'the data node is running');
    return node.respPort;
  };
  const client = (): Promise<Redis> => clients.redis(port());
  const raw = (): Promise<RawConnection> => clients.raw(port());
  /** The same requests on the data node and on Redis: the replies must be equal. */
  const bothAnswer = async (...requests: string[][]): Promise<void> => {
    const ours = await (await raw()).call(...requests);
    const theirs = await redis.call(...requests);
    assert.deepEqual(ours, theirs, `replies to ${JSON.stringify(requests)}`);
  };

  before(async () => {
    fleet = await startStorageFleet();
    node = await startDataNode({ id: 'admin-d1', storage: fleet.nodes, coordinatorId: 7, cluster: 'admin' });
    redis = await clients.raw(Number(redisUrl.port || 6379));
    if (redisUrl.password !== '') {
      await redis.call([
        'AUTH',
        decodeURIComponent(redisUrl.username || 'default'),
        decodeURIComponent(redisUrl.password),
      ]);
    }
  });

  after(async () => {
    clients.closeAll();
    await node?.stop();
    await fleet?.stop();
  });

  it('closes a connection after a protocol error, and reads no more of what the client keeps sending', async () => {
    // Half-open allowed: like the client that wrote 958 MB, it writes on after the node's FIN.
    const socket = connect({ host: '127.0.0.1', port: port(), allowHalfOpen: true });
    const written = await new Promise<{ bytes: number; reply: string; ended: string }>((resolve) => {
      const chunk = Buffer.alloc(MiB, 0x61);
      let reply = '';
      let ended: string | null = null;
      // Up to 128 MiB: a node that reads on after the error takes all of it.
      const limit = 128 * MiB;
      socket.on('data', (data: Buffer) => {
        reply += data.toString('latin1');
      });
      socket.on('error', (cause: NodeJS.ErrnoException) => {
        ended ??= cause.code ?? 'error';
      });
      socket.on('close', () => resolve({ bytes: socket.bytesWritten, reply, ended: ended ?? 'closed' }));
      socket.on('connect', () => {
        socket.write('*1\r\n$4\r\nPING\r\n*99999999999999999999999\r\n');
        const pump = (): void => {
          while (ended === null && socket.bytesWritten < limit) {
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
    // The kernel buffers of both ends hold a few MiB at most (32 MiB with every buffer at the
    // machine's maximum); the node itself reads nothing after the error.
    assert.ok(
      written.bytes < 48 * MiB,
      `the client wrote ${written.bytes} bytes before the connection ended`,
    );
    assert.ok(
      written.reply === '' || written.reply.startsWith('+PONG\r\n'),
      `replies before the error come first: ${JSON.stringify(written.reply)}`,
    );
    const after = await client();
    assert.equal(await after.ping(), 'PONG', 'the node serves other connections');
  });

  it('CLIENT SETINFO refuses spaces, newlines and special characters; CLIENT LIST stays one line per client', async () => {
    const connection = await raw();
    const replies = await connection.call(
      ['CLIENT', 'SETINFO', 'lib-name', 'redis py'],
      ['CLIENT', 'SETINFO', 'lib-ver', '1\nid=1 addr=forged'],
      ['CLIENT', 'SETINFO', 'lib-name', 'redis-py'],
      ['CLIENT', 'SETINFO', 'lib-ver', '5.0.1'],
      ['CLIENT', 'INFO'],
    );
    assert.deepEqual(replies.slice(0, 4).map(text), [
      'ERR lib-name cannot contain spaces, newlines or special characters.',
      'ERR lib-ver cannot contain spaces, newlines or special characters.',
      'OK',
      'OK',
    ]);
    const info = text(replies[4]) ?? '';
    assert.equal(info.split('\n').length, 2, 'one line and its newline');
    assert.match(info, / lib-name=redis-py lib-ver=5\.0\.1 /);
  });

  it('CLIENT LIST and CLIENT INFO give Redis’s fields in Redis’s order, with honest values', async () => {
    const connection = await raw();
    const [ours] = await connection.call(['CLIENT', 'INFO']);
    const [theirs] = await redis.call(['CLIENT', 'INFO']);
    const redisNames = fieldNames(text(theirs) ?? '');
    // Redis 7.4 adds `watch` after `multi`, 7.2 `lib-name` and `lib-ver` after `resp`.
    const expected = [...redisNames];
    expected.splice(expected.indexOf('multi') + 1, 0, 'watch');
    if (!expected.includes('lib-name'))
      expected.splice(expected.indexOf('resp') + 1, 0, 'lib-name', 'lib-ver');
    const names = fieldNames(text(ours) ?? '');
    assert.deepEqual(names.slice(0, expected.length), expected);
    assert.deepEqual(names.slice(expected.length), ['consistency']);
    const fields = clientFields(text(ours) ?? '');
    assert.equal(fields.get('addr'), `127.0.0.1:${connection.socket.localPort}`);
    assert.equal(fields.get('laddr'), `127.0.0.1:${port()}`);
    assert.equal(fields.get('cmd'), 'client|info');
    assert.equal(fields.get('flags'), 'N');
    assert.equal(fields.get('user'), 'default');
    assert.ok(Number(fields.get('fd')) > 0);

    const other = await raw();
    await other.call(['MULTI'], ['SET', 'admin:list', '1'], ['CLIENT', 'NO-TOUCH', 'on']);
    const [list] = await connection.call(['CLIENT', 'LIST']);
    const lines = (text(list) ?? '').trim().split('\n');
    const otherLine = lines.find((line) => line.includes(`addr=127.0.0.1:${other.socket.localPort} `));
    assert.ok(otherLine, 'CLIENT LIST shows every connection');
    const otherFields = clientFields(otherLine);
    assert.equal(otherFields.get('flags'), 'x');
    assert.equal(otherFields.get('multi'), '2');
    assert.equal(otherFields.get('cmd'), 'client|no-touch');
    const [byId] = await connection.call(['CLIENT', 'LIST', 'ID', otherFields.get('id') as string]);
    assert.equal((text(byId) ?? '').trim(), otherLine);
    await bothAnswer(['CLIENT', 'LIST', 'TYPE', 'nosuch']);
    await bothAnswer(['CLIENT', 'LIST', 'ID', 'x']);
    await bothAnswer(['CLIENT', 'LIST', 'TYPE', 'master']);
    await bothAnswer(['CLIENT', 'LIST', 'bogus']);
  });

  it('INFO gives cpu, memory, commandstats, errorstats, and a keyspace that agrees with DBSIZE', async () => {
    const redisClient = await client();
    await redisClient.call('CONFIG', 'RESETSTAT');
    await redisClient.set('admin:info:a', '1');
    await redisClient.set('admin:info:b', '2', 'EX', 1000);
    await redisClient.get('admin:info:a');
    await assert.rejects(redisClient.call('GET'));
    await assert.rejects(redisClient.call('HSET', 'admin:info:a', 'f', 'v'));
    const cpu = infoFields(await redisClient.info('cpu'));
    for (const field of ['used_cpu_sys', 'used_cpu_user', 'used_cpu_sys_children', 'used_cpu_user_children'])
      assert.match(cpu.get(field) ?? '', /^\d+\.\d{6}$/, field);
    const memory = infoFields(await redisClient.info('memory'));
    assert.ok(Number(memory.get('used_memory')) > 0);
    assert.ok(Number(memory.get('used_memory_rss')) > 0);
    assert.ok(Number(memory.get('used_memory_peak')) >= Number(memory.get('used_memory')));
    assert.equal(memory.get('maxmemory_policy'), 'noeviction');
    const stats = infoFields(await redisClient.info('commandstats'));
    assert.match(
      stats.get('cmdstat_set') ?? '',
      /^calls=2,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=0$/,
    );
    assert.match(stats.get('cmdstat_get') ?? '', /^calls=1,.*,rejected_calls=1,failed_calls=0$/);
    assert.match(stats.get('cmdstat_hset') ?? '', /^calls=1,.*,failed_calls=1$/);
    const errors = infoFields(await redisClient.info('errorstats'));
    assert.equal(errors.get('errorstat_ERR'), 'count=1');
    assert.equal(errors.get('errorstat_WRONGTYPE'), 'count=1');
    const everything = await redisClient.info('all');
    for (const section of [
      '# Server',
      '# Clients',
      '# Memory',
      '# Stats',
      '# CPU',
      '# Commandstats',
      '# Errorstats',
      '# Keyspace',
    ])
      assert.ok(everything.includes(`${section}\r\n`), section);
    assert.ok(
      !(await redisClient.info()).includes('# Commandstats'),
      'commandstats is not a default section',
    );
    assert.equal(await redisClient.info('nosuchsection'), '');

    const keyspace = async (): Promise<string | undefined> =>
      infoFields(await redisClient.info('keyspace')).get('db0');
    // INFO answers DBSIZE's count while no write has been seen since it was made.
    const sizeBefore = await redisClient.dbsize();
    assert.equal(await keyspace(), `keys=${sizeBefore},expires=1,avg_ttl=0`);
    await redisClient.del('admin:info:a', 'admin:info:b');
    const size = await redisClient.dbsize();
    assert.equal(await keyspace(), size === 0 ? undefined : `keys=${size},expires=0,avg_ttl=0`);
    const countedMsAgo = Number(
      infoFields(await redisClient.info('borealis')).get('keyspace_counted_ms_ago'),
    );
    assert.ok(countedMsAgo >= 0, `keyspace_counted_ms_ago: ${countedMsAgo}`);
  });

  it('CONFIG GET, SET and RESETSTAT: Redis’s replies and errors, all pairs or none', async () => {
    const redisClient = await client();
    assert.deepEqual(await redisClient.call('CONFIG', 'GET', 'maxmemory-policy', 'appendonly'), [
      'maxmemory-policy',
      'noeviction',
      'appendonly',
      'no',
    ]);
    assert.deepEqual(await redisClient.call('CONFIG', 'GET', 'databases'), ['databases', '1']);
    assert.deepEqual(await redisClient.call('CONFIG', 'GET', 'maxclients'), ['maxclients', '1600']);
    assert.equal(
      await redisClient.call('CONFIG', 'SET', 'maxmemory', '100mb', 'hash-max-ziplist-entries', '1024'),
      'OK',
    );
    assert.deepEqual(await redisClient.call('CONFIG', 'GET', 'maxmemory', 'hash-max-listpack-entries'), [
      'maxmemory',
      '104857600',
      'hash-max-listpack-entries',
      '1024',
    ]);
    await assert.rejects(redisClient.call('CONFIG', 'SET', 'maxmemory', '5', 'timeout', 'x'));
    assert.deepEqual(await redisClient.call('CONFIG', 'GET', 'maxmemory'), ['maxmemory', '104857600']);
    // Each of these fails on Redis without changing it, so the shared Redis is left as it was.
    await bothAnswer(['CONFIG', 'SET', 'nosuch', '1']);
    await bothAnswer(['CONFIG', 'SET', 'maxmemory', 'abc']);
    await bothAnswer(['CONFIG', 'SET', 'timeout', '-1']);
    await bothAnswer(['CONFIG', 'SET', 'timeout', '1', 'timeout', '2']);
    await bothAnswer(['CONFIG', 'SET', 'timeout', '1', 'maxmemory']);
    await bothAnswer(['CONFIG', 'SET', 'maxmemory-policy', 'bogus']);
    await bothAnswer(['CONFIG', 'SET', 'appendonly', 'maybe']);
    await bothAnswer(['CONFIG', 'SET', 'appendfsync', 'x']);
    await bothAnswer(['CONFIG', 'SET', 'notify-keyspace-events', 'Q']);
    await bothAnswer(['CONFIG', 'SET', 'save', 'bad']);
    await bothAnswer(['CONFIG', 'SET', 'hash-max-listpack-entries', 'x']);
    await bothAnswer(['CONFIG', 'SET', 'list-max-listpack-size', '-99999999999']);
    await bothAnswer(['CONFIG', 'SET', 'databases', '3']);
    await bothAnswer(['CONFIG', 'GET']);
    await bothAnswer(['CONFIG', 'GET', 'no-such-*']);
    await bothAnswer(['CONFIG', 'RESETSTAT', 'x']);
    await bothAnswer(['CONFIG', 'NOPE']);
    await bothAnswer(['CONFIG', 'HELP']);
    assert.equal(await redisClient.call('CONFIG', 'SET', 'maxmemory', '0'), 'OK');
  });

  it('CONFIG SET timeout closes idle connections; busy ones stay', async () => {
    const idle = await raw();
    const admin = await client();
    assert.equal(await admin.call('CONFIG', 'SET', 'timeout', '1'), 'OK');
    try {
      await waitUntil('the idle connection to be closed', 15_000, () => idle.closed);
    } finally {
      assert.equal(await (await client()).call('CONFIG', 'SET', 'timeout', '0'), 'OK');
    }
  });

  it('TIME, WAIT and LASTSAVE answer at once; SAVE, BGSAVE, SHUTDOWN and DEBUG refuse with the reason', async () => {
    const redisClient = await client();
    const before = Math.floor(Date.now() / 1000);
    const [seconds, micros] = (await redisClient.call('TIME')) as [string, string];
    const afterSeconds = Math.ceil(Date.now() / 1000);
    assert.ok(Number(seconds) >= before && Number(seconds) <= afterSeconds);
    assert.ok(Number(micros) >= 0 && Number(micros) < 1_000_000);
    assert.equal(await redisClient.set('admin:wait', '1'), 'OK');
    assert.equal(await redisClient.call('WAIT', '1', '0'), 3);
    const lastSave = (await redisClient.call('LASTSAVE')) as number;
    assert.ok(lastSave <= afterSeconds);
    for (const [command, ...args] of [
      ['SAVE'],
      ['BGSAVE'],
      ['BGREWRITEAOF'],
      ['SHUTDOWN'],
      ['DEBUG', 'SLEEP', '0'],
    ] as [string, ...string[]][]) {
      await assert.rejects(redisClient.call(command, ...args), (cause: Error) => {
        assert.match(cause.message, new RegExp(`^ERR ${command} is not (needed|available) on Borealis: `));
        return true;
      });
    }
    await bothAnswer(['TIME', 'x']);
    await bothAnswer(['WAIT', '1', 'x']);
    await bothAnswer(['WAIT', 'x', '1']);
    await bothAnswer(['WAIT', '0', '-1']);
    await bothAnswer(['LASTSAVE', 'x']);
    await bothAnswer(['SAVE', 'x']);
  });

  it('MONITOR streams other connections’ commands in Redis’s format, with AUTH redacted and admin commands left out', async () => {
    const monitor = await raw();
    assert.deepEqual((await monitor.call(['MONITOR'])).map(text), ['OK']);
    const worker = await raw();
    await worker.call(
      ['SET', 'admin:mon', 'a "b"\n'],
      ['AUTH', 'secret'],
      ['CONFIG', 'GET', 'timeout'],
      ['GET', 'admin:mon'],
    );
    await monitor.waitForReplies(4);
    const lines = monitor.replies.slice(1, 4).map((reply) => text(reply) ?? '');
    const address = `127.0.0.1:${worker.socket.localPort}`;
    for (const line of lines)
      assert.match(line, new RegExp(`^\\d+\\.\\d{6} \\[0 ${address.replace(/\./g, '\\.')}\\] `));
    assert.deepEqual(
      lines.map((line) => line.slice(line.indexOf('] ') + 2)),
      ['"SET" "admin:mon" "a \\"b\\"\\n"', '"AUTH" "(redacted)"', '"GET" "admin:mon"'],
    );
    assert.match(text((await worker.call(['CLIENT', 'LIST']))[0]) ?? '', / flags=O /);
  });

  it('a monitor that does not read is disconnected once its unsent output passes the bound', async () => {
    const slow = await raw();
    await slow.call(['MONITOR']);
    slow.socket.pause();
    const worker = await raw();
    const big = 'x'.repeat(60_000);
    // ~15 MiB of MONITOR lines, past the 8 MiB bound with the kernel's buffers full.
    for (let round = 0; round < 16 && !slow.closed; round++) {
      await worker.call(...Array.from({ length: 16 }, () => ['ECHO', big]));
    }
    slow.socket.resume();
    await waitUntil('the slow monitor to be disconnected', 20_000, () => slow.closed);
    assert.equal(text((await worker.call(['PING']))[0]), 'PONG');
  });

  it('CLIENT KILL: old form, ID, ADDR, LADDR, USER, SKIPME; errors as Redis', async () => {
    const killer = await raw();
    const victims = await Promise.all([raw(), raw(), raw()]);
    const ids = await Promise.all(
      victims.map(async (victim) => (await victim.call(['CLIENT', 'ID']))[0] as Reply),
    );
    const [first, second, third] = victims as [RawConnection, RawConnection, RawConnection];
    assert.deepEqual(await killer.call(['CLIENT', 'KILL', `127.0.0.1:${first.socket.localPort}`]), [
      { kind: 'simple', value: 'OK' },
    ]);
    await waitUntil('the first victim to be closed', 10_000, () => first.closed);
    assert.deepEqual(
      await killer.call([
        'CLIENT',
        'KILL',
        'ID',
        String((ids[1] as { value: number }).value),
        'USER',
        'default',
      ]),
      [{ kind: 'integer', value: 1 }],
    );
    await waitUntil('the second victim to be closed', 10_000, () => second.closed);
    assert.deepEqual(
      await killer.call([
        'CLIENT',
        'KILL',
        'ADDR',
        `127.0.0.1:${third.socket.localPort}`,
        'LADDR',
        `127.0.0.1:${port()}`,
      ]),
      [{ kind: 'integer', value: 1 }],
    );
    await waitUntil('the third victim to be closed', 10_000, () => third.closed);
    const killerId = String(((await killer.call(['CLIENT', 'ID']))[0] as { value: number }).value);
    assert.deepEqual(await killer.call(['CLIENT', 'KILL', 'ID', killerId]), [{ kind: 'integer', value: 0 }]);
    assert.deepEqual(await killer.call(['CLIENT', 'KILL', 'ID', killerId, 'SKIPME', 'no']), [
      { kind: 'integer', value: 1 },
    ]);
    await waitUntil('the killer itself to be closed after its reply', 10_000, () => killer.closed);
    await bothAnswer(['CLIENT', 'KILL', '1.2.3.4:5']);
    await bothAnswer(['CLIENT', 'KILL', 'ID', '0']);
    await bothAnswer(['CLIENT', 'KILL', 'ID', 'x']);
    await bothAnswer(['CLIENT', 'KILL', 'TYPE', 'foo']);
    await bothAnswer(['CLIENT', 'KILL', 'USER', 'nobody']);
    await bothAnswer(['CLIENT', 'KILL', 'SKIPME', 'maybe']);
    await bothAnswer(['CLIENT', 'KILL', 'ID', '999999999']);
    await bothAnswer(['CLIENT', 'KILL', 'ID', '999999999', 'TYPE', 'pubsub', 'SKIPME', 'no']);
    await bothAnswer(['CLIENT', 'KILL']);
  });

  it('CLIENT REPLY OFF, SKIP and ON send the replies Redis sends', async () => {
    const script = [
      ['CLIENT', 'REPLY', 'SKIP'],
      ['PING', 'a'],
      ['PING', 'b'],
      ['CLIENT', 'REPLY', 'OFF'],
      ['PING', 'c'],
      ['CLIENT', 'REPLY', 'ON'],
      ['CLIENT', 'REPLY', 'maybe'],
      ['PING', 'd'],
    ];
    const ours = await raw();
    ours.send(...script);
    await ours.waitForReplies(4);
    const theirs = await clients.raw(Number(redisUrl.port || 6379));
    if (redisUrl.password !== '') {
      await theirs.call([
        'AUTH',
        decodeURIComponent(redisUrl.username || 'default'),
        decodeURIComponent(redisUrl.password),
      ]);
    }
    const from = theirs.replies.length;
    theirs.send(...script);
    await theirs.waitForReplies(from + 4);
    assert.deepEqual(ours.replies, theirs.replies.slice(from));
    assert.deepEqual(ours.replies.map(text), ['b', 'OK', 'ERR syntax error', 'd']);
  });

  it('CLIENT PAUSE WRITE holds this writer’s writes until UNPAUSE while reads go on; CLIENT NO-TOUCH', async () => {
    const admin = await client();
    const writer = await client();
    const reader = await client();
    assert.equal(await admin.call('CLIENT', 'PAUSE', '60000', 'WRITE'), 'OK');
    let written = false;
    const write = writer.set('admin:paused', '1').then((reply) => {
      written = true;
      return reply;
    });
    assert.equal(await reader.get('admin:paused'), null);
    await waitUntil('the writer to be listed as blocked', 10_000, async () =>
      ((await admin.call('CLIENT', 'LIST')) as string).split('\n').some((line) => / flags=b /.test(line)),
    );
    assert.equal(written, false);
    assert.equal(await admin.call('CLIENT', 'UNPAUSE'), 'OK');
    assert.equal(await write, 'OK');
    assert.equal(await reader.get('admin:paused'), '1');
    assert.equal(await admin.call('CLIENT', 'NO-TOUCH', 'on'), 'OK');
    assert.match((await admin.call('CLIENT', 'INFO')) as string, / flags=T /);
    await bothAnswer(['CLIENT', 'PAUSE', 'x']);
    await bothAnswer(['CLIENT', 'PAUSE', '-1']);
    await bothAnswer(['CLIENT', 'PAUSE', '10', 'bar']);
    await bothAnswer(['CLIENT', 'UNPAUSE', 'x']);
  });
});
