// Log records and snapshots on disk are msgpack, like the wire: one encoding to reason about.
import { Packr, Unpackr } from 'msgpackr';
import type { ReplicaRecord, ReplicaSnapshot } from '../../../libs/quorum/src/index.js';

const packr = new Packr({ useRecords: false });
// Decoded values must not be views into the large replay buffers, or those buffers stay alive.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, copyBuffers: true });

export function encodeRecord(record: ReplicaRecord): Uint8Array {
  return packr.pack(record);
}

export function decodeRecord(payload: Uint8Array): ReplicaRecord {
  return unpackr.unpack(payload) as ReplicaRecord;
}

export function encodeSnapshot(snapshot: ReplicaSnapshot): Uint8Array {
  return packr.pack(snapshot);
}

export function decodeSnapshot(body: Uint8Array): ReplicaSnapshot {
  return unpackr.unpack(body) as ReplicaSnapshot;
}
