// FLUSHDB and FLUSHALL [ASYNC | SYNC]: one write of the volume's generation (ADR 0008,
// decision 7). Every transaction reads the generation and its commit validates it, so the flush
// is atomic over the whole volume for every writer, whatever the number of keys; the keys of
// the old generation are reclaimed in the background, by a walk over the volume that the flush
// records as owed (FLUSH_WALK_KEY) in the same transaction. SYNC and ASYNC both answer once the new
// generation is committed (there is one database, so FLUSHALL is FLUSHDB).
import { error, OK, type Reply } from '../../../../libs/resp/src/reply.js';
import { keyword } from './arguments.js';
import { decodeGeneration, encodeGeneration, FLUSH_WALK_KEY, GENERATION_KEY } from './collections/layout.js';
import type { DataCommandContext, DataCommandHandler } from './context-access.js';

function flush(args: Buffer[], context: DataCommandContext): Reply {
  if (args.length > 2) return error('ERR syntax error');
  if (args.length === 2 && !['ASYNC', 'SYNC'].includes(keyword(args[1] as Buffer)))
    return error('ERR syntax error');
  const generation = decodeGeneration(context.readElement(GENERATION_KEY));
  context.writeElement(GENERATION_KEY, encodeGeneration(generation + 1));
  context.writeElement(FLUSH_WALK_KEY, encodeGeneration(generation + 1));
  return OK;
}

export const FLUSH_COMMANDS: ReadonlyArray<readonly [string, DataCommandHandler]> = [
  ['flushdb', flush],
  ['flushall', flush],
];
