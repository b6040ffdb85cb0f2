// The data node's connection and admin commands without a server: CONFIG's parsing and error
// texts (Redis 7.0's, checked against a real server), INFO commandstats/errorstats, CLIENT LIST
// and MONITOR lines, and a Session over a fake node for CLIENT SETINFO, REPLY, KILL, PAUSE and
// MONITOR.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Keyspace } from '../../apps/data-node/src/engine/keyspace.js';
import type { TransactionEngine } from '../../apps/data-node/src/engine/transaction-engine.js';
import { WAIT_ACKNOWLEDGED_REPLICAS } from '../../apps/data-node/src/server/admin-commands.js';
import {
  formatClientLine,
  formatMonitorLine,
  quoteBytes,
  redactedArguments,
} from '../../apps/data-node/src/server/client-info.js';
import { ClientRegistry } from '../../apps/data-node/src/server/client-registry.js';
import {
  bytesToHuman,
  cpuFields,
  memoryFields,
  wantedSections,
} from '../../apps/data-node/src/server/info-sections.js';
import { parseMemory, ServerConfig } from '../../apps/data-node/src/server/server-config.js';
import { ERROR_CODES_MAX, errorCode, ServerStats } from '../../apps/data-node/src/server/server-stats.js';
import {
  type ConnectionHandle,
  DETACHED_CONNECTION,
  Session,
  type SessionHost,
} from '../../apps/data-node/src/server/session.js';
import { bulk, OK, type Reply } from '../../libs/resp/src/index.js';

const request = (...args: string[]): Buffer[] => args.map((arg) => Buffer.from(arg, 'latin1'));
const failure = (message: string): Reply => ({ kind: 'error', message });

