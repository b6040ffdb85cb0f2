// The engine's reads during a command (contract 3 of issue 12): a handler may read any key; a
// key not fetched yet ends the run, the engine fetches everything that run asked for in one
// round and runs the group again, with the same randomness; every key read is validated at
// commit; the bounds on rounds and keys answer an error. Over an in-memory fake of the store.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { VersionedCache } from '../../apps/data-node/src/cache/versioned-cache.js';
import { elementKey } from '../../apps/data-node/src/commands/collections/layout.js';
import type { CommandSpec } from '../../apps/data-node/src/commands/command-table.js';
import { keysOf } from '../../apps/data-node/src/commands/command-table.js';
import type { DataCommandContext } from '../../apps/data-node/src/commands/data-commands.js';
import { COMMAND_SPECS, lookupCommand } from '../../apps/data-node/src/commands/served-commands.js';
import {
  chunksOfPrefixReads,
  KEY_BYTES_PER_PREFIX_READ_MAX,
  KEYS_PER_PREFIX_READ_MAX,
  KEYS_PER_TRANSACTION_MAX,
  ROUNDS_PER_ATTEMPT_MAX,
  TransactionEngine,
  type TransactionStore,
} from '../../apps/data-node/src/engine/transaction-engine.js';
import type { ReadEntry, WriteEntry } from '../../libs/quorum/src/index.js';
import { bulk, integer, NULL, type Reply, simple } from '../../libs/resp/src/reply.js';
import { encodeReply } from '../../libs/resp/src/reply-encoder.js';

class FakeStore implements TransactionStore {
  readonly entries = new Map<string, { seq: number; value: Uint8Array | null }>();
  readonly readRequests: string[][] = [];
  readonly commits: { reads: ReadEntry[]; writes: WriteEntry[] }[] = [];

  async read(_volume: string, keys: string[]) {
    this.readRequests.push([...keys]);
    return keys.map((key) => {
      const entry = this.entries.get(key);
      return { key, version: { seq: entry?.seq ?? 0, txid: '' }, value: entry?.value ?? null };
    });
  }

  async commit(_volume: string, reads: ReadEntry[], writes: WriteEntry[]) {
    this.commits.push({ reads, writes });
    for (const read of reads) {
      if ((this.entries.get(read.key)?.seq ?? 0) !== read.seq) {
        return { outcome: 'aborted' as const, txid: 't', reason: 'conflict' };
      }
    }
    for (const write of writes) {
      this.entries.set(write.key, { seq: (this.entries.get(write.key)?.seq ?? 0) + 1, value: write.value });
    }
    return { outcome: 'committed' as const, txid: 't' };
  }

  put(key: string, value: string): void {
    this.entries.set(key, { seq: 1, value: Buffer.from(value, 'latin1') });
  }
}

type Handler = (args: string[], context: DataCommandContext) => Reply;

function engineWith(store: FakeStore, handler: Handler): TransactionEngine {
  return new TransactionEngine({
    volume: 'v',
    store,
    cache: new VersionedCache(1 << 20, 10_000),
    execute: (_spec, args, context) =>
      handler(
        args.map((arg) => arg.toString('latin1')),
        context,
      ),
  });
}

const SPEC = lookupCommand('set') as CommandSpec;
const READ_SPEC = lookupCommand('get') as CommandSpec;

function run(
  engine: TransactionEngine,
  args: string[],
  keys: string[],
  spec = SPEC,
): Promise<Reply[] | null> {
  return engine.run([{ spec, args: args.map((arg) => Buffer.from(arg, 'latin1')), keys }], 'instance');
}

const text = (bytes: Uint8Array | null): string =>
  bytes === null ? '(nil)' : Buffer.from(bytes).toString('latin1');

