// Server commands that are about the node rather than a connection or the data: CONFIG, TIME,
// WAIT, LASTSAVE, and the persistence and lifecycle commands that do not apply here (SAVE,
// BGSAVE, BGREWRITEAOF, SHUTDOWN, DEBUG). Their choices are explained in ARCHITECTURE.md.
import { array, bulk, error, integer, OK, type Reply, simple } from '../../../../libs/resp/src/reply.js';
import { nowMicros } from './client-registry.js';
import type { ServerConfig } from './server-config.js';
import type { ServerStats } from './server-stats.js';

export interface AdminHost {
  readonly config: ServerConfig;
  readonly stats: ServerStats;
  lastSaveSeconds(): number;
}

/**
 * WAIT's answer: every write this connection had acknowledged is already on at least 4 of the 6
 * storage replicas (a write quorum). Counting one of those as the primary's own copy, as Redis
 * does (WAIT counts replicas besides the primary), at least 3 more copies exist.
 */
export const WAIT_ACKNOWLEDGED_REPLICAS = 3;

const DURABLE =
  'every write is on at least 4 of 6 storage replicas, on disk, before it is acknowledged, so there is no snapshot or append-only file to write';
const LIFECYCLE =
  "a data node's lifecycle belongs to the control plane (pause, resize or delete the cluster there)";

/** The reply to an admin command, or null when `args` names none of them. */
export function adminCommand(host: AdminHost, args: readonly Buffer[]): Reply | null {
  const name = (args[0] as Buffer).toString('latin1').toLowerCase();
  switch (name) {
    case 'config':
      return configCommand(host, args);
    case 'time': {
      const micros = nowMicros();
      return array([bulk(String(micros / 1_000_000n)), bulk(String(micros % 1_000_000n))]);
    }
    case 'lastsave':
      return integer(host.lastSaveSeconds());
    case 'wait':
      return waitCommand(args);
    case 'save':
    case 'bgsave':
    case 'bgrewriteaof':
      return error(`ERR ${name.toUpperCase()} is not needed on Borealis: ${DURABLE}`);
    case 'shutdown':
      return error(`ERR SHUTDOWN is not available on Borealis: ${LIFECYCLE}`);
    case 'debug':
      return error(
        'ERR DEBUG is not available on Borealis: a data node holds no dataset of its own to inspect or change (the data is on the storage replicas)',
      );
    default:
      return null;
  }
}

/** Redis's string2ll, close enough for timeouts: no sign but '-', no leading zero, 19 digits at most. */
const LONG_LONG = /^(0|-?[1-9]\d{0,18})$/;

function waitCommand(args: readonly Buffer[]): Reply {
  const replicas = (args[1] as Buffer).toString('latin1');
  const timeout = (args[2] as Buffer).toString('latin1');
  // Redis reads the timeout first.
  if (!LONG_LONG.test(timeout)) return error('ERR timeout is not an integer or out of range');
  if (timeout.startsWith('-')) return error('ERR timeout is negative');
  if (!LONG_LONG.test(replicas)) return error('ERR value is not an integer or out of range');
  // Nothing to wait for: what WAIT waits for in Redis is already true when a write is answered.
  return integer(WAIT_ACKNOWLEDGED_REPLICAS);
}

function configCommand(host: AdminHost, args: readonly Buffer[]): Reply {
  const sub = (args[1] as Buffer).toString('latin1').toLowerCase();
  const text = (index: number): string => (args[index] as Buffer).toString('latin1');
  switch (sub) {
    case 'get': {
      const patterns = args.slice(2).map((arg) => arg.toString('latin1'));
      return {
        kind: 'map',
        entries: host.config.getMatching(patterns).map(([name, value]) => [bulk(name), bulk(value)]),
      };
    }
    case 'set': {
      if (args.length % 2 !== 0) return error('ERR syntax error');
      const pairs: [string, string][] = [];
      for (let index = 2; index < args.length; index += 2) pairs.push([text(index), text(index + 1)]);
      const result = host.config.set(pairs);
      return result.ok ? OK : error(result.error);
    }
    case 'resetstat':
      host.stats.reset();
      return OK;
    case 'rewrite':
      return error('ERR The server is running without a config file');
    case 'help':
      return array(
        [
          'CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
          'GET <pattern>',
          '    Return parameters matching the glob-like <pattern> and their values.',
          'SET <directive> <value>',
          '    Set the configuration <directive> to <value>.',
          'RESETSTAT',
          '    Reset statistics reported by the INFO command.',
          'REWRITE',
          '    Rewrite the configuration file.',
          'HELP',
          '    Prints this help.',
        ].map(simple),
      );
    default:
      return error(`ERR unknown subcommand '${text(1)}'. Try CONFIG HELP.`);
  }
}