describe('CONFIG parameters', () => {
  it('CONFIG GET matches globs over names and aliases, and answers a plain name as given', () => {
    const config = new ServerConfig();
    assert.deepEqual(config.getMatching(['maxmemory*']), [
      ['maxmemory', '0'],
      ['maxmemory-policy', 'noeviction'],
      ['maxmemory-samples', '5'],
    ]);
    assert.deepEqual(config.getMatching(['TIMEOUT', 'timeout']), [
      ['TIMEOUT', '0'],
      ['timeout', '0'],
    ]);
    assert.deepEqual(config.getMatching(['hash-max-*']), [
      ['hash-max-listpack-entries', '512'],
      ['hash-max-ziplist-entries', '512'],
      ['hash-max-listpack-value', '64'],
      ['hash-max-ziplist-value', '64'],
    ]);
    assert.deepEqual(config.getMatching(['no-such-parameter', 'no-*']), []);
    assert.deepEqual(config.getMatching(['lua-time-limit']), [['lua-time-limit', '5000']]);
  });

  it('CONFIG SET normalizes values as Redis prints them back', () => {
    const config = new ServerConfig();
    assert.deepEqual(
      config.set([
        ['maxmemory', '100mb'],
        ['hash-max-ziplist-value', '1kb'],
        ['appendonly', 'YES'],
        ['maxmemory-policy', 'ALLKEYS-LRU'],
        ['notify-keyspace-events', 'KEA'],
        ['save', '3600 1 300 100'],
        ['LUA-TIME-LIMIT', '100'],
      ]),
      { ok: true },
    );
    assert.equal(config.get('maxmemory'), '104857600');
    assert.equal(config.get('hash-max-listpack-value'), '1024');
    assert.equal(config.get('appendonly'), 'yes');
    assert.equal(config.get('maxmemory-policy'), 'allkeys-lru');
    assert.equal(config.get('notify-keyspace-events'), 'AKE');
    assert.equal(config.get('save'), '3600 1 300 100');
    assert.equal(config.get('busy-reply-threshold'), '100');
    config.set([['notify-keyspace-events', 'Kgx']]);
    assert.equal(config.get('notify-keyspace-events'), 'gxK');
    config.set([['notify-keyspace-events', 'Elshzxetdgm$n']]);
    assert.equal(config.get('notify-keyspace-events'), 'AEm');
  });

  it('refuses bad values with Redis 7.0 error texts, and applies all pairs or none', () => {
    const config = new ServerConfig();
    const refused = (name: string, value: string, reason: string): void =>
      assert.deepEqual(config.set([[name, value]]), {
        ok: false,
        error: `ERR CONFIG SET failed (possibly related to argument '${name}') - ${reason}`,
      });
    refused('maxmemory', 'abc', 'argument must be a memory value');
    refused('maxmemory', '1.5gb', 'argument must be a memory value');
    refused('maxmemory', '-1', 'argument must be a memory value');
    refused('timeout', '-1', 'argument must be between 0 and 2147483647 inclusive');
    refused('timeout', '+5', "argument couldn't be parsed into an integer");
    refused('timeout', '05', "argument couldn't be parsed into an integer");
    refused('databases', '3', "can't set immutable config");
    refused('maxclients', '3', "can't set immutable config");
    refused('appendonly', 'maybe', "argument must be 'yes' or 'no'");
    refused('appendfsync', 'x', 'argument(s) must be one of the following: everysec, always, no');
    refused(
      'maxmemory-policy',
      'bogus',
      'argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction',
    );
    refused('notify-keyspace-events', 'Q', "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
    refused('save', 'bad', 'Invalid save parameters');
    refused('save', '3600', 'Invalid save parameters');
    refused('save', '-1 2', 'Invalid save parameters');
    refused('hash-max-listpack-entries', 'x', "argument couldn't be parsed into an integer");
    refused(
      'hash-max-listpack-entries',
      '-1',
      'argument must be between 0 and 9223372036854775807 inclusive',
    );
    refused('set-max-intset-entries', '99999999999999999999', "argument couldn't be parsed into an integer");
    refused(
      'zset-max-listpack-value',
      '99999999999999999999',
      'argument must be between 0 and 9223372036854775807 inclusive',
    );
    refused(
      'list-max-listpack-size',
      '-99999999999',
      'argument must be between -2147483648 and 2147483647 inclusive',
    );
    refused('slowlog-log-slower-than', '-2', 'argument must be between -1 and 9223372036854775807 inclusive');
    assert.deepEqual(config.set([['nosuch', '1']]), {
      ok: false,
      error: "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'",
    });
    assert.deepEqual(
      config.set([
        ['timeout', '1'],
        ['timeout', '2'],
      ]),
      {
        ok: false,
        error: "ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate parameter",
      },
    );
    assert.equal(
      config.set([
        ['timeout', '5'],
        ['maxmemory', 'x'],
      ]).ok,
      false,
    );
    assert.equal(config.get('timeout'), '0', 'nothing of a refused CONFIG SET is applied');
    assert.equal(config.timeoutSeconds, 0);
  });

  it('maxclients reads what the node decides', () => {
    assert.equal(new ServerConfig({ maxclients: () => 1600 }).get('maxclients'), '1600');
  });

  it('reads memory values as memtoull does', () => {
    assert.equal(parseMemory('1kb'), 1024n);
    assert.equal(parseMemory('1K'), 1000n);
    assert.equal(parseMemory('2GB'), 2n * 1024n ** 3n);
    assert.equal(parseMemory(''), 0n);
    assert.equal(parseMemory('0x10'), null);
    assert.equal(parseMemory(' 5'), null);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 40n }), (bytes) => parseMemory(String(bytes)) === bytes),
    );
  });
});