describe('reads during a command', () => {
  test('keys a run asks for are fetched in one round, and the group runs again', async () => {
    const store = new FakeStore();
    const id = 'ABCDEFGH';
    store.entries.set('c', { seq: 1, value: Buffer.from([0x01, ...Buffer.from('a,b')]) });
    store.put(elementKey(id, 'a'), 'one');
    store.put(elementKey(id, 'b'), 'two');
    let runs = 0;
    const engine = engineWith(store, (args, context) => {
      runs++;
      const header = context.read(args[1] as string);
      if (header?.type !== 'string') return simple('none');
      const suffixes = header.value.toString('latin1').split(',');
      const values = context.readElements(suffixes.map((suffix) => elementKey(id, suffix)));
      return bulk(Buffer.from(values.map(text).join(' ')));
    });
    const [reply] = (await run(engine, ['X', 'c'], ['c'], READ_SPEC)) ?? [];
    assert.deepEqual(reply, bulk(Buffer.from('one two')));
    assert.equal(runs, 2);
    // The volume's generation comes with the first keys (ADR 0008, decision 7).
    assert.deepEqual(store.readRequests, [
      ['\xffg', 'c'],
      [elementKey(id, 'a'), elementKey(id, 'b')],
    ]);
  });

  test('in cluster mode a read-only command that read in several rounds is validated as one snapshot', async () => {
    const store = new FakeStore();
    const id = 'ABCDEFGH';
    store.entries.set('c', { seq: 1, value: Buffer.from([0x01, ...Buffer.from('a')]) });
    store.put(elementKey(id, 'a'), 'one');
    const engine = engineWith(store, (args, context) => {
      const header = context.read(args[1] as string);
      if (header?.type !== 'string') return simple('none');
      return bulk(Buffer.from(text(context.readElement(elementKey(id, header.value.toString('latin1'))))));
    });
    const command = { spec: READ_SPEC, args: [Buffer.from('X'), Buffer.from('c')], keys: ['c'] };
    assert.deepEqual(await engine.run([command], 'cluster'), [bulk(Buffer.from('one'))]);
    // The header and the element were read in two rounds: a commit without writes checks both.
    assert.equal(store.commits.length, 1);
    const validated = store.commits[0] as { reads: ReadEntry[]; writes: WriteEntry[] };
    assert.deepEqual(validated.writes, []);
    assert.deepEqual(
      validated.reads.map((read) => read.key).sort(),
      [elementKey(id, 'a'), 'c', '\xffg'].sort(),
    );
    // The volume's generation is a shared read: checked by the replicas, never held.
    assert.equal(validated.reads.find((read) => read.key === '\xffg')?.shared, true);
    // One round is one moment: a plain GET in cluster mode needs no validation.
    const single = engineWith(store, (args, context) => {
      const value = context.read(args[1] as string);
      return value?.type === 'string' ? bulk(value.value) : simple('none');
    });
    await single.run([command], 'cluster');
    assert.equal(store.commits.length, 1);
  });

  test('the commit validates every key read, element keys included', async () => {
    const store = new FakeStore();
    store.put(elementKey('ABCDEFGH', 'x'), '1');
    const engine = engineWith(store, (args, context) => {
      const current = text(context.readElement(elementKey('ABCDEFGH', 'x')));
      context.write(args[1] as string, { type: 'string', value: Buffer.from(current), expireAtMs: null });
      return simple('OK');
    });
    await run(engine, ['X', 'k'], ['k']);
    assert.equal(store.commits.length, 1);
    const readKeys = (store.commits[0] as { reads: ReadEntry[] }).reads.map((read) => read.key).sort();
    assert.deepEqual(readKeys, [elementKey('ABCDEFGH', 'x'), 'k', '\xffg'].sort());
  });

  test('random() and newCollectionId() repeat on every run of an attempt; a new id needs no fetch', async () => {
    const store = new FakeStore();
    store.put(elementKey('ZZZZZZZZ', 'e'), 'elsewhere');
    const seen: string[] = [];
    const engine = engineWith(store, (args, context) => {
      const draw = `${context.random()}/${Buffer.from(context.newCollectionId(), 'latin1').toString('hex')}`;
      seen.push(draw);
      const id = context.newCollectionId();
      context.writeElement(elementKey(id, '0'), Buffer.from('new'));
      context.write(args[1] as string, {
        type: 'string',
        value: Buffer.from(id, 'latin1'),
        expireAtMs: null,
      });
      context.readElement(elementKey('ZZZZZZZZ', 'e'));
      return simple(draw);
    });
    const [reply] = (await run(engine, ['X', 'k'], ['k'])) ?? [];
    assert.equal(seen.length, 2, 'one run, one fetch of the element key, one run');
    assert.equal(seen[0], seen[1]);
    assert.deepEqual(reply, simple(seen[0] as string));
    // The new collection's element key was written without being fetched first.
    const fetched = store.readRequests.flat();
    const stored = store.entries.get('k')?.value ?? new Uint8Array(1);
    const id = Buffer.from(stored.subarray(1)).toString('latin1');
    assert.equal(fetched.includes(elementKey(id, '0')), false);
    assert.equal(text(store.entries.get(elementKey(id, '0'))?.value ?? null), 'new');
  });

  test('Redis keys that begin with 0xff are stored escaped, apart from internal keys', async () => {
    const store = new FakeStore();
    const engine = engineWith(store, (args, context) => {
      context.write(args[1] as string, { type: 'string', value: Buffer.from('v'), expireAtMs: null });
      return simple('OK');
    });
    await run(engine, ['X', '\xffek'], ['\xffek']);
    assert.deepEqual([...store.entries.keys()], ['\xff\xffek']);
    // Read as the Redis key it is, with its watch version (the generation is 0).
    const reads = await engine.readFresh(['\xffek']);
    assert.equal(reads.get('\xffek'), '0:1');
  });

  test('a command past the rounds bound or the keys bound gets an error, and writes nothing', async () => {
    const store = new FakeStore();
    const walker = engineWith(store, (_args, context) => {
      for (let level = 0; ; level++) context.readElement(elementKey('ABCDEFGH', String(level)));
    });
    const [tooDeep] = (await run(walker, ['X', 'k'], ['k'])) ?? [];
    assert.equal(tooDeep?.kind, 'error');
    assert.match(
      tooDeep?.kind === 'error' ? tooDeep.message : '',
      new RegExp(`${ROUNDS_PER_ATTEMPT_MAX} rounds`),
    );

    const wide = engineWith(store, (_args, context) => {
      const keys = Array.from({ length: KEYS_PER_TRANSACTION_MAX }, (_, index) =>
        elementKey('ABCDEFGH', String(index)),
      );
      context.readElements(keys);
      context.write('k', null);
      return integer(keys.length);
    });
    const [tooWide] = (await run(wide, ['X', 'k'], ['k'])) ?? [];
    assert.equal(tooWide?.kind, 'error');
    assert.match(
      tooWide?.kind === 'error' ? tooWide.message : '',
      new RegExp(`more than ${KEYS_PER_TRANSACTION_MAX} keys`),
    );
    assert.equal(store.commits.length, 0);
  });

  test('a conflict reruns the attempt with fresh reads of every key', async () => {
    const store = new FakeStore();
    store.put(elementKey('ABCDEFGH', 'n'), '1');
    let interfered = false;
    const engine = engineWith(store, (args, context) => {
      const value = Number(text(context.readElement(elementKey('ABCDEFGH', 'n'))));
      if (!interfered) {
        // Another writer commits between this read and the commit.
        interfered = true;
        store.entries.set(elementKey('ABCDEFGH', 'n'), { seq: 2, value: Buffer.from('5') });
      }
      context.writeElement(elementKey('ABCDEFGH', 'n'), Buffer.from(String(value + 1)));
      context.write(args[1] as string, null);
      return integer(value + 1);
    });
    const [reply] = (await run(engine, ['X', 'k'], ['k'])) ?? [];
    assert.deepEqual(reply, integer(6));
    assert.equal(text(store.entries.get(elementKey('ABCDEFGH', 'n'))?.value ?? null), '6');
  });

  test('a value read from the replicas is cached in memory of its own, not as a view into the reply', async () => {
    const store = new FakeStore();
    // A view into a larger buffer, as a store that does not copy its replies' values hands it over.
    const frame = Buffer.alloc(4096, 0x61);
    frame[99] = 0x01; // a string's tag (commands/stored-value.ts)
    store.entries.set('k', { seq: 1, value: frame.subarray(99, 110) });
    const cache = new VersionedCache(1 << 20, 10_000);
    const engine = new TransactionEngine({
      volume: 'v',
      store,
      cache,
      execute: (_spec, args, context) => {
        const value = context.read(args[1]?.toString('latin1') as string);
        return value?.type === 'string' ? bulk(value.value) : NULL;
      },
    });
    const [reply] = (await run(engine, ['GET', 'k'], ['k'], READ_SPEC)) ?? [];
    assert.deepEqual(reply, bulk(Buffer.from('aaaaaaaaaa')));
    const cached = cache.peek('k', Date.now())?.value ?? null;
    assert.equal(text(cached), '\x01aaaaaaaaaa');
    assert.equal(cached?.buffer.byteLength, 11, 'the cached value keeps only its own 11 bytes alive');
  });
});

