// The keyspace commands through two real data-node processes (writers) on one volume over six
// real storage nodes, with ioredis: RANDOMKEY on an empty and then a populated keyspace, SCAN with
// TYPE (and MATCH), RENAME/RENAMENX/COPY made through one writer and seen through the other, bit
// commands across writers, OBJECT and MEMORY, the refusal of a string that would outgrow one
// transaction; and a redis-cli script of the new commands, whose output must be Redis's. Reads
// through the second writer use cluster consistency, so that they see the first writer's commits
// at once.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { WRITE_BYTES_MAX } from '../../libs/limits/src/index.js';
import { runTool } from '../support/clients.js';
import { type RunningDataNode, startDataNode } from '../support/data-nodes.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';

const CLUSTER = 'keyspace-e2e';

describe('data nodes: keyspace and bit commands across two writers', { timeout: 120_000 }, () => {
  let fleet: StorageFleet | undefined;
  const writers: RunningDataNode[] = [];
  const clients: Redis[] = [];
  let first: Redis;
  let second: Redis;

  const connect = async (writer: RunningDataNode): Promise<Redis> => {
    const client = new Redis({
      host: '127.0.0.1',
      port: writer.respPort,
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      commandTimeout: 15_000,
    });
    client.on('error', () => undefined);
    clients.push(client);
    await client.connect();
    return client;
  };

  /** Every key a full SCAN with these options returns, sorted. */
  const scanAll = async (client: Redis, ...options: string[]): Promise<string[]> => {
    const keys = new Set<string>();
    let cursor = '0';
    do {
      const [next, page] = (await client.call('SCAN', cursor, ...options, 'COUNT', '7')) as [
        string,
        string[],
      ];
      for (const key of page) keys.add(key);
      cursor = next;
    } while (cursor !== '0');
    return [...keys].sort();
  };

  before(async () => {
    fleet = await startStorageFleet();
    const storage = fleet.nodes;
    writers.push(
      ...(await Promise.all(
        [0, 1].map((index) =>
          startDataNode({ id: `k${index + 1}`, storage, coordinatorId: 7 + index, cluster: CLUSTER, cu: 2 }),
        ),
      )),
    );
    first = await connect(writers[0] as RunningDataNode);
    second = await connect(writers[1] as RunningDataNode);
    assert.equal(await second.call('BOREALIS', 'CONSISTENCY', 'CLUSTER'), 'OK');
  });

  after(async () => {
    for (const client of clients) client.disconnect();
    await Promise.all(writers.map((writer) => writer.stop()));
    await fleet?.stop();
  });

  it('RANDOMKEY answers null on an empty volume, then only keys that exist', async () => {
    assert.equal(await first.randomkey(), null);
    const names = Array.from({ length: 20 }, (_unused, index) => `rk:${index}`);
    for (const name of names) await first.set(name, 'v');
    const seen = new Set<string>();
    for (let round = 0; round < 40; round++) {
      const key = await second.randomkey();
      assert.ok(key !== null && names.includes(key), `RANDOMKEY gave ${key}`);
      seen.add(key);
    }
    assert.ok(seen.size > 1, 'RANDOMKEY keeps giving the same key');
    await first.del(...names.slice(1));
    for (let round = 0; round < 5; round++) assert.equal(await second.randomkey(), 'rk:0');
    await second.del('rk:0');
    assert.equal(await first.randomkey(), null);
  });

  it('SCAN with TYPE lists the keys of that type only, with MATCH too', async () => {
    const strings = ['st:a', 'st:b', 'st:c', 'other:s'];
    const hashes = ['st:h1', 'st:h2', 'other:h'];
    for (const key of strings) await first.set(key, '1');
    for (const key of hashes) await first.hset(key, 'f', 'v');
    assert.deepEqual(await scanAll(second, 'TYPE', 'string'), [...strings].sort());
    assert.deepEqual(await scanAll(second, 'TYPE', 'HASH'), [...hashes].sort());
    assert.deepEqual(await scanAll(second, 'MATCH', 'st:*', 'TYPE', 'hash'), ['st:h1', 'st:h2']);
    assert.deepEqual(await scanAll(second, 'TYPE', 'zset'), []);
    await first.del(...strings, ...hashes);
  });

  it('RENAME, RENAMENX and COPY through one writer are seen through the other', async () => {
    await first.set('ren:a', 'value', 'PX', 60_000);
    assert.equal(await second.rename('ren:a', 'ren:b'), 'OK');
    assert.equal(await second.get('ren:a'), null);
    assert.equal(await second.get('ren:b'), 'value');
    const ttl = await second.pttl('ren:b');
    assert.ok(ttl > 0 && ttl <= 60_000, `the expiry moves with the value (PTTL ${ttl})`);
    await second.hset('ren:h', 'f', 'v');
    assert.equal(await first.renamenx('ren:b', 'ren:h'), 0);
    assert.equal(await first.renamenx('ren:b', 'ren:c'), 1);
    await assert.rejects(first.rename('ren:b', 'ren:d'), /ERR no such key/);
    assert.equal(await first.copy('ren:h', 'ren:h2'), 1);
    assert.deepEqual(await second.hgetall('ren:h2'), { f: 'v' });
    assert.equal(await second.copy('ren:c', 'ren:h2'), 0);
    assert.equal(await second.call('COPY', 'ren:c', 'ren:h2', 'REPLACE'), 1);
    assert.equal(await second.type('ren:h2'), 'string');
    await assert.rejects(second.call('COPY', 'ren:c', 'ren:x', 'DB', '1'), /ERR DB index is out of range/);
    assert.equal(await first.del('ren:c', 'ren:h', 'ren:h2'), 3);
  });

  it('bit commands across writers, OBJECT and MEMORY', async () => {
    assert.equal(await first.setbit('bits', 7, 1), 0);
    assert.equal(await first.setbit('bits', 15, 1), 0);
    assert.equal(await second.bitcount('bits'), 2);
    assert.equal(await second.bitpos('bits', 1), 7);
    assert.deepEqual(
      await second.call('BITFIELD', 'bits', 'INCRBY', 'u8', '#0', '10', 'GET', 'u8', '8'),
      [11, 1],
    );
    assert.equal(await first.call('BITOP', 'NOT', 'bits:not', 'bits'), 2);
    assert.equal(await second.getbit('bits:not', 0), 1);
    await first.set('lcs:a', 'ohmytext');
    await first.set('lcs:b', 'mynewtext');
    assert.equal(await second.call('LCS', 'lcs:a', 'lcs:b'), 'mytext');
    assert.equal(await second.call('OBJECT', 'ENCODING', 'lcs:a'), 'embstr');
    assert.equal(typeof (await second.call('MEMORY', 'USAGE', 'lcs:a')), 'number');
    const stats = (await first.call('MEMORY', 'STATS')) as unknown[];
    assert.ok(stats.includes('peak.allocated') && stats.includes('total.allocated'));
    assert.match(String(await first.call('MEMORY', 'DOCTOR')), /keeps no dataset in memory/);
    await assert.rejects(
      first.setbit('huge', WRITE_BYTES_MAX * 8, 1),
      /ERR the string would grow to 8388609 bytes; a transaction writes at most 8388608 bytes/,
    );
    assert.equal(await second.exists('huge'), 0);
    assert.equal(await first.del('bits', 'bits:not', 'lcs:a', 'lcs:b'), 4);
  });

  it('redis-cli prints for a script of the new commands what it prints against Redis', async () => {
    const script = [
      'DEL bk:a bk:b bk:c bk:d bk:h bk:f bk:x',
      'SETBIT bk:a 7 1',
      'SETBIT bk:a 7 0',
      'SETBIT bk:a 14 1',
      'GETBIT bk:a 14',
      'GETBIT bk:a 1000',
      'SETBIT bk:a -1 1',
      'SETBIT bk:a 1 2',
      'SET bk:b foobar',
      'BITCOUNT bk:b',
      'BITCOUNT bk:b 1 1',
      'BITCOUNT bk:b 5 30 BIT',
      'BITCOUNT bk:b 0 1 BITS',
      'BITPOS bk:b 1',
      'BITPOS bk:b 0 2 -1 BYTE',
      'BITPOS bk:b 1 7 15 BIT',
      'BITPOS bk:b 2',
      'BITOP AND bk:c bk:a bk:b',
      'BITOP NOT bk:c bk:a bk:b',
      'BITOP XOR bk:c bk:b bk:missing',
      'GET bk:c',
      'BITFIELD bk:f INCRBY i5 100 1 GET u4 0',
      'BITFIELD bk:f OVERFLOW FAIL INCRBY u2 102 5',
      'BITFIELD bk:f SET i8 #1 -1 GET u8 8',
      'BITFIELD bk:f GET u64 0',
      'BITFIELD_RO bk:f GET i8 #1',
      'BITFIELD_RO bk:f SET i8 0 1',
      'SET bk:x ohmytext',
      'SET bk:d mynewtext',
      'LCS bk:x bk:d',
      'LCS bk:x bk:d LEN',
      'LCS bk:x bk:d IDX MINMATCHLEN 4 WITHMATCHLEN',
      'LCS bk:x bk:d LEN IDX',
      'RENAME bk:x bk:y',
      'RENAME bk:x bk:y',
      'RENAMENX bk:y bk:d',
      'RENAMENX bk:y bk:x',
      'COPY bk:x bk:z',
      'COPY bk:x bk:z',
      'COPY bk:x bk:z REPLACE DB 0',
      'COPY bk:x bk:x',
      'TOUCH bk:x bk:z bk:missing',
      'HSET bk:h f v',
      'OBJECT ENCODING bk:h',
      'OBJECT ENCODING bk:missing',
      'OBJECT REFCOUNT bk:h',
      'OBJECT FREQ bk:h',
      'OBJECT NOSUCH bk:h',
      'MEMORY USAGE bk:missing',
      'MEMORY USAGE bk:h SAMPLES -1',
      'GETRANGE bk:z 0 3',
      'GETRANGE bk:z 0 -100',
      'DEL bk:a bk:b bk:c bk:d bk:h bk:f bk:x bk:z',
    ].join('\n');
    // redis-cli 7.0's output for this script against Redis 7.0.15 (an error is followed by an
    // empty line; a null prints as an empty line), but for the next-to-last line: GETRANGE
    // follows Redis 7.4 there and answers an empty string where 7.0 answers "o".
    const expected = [
      '0',
      '0',
      '1',
      '0',
      '1',
      '0',
      'ERR bit offset is not an integer or out of range',
      '',
      'ERR bit is not an integer or out of range',
      '',
      'OK',
      '26',
      '6',
      '17',
      'ERR syntax error',
      '',
      '1',
      '16',
      '9',
      'ERR The bit argument must be 1 or 0.',
      '',
      '6',
      'ERR BITOP NOT must be called with a single source key.',
      '',
      '6',
      'foobar',
      '1',
      '0',
      '',
      '0',
      '255',
      'ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.',
      '',
      '-1',
      'ERR BITFIELD_RO only supports the GET subcommand',
      '',
      'OK',
      'OK',
      'mytext',
      '6',
      'matches',
      '4',
      '7',
      '5',
      '8',
      '4',
      'len',
      '6',
      'ERR If you want both the length and indexes, please just use IDX.',
      '',
      'OK',
      'ERR no such key',
      '',
      '0',
      '1',
      '1',
      '0',
      '1',
      'ERR source and destination objects are the same',
      '',
      '2',
      '1',
      'listpack',
      '',
      '1',
      'ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.',
      '',
      "ERR unknown subcommand 'NOSUCH'. Try OBJECT HELP.",
      '',
      '',
      'ERR syntax error',
      '',
      'ohmy',
      '',
      '8',
    ]
      .map((line) => `${line}\n`)
      .join('');
    const tools = new Set<ChildProcess>();
    const result = await runTool(
      'redis-cli',
      ['-p', String((writers[0] as RunningDataNode).respPort)],
      `${script}\n`,
      30_000,
      tools,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, expected);
    assert.equal(result.stderr, '');
  });
});
