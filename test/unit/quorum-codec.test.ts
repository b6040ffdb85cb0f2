// The compact encoding of every commit's messages and log records (ADR 0023): whatever a message
// or record holds, it decodes to what it was, through the wire's frames and the log's payloads,
// next to maps and old logs; and damaged bytes are refused, never misread.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { decodeRecords, encodeRecord, encodeRecords } from '../../apps/storage-node/src/record-codec.js';
import type {
  AcceptedMessage,
  AcceptMessage,
  DecidedMessage,
  Proposal,
  ProposeMessage,
  ReadEntry,
  ReplicaRecord,
  VoteMessage,
  WriteEntry,
} from '../../libs/quorum/src/index.js';
import {
  encodeBatchFrames,
  encodeFrame,
  encodeMessage,
  FrameDecoder,
  FrameError,
  flattenBatches,
} from '../../libs/wire/src/index.js';
import { CompactWriter, QUORUM_EXT_TYPE } from '../../libs/wire/src/quorum-codec.js';
import { plainBytes } from '../support/plain-bytes.js';

// Strings of every kind: ASCII (the written-by-loop path), any UTF-16 (surrogates included), latin1
// (binary-safe keys), and long ones past the one-byte length.
const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.fullUnicodeString({ maxLength: 12 }),
  fc.string({
    unit: fc.integer({ min: 0, max: 0xff }).map((code) => String.fromCharCode(code)),
    maxLength: 20,
  }),
  fc.string({ minLength: 80, maxLength: 400 }),
);
// msgpack writes -0 as the integer 0 (records kept as maps lose its sign); no time or seq is -0.
const number = fc.oneof(
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.double({ noNaN: true }).map((double) => (Object.is(double, -0) ? 0 : double)),
  fc.constant(Date.now() * 1024),
);
const byte = fc.integer({ min: 0, max: 0xff });
const guard = fc.record({ mask: byte, firstBytes: fc.array(byte, { maxLength: 6 }) });
const readEntry: fc.Arbitrary<ReadEntry> = fc.record(
  { key: text, seq: number, shared: fc.constant(true as const), blind: guard },
  { requiredKeys: ['key', 'seq'] },
);
const value = fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null, freq: 4 });

/** Writes whose keys are often the reads' at the same index, as a blind write's or an RMW's are. */
const proposal: fc.Arbitrary<Proposal> = fc
  .record({
    txid: text,
    reads: fc.array(readEntry, { maxLength: 6 }),
    writeKeys: fc.array(fc.option(text, { nil: undefined }), { maxLength: 6 }),
    values: fc.array(value, { minLength: 6, maxLength: 6 }),
    proposedAtMs: number,
  })
  .map(({ txid, reads, writeKeys, values, proposedAtMs }) => ({
    txid,
    reads,
    writes: writeKeys.map(
      (key, index): WriteEntry => ({
        key: key ?? reads[index]?.key ?? `k${index}`,
        value: values[index] ?? null,
      }),
    ),
    proposedAtMs,
  }));
const txids = fc.array(text, { maxLength: 5 });

const propose: fc.Arbitrary<ProposeMessage> = fc.record(
  { type: fc.constant('propose' as const), volume: text, proposal, heldByAll: txids },
  { requiredKeys: ['type', 'volume', 'proposal'] },
);
const vote: fc.Arbitrary<VoteMessage> = fc.record(
  {
    type: fc.constant('vote' as const),
    volume: text,
    txid: text,
    vote: fc.constantFrom('yes' as const, 'no' as const),
    reason: text,
    held: txids,
  },
  { requiredKeys: ['type', 'volume', 'txid', 'vote'] },
);
const decided: fc.Arbitrary<DecidedMessage> = fc.record(
  {
    type: fc.constant('decided' as const),
    volume: text,
    txid: text,
    decision: fc.constantFrom('commit' as const, 'abort' as const),
    proposal,
  },
  { requiredKeys: ['type', 'volume', 'txid', 'decision'] },
);
const accept: fc.Arbitrary<AcceptMessage> = fc.record({
  type: fc.constant('accept' as const),
  volume: text,
  txid: text,
  ballot: number,
  decision: fc.constantFrom('commit' as const, 'abort' as const),
  proposal: fc.option(proposal, { nil: null }),
});
const accepted: fc.Arbitrary<AcceptedMessage> = fc.record({
  type: fc.constant('accepted' as const),
  volume: text,
  txid: text,
  ballot: number,
  ok: fc.boolean(),
  promisedBallot: number,
});
const compactMessage = fc.oneof(propose, vote, decided, accept, accepted);

