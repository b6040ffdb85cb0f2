// Log records and snapshots on disk are msgpack, like the wire: one encoding to reason about. The
// records every commit makes (vote, decide, accept, forget) are msgpack extension values of the
// wire's compact layout (libs/wire/src/quorum-codec.ts, ADR 0023); logs written before it hold
// maps, and are read all the same.
import { Buffer } from 'node:buffer';
import { Packr, Unpackr } from 'msgpackr';
import type {
  ReplicaRecord,
  ReplicaRestorer,
  ReplicaSnapshot,
  ReplicaSnapshotReader,
} from '../../../libs/quorum/src/index.js';
import { withPooledCopies } from '../../../libs/wire/src/pooled-copies.js';
import { compactWriter, encodeCompact, unpackWithPooledCopies } from '../../../libs/wire/src/quorum-codec.js';

const packr = new Packr({ useRecords: false });
// Byte strings are decoded as views, then copied out (`withPooledCopies`): decoded values must not
// be views into the large replay buffers, or those buffers stay alive.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, copyBuffers: false });

export function encodeRecord(record: ReplicaRecord): Uint8Array {
  return encodeCompact(record) ?? packr.pack(record);
}

/** Many records as one log payload (a msgpack array): the storage node logs each batch's records together. */
export function encodeRecords(records: readonly ReplicaRecord[]): Uint8Array {
  const writer = compactWriter;
  writer.reset();
  writer.arrayHeader(records.length);
  for (const record of records) if (!writer.writeCompact(record)) writer.raw(packr.pack(record));
  return writer.take();
}