describe('INFO commandstats and errorstats', () => {
  it('counts calls, time, refused and failed calls per full command name', () => {
    const stats = new ServerStats();
    stats.commandDone('get', 10, 'ok');
    stats.commandDone('get', 5, 'failed');
    stats.commandDone('get', 999, 'rejected');
    stats.commandDone('client|info', 3, 'ok');
    assert.deepEqual(stats.commandStatsFields(), [
      ['cmdstat_client|info', 'calls=1,usec=3,usec_per_call=3.00,rejected_calls=0,failed_calls=0'],
      ['cmdstat_get', 'calls=2,usec=15,usec_per_call=7.50,rejected_calls=1,failed_calls=1'],
    ]);
    assert.equal(stats.commandsProcessed, 3);
    stats.errorReplied('WRONGTYPE Operation against a key holding the wrong kind of value');
    stats.errorReplied('ERR syntax error');
    stats.errorReplied('ERR syntax error');
    assert.deepEqual(stats.errorStatsFields(), [
      ['errorstat_ERR', 'count=2'],
      ['errorstat_WRONGTYPE', 'count=1'],
    ]);
    stats.reset();
    assert.deepEqual(stats.commandStatsFields(), []);
    assert.deepEqual(stats.errorStatsFields(), []);
    assert.equal(stats.errorReplies, 0);
  });

  it('takes an error code from the first 32 bytes, ERR otherwise, and tracks at most 128 codes', () => {
    assert.equal(errorCode('NOAUTH Authentication required.'), 'NOAUTH');
    assert.equal(errorCode('x'.repeat(40)), 'ERR');
    const stats = new ServerStats();
    for (let index = 0; index < ERROR_CODES_MAX + 10; index++) stats.errorReplied(`CODE${index} x`);
    assert.equal(stats.errorStatsFields().length, ERROR_CODES_MAX);
    assert.equal(stats.errorReplies, ERROR_CODES_MAX + 10);
  });
});

describe('INFO sections', () => {
  it('names sections as Redis 7 does: default, all, several at once', () => {
    assert.ok(wantedSections([]).has('keyspace'));
    assert.ok(!wantedSections([]).has('commandstats'));
    assert.ok(wantedSections(['all']).has('commandstats'));
    assert.deepEqual([...wantedSections(['CPU', 'memory'])], ['cpu', 'memory']);
  });

  it('prints sizes and CPU time as Redis does', () => {
    assert.equal(bytesToHuman(1023), '1023B');
    assert.equal(bytesToHuman(1_389_504), '1.33M');
    assert.equal(bytesToHuman(25_275_973_632), '23.54G');
    assert.deepEqual(cpuFields({ user: 311_941, system: 357_796 }), [
      ['used_cpu_sys', '0.357796'],
      ['used_cpu_user', '0.311941'],
      ['used_cpu_sys_children', '0.000000'],
      ['used_cpu_user_children', '0.000000'],
    ]);
    const memory = new Map(
      memoryFields({
        usage: {
          rss: 8_000_000,
          heapTotal: 6_000_000,
          heapUsed: 3_000_000,
          external: 1_000_000,
          arrayBuffers: 500_000,
        },
        peakBytes: 5_000_000,
        startupBytes: 2_000_000,
        datasetBytes: 1_500_000,
        totalSystemBytes: 16 * 1024 ** 3,
        maxmemory: '0',
        maxmemoryPolicy: 'noeviction',
      }),
    );
    assert.equal(memory.get('used_memory'), 4_000_000);
    assert.equal(memory.get('used_memory_rss'), 8_000_000);
    assert.equal(memory.get('used_memory_peak'), 5_000_000);
    assert.equal(memory.get('used_memory_dataset'), 1_500_000);
    assert.equal(memory.get('used_memory_overhead'), 2_500_000);
    assert.equal(memory.get('mem_fragmentation_ratio'), '2.00');
    assert.equal(memory.get('maxmemory_policy'), 'noeviction');
  });
});