describe('point reads of headers only (listings)', () => {
  test('go in chunks bounded in keys and in names’ bytes, every key once and in order', () => {
    const key = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.integer({ min: 0, max: 70_000 }).map((length) => 'k'.repeat(length)),
    );
    fc.assert(
      fc.property(fc.array(key, { maxLength: 5_000 }), (keys) => {
        const chunks = chunksOfPrefixReads(keys);
        assert.deepEqual(chunks.flat(), keys);
        for (const chunk of chunks) {
          assert.ok(chunk.length >= 1 && chunk.length <= KEYS_PER_PREFIX_READ_MAX);
          const bytes = chunk.reduce((sum, name) => sum + name.length, 0);
          // Past the byte bound only as a chunk of one key (names are bounded on their own).
          assert.ok(bytes <= KEY_BYTES_PER_PREFIX_READ_MAX || chunk.length === 1, `${bytes} bytes`);
        }
        // Full chunks: a chunk ends only where the next key would break a bound.
        for (const [index, chunk] of chunks.slice(0, -1).entries()) {
          const next = (chunks[index + 1] as string[])[0] as string;
          const bytes = chunk.reduce((sum, name) => sum + name.length, 0);
          assert.ok(
            chunk.length === KEYS_PER_PREFIX_READ_MAX || bytes + next.length > KEY_BYTES_PER_PREFIX_READ_MAX,
          );
        }
      }),
      { numRuns: 200 },
    );
    const short = Array.from({ length: 5_000 }, (_unused, index) => `key:${index}`);
    assert.deepEqual(
      chunksOfPrefixReads(short).map((chunk) => chunk.length),
      [2_048, 2_048, 904],
    );
    // 17 names of 60,000 bytes fit in 1 MiB; an 18th does not.
    const long = Array.from({ length: 40 }, (_unused, index) => `${index}`.padEnd(60_000, 'x'));
    assert.deepEqual(
      chunksOfPrefixReads(long).map((chunk) => chunk.length),
      [17, 17, 6],
    );
  });
});

