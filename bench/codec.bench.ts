// The compact encoding of every commit's messages and log records (ADR 0023) against the msgpack
// maps they were before, in the same run: bytes, and ns to encode and to decode each, the decode
// through the wire's FrameDecoder (or the log's decodeRecords) with its byte strings copied out,
// as a storage node and a writer do it. The values are a data node's SETs: 100-byte values
// written blind (ADR 0016) under one volume, by one writer.
import { Packr, RESERVE_START_SPACE } from 'msgpackr';
import { decodeRecords, encodeRecords } from '../apps/storage-node/src/record-codec.js';
import type {
  DecidedMessage,
  Proposal,
  ProposeMessage,
  ReplicaRecord,
  VoteMessage,
} from '../libs/quorum/src/index.js';
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from '../libs/wire/src/index.js';
import { type BenchOptions, type BenchResult, type Row, round } from './lib/report.js';

/** Timed operations per case, after as many unmeasured. */
const OPERATIONS = 200_000;
const VOLUME = 'cluster-0f3c9a2e';
const WRITER = 'dn-4b1d7e20';
const VALUE = Buffer.alloc(100, 0x01);
const GUARD = { mask: 0x7f, firstBytes: [0x01, 0x02] };

// The way before: plain maps, as frames.ts and record-codec.ts packed them.
const mapPackr = new Packr({ useRecords: false });

function proposal(keys: number, serial: number): Proposal {
  const seq = 1_800_000_000_000 * 1024 + serial;
  const names = Array.from(
    { length: keys },
    (_, index) => `key:${(serial * 7919 + index * 104_729) % 1_000_000}`,
  );
  return {
    txid: `${WRITER}.${serial}`,
    reads: names.map((key) => ({ key, seq, blind: GUARD })),
    writes: names.map((key) => ({ key, value: VALUE })),
    proposedAtMs: 1_800_000_000_000 + serial,
  };
}

interface Case {
  name: string;
  encodeCompact: () => Uint8Array;
  encodeMap: () => Uint8Array;
  decode: (encoded: Uint8Array) => unknown;
}

function messageCase(name: string, message: ProposeMessage | VoteMessage | DecidedMessage): Case {
  const decoder = new FrameDecoder();
  return {
    name,
    encodeCompact: () => encodeFrame(message),
    encodeMap: () => {
      const frame = mapPackr.pack(message, RESERVE_START_SPACE | FRAME_HEADER_BYTES);
      frame.writeUInt32BE(frame.length - FRAME_HEADER_BYTES, 0);
      return frame;
    },
    decode: (frame) => decoder.push(frame),
  };
}

function recordCase(name: string, records: ReplicaRecord[]): Case {
  return {
    name,
    encodeCompact: () => encodeRecords(records),
    encodeMap: () => mapPackr.pack(records),
    decode: (payload) => decodeRecords(payload),
  };
}

function cases(): Case[] {
  const four = proposal(4, 42);
  return [
    messageCase('PROPOSE, 1 key', { type: 'propose', volume: VOLUME, proposal: proposal(1, 41) }),
    messageCase('PROPOSE, 4 keys, 2 txids held by all', {
      type: 'propose',
      volume: VOLUME,
      proposal: four,
      heldByAll: [`${WRITER}.40`, `${WRITER}.39`],
    }),
    messageCase('PROPOSE, 64 keys', { type: 'propose', volume: VOLUME, proposal: proposal(64, 43) }),
    messageCase('VOTE, yes, 1 txid held', {
      type: 'vote',
      volume: VOLUME,
      txid: four.txid,
      vote: 'yes',
      held: [`${WRITER}.38`],
    }),
    messageCase('DECIDED, commit', { type: 'decided', volume: VOLUME, txid: four.txid, decision: 'commit' }),
    recordCase('log: vote record (4 keys) and decide record', [
      { kind: 'vote', volume: VOLUME, txid: four.txid, vote: 'yes', proposal: four, atMs: 1_800_000_000_042 },
      {
        kind: 'decide',
        volume: VOLUME,
        txid: four.txid,
        decision: 'commit',
        proposal: null,
        atMs: 1_800_000_000_043,
      },
    ]),
  ];
}

/** ns per call of `operation`, after as many unmeasured calls. */
function nsPer(operation: () => unknown): number {
  for (let index = 0; index < OPERATIONS; index++) operation();
  const started = process.hrtime.bigint();
  for (let index = 0; index < OPERATIONS; index++) operation();
  return Number(process.hrtime.bigint() - started) / OPERATIONS;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const rows: Row[] = [];
  const all = cases();
  for (const [index, { name, encodeCompact, encodeMap, decode }] of all.entries()) {
    options.progress('codec', index / all.length);
    const compact = Buffer.from(encodeCompact());
    const map = Buffer.from(encodeMap());
    // Both ways must carry the same thing, or the comparison says nothing.
    const fromCompact = JSON.stringify(decode(compact));
    if (fromCompact !== JSON.stringify(decode(map))) {
      throw new Error(`${name}: the compact and map encodings decode differently`);
    }
    const encodeCompactNs = nsPer(encodeCompact);
    const encodeMapNs = nsPer(encodeMap);
    const decodeCompactNs = nsPer(() => decode(compact));
    const decodeMapNs = nsPer(() => decode(map));
    rows.push({
      value: name,
      'bytes, compact / map': `${compact.length} / ${map.length}`,
      'encode ns, compact': Math.round(encodeCompactNs),
      'encode ns, map': Math.round(encodeMapNs),
      'map / compact, encode': round(encodeMapNs / encodeCompactNs, 2),
      'decode ns, compact': Math.round(decodeCompactNs),
      'decode ns, map': Math.round(decodeMapNs),
      'map / compact, decode': round(decodeMapNs / decodeCompactNs, 2),
    });
  }
  options.progress('codec', 1);
  return {
    name: 'codec: the compact encoding of every commit’s messages against msgpack maps',
    rows,
    notes: [
      `Each cell times ${OPERATIONS.toLocaleString('en-US')} calls after as many unmeasured, in one process, the ways alternating by case. Encoding a message makes its whole frame (header included), as encodeFrame does; decoding runs the wire's FrameDecoder, or the log's decodeRecords for records, each copying byte strings out of the decoded bytes as a storage node does.`,
      'Values: 100-byte values written blind with the data node’s guard, keys of 10 bytes, one volume and one writer, as a data node’s SETs make them. "map" is the encoding before ADR 0023 (msgpackr maps, `useRecords: false`), decoded by the same decoders, which still read maps.',
      'Run with `npm run bench -- codec`.',
    ],
  };
}