describe('CLIENT LIST and MONITOR lines', () => {
  it('prints Redis 7.4 fields in its order, then Borealis fields', () => {
    const line = formatClientLine({
      id: 7,
      addr: '127.0.0.1:5000',
      laddr: '127.0.0.1:6379',
      fd: 9,
      name: 'n',
      ageSeconds: 1,
      idleSeconds: 0,
      flags: 'N',
      multi: -1,
      watch: 0,
      qbuf: 0,
      qbufFree: 0,
      argvMem: 10,
      multiMem: 0,
      obl: 0,
      oll: 0,
      omem: 0,
      totMem: 10,
      events: 'r',
      cmd: 'client|list',
      user: 'default',
      resp: 2,
      libName: '',
      libVer: '',
      extra: [['consistency', 'instance']],
    });
    assert.deepEqual(
      line.split(' ').map((field) => field.slice(0, field.indexOf('='))),
      'id addr laddr fd name age idle flags db sub psub ssub multi watch qbuf qbuf-free argv-mem multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp lib-name lib-ver consistency'.split(
        ' ',
      ),
    );
  });

  it('quotes arguments as sdscatrepr and redacts AUTH and HELLO AUTH', () => {
    assert.equal(
      quoteBytes(Buffer.from('a b"\\\n\r\t\x07\x08\x01\xff', 'latin1')),
      '"a b\\"\\\\\\n\\r\\t\\a\\b\\x01\\xff"',
    );
    assert.deepEqual(redactedArguments(request('AUTH', 'user', 'pw')).map(String), [
      'AUTH',
      '(redacted)',
      '(redacted)',
    ]);
    assert.deepEqual(
      redactedArguments(request('hello', '3', 'AUTH', 'default', 'pw', 'setname', 'auth')).map(String),
      ['hello', '3', 'AUTH', '(redacted)', '(redacted)', 'setname', 'auth'],
    );
    assert.equal(
      formatMonitorLine(1_339_518_083_107_412n, '127.0.0.1:60866', request('keys', '*')),
      '1339518083.107412 [0 127.0.0.1:60866] "keys" "*"',
    );
    assert.equal(formatMonitorLine(5_000_001n, 'a:1', request('x')), '5.000001 [0 a:1] "x"');
  });
});

// ---------------------------------------------------------------------------------------------
// A Session over a fake node: data commands answer 'v' (or record a SET) at once.

interface FakeConnection extends ConnectionHandle {
  killed: boolean | null;
  lines: string[];
}

function fakeConnection(port: number): FakeConnection {
  const connection: FakeConnection = {
    ...DETACHED_CONNECTION,
    remoteAddress: `127.0.0.1:${port}`,
    localAddress: '127.0.0.1:7000',
    fd: port,
    killed: null,
    lines: [],
    kill: (afterReply) => {
      connection.killed = afterReply;
    },
    sendMonitorLine: (line) => {
      connection.lines.push(line);
    },
  };
  return connection;
}

function fakeHost(): SessionHost & { ran: string[] } {
  const ran: string[] = [];
  const engine = {
    // Nothing is served from a cache: every command reaches `run`, which records it.
    readFromCache: () => null,
    run: async (commands: { args: Buffer[] }[]): Promise<Reply[]> =>
      commands.map((command) => {
        ran.push(command.args.map(String).join(' '));
        return command.args[0]?.toString().toLowerCase() === 'set' ? OK : bulk('v');
      }),
  } as unknown as TransactionEngine;
  return {
    ran,
    engine,
    keyspace: {} as Keyspace,
    password: null,
    defaultConsistency: 'instance',
    config: new ServerConfig(),
    stats: new ServerStats(),
    info: async () => '',
    lastSaveSeconds: () => 1_700_000_000,
  };
}