describe('reclaim of deleted collections', () => {
  const live = (store: FakeStore, prefix: string): string[] =>
    [...store.entries]
      .filter(([key, entry]) => key.startsWith(prefix) && entry.value !== null)
      .map(([key]) => key);

  test('DEL answers at once; the element keys are deleted in the background, in bounded steps', async () => {
    const store = new FakeStore();
    const engine = new TransactionEngine({ volume: 'v', store, cache: new VersionedCache(1 << 24, 10_000) });
    const members = Array.from({ length: 20_000 }, (_, index) => `member:${index}`);
    for (let start = 0; start < members.length; start += 5_000) {
      const args = ['SADD', 'big', ...members.slice(start, start + 5_000)];
      await engine.run(
        [
          {
            spec: lookupCommand('sadd') as CommandSpec,
            args: args.map((arg) => Buffer.from(arg)),
            keys: ['big'],
          },
        ],
        'instance',
      );
    }
    const buckets = live(store, '\xffe').length;
    assert.ok(buckets > 200, `${buckets} buckets`);
    const commitsBefore = store.commits.length;
    const [reply] =
      (await engine.run(
        [
          {
            spec: lookupCommand('del') as CommandSpec,
            args: [Buffer.from('DEL'), Buffer.from('big')],
            keys: ['big'],
          },
        ],
        'instance',
      )) ?? [];
    assert.deepEqual(reply, integer(1));
    const deletion = store.commits[commitsBefore] as { writes: WriteEntry[] };
    assert.equal(deletion.writes.length, 2, 'DEL writes the header and a reclaim record, whatever the size');
    await engine.reclaimer.idle();
    assert.deepEqual(live(store, '\xffe'), []);
    assert.deepEqual(live(store, '\xffr'), []);
    for (const commit of store.commits.slice(commitsBefore + 1)) assert.ok(commit.writes.length <= 257);
  });

  test('a header moved to another key (as RENAME does) keeps its elements', async () => {
    const store = new FakeStore();
    const engine = new TransactionEngine({ volume: 'v', store, cache: new VersionedCache(1 << 20, 10_000) });
    const sadd = (key: string, member: string) =>
      engine.run(
        [
          {
            spec: lookupCommand('sadd') as CommandSpec,
            args: ['SADD', key, member].map((arg) => Buffer.from(arg)),
            keys: [key],
          },
        ],
        'instance',
      );
    await sadd('a', 'm');
    const move = engineWith(store, (_args, context) => {
      context.write('b', context.read('a'));
      context.write('a', null);
      return simple('OK');
    });
    await run(move, ['X', 'a', 'b'], ['a', 'b']);
    await engine.reclaimer.idle();
    await move.reclaimer.idle();
    assert.equal(live(store, '\xffe').length, 1);
    assert.deepEqual(live(store, '\xffr'), []);
  });
});

