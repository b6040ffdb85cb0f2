// Replies as plain values for assertions: bulk strings as latin1 text, simple strings and errors
// tagged, nulls as null. Shared by the unit tests of the command core.
import type { Reply } from '../../libs/resp/src/reply.js';

/** Bulk strings as latin1 text, integers as numbers (or bigint), nulls as null. */
export function simplify(reply: Reply): unknown {
  switch (reply.kind) {
    case 'simple':
      return { simple: reply.value };
    case 'error':
      return { error: reply.message };
    case 'integer':
      return reply.value;
    case 'bulk':
      return typeof reply.value === 'string' ? reply.value : reply.value.toString('latin1');
    case 'null':
    case 'nullArray':
      return null;
    case 'array':
    case 'set':
      return reply.items.map(simplify);
    case 'map':
      return { map: reply.entries.map(([key, value]) => [simplify(key), simplify(value)]) };
    default:
      return reply;
  }
}