const compactRecord: fc.Arbitrary<ReplicaRecord> = fc.oneof(
  fc.record({
    kind: fc.constant('vote' as const),
    volume: text,
    txid: text,
    vote: fc.constantFrom('yes' as const, 'no' as const),
    proposal: fc.option(proposal, { nil: null }),
    atMs: number,
  }),
  fc.record({
    kind: fc.constant('decide' as const),
    volume: text,
    txid: text,
    decision: fc.constantFrom('commit' as const, 'abort' as const),
    proposal: fc.option(proposal, { nil: null }),
    atMs: number,
  }),
  fc.record({
    kind: fc.constant('accept' as const),
    volume: text,
    txid: text,
    ballot: number,
    decision: fc.constantFrom('commit' as const, 'abort' as const),
    proposal: fc.option(proposal, { nil: null }),
    atMs: number,
  }),
  fc.record(
    {
      kind: fc.constant('forget' as const),
      volume: text,
      txids,
      atMs: number,
      repaired: fc.constant(true as const),
    },
    { requiredKeys: ['kind', 'volume', 'txids', 'atMs'] },
  ),
);
/** Records the layout does not hold, which stay maps. */
const mapRecord: fc.Arbitrary<ReplicaRecord> = fc.oneof(
  fc.record({
    kind: fc.constant('promise' as const),
    volume: text,
    txid: text,
    ballot: number,
    atMs: number,
  }),
  fc.record({ kind: fc.constant('dropVolume' as const), volume: text, atMs: number }),
);

/** Whether `encoded` is one msgpack ext32 value of the compact type. */
function isCompact(encoded: Uint8Array): boolean {
  return encoded[0] === 0xc9 && encoded[5] === QUORUM_EXT_TYPE;
}

/** A frame's header for `payload`. */
function header(payload: Uint8Array): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(payload.length, 0);
  return bytes;
}

function decodeFrames(bytes: Uint8Array): unknown[] {
  return flattenBatches(new FrameDecoder().push(bytes));
}

const mapPackr = new Packr({ useRecords: false });

