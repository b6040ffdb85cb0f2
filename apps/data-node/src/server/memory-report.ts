// MEMORY DOCTOR, STATS, MALLOC-STATS, PURGE and HELP for a writer. (MEMORY USAGE reads a key and
// runs in the data core: commands/key-commands.ts.) A writer holds no dataset in memory (the
// data lives on the storage replicas); its memory is the process's: the cache, connections and
// the runtime. The figures are the process's own, from Node's accounting, under Redis's names
// where one fits; Redis's fields about its dataset and allocator are left out rather than faked.
import { bulk, integer, OK, type Reply } from '../../../../libs/resp/src/reply.js';
import { helpReply } from '../commands/key-commands.js';

/** The resident set size when this module loaded: the closest thing to Redis's startup.allocated. */
const STARTUP_RSS_BYTES = process.memoryUsage.rss();

/** `sub` is the lowercase subcommand: doctor, stats, malloc-stats, purge or help. */
export function memoryCommandReply(sub: string, commandName: Buffer): Reply {
  switch (sub) {
    case 'stats':
      return memoryStats();
    case 'doctor':
      return {
        kind: 'verbatim',
        format: 'txt',
        value:
          'Hi Sam, this Borealis writer keeps no dataset in memory: the data lives on the storage replicas, and the memory here is the cache, the connections and the runtime. See MEMORY STATS and INFO memory.',
      };
    case 'malloc-stats':
      // What Redis answers when built with an allocator it has no statistics for.
      return bulk('Stats not supported for the current allocator');
    case 'purge':
      return OK;
    default:
      return helpReply(commandName, [
        'DOCTOR',
        '    Return memory problems reports.',
        'MALLOC-STATS',
        '    Return internal statistics report from the memory allocator.',
        'PURGE',
        '    Attempt to purge dirty pages for reclamation by the allocator.',
        'STATS',
        '    Return information about the memory usage of the server.',
        'USAGE <key> [SAMPLES <count>]',
        '    Return memory in bytes used by <key> and its value. Nested values are',
        '    sampled up to <count> times (default: 5, 0 means sample all).',
      ]);
  }
}

function memoryStats(): Reply {
  const usage = process.memoryUsage();
  const peakBytes = Math.max(process.resourceUsage().maxRSS * 1024, usage.rss);
  const fields: [string, number][] = [
    ['peak.allocated', peakBytes],
    ['total.allocated', usage.rss],
    ['startup.allocated', STARTUP_RSS_BYTES],
    ['replication.backlog', 0],
    ['clients.slaves', 0],
    ['aof.buffer', 0],
    ['lua.caches', 0],
    ['functions.caches', 0],
    // Borealis's own: the runtime's heap and the memory outside it (buffers, among them the cache's).
    ['heap.used', usage.heapUsed],
    ['heap.total', usage.heapTotal],
    ['external', usage.external],
    ['array-buffers', usage.arrayBuffers],
  ];
  return { kind: 'map', entries: fields.map(([name, value]) => [bulk(name), integer(value)]) };
}