/** A command with its first argument as its key (none for FLUSHDB). */
const command = (name: string, ...rest: string[]) => ({
  spec: lookupCommand(name) as CommandSpec,
  args: [name, ...rest].map((arg) => Buffer.from(arg)),
  keys: name === 'flushdb' ? [] : rest.slice(0, 1),
});

describe('FLUSHDB', () => {
  test('one write of the generation hides every key; later commands see the new generation only', async () => {
    const store = new FakeStore();
    const engine = new TransactionEngine({ volume: 'v', store, cache: new VersionedCache(1 << 20, 10_000) });
    await engine.run([command('set', 'a', '1')], 'instance');
    await engine.run([command('sadd', 's', 'm')], 'instance');
    const commitsBefore = store.commits.length;
    assert.deepEqual(await engine.run([command('flushdb')], 'instance'), [simple('OK')]);
    assert.deepEqual(
      (store.commits[commitsBefore] as { writes: WriteEntry[] }).writes.map((write) => write.key),
      ['\xffg', '\xffw'],
      'a flush writes the generation and the walk it owes, whatever the number of keys',
    );
    assert.deepEqual(await engine.run([command('get', 'a')], 'instance'), [NULL]);
    assert.deepEqual(await engine.run([command('exists', 's')], 'instance'), [integer(0)]);
    await engine.run([command('set', 'a', '2')], 'instance');
    assert.deepEqual(await engine.run([command('get', 'a')], 'instance'), [bulk(Buffer.from('2'))]);
    // Inside one transaction (MULTI), commands after the flush see the new generation.
    assert.deepEqual(
      await engine.run([command('set', 'b', 'x'), command('flushdb'), command('get', 'b')], 'instance'),
      [simple('OK'), simple('OK'), NULL],
    );
  });

  test('pipelined work keeps its order around a flush, and a flush fails a WATCH', async () => {
    const store = new FakeStore();
    const engine = new TransactionEngine({ volume: 'v', store, cache: new VersionedCache(1 << 20, 10_000) });
    const before = engine.run([command('set', 'k', 'before')], 'instance');
    const flush = engine.run([command('flushdb')], 'instance');
    const after = engine.run([command('set', 'j', 'after')], 'instance');
    await Promise.all([before, flush, after]);
    assert.deepEqual(await engine.run([command('get', 'k')], 'instance'), [NULL]);
    assert.deepEqual(await engine.run([command('get', 'j')], 'instance'), [bulk(Buffer.from('after'))]);

    const watched = await engine.readFresh(['j']);
    await engine.run([command('flushdb')], 'instance');
    const exec = await engine.run(
      [command('get', 'j')],
      'instance',
      new Map([['j', watched.get('j') ?? '']]),
    );
    assert.equal(exec, null, 'EXEC after a flush of a watched key answers null');
  });
});

describe('the engine runs on the clock it is given', () => {
  test('cache ages and conflict backoff follow the injected clock, not the system time', async () => {
    const store = new FakeStore();
    // A stored string: its type tag, then its bytes.
    const putString = (value: string, seq: number) =>
      store.entries.set('k', { seq, value: Buffer.from([0x01, ...Buffer.from(value)]) });
    putString('v1', 1);
    let nowMs = 1_000_000;
    const slept: number[] = [];
    const engine = new TransactionEngine({
      volume: 'v',
      store,
      cache: new VersionedCache(1 << 20, 10_000),
      clock: {
        nowMs: () => nowMs,
        sleep: async (ms) => {
          slept.push(ms);
        },
      },
    });
    const get = () => engine.run([command('get', 'k')], 'instance');
    assert.deepEqual(await get(), [bulk(Buffer.from('v1'))]);
    const readsAfterFirst = store.readRequests.length;
    // Within the cache's 10 s age bound by the engine's clock: served from the cache.
    nowMs += 9_000;
    assert.deepEqual(await get(), [bulk(Buffer.from('v1'))]);
    assert.equal(store.readRequests.length, readsAfterFirst);
    // Past it by the engine's clock (the system's has hardly moved): read again from the store.
    nowMs += 2_000;
    putString('v2', 2);
    assert.deepEqual(await get(), [bulk(Buffer.from('v2'))]);
    assert.ok(store.readRequests.length > readsAfterFirst);

    // A conflict is retried after a backoff taken from the clock's sleep.
    const realCommit = store.commit.bind(store);
    let conflicts = 2;
    store.commit = async (volume, reads, writes) =>
      conflicts-- > 0
        ? { outcome: 'aborted' as const, txid: 't', reason: 'conflict' }
        : realCommit(volume, reads, writes);
    assert.deepEqual(await engine.run([command('set', 'k', 'v3')], 'instance'), [simple('OK')]);
    assert.equal(slept.length, 2);
  });
});

