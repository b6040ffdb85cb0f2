// Log records and snapshots on disk are msgpack, like the wire: one encoding to reason about.
import { Buffer } from 'node:buffer';
import { Packr, Unpackr } from 'msgpackr';
import type {
  ReplicaRecord,
  ReplicaSnapshot,
  ReplicaSnapshotReader,
} from '../../../libs/quorum/src/index.js';
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

/**
 * Entries (keys, transactions, forgotten txids) encoded per chunk of a snapshot: about 2 ms of work
 * on this project's machine (6 ms at the 99th percentile), so that a node writing a snapshot of a
 * million keys keeps answering.
 */
export const SNAPSHOT_CHUNK_ENTRIES = 2_048;

/**
 * A snapshot encoded a chunk at a time, as its reader is read, into the same msgpack document
 * `encodeSnapshot` makes of the whole snapshot at once (`decodeSnapshot` reads either): the arrays'
 * lengths are known up front, so each is written as an array header followed by its elements,
 * packed a page at a time. Closes the reader when done, or when the consumer stops early.
 */
export function* encodeSnapshotChunks(
  reader: ReplicaSnapshotReader,
  entriesPerChunk = SNAPSHOT_CHUNK_ENTRIES,
): Generator<Uint8Array, void, undefined> {
  try {
    yield join([mapHeader(4), packr.pack('volumes'), arrayHeader(reader.volumes.length)]);
    for (const [index, volume] of reader.volumes.entries()) {
      yield join([
        mapHeader(5),
        packr.pack('name'),
        packr.pack(volume.name),
        packr.pack('keys'),
        arrayHeader(volume.keyCount),
      ]);
      for (let from = 0; from < volume.keyCount; from += entriesPerChunk) {
        yield packElements(reader.keys(index, from, entriesPerChunk));
      }
      yield* arrayInChunks(
        'transactions',
        volume.transactionCount,
        pagesOf(volume.transactionCount, entriesPerChunk, (from) =>
          reader.transactions(index, from, entriesPerChunk),
        ),
      );
      yield* arrayInChunks(
        'unconfirmed',
        volume.unconfirmedTxids.length,
        pagesOf(volume.unconfirmedTxids.length, entriesPerChunk, (from) =>
          reader.unconfirmed(index, from, entriesPerChunk),
        ),
      );
      yield* arrayInChunks('forgotten', volume.forgotten.size, volume.forgotten.pages(entriesPerChunk));
    }
    yield join([packr.pack('droppedVolumes'), packr.pack(reader.droppedVolumes)]);
    yield join([packr.pack('writtenOff'), packr.pack(reader.writtenOff)]);
    yield join([packr.pack('writeOffsEndedAtMs'), packr.pack(reader.writeOffsEndedAtMs)]);
  } finally {
    reader.close();
  }
}

/** A map entry `name`: an array of `count` elements, written as it comes in pages. */
function* arrayInChunks(name: string, count: number, pages: Iterable<unknown[]>): Generator<Uint8Array> {
  yield join([packr.pack(name), arrayHeader(count)]);
  let written = 0;
  for (const page of pages) {
    written += page.length;
    if (written > count) break;
    yield packElements(page);
  }
  // The header promised `count`: a source that changed under the reader would corrupt the document.
  if (written !== count)
    throw new Error(`snapshot array ${name}: ${written} elements for a header of ${count}`);
}

/** Pages of `count` entries, each read (`page(from)`) only when the one before has been taken. */
function* pagesOf<T>(count: number, pageSize: number, page: (from: number) => T[]): Generator<T[]> {
  for (let from = 0; from < count; from += pageSize) yield page(from);
}

function mapHeader(entries: number): Uint8Array {
  if (entries > 15) throw new RangeError('snapshot maps have at most 15 entries');
  return Uint8Array.of(0x80 | entries);
}

/** A msgpack array32 header: valid for any count, so that its size does not depend on it. */
function arrayHeader(count: number): Uint8Array {
  const header = new Uint8Array(5);
  header[0] = 0xdd;
  new DataView(header.buffer).setUint32(1, count);
  return header;
}

/** The msgpack encodings of `elements`, one after another: their array's encoding without its header. */
function packElements(elements: readonly unknown[]): Uint8Array {
  const packed = packr.pack(elements);
  const n = elements.length;
  // msgpack's array headers: fixarray below 16 elements, array16 below 65,536, array32 above.
  const [headerBytes, tag] = n < 16 ? [1, 0x90 | n] : n < 0x10000 ? [3, 0xdc] : [5, 0xdd];
  if (packed[0] !== tag) throw new Error(`unexpected msgpack array header 0x${packed[0]?.toString(16)}`);
  return packed.subarray(headerBytes);
}

function join(parts: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

export function decodeSnapshot(body: Uint8Array): ReplicaSnapshot {
  return withPooledCopies(unpackr.unpack(body)) as ReplicaSnapshot;
}
