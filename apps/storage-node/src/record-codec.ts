// Log records and snapshots on disk are msgpack, like the wire: one encoding to reason about.
import { Packr, Unpackr } from 'msgpackr';
import type { ReplicaRecord, ReplicaSnapshot } from '../../../libs/quorum/src/index.js';
import { withPooledCopies } from '../../../libs/wire/src/pooled-copies.js';

const packr = new Packr({ useRecords: false });
// Byte strings are decoded as views, then copied out (`withPooledCopies`): decoded values must not
// be views into the large replay buffers, or those buffers stay alive.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, copyBuffers: false });

export function encodeRecord(record: ReplicaRecord): Uint8Array {
  return packr.pack(record);
}

/** Many records as one log payload: the storage node logs each batch's records together. */
export function encodeRecords(records: readonly ReplicaRecord[]): Uint8Array {
  return packr.pack(records);
}

/** The records of one log payload, whether it holds one record or a batch. */
export function decodeRecords(payload: Uint8Array): ReplicaRecord[] {
  const decoded = withPooledCopies(unpackr.unpack(payload)) as ReplicaRecord | ReplicaRecord[];
  return Array.isArray(decoded) ? decoded : [decoded];
}

export function encodeSnapshot(snapshot: ReplicaSnapshot): Uint8Array {
  return packr.pack(snapshot);
}

export function decodeSnapshot(body: Uint8Array): ReplicaSnapshot {
  return withPooledCopies(unpackr.unpack(body)) as ReplicaSnapshot;
}