describe('a read served from the cache at once', () => {
  const engineOver = (store: FakeStore) =>
    new TransactionEngine({ volume: 'v', store, cache: new VersionedCache(1 << 20, 10_000) });
  /** Runs work to its end: the scheduler lets go of a group's keys just after its replies. */
  const done = async (engine: TransactionEngine, ...commands: ReturnType<typeof command>[]) => {
    const replies = await engine.run(commands, 'instance');
    await new Promise((resolve) => setImmediate(resolve));
    return replies;
  };

  test('a cached key is answered without the store, as the scheduled way answers it', async () => {
    const store = new FakeStore();
    const engine = engineOver(store);
    assert.deepEqual(await done(engine, command('set', 'k', 'v1')), [simple('OK')]);
    const readsBefore = store.readRequests.length;
    const commitsBefore = store.commits.length;
    const served = engine.readFromCache(command('get', 'k'), 'instance');
    assert.deepEqual(served, bulk(Buffer.from('v1')));
    assert.deepEqual(await engine.run([command('get', 'k')], 'instance'), [served]);
    assert.equal(store.readRequests.length, readsBefore);
    assert.equal(store.commits.length, commitsBefore);
    // A key cached as absent is answered too.
    await done(engine, command('get', 'gone'));
    assert.deepEqual(engine.readFromCache(command('get', 'gone'), 'instance'), NULL);
  });

  test('anything the cache cannot answer alone goes the scheduled way', async () => {
    const store = new FakeStore();
    const engine = engineOver(store);
    assert.equal(engine.readFromCache(command('get', 'k'), 'instance'), null, 'nothing cached yet');
    await done(engine, command('set', 'k', 'v1'));
    assert.equal(
      engine.readFromCache(command('get', 'k'), 'cluster'),
      null,
      'cluster reads ask the replicas',
    );
    assert.equal(engine.readFromCache(command('get', 'other'), 'instance'), null, 'a key not cached');
    assert.equal(engine.readFromCache(command('append', 'k', 'x'), 'instance'), null, 'a write');
    await done(engine, command('sadd', 's', 'a', 'b'));
    assert.equal(engine.readFromCache(command('srandmember', 's'), 'instance'), null, 'randomness');
    const [member] = (await engine.run([command('srandmember', 's')], 'instance')) ?? [];
    assert.equal(member?.kind, 'bulk');
  });

  test('a write on the key still unfinished comes first: the read waits for it', async () => {
    const store = new FakeStore();
    const engine = engineOver(store);
    await done(engine, command('set', 'k', 'v1'));
    const write = engine.run([command('set', 'k', 'v2')], 'instance');
    assert.equal(engine.readFromCache(command('get', 'k'), 'instance'), null);
    // A key the unfinished write does not touch is still served.
    await done(engine, command('set', 'j', 'w'));
    const pending = engine.run([command('set', 'k', 'v3')], 'instance');
    assert.deepEqual(engine.readFromCache(command('get', 'j'), 'instance'), bulk(Buffer.from('w')));
    await Promise.all([write, pending]);
    await done(engine, command('get', 'k'));
    assert.deepEqual(engine.readFromCache(command('get', 'k'), 'instance'), bulk(Buffer.from('v3')));
  });

  test('a read-only command answered from the cache leaves the cached bytes as they were, and answers as the scheduled way does', async () => {
    // Answered at once, a string value is a view of the cache's own bytes (decodeStoredValueView).
    const readOnly = COMMAND_SPECS.filter(
      (spec) => spec.kind === 'data' && spec.flags.includes('readonly') && !spec.name.includes('|'),
    );
    const word = fc.oneof(
      fc.constantFrom('k', 'j', 'k', '0', '1', '-1', '3', '100', 'BIT', 'BYTE', 'LEN', 'IDX', 'u8', 'GET'),
      fc.string({ maxLength: 4 }),
    );
    const request = fc.record({
      spec: fc.constantFrom(...readOnly),
      rest: fc.array(word, { maxLength: 5 }),
      value: fc.uint8Array({ maxLength: 24 }),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ spec, rest, value }) => {
        const cache = new VersionedCache(1 << 20, 10_000);
        const engine = new TransactionEngine({ volume: 'v', store: new FakeStore(), cache });
        await done(
          engine,
          command('set', 'k', Buffer.from(value).toString('latin1')),
          command('set', 'j', 'jj'),
        );
        await done(engine, command('get', 'k'), command('get', 'j'));
        const args = [spec.name, 'k', ...rest].map((arg) => Buffer.from(arg, 'latin1'));
        if (Math.abs(spec.arity) > args.length || (spec.arity > 0 && spec.arity !== args.length)) return;
        const read = { spec, args, keys: keysOf(spec, args) };
        const cached = (key: string) => Buffer.from(cache.peek(key, Date.now())?.value ?? []);
        const before = [cached('k'), cached('j')];
        const atOnce = engine.readFromCache(read, 'instance');
        assert.deepEqual([cached('k'), cached('j')], before, spec.name);
        if (atOnce === null) return;
        const encoded = (reply: Reply | undefined) => encodeReply(reply ?? NULL, 3).toString('latin1');
        const [scheduled] = (await engine.run([read], 'instance')) ?? [];
        assert.equal(encoded(atOnce), encoded(scheduled), `${spec.name} ${rest.join(' ')}`);
        assert.deepEqual([cached('k'), cached('j')], before, spec.name);
      }),
      { numRuns: 400 },
    );
  });

  test('no read is served from the cache while a flush is pending', async () => {
    const store = new FakeStore();
    const engine = engineOver(store);
    await done(engine, command('set', 'k', 'v1'));
    const flush = engine.run([command('flushdb')], 'instance');
    assert.equal(engine.readFromCache(command('get', 'k'), 'instance'), null);
    assert.deepEqual(await flush, [simple('OK')]);
    assert.deepEqual(await done(engine, command('get', 'k')), [NULL]);
    assert.deepEqual(engine.readFromCache(command('get', 'k'), 'instance'), NULL);
  });
});