/** The records of one log payload, whether it holds one record or a batch. */
export function decodeRecords(payload: Uint8Array): ReplicaRecord[] {
  const decoded = unpackWithPooledCopies(() => unpackr.unpack(payload)) as ReplicaRecord | ReplicaRecord[];
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

/**
 * Restores a snapshot into `restorer` as it decodes it, `entriesPerPage` entries at a time: each
 * page is garbage once restored, so a node restarting on a snapshot of a million keys never holds
 * the decoded document whole beside the state it builds from it (`decodeSnapshot` does). Reads
 * any document `encodeSnapshot` or `encodeSnapshotChunks` wrote, older ones without the later
 * fields included. msgpackr decodes values whole, so the document's own maps and arrays are walked
 * here (their headers are a few bytes of the msgpack spec) and msgpackr decodes each entry.
 */
export function readSnapshot(
  body: Uint8Array,
  restorer: ReplicaRestorer,
  entriesPerPage = SNAPSHOT_CHUNK_ENTRIES,
): void {
  const document = new SnapshotDocument(body, entriesPerPage);
  for (let field = document.mapLength(); field > 0; field--) {
    const name = document.value();
    if (name === 'volumes') {
      for (let volume = document.arrayLength(); volume > 0; volume--) readVolume(document, restorer);
    } else if (name === 'droppedVolumes') {
      restorer.droppedVolumes((document.value() as [string, number][] | null) ?? []);
    } else if (name === 'writtenOff') {
      restorer.writtenOff((document.value() as [string, number][] | null) ?? []);
    } else if (name === 'writeOffsEndedAtMs') {
      restorer.writeOffsEndedAtMs((document.value() as number | null | undefined) ?? null);
    } else {
      document.value();
    }
  }
  document.end();
  restorer.finish();
}

function readVolume(document: SnapshotDocument, restorer: ReplicaRestorer): void {
  let named = false;
  for (let field = document.mapLength(); field > 0; field--) {
    const name = document.value();
    if (name === 'name') {
      restorer.volume(document.value() as string);
      named = true;
      continue;
    }
    const take = pageTaker(restorer, name);
    if (take === null) {
      document.value();
      continue;
    }
    if (!named) throw new Error(`snapshot damaged: a volume's ${String(name)} come before its name`);
    // A key's value is made a string of its own at once (`storeValue`), so its bytes may stay a
    // view into the body; a transaction record keeps its proposal's values as decoded.
    document.pages(name !== 'keys', take);
  }
}

/** Where a volume's list named `name` goes, or null for a list this reader does not know. */
function pageTaker(restorer: ReplicaRestorer, name: unknown): ((page: unknown[]) => void) | null {
  switch (name) {
    case 'keys':
      return (page) => restorer.keys(page as Parameters<ReplicaRestorer['keys']>[0]);
    case 'transactions':
      return (page) => restorer.transactions(page as Parameters<ReplicaRestorer['transactions']>[0]);
    case 'unconfirmed':
      return (page) => restorer.unconfirmed(page as Parameters<ReplicaRestorer['unconfirmed']>[0]);
    case 'forgotten':
      return (page) => restorer.forgotten(page as Parameters<ReplicaRestorer['forgotten']>[0]);
    default:
      return null;
  }
}

/** A cursor over one encoded snapshot. */
class SnapshotDocument {
  private position = 0;
  private readonly view: DataView;

  constructor(
    private readonly body: Uint8Array,
    private readonly entriesPerPage: number,
  ) {
    this.view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  }

  mapLength(): number {
    const tag = this.byte();
    if (tag >= 0x80 && tag <= 0x8f) return tag & 0x0f;
    if (tag === 0xde) return this.uint(2);
    if (tag === 0xdf) return this.uint(4);
    throw this.damaged(`a map where 0x${tag.toString(16)} is`);
  }

  /** An array's length; nil (an absent list) as an empty one. */
  arrayLength(): number {
    const tag = this.byte();
    if (tag >= 0x90 && tag <= 0x9f) return tag & 0x0f;
    if (tag === 0xdc) return this.uint(2);
    if (tag === 0xdd) return this.uint(4);
    if (tag === 0xc0) return 0;
    throw this.damaged(`an array where 0x${tag.toString(16)} is`);
  }

  /** The next value, decoded whole, byte strings copied out of the body. */
  value(): unknown {
    let decoded: unknown;
    this.decode(1, (value) => {
      decoded = value;
    });
    return withPooledCopies(decoded);
  }

  /** An array's elements, handed over `entriesPerPage` at a time. */
  pages(copyBytes: boolean, take: (page: unknown[]) => void): void {
    for (let left = this.arrayLength(); left > 0; ) {
      const page: unknown[] = [];
      const count = Math.min(left, this.entriesPerPage);
      this.decode(count, (value) => {
        page.push(value);
      });
      left -= count;
      take(copyBytes ? (withPooledCopies(page) as unknown[]) : page);
    }
  }

  end(): void {
    if (this.position !== this.body.byteLength)
      throw this.damaged(`${this.body.byteLength - this.position} bytes after its end`);
  }

  /** Decodes `count` values in a row from the cursor on. */
  private decode(count: number, each: (value: unknown) => void): void {
    if (this.position >= this.body.byteLength) throw this.damaged('it ends early');
    let decoded = 0;
    let end = 0;
    unpackr.unpackMultiple(
      this.body.subarray(this.position),
      (value: unknown, _start?: number, at?: number) => {
        each(value);
        end = at ?? end;
        decoded++;
        return decoded < count;
      },
    );
    if (decoded < count) throw this.damaged('it ends early');
    this.position += end;
  }

  private byte(): number {
    if (this.position >= this.body.byteLength) throw this.damaged('it ends early');
    return this.view.getUint8(this.position++);
  }

  private uint(bytes: 2 | 4): number {
    if (this.position + bytes > this.body.byteLength) throw this.damaged('it ends early');
    const value = bytes === 2 ? this.view.getUint16(this.position) : this.view.getUint32(this.position);
    this.position += bytes;
    return value;
  }

  private damaged(what: string): Error {
    return new Error(`snapshot damaged at byte ${this.position}: ${what}`);
  }
}
