// What decoding a storage link's frames costs: messages as a data node sends them (a point read,
// proposals of 1, 4 and 64 blind SETs, a DECIDED) fed to the wire's FrameDecoder, against the same
// frames decoded with each byte string copied into an ArrayBuffer of its own (msgpackr's
// `copyBuffers`), which is how every frame was decoded before large frames were copied whole
// (docs/performance.md, "One copy per frame, and fewer key lookups per decision"). CPU time of
// this one process, median of rounds.
import { Unpackr } from 'msgpackr';
import type { Proposal } from '../libs/quorum/src/index.js';
import { encodeFrames, FrameDecoder } from '../libs/wire/src/frames.js';
import type { BenchOptions, BenchResult, Row } from './lib/report.js';

const ROUNDS = 7;
/** About 50 ms of decoding per round and method on this machine, whatever the frame's size. */
const BYTES_PER_ROUND = 4_000_000;
const VALUE = Buffer.alloc(100, 0x07);
const GUARD = { mask: 0x7f, firstBytes: [0x07] };

function proposeFrame(sets: number): Buffer {
  const keys = Array.from({ length: sets }, (_, index) => `key:${String(index * 7919).padStart(12, '0')}`);
  const proposal: Proposal = {
    txid: 'bench-writer:000001:0000000042',
    proposedAtMs: Date.now(),
    reads: keys.map((key) => ({ key, seq: Date.now() * 1024, blind: GUARD })),
    writes: keys.map((key) => ({ key, value: VALUE })),
  };
  return encodeFrames([{ type: 'propose', volume: 'bench', proposal }]);
}

const SHAPES: readonly { message: string; frame: Buffer }[] = [
  {
    message: 'read of 1 key',
    frame: encodeFrames([{ type: 'read', volume: 'bench', requestId: 4242, keys: ['key:000000012345'] }]),
  },
  {
    message: 'decided',
    frame: encodeFrames([
      { type: 'decided', volume: 'bench', txid: 'bench-writer:000001:0000000042', decision: 'commit' },
    ]),
  },
  { message: 'propose, 1 SET', frame: proposeFrame(1) },
  { message: 'propose, 4 SETs', frame: proposeFrame(4) },
  { message: 'propose, 64 SETs (a pipelined group)', frame: proposeFrame(64) },
];

const perValueCopies = new Unpackr({ useRecords: false, mapsAsObjects: true, copyBuffers: true });

/** The peer: the frame decoded in place, each byte string copied into memory of its own. */
function decodeCopyingEachValue(chunk: Buffer): unknown {
  return perValueCopies.unpack(chunk, { start: 4, end: 4 + chunk.readUInt32BE(0) });
}

/** CPU µs per decode of `chunks` (distinct buffers, as sockets hand over), median of rounds. */
function cpuMicrosPerDecode(chunks: readonly Buffer[], decode: (chunk: Buffer) => unknown): number {
  const perRound: number[] = [];
  let sink = 0;
  for (let round = 0; round <= ROUNDS; round++) {
    const started = process.cpuUsage();
    for (const chunk of chunks) sink += decode(chunk) === null ? 1 : 0;
    const used = process.cpuUsage(started);
    // The first round warms the code up and is not counted.
    if (round > 0) perRound.push((used.user + used.system) / chunks.length);
  }
  if (sink < 0) throw new Error('unreachable');
  perRound.sort((a, b) => a - b);
  return perRound[Math.floor(perRound.length / 2)] as number;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const rows: Row[] = [];
  for (const [index, shape] of SHAPES.entries()) {
    options.progress('decode frames', index / SHAPES.length);
    const count = Math.max(1_000, Math.floor(BYTES_PER_ROUND / shape.frame.length));
    const chunks = Array.from({ length: count }, () => Buffer.from(shape.frame));
    const decoder = new FrameDecoder();
    const framed = cpuMicrosPerDecode(chunks, (chunk) => decoder.push(chunk));
    const copying = cpuMicrosPerDecode(chunks, decodeCopyingEachValue);
    rows.push({
      message: shape.message,
      'frame bytes': shape.frame.length,
      'FrameDecoder µs': framed.toFixed(2),
      'a copy per value µs (peer)': copying.toFixed(2),
      'FrameDecoder / peer': (framed / copying).toFixed(2),
    });
  }
  options.progress('decode frames', 1);
  return {
    name: 'frames',
    rows,
    notes: [
      `CPU time of this process per frame decoded, median of ${ROUNDS} rounds after one unmeasured, each round decoding about ${(BYTES_PER_ROUND / 1e6).toFixed(0)} MB of distinct copies of the frame (at least 1,000). FrameDecoder: this build's decoder (libs/wire/src/frames.ts), which copies a frame of 512 bytes or more once and decodes its byte strings as views into the copy, and decodes a smaller one with each byte string copied. Peer: the same payload decoded in place with every byte string copied into an ArrayBuffer of its own, as every frame was decoded before. The peer is msgpackr's decode alone, without the decoder's framing (its header, its list of messages): for frames with few or no byte strings the ratio is that framing's own cost. Values of 100 bytes; a storage node decodes each proposal once, so six times per commit over the six. Run with \`npm run bench -- frames\`.`,
    ],
  };
}