describe('where a command waits', () => {
  test('each work is told its wait for a transaction, and each commit its time at the replicas', async () => {
    const store = new FakeStore();
    // Each commit is held until the test lets it end, and then commits (SETs write blind: there is
    // no version for the fake to check).
    const held: (() => void)[] = [];
    store.commit = () =>
      new Promise((resolve) => held.push(() => resolve({ outcome: 'committed' as const, txid: 't' })));
    let nowMs = 5_000;
    const queued: number[] = [];
    const committed: number[] = [];
    const engine = new TransactionEngine({
      volume: 'v',
      store,
      cache: new VersionedCache(1 << 20, 10_000),
      groupsRunningMax: 1,
      clock: { nowMs: () => nowMs, sleep: async () => undefined },
      timings: { queued: (ms) => queued.push(ms), committed: (ms) => committed.push(ms) },
    });
    /** Until the store holds `count` commits; a bounded number of turns. */
    const commitsHeld = async (count: number) => {
      for (let turn = 0; turn < 1_000 && held.length < count; turn++) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(held.length, count, 'commits reached the store');
    };

    const first = engine.run([command('set', 'a', '1')], 'instance');
    await commitsHeld(1);
    nowMs += 7;
    // The one transaction allowed is in flight: this SET waits for it.
    const second = engine.run([command('set', 'b', '2')], 'instance');
    nowMs += 5;
    held[0]?.();
    assert.deepEqual(await first, [simple('OK')]);
    await commitsHeld(2);
    nowMs += 3;
    held[1]?.();
    assert.deepEqual(await second, [simple('OK')]);
    assert.deepEqual(queued, [0, 5]);
    assert.deepEqual(committed, [12, 3]);
  });
});
