// BOREALIS SESSION MOVED on a writer (the data node's side of the endpoint's session moves): the
// session's reads bypass the cache, as in `cluster` consistency, until the cache's entry age bound
// has passed since the move; the connection's own consistency setting is left as it was.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { CACHE_ENTRY_AGE_MAX_MS } from '../../apps/data-node/src/cache/versioned-cache.js';
import type { Keyspace } from '../../apps/data-node/src/engine/keyspace.js';
import type {
  ReadConsistency,
  TransactionEngine,
} from '../../apps/data-node/src/engine/transaction-engine.js';
import { ServerConfig } from '../../apps/data-node/src/server/server-config.js';
import { ServerStats } from '../../apps/data-node/src/server/server-stats.js';
import { Session, type SessionHost } from '../../apps/data-node/src/server/session.js';
import { bulk, type Reply } from '../../libs/resp/src/index.js';

/** A host whose engine records the consistency each command ran with. */
function recordingHost(): { host: SessionHost; consistencies: ReadConsistency[]; moves: number[] } {
  const consistencies: ReadConsistency[] = [];
  /** When the engine was told of each move (its cache's older entries then live only the short bound). */
  const moves: number[] = [];
  const engine = {
    // Nothing is served from a cache: every command reaches `run` with its consistency.
    readFromCache: () => null,
    sessionMovedHere: () => moves.push(Date.now()),
    run: async (_commands: unknown[], consistency: ReadConsistency): Promise<Reply[]> => {
      consistencies.push(consistency);
      return [bulk('v')];
    },
  } as unknown as TransactionEngine;
  const host: SessionHost = {
    engine,
    keyspace: {} as Keyspace,
    password: null,
    defaultConsistency: 'instance',
    config: new ServerConfig(),
    stats: new ServerStats(),
    info: async () => '',
    lastSaveSeconds: () => 0,
  };
  return { host, consistencies, moves };
}

const request = (...args: string[]): Buffer[] => args.map((arg) => Buffer.from(arg, 'latin1'));

describe('BOREALIS SESSION MOVED', () => {
  beforeEach(() => mock.timers.enable({ apis: ['Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('makes reads bypass the cache until the entry age bound has passed since the move', async () => {
    const { host, consistencies, moves } = recordingHost();
    const session = new Session(1, host);
    await session.handle(request('GET', 'k'));
    assert.deepEqual(moves, []);
    assert.deepEqual((await session.handle(request('BOREALIS', 'SESSION', 'MOVED'))).reply, {
      kind: 'simple',
      value: 'OK',
    });
    // The writer's cache serves nothing stored before the move past the bound the session waits out.
    assert.deepEqual(moves, [1_000_000]);
    await session.handle(request('GET', 'k'));
    mock.timers.tick(CACHE_ENTRY_AGE_MAX_MS - 1);
    await session.handle(request('GET', 'k'));
    mock.timers.tick(1);
    await session.handle(request('GET', 'k'));
    assert.deepEqual(consistencies, ['instance', 'cluster', 'cluster', 'instance']);
  });

  it('covers commands run by EXEC, and leaves the connection setting as it was', async () => {
    const { host, consistencies } = recordingHost();
    const session = new Session(1, host);
    await session.handle(request('BOREALIS', 'SESSION', 'MOVED'));
    await session.handle(request('MULTI'));
    await session.handle(request('GET', 'k'));
    await session.handle(request('EXEC'));
    assert.deepEqual(consistencies, ['cluster']);
    assert.deepEqual((await session.handle(request('BOREALIS', 'CONSISTENCY'))).reply, bulk('instance'));
    assert.match(session.describe(), /consistency=instance/);
  });

  it('answers a malformed SESSION subcommand with an error and changes nothing', async () => {
    const { host, consistencies, moves } = recordingHost();
    const session = new Session(1, host);
    const wrongCount = await session.handle(request('BOREALIS', 'SESSION'));
    assert.deepEqual(wrongCount.reply, {
      kind: 'error',
      message: "ERR wrong number of arguments for 'borealis|session' command",
    });
    const unknown = await session.handle(request('BOREALIS', 'SESSION', 'STAYED'));
    assert.equal(unknown.reply.kind, 'error');
    await session.handle(request('GET', 'k'));
    assert.deepEqual(consistencies, ['instance']);
    assert.deepEqual(moves, []);
  });
});