describe('the compact encoding of quorum messages and records', () => {
  it('decodes every PROPOSE, VOTE, DECIDED, ACCEPT and ACCEPTED to what was sent, alone, batched and among maps', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(compactMessage, compactMessage, fc.constant({ type: 'read', keys: ['k'] }))),
        (messages) => {
          for (const message of messages) {
            const encoded = encodeMessage(message);
            assert.equal(isCompact(encoded), message.type !== 'read');
            assert.deepEqual(plainBytes(decodeFrames(encodeFrame(message))), [plainBytes(message)]);
          }
          const { frames } = encodeBatchFrames(messages.map(encodeMessage));
          const decoded = decodeFrames(Buffer.concat(frames));
          assert.deepEqual(plainBytes(decoded), plainBytes(messages));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes every vote, decide, accept and forget record to what was logged, next to records kept as maps', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(compactRecord, compactRecord, mapRecord), { minLength: 1 }),
        (records) => {
          const decoded = decodeRecords(encodeRecords(records));
          assert.deepEqual(plainBytes(decoded), plainBytes(records));
          // A log's replay hands over plain Uint8Arrays, not Buffers.
          assert.deepEqual(
            plainBytes(decodeRecords(new Uint8Array(encodeRecords(records)))),
            plainBytes(records),
          );
          for (const record of records) {
            const alone = encodeRecord(record);
            assert.equal(isCompact(alone), ['vote', 'decide', 'accept', 'forget'].includes(record.kind));
            assert.deepEqual(plainBytes(decodeRecords(alone)), [plainBytes(record)]);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads logs written before it, whose records are maps', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(compactRecord, mapRecord), { minLength: 1 }), (records) => {
        assert.deepEqual(plainBytes(decodeRecords(mapPackr.pack(records))), plainBytes(records));
      }),
      { numRuns: 100 },
    );
  });

  it('keeps no view of the decoded bytes: a reused socket chunk or replay buffer changes nothing', () => {
    fc.assert(
      fc.property(fc.array(compactMessage, { minLength: 1, maxLength: 8 }), (messages) => {
        const { frames } = encodeBatchFrames(messages.map(encodeMessage));
        const stream = Buffer.concat(frames);
        const decoded = decodeFrames(stream);
        const before = plainBytes(decoded);
        stream.fill(0xee);
        assert.deepEqual(plainBytes(decoded), before);
      }),
      { numRuns: 100 },
    );
  });

  it('leaves as a map what the layout cannot hold, and that decodes to what was sent too', () => {
    const read: ReadEntry = { key: 'k', seq: 1, blind: { mask: 0x1ff, firstBytes: [7] } };
    const many: ReadEntry = { key: 'k', seq: 1, blind: { mask: 0x7f, firstBytes: new Array(256).fill(1) } };
    const outside: unknown[] = [
      { type: 'propose', volume: 'v', proposal: { txid: 't', reads: [read], writes: [], proposedAtMs: 1 } },
      { type: 'propose', volume: 'v', proposal: { txid: 't', reads: [many], writes: [], proposedAtMs: 1 } },
      { type: 'vote', volume: 'v', txid: 't', vote: 'maybe' },
      {
        type: 'decided',
        volume: 'v',
        txid: 't',
        decision: 'commit',
        proposal: { txid: 't', reads: [], writes: [{ key: 'k', value: 'text' }], proposedAtMs: 1 },
      },
      { type: 'vote', volume: 7, txid: 't', vote: 'yes' },
      { type: 'accepted', volume: 'v', txid: 't', ballot: 1, ok: 1, promisedBallot: 1 },
    ];
    for (const message of outside) {
      const encoded = encodeMessage(message);
      assert.equal(isCompact(encoded), false, JSON.stringify(message));
      assert.deepEqual(plainBytes(decodeFrames(encodeFrame(message))), [plainBytes(message)]);
    }
  });

  it('shares one decoded guard between the read entries that carry an equal one', () => {
    const guard = { mask: 0x7f, firstBytes: [1, 7] };
    const message: ProposeMessage = {
      type: 'propose',
      volume: 'v',
      proposal: {
        txid: 't',
        reads: ['a', 'b', 'c'].map((key) => ({ key, seq: 3, blind: guard })),
        writes: [],
        proposedAtMs: 1,
      },
    };
    const [decoded] = decodeFrames(encodeFrame(message)) as [ProposeMessage];
    const [a, b, c] = decoded.proposal.reads;
    assert.deepEqual(a?.blind, guard);
    assert.equal(a?.blind, b?.blind);
    assert.equal(b?.blind, c?.blind);
  });

  it('refuses damaged or cut compact values with a frame error, and decodes what follows on a new connection', () => {
    fc.assert(
      fc.property(
        compactMessage,
        fc.array(fc.tuple(fc.nat(), byte), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (message, damage, cut) => {
          const frame = Buffer.from(encodeFrame(message));
          const damaged = Buffer.from(frame);
          for (const [at, to] of damage) damaged[4 + 6 + (at % Math.max(1, frame.length - 10))] = to;
          try {
            // A damaged value may still parse as another valid message; it must not parse as garbage.
            for (const decoded of decodeFrames(damaged)) assert.equal(typeof decoded, 'object');
          } catch (error) {
            assert.ok(error instanceof FrameError, String(error));
          }
          // Cut short inside the value, with the frame's length and the extension's made to match.
          const keep = 10 + (cut % (frame.length - 10));
          const short = Buffer.from(frame.subarray(0, keep));
          short.writeUInt32BE(keep - 4, 0);
          short.writeUInt32BE(keep - 10, 5);
          assert.throws(() => decodeFrames(short), FrameError);
          assert.deepEqual(plainBytes(decodeFrames(encodeFrame(message))), [plainBytes(message)]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a value with bytes after its last field', () => {
    fc.assert(
      fc.property(compactMessage, byte, (message, extra) => {
        const frame = Buffer.concat([encodeFrame(message), Buffer.from([extra])]);
        frame.writeUInt32BE(frame.length - 4, 0);
        frame.writeUInt32BE(frame.readUInt32BE(5) + 1, 5);
        assert.throws(() => decodeFrames(frame), /ends at byte/);
      }),
      { numRuns: 100 },
    );
  });

  it('gives back the scratch memory a large value took once the next value starts', () => {
    const writer = new CompactWriter();
    const small = writer.scratchBytes;
    writer.reset();
    const value = Buffer.alloc(5_000_000, 1);
    const message: ProposeMessage = {
      type: 'propose',
      volume: 'v',
      proposal: { txid: 't', reads: [{ key: 'k', seq: 1 }], writes: [{ key: 'k', value }], proposedAtMs: 1 },
    };
    assert.equal(writer.writeCompact(message), true);
    assert.ok(writer.scratchBytes >= value.length);
    const [decoded] = decodeFrames(Buffer.concat([header(writer.take()), writer.take()])) as [ProposeMessage];
    assert.deepEqual(decoded.proposal.writes[0]?.value, value);
    writer.reset();
    assert.equal(writer.scratchBytes, small);
  });

  it('refuses a count the value cannot hold before allocating for it', () => {
    const frame = Buffer.from(
      encodeFrame({ type: 'vote', volume: 'v', txid: 't', vote: 'yes', held: ['a'] } satisfies VoteMessage),
    );
    // The held list's count is the u32 before its one string ('a': length 1, then the byte).
    const countAt = frame.length - 2 - 4;
    assert.equal(frame.readUInt32LE(countAt), 1);
    frame.writeUInt32LE(0xffff_fff0, countAt);
    assert.throws(() => decodeFrames(frame), /count 4294967280 .* exceeds the value/);
  });
});
