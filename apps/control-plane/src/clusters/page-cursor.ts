// Opaque pagination cursors: the (createdAt, id) of the last item of a page, so that
// pages stay stable while clusters are created and deleted in between.
import type { PagePosition } from './clusters.repository.js';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeCursor(position: PagePosition): string {
  return Buffer.from(`${position.createdAt.toISOString()}|${position.id}`, 'utf8').toString('base64url');
}

/** The position a cursor stands for, or null when it is not one this API issued. */
export function decodeCursor(cursor: string): PagePosition | null {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  const [timestamp, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!timestamp || !id || rest.length > 0 || !uuidPattern.test(id)) return null;
  const createdAt = new Date(timestamp);
  if (Number.isNaN(createdAt.getTime()) || createdAt.toISOString() !== timestamp) return null;
  return { createdAt, id };
}
