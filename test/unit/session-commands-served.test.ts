// Every name in SESSION_COMMANDS is served by the command table, so the connection layer must
// run it: a name listed there without a case in session.ts would be described by COMMAND yet
// answer "unknown command". Each one runs here through a Session over a host of fakes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SESSION_COMMANDS } from '../../apps/data-node/src/commands/command-table.js';
import { lookupCommand } from '../../apps/data-node/src/commands/served-commands.js';
import type { Keyspace } from '../../apps/data-node/src/engine/keyspace.js';
import type { TransactionEngine } from '../../apps/data-node/src/engine/transaction-engine.js';
import { ServerConfig } from '../../apps/data-node/src/server/server-config.js';
import { ServerStats } from '../../apps/data-node/src/server/server-stats.js';
import { Session, type SessionHost } from '../../apps/data-node/src/server/session.js';
import { bulk, type Reply } from '../../libs/resp/src/index.js';

function fakeHost(): SessionHost {
  const engine = {
    run: async (commands: unknown[]): Promise<Reply[]> => commands.map(() => bulk('v')),
    readFresh: async (keys: string[]) => new Map(keys.map((key) => [key, '0:0'])),
  } as unknown as TransactionEngine;
  const keyspace = {
    size: async () => 0,
    keys: async () => [],
    scanPage: async () => ({ cursor: 0, keys: [] }),
  } as unknown as Keyspace;
  return {
    engine,
    keyspace,
    password: null,
    defaultConsistency: 'instance',
    config: new ServerConfig(),
    stats: new ServerStats(),
    info: async () => '',
    lastSaveSeconds: () => 0,
  };
}

/** Arguments that fit the command's arity and the options its simplest form takes. */
const FORMS: Readonly<Record<string, readonly string[]>> = {
  'client|setname': ['CLIENT', 'SETNAME', 'n'],
  'client|setinfo': ['CLIENT', 'SETINFO', 'LIB-NAME', 'x'],
  'client|no-evict': ['CLIENT', 'NO-EVICT', 'ON'],
  'command|getkeys': ['COMMAND', 'GETKEYS', 'GET', 'k'],
  'command|getkeysandflags': ['COMMAND', 'GETKEYSANDFLAGS', 'GET', 'k'],
  'borealis|session': ['BOREALIS', 'SESSION', 'MOVED'],
  hello: ['HELLO', '3'],
  scan: ['SCAN', '0'],
  select: ['SELECT', '0'],
};

function requestFor(name: string): Buffer[] {
  const words = FORMS[name] ?? name.toUpperCase().split('|');
  const [container, subcommand] = name.split('|') as [string, string | undefined];
  const command = lookupCommand(container);
  const spec = subcommand === undefined ? command : command?.subcommands?.get(subcommand);
  assert.ok(spec, `${name} is served`);
  const padded = [...words];
  while (padded.length < Math.abs(spec.arity)) padded.push('k');
  return padded.map((word) => Buffer.from(word, 'latin1'));
}

describe('session commands', () => {
  for (const name of SESSION_COMMANDS) {
    it(`${name} runs in the connection layer`, async () => {
      const session = new Session(1, fakeHost());
      // AUTH is refused without a password configured, with its own error: still run.
      const { reply } = await session.handle(requestFor(name));
      const message = reply.kind === 'error' ? reply.message : '';
      assert.ok(!message.startsWith('ERR unknown command'), `${name}: ${message}`);
      assert.ok(!message.startsWith('ERR unknown subcommand'), `${name}: ${message}`);
    });
  }
});
