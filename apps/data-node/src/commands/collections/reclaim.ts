// Reclaiming the element keys of collections that are gone (ADR 0008, decision 6). When a
// transaction removes or replaces the last header that holds a collection id, the engine writes
// a reclaim record `0xff 'r' id` in the same transaction: the old header and a progress count.
// A reclaim step (one transaction) deletes the next `RECLAIM_KEYS_PER_STEP` element keys and
// advances the count, deleting the record with the last batch. Ids are never reused and a
// replaced header never comes back, so nothing can write under the id once the record exists:
// reclaim never deletes a live element, and writers racing on one record conflict on it.
import type { DataCommandContext } from '../context-access.js';
import { decodeStoredValue, encodeStoredValue } from '../stored-value.js';
import { COLLECTION_FAMILIES } from './families.js';
import {
  type CollectionHeader,
  generationOf,
  INTERNAL_KEY_MARK,
  isCollectionHeader,
  userKeyOf,
} from './layout.js';

/** Element keys one reclaim transaction deletes at most. */
export const RECLAIM_KEYS_PER_STEP = 256;

const RECORD_PREFIX = `${INTERNAL_KEY_MARK}r`;

export function reclaimRecordKey(id: string): string {
  return RECORD_PREFIX + id;
}

export function isReclaimRecordKey(key: string): boolean {
  return key.startsWith(RECORD_PREFIX);
}

/**
 * Whether whoever meets this volume key (a listing, a flush walk) hands it to its reclaimer: a
 * reclaim record a writer left behind, or a Redis key of a generation before `generation`, which
 * a FLUSHDB ended (ADR 0008, decisions 6–7).
 */
export function isReclaimable(name: string, generation: number): boolean {
  return userKeyOf(name) === null ? isReclaimRecordKey(name) : generationOf(name) < generation;
}

/** 4 bytes of progress (element keys already deleted), then the old header's encoding. */
export function encodeReclaimRecord(header: CollectionHeader, progress: number): Uint8Array {
  const encoded = encodeStoredValue(header);
  const bytes = Buffer.allocUnsafe(4 + encoded.byteLength);
  bytes.writeUInt32BE(progress, 0);
  bytes.set(encoded, 4);
  return bytes;
}

function decodeReclaimRecord(bytes: Uint8Array): { header: CollectionHeader; progress: number } | null {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = decodeStoredValue(buffer.subarray(4));
  return isCollectionHeader(header) ? { header, progress: buffer.readUInt32BE(0) } : null;
}

export type ReclaimStepResult = 'more' | 'done' | 'unknown-family';

/**
 * Redis keys of generations a FLUSHDB ended (nothing can write them any more: every transaction
 * validates the generation), deleted in one step; a collection's header leaves a reclaim record
 * for its elements. Returns the records written, for the reclaimer to take up next.
 */
export function reclaimOldKeys(context: DataCommandContext, keys: readonly string[]): string[] {
  const records: string[] = [];
  const values = context.readElements([...keys]);
  keys.forEach((key, index) => {
    const bytes = values[index] ?? null;
    if (bytes === null) return;
    context.writeElement(key, null);
    const value = decodeStoredValue(bytes);
    if (!isCollectionHeader(value)) return;
    const recordKey = reclaimRecordKey(value.id);
    if (context.readElement(recordKey) === null)
      context.writeElement(recordKey, encodeReclaimRecord(value, 0));
    records.push(recordKey);
  });
  return records;
}

/** One step of reclaim for a record: a bounded batch of its element keys deleted. */
export function reclaimStep(context: DataCommandContext, recordKey: string): ReclaimStepResult {
  const bytes = context.readElement(recordKey);
  if (bytes === null) return 'done';
  const record = decodeReclaimRecord(bytes);
  if (record === null) {
    context.writeElement(recordKey, null);
    return 'done';
  }
  const family = COLLECTION_FAMILIES.get(record.header.type);
  // A family this node does not know (a newer writer's): leave the record to a writer that does.
  if (family === undefined) return 'unknown-family';
  const batch = family.reclaimBatch(context, record.header, record.progress, RECLAIM_KEYS_PER_STEP);
  context.readElements(batch);
  for (const key of batch) context.writeElement(key, null);
  const progress = record.progress + batch.length;
  if (batch.length < RECLAIM_KEYS_PER_STEP) {
    context.writeElement(recordKey, null);
    return 'done';
  }
  context.writeElement(recordKey, encodeReclaimRecord(record.header, progress));
  return 'more';
}