describe('Session: connection and admin commands', () => {
  it('CLIENT SETINFO refuses spaces, newlines and special characters as Redis 7.2', async () => {
    const session = new Session(1, fakeHost());
    for (const value of ['redis py', 'a\nb', 'tab\there', 'é']) {
      const { reply } = await session.handle(request('CLIENT', 'SETINFO', 'lib-name', value));
      assert.deepEqual(reply, failure('ERR lib-name cannot contain spaces, newlines or special characters.'));
    }
    assert.deepEqual(
      (await session.handle(request('CLIENT', 'SETINFO', 'LIB-VER', 'x y'))).reply,
      failure('ERR LIB-VER cannot contain spaces, newlines or special characters.'),
    );
    assert.deepEqual((await session.handle(request('CLIENT', 'SETINFO', 'lib-name', 'redis-py'))).reply, OK);
    assert.deepEqual((await session.handle(request('CLIENT', 'SETINFO', 'lib-ver', '5.0.1'))).reply, OK);
    assert.match(session.describe(), / lib-name=redis-py lib-ver=5\.0\.1 /);
    assert.deepEqual(
      (await session.handle(request('CLIENT', 'SETINFO', 'lib-xyz', 'a'))).reply,
      failure("ERR Unrecognized option 'lib-xyz'"),
    );
  });

  it('CLIENT REPLY OFF, SKIP and ON decide which replies are sent, in request order', async () => {
    const session = new Session(1, fakeHost());
    const sent: string[] = [];
    const run = async (...args: string[]): Promise<void> => {
      const wanted = session.replyWanted();
      const result = await session.handle(request(...args));
      if ((wanted || result.alwaysSent === true) && result.silent !== true) sent.push(args.join(' '));
    };
    await run('CLIENT', 'REPLY', 'SKIP');
    await run('PING', 'a');
    await run('PING', 'b');
    await run('CLIENT', 'REPLY', 'OFF');
    await run('PING', 'c');
    await run('CLIENT', 'REPLY', 'SKIP');
    await run('CLIENT', 'REPLY', 'ON');
    await run('CLIENT', 'REPLY', 'SKIP');
    await run('CLIENT', 'REPLY', 'SKIP');
    await run('PING', 'd');
    await run('PING', 'e');
    assert.deepEqual(sent, ['PING b', 'CLIENT REPLY ON', 'PING e']);
    assert.deepEqual(
      (await session.handle(request('CLIENT', 'REPLY', 'maybe'))).reply,
      failure('ERR syntax error'),
    );
  });

  it('MONITOR shows other connections’ commands, not admin ones, with EXEC after what it ran', async () => {
    const host = fakeHost();
    const registry = new ClientRegistry<Session>();
    const watcherConnection = fakeConnection(1001);
    const watcher = new Session(1, host, watcherConnection, registry);
    const worker = new Session(2, host, fakeConnection(1002), registry);
    registry.add(watcher);
    registry.add(worker);
    assert.deepEqual((await watcher.handle(request('MONITOR'))).reply, OK);
    await worker.handle(request('SET', 'k', 'v'));
    await worker.handle(request('AUTH', 'secret'));
    await worker.handle(request('CONFIG', 'GET', 'timeout'));
    await worker.handle(request('GET'));
    await worker.handle(request('MULTI'));
    await worker.handle(request('GET', 'k'));
    await worker.handle(request('EXEC'));
    const shown = watcherConnection.lines.map((line) => line.slice(line.indexOf(' ') + 1));
    assert.deepEqual(shown, [
      '[0 127.0.0.1:1002] "SET" "k" "v"',
      '[0 127.0.0.1:1002] "AUTH" "(redacted)"',
      '[0 127.0.0.1:1002] "MULTI"',
      '[0 127.0.0.1:1002] "GET" "k"',
      '[0 127.0.0.1:1002] "EXEC"',
    ]);
    assert.match(watcher.describe(), / flags=O /);
  });

  it('CLIENT KILL by the old address form and by filters, SKIPME deciding about itself', async () => {
    const host = fakeHost();
    const registry = new ClientRegistry<Session>();
    const connections = [fakeConnection(2001), fakeConnection(2002), fakeConnection(2003)];
    const sessions = connections.map(
      (connection, index) => new Session(index + 1, host, connection, registry),
    );
    for (const session of sessions) registry.add(session);
    const [me] = sessions as [Session];
    const kill = async (...args: string[]): Promise<Reply> =>
      (await me.handle(request('CLIENT', 'KILL', ...args))).reply;
    assert.deepEqual(await kill('1.2.3.4:5'), failure('ERR No such client'));
    assert.deepEqual(await kill('127.0.0.1:2002'), OK);
    assert.equal(connections[1]?.killed, false, 'another connection is closed at once');
    assert.deepEqual(await kill('ID', '0'), failure('ERR client-id should be greater than 0'));
    assert.deepEqual(await kill('ID', 'x'), failure('ERR client-id should be greater than 0'));
    assert.deepEqual(await kill('TYPE', 'foo'), failure("ERR Unknown client type 'foo'"));
    assert.deepEqual(await kill('USER', 'nobody'), failure("ERR No such user 'nobody'"));
    assert.deepEqual(await kill('SKIPME', 'maybe'), failure('ERR syntax error'));
    assert.deepEqual(await kill('MAXAGE', '3'), failure('ERR syntax error'));
    assert.deepEqual(await kill('ID', '1'), { kind: 'integer', value: 0 }, 'SKIPME yes by default');
    assert.deepEqual(await kill('ID', '3', 'USER', 'default', 'TYPE', 'normal'), {
      kind: 'integer',
      value: 1,
    });
    assert.deepEqual(await kill('LADDR', '127.0.0.1:7000', 'SKIPME', 'no', 'ID', '1'), {
      kind: 'integer',
      value: 1,
    });
    assert.equal(connections[0]?.killed, true, 'itself: closed after its reply');
  });

  it('CLIENT PAUSE WRITE holds writes until UNPAUSE; reads and UNPAUSE pass', async () => {
    const host = fakeHost();
    const registry = new ClientRegistry<Session>();
    const admin = new Session(1, host, fakeConnection(3001), registry);
    const writer = new Session(2, host, fakeConnection(3002), registry);
    registry.add(admin);
    registry.add(writer);
    assert.deepEqual((await admin.handle(request('CLIENT', 'PAUSE', '100000', 'WRITE'))).reply, OK);
    let setDone = false;
    const set = Promise.resolve(writer.handle(request('SET', 'k', 'v'))).then((result) => {
      setDone = true;
      return result;
    });
    const reader = new Session(3, host, fakeConnection(3003), registry);
    assert.deepEqual((await reader.handle(request('GET', 'k'))).reply, bulk('v'));
    assert.equal(setDone, false);
    assert.match(writer.describe(), / flags=b /);
    assert.deepEqual(host.ran, ['GET k']);
    assert.deepEqual(
      (await admin.handle(request('CLIENT', 'PAUSE', 'x'))).reply,
      failure('ERR timeout is not an integer or out of range'),
    );
    assert.deepEqual(
      (await admin.handle(request('CLIENT', 'PAUSE', '-1'))).reply,
      failure('ERR timeout is negative'),
    );
    assert.deepEqual(
      (await admin.handle(request('CLIENT', 'PAUSE', '10', 'bar'))).reply,
      failure('ERR CLIENT PAUSE mode must be WRITE or ALL'),
    );
    assert.deepEqual((await admin.handle(request('CLIENT', 'UNPAUSE'))).reply, OK);
    assert.deepEqual((await set).reply, OK);
    assert.deepEqual(host.ran, ['GET k', 'SET k v']);
  });

  it('CLIENT PAUSE WRITE lets a transaction queue, and holds its EXEC when it writes', async () => {
    const host = fakeHost();
    const registry = new ClientRegistry<Session>();
    const admin = new Session(1, host, fakeConnection(5001), registry);
    const writer = new Session(2, host, fakeConnection(5002), registry);
    await admin.handle(request('CLIENT', 'PAUSE', '100000', 'WRITE'));
    await writer.handle(request('MULTI'));
    assert.deepEqual((await writer.handle(request('SET', 'k', 'v'))).reply, {
      kind: 'simple',
      value: 'QUEUED',
    });
    let executed = false;
    const exec = Promise.resolve(writer.handle(request('EXEC'))).then(() => {
      executed = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(executed, false);
    await admin.handle(request('CLIENT', 'UNPAUSE'));
    await exec;
    assert.deepEqual(host.ran, ['SET k v']);
  });

  it('CLIENT PAUSE ALL holds every command but UNPAUSE', async () => {
    const host = fakeHost();
    const registry = new ClientRegistry<Session>();
    const admin = new Session(1, host, fakeConnection(4001), registry);
    const other = new Session(2, host, fakeConnection(4002), registry);
    await admin.handle(request('CLIENT', 'PAUSE', '100000'));
    let pinged = false;
    const ping = Promise.resolve(other.handle(request('PING'))).then(() => {
      pinged = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(pinged, false);
    await admin.handle(request('CLIENT', 'UNPAUSE'));
    await ping;
    assert.equal(pinged, true);
  });

  it('counts refused calls (arity, NOAUTH) and failed ones per command, errors by code', async () => {
    const host = fakeHost();
    const session = new Session(1, host);
    await session.handle(request('GET'));
    await session.handle(request('GET', 'k'));
    await session.handle(request('CONFIG', 'SET', 'timeout', '-1'));
    await session.handle(request('NOSUCH'));
    const fields = new Map(host.stats.commandStatsFields());
    assert.match(fields.get('cmdstat_get') ?? '', /^calls=1,.*rejected_calls=1,failed_calls=0$/);
    assert.match(fields.get('cmdstat_config|set') ?? '', /^calls=1,.*rejected_calls=0,failed_calls=1$/);
    assert.deepEqual(host.stats.errorStatsFields(), [['errorstat_ERR', 'count=3']]);
    assert.deepEqual((await session.handle(request('CONFIG', 'RESETSTAT'))).reply, OK);
    assert.deepEqual(host.stats.errorStatsFields(), []);
  });

  it('TIME, WAIT and LASTSAVE answer at once; SAVE, SHUTDOWN and DEBUG say why they do not apply', async () => {
    const session = new Session(1, fakeHost());
    const time = (await session.handle(request('TIME'))).reply;
    assert.equal(time.kind, 'array');
    assert.deepEqual((await session.handle(request('WAIT', '1', '0'))).reply, {
      kind: 'integer',
      value: WAIT_ACKNOWLEDGED_REPLICAS,
    });
    assert.deepEqual(
      (await session.handle(request('WAIT', '1', 'x'))).reply,
      failure('ERR timeout is not an integer or out of range'),
    );
    assert.deepEqual(
      (await session.handle(request('WAIT', 'x', '1'))).reply,
      failure('ERR value is not an integer or out of range'),
    );
    assert.deepEqual(
      (await session.handle(request('WAIT', '0', '-1'))).reply,
      failure('ERR timeout is negative'),
    );
    assert.deepEqual((await session.handle(request('LASTSAVE'))).reply, {
      kind: 'integer',
      value: 1_700_000_000,
    });
    for (const name of ['SAVE', 'BGSAVE', 'BGREWRITEAOF', 'SHUTDOWN', 'DEBUG']) {
      const args = name === 'DEBUG' ? request(name, 'SLEEP', '0') : request(name);
      const { reply } = await session.handle(args);
      assert.equal(reply.kind, 'error');
      assert.match(
        (reply as { message: string }).message,
        new RegExp(`^ERR ${name} is not (needed|available) on Borealis: `),
      );
    }
    assert.deepEqual(
      (await session.handle(request('CONFIG', 'REWRITE'))).reply,
      failure('ERR The server is running without a config file'),
    );
    assert.deepEqual(
      (await session.handle(request('CONFIG', 'SET', 'timeout', '1', 'maxmemory'))).reply,
      failure('ERR syntax error'),
    );
  });
});
