import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeBatchFrames,
  encodeFrame,
  encodeFrames,
  encodeMessage,
  FRAME_BYTES_MAX_DEFAULT,
  FrameDecoder,
  FrameError,
  flattenBatches,
} from '../../libs/wire/src/index.js';
import { plainBytes } from '../support/plain-bytes.js';
import { mulberry32 } from '../support/prng.js';

const sampleMessages: unknown[] = [
  { type: 'PROPOSE', txid: 'w1.42', writes: [{ key: 'a', value: Buffer.from('hello') }], proposedAtMs: 1 },
  { type: 'READ', key: 'k', value: null, seq: 0 },
  { bytes: new Uint8Array([0, 1, 2, 255]), empty: new Uint8Array(0) },
  [1, -1, 0, 2 ** 31, -(2 ** 31) - 1, 2 ** 40, Number.MAX_SAFE_INTEGER, 0.5, -1.25e-300],
  'plain string with ünïcödé ✓',
  null,
  true,
  42,
  { nested: { deeper: { list: [{}, [], ''] } } },
];

function randomMessage(random: () => number, index: number): unknown {
  const bytes = new Uint8Array(Math.floor(random() * 300));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  return {
    index,
    txid: `w${Math.floor(random() * 10)}.${index}`,
    value: random() < 0.2 ? null : bytes,
    ratio: random(),
    tags: Array.from({ length: Math.floor(random() * 4) }, (_, i) => `t${i}`),
  };
}

function assertSameMessages(actual: unknown[], expected: unknown[], label?: string): void {
  assert.deepEqual(plainBytes(actual), plainBytes(expected), label);
}

function header(payloadBytes: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(payloadBytes, 0);
  return bytes;
}

describe('wire frames', () => {
  it('round-trips messages, keeping bytes as Uint8Array, null as null and numbers as numbers', () => {
    for (const message of sampleMessages) {
      const decoded = new FrameDecoder().push(encodeFrame(message));
      assertSameMessages(decoded, [message]);
    }
    const [decoded] = new FrameDecoder().push(
      encodeFrame({ b: Buffer.from([7, 8]), n: null, x: 2 ** 40 }),
    ) as [{ b: unknown; n: unknown; x: unknown }];
    assert.ok(decoded.b instanceof Uint8Array);
    assert.deepEqual([...(decoded.b as Uint8Array)], [7, 8]);
    assert.equal(decoded.n, null);
    assert.equal(typeof decoded.x, 'number');
    assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
  });

  it('round-trips messages larger than the encoder’s scratch buffer, alone and in batches', () => {
    const large = { large: Buffer.alloc(100_000, 7), after: 'x' };
    assertSameMessages(new FrameDecoder().push(encodeFrame(large)), [large]);
    const batch = ['before', large, 'after', large];
    const stream = encodeFrames(batch);
    const decoder = new FrameDecoder();
    const decoded: unknown[] = [];
    for (let offset = 0; offset < stream.length; offset += 4_093) {
      decoded.push(...decoder.push(stream.subarray(offset, offset + 4_093)));
    }
    assertSameMessages(decoded, batch);
  });

  it('encodes a subarray as its own bytes, not its backing buffer', () => {
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
    const [decoded] = new FrameDecoder().push(encodeFrame({ v: backing.subarray(2, 5) })) as [
      { v: Uint8Array },
    ];
    assert.deepEqual([...decoded.v], [1, 2, 3]);
  });

  it('writes a 4-byte big-endian payload length', () => {
    const frame = encodeFrame('abc');
    assert.equal(frame.readUInt32BE(0), frame.length - 4);
    assert.equal(frame.length, 4 + 4); // fixstr header byte + 3 bytes
  });

  it('decodes many frames from one chunk, in order', () => {
    const batch = encodeFrames(sampleMessages);
    assert.equal(
      batch.length,
      sampleMessages.reduce<number>((sum, message) => sum + encodeFrame(message).length, 0),
    );
    assertSameMessages(new FrameDecoder().push(batch), sampleMessages);
    assert.deepEqual(new FrameDecoder().push(encodeFrames([])), []);
  });

  it('decodes frames split at every byte boundary', () => {
    const stream = encodeFrames(sampleMessages);
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new FrameDecoder();
      const decoded = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
      assertSameMessages(decoded, sampleMessages, `split at byte ${cut}`);
      assert.equal(decoder.bufferedBytes, 0);
    }
  });

  it('decodes a stream fed one byte at a time', () => {
    const stream = encodeFrames(sampleMessages);
    const decoder = new FrameDecoder();
    const decoded: unknown[] = [];
    for (let i = 0; i < stream.length; i++) decoded.push(...decoder.push(stream.subarray(i, i + 1)));
    assertSameMessages(decoded, sampleMessages);
  });

  it('does not keep references to the caller’s chunk, wherever the chunks split the stream', () => {
    // Small frames and a large one (a pipelined group's proposal is kilobytes).
    const large = Buffer.alloc(600, 0x6c);
    const messages = [
      { v: Buffer.from('abcdef') },
      'tail',
      { w: [Buffer.from('ghij'), large, Buffer.from('k')] },
      { x: Buffer.from('mn') },
    ];
    const stream = encodeFrames(messages);
    // Every split into two chunks: frames whole in a chunk (decoded in place), a header ending a
    // chunk, and payloads across both.
    for (let split = 0; split <= stream.length; split++) {
      const scratch = Buffer.alloc(stream.length);
      const decoder = new FrameDecoder();
      const decoded: unknown[] = [];
      // The caller reuses one buffer for every read, as a socket with a static read buffer would.
      for (const [start, end] of [
        [0, split],
        [split, stream.length],
      ]) {
        stream.copy(scratch, 0, start, end);
        decoded.push(...decoder.push(scratch.subarray(0, end - start)));
        scratch.fill(0xee);
      }
      assertSameMessages(decoded, messages);
    }
  });

  it('accepts plain Uint8Array chunks', () => {
    const stream = encodeFrames(sampleMessages);
    const copy = new Uint8Array(stream.length);
    copy.set(stream);
    assertSameMessages(new FrameDecoder().push(copy), sampleMessages);
  });

  it('decodes randomly chunked random streams (fixed seeds)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const random = mulberry32(seed);
      const messages = Array.from({ length: 1 + Math.floor(random() * 60) }, (_, i) =>
        randomMessage(random, i),
      );
      const stream = encodeFrames(messages);
      const decoder = new FrameDecoder();
      const decoded: unknown[] = [];
      let offset = 0;
      while (offset < stream.length) {
        // Mostly small chunks, sometimes big ones, so both the split and the fast path run.
        const size = random() < 0.8 ? 1 + Math.floor(random() * 16) : 1 + Math.floor(random() * 4096);
        decoded.push(...decoder.push(stream.subarray(offset, offset + size)));
        offset += size;
      }
      assertSameMessages(decoded, messages, `seed ${seed}`);
      assert.equal(decoder.bufferedBytes, 0, `seed ${seed}`);
    }
  });

  it('rejects a frame announcing more than frameBytesMax, before its payload arrives', () => {
    const decoder = new FrameDecoder({ frameBytesMax: 100 });
    assert.deepEqual(decoder.push(encodeFrame('fits')), ['fits']);
    assert.throws(
      () => decoder.push(header(101)),
      (error: unknown) => {
        assert.ok(error instanceof FrameError);
        assert.match(error.message, /announces 101 bytes, over the limit of 100/);
        return true;
      },
    );
    // The stream has lost its framing: later input is refused too.
    assert.throws(() => decoder.push(encodeFrame('more')), FrameError);
  });

  it('rejects an oversize announcement split across chunks', () => {
    const decoder = new FrameDecoder();
    const oversize = header(FRAME_BYTES_MAX_DEFAULT + 1);
    assert.deepEqual(decoder.push(oversize.subarray(0, 2)), []);
    assert.throws(() => decoder.push(oversize.subarray(2)), FrameError);
  });

  it('refuses to encode a message over the frame limit', () => {
    assert.throws(() => encodeFrame({ v: new Uint8Array(200) }, 100), /over the frame limit of 100/);
    assert.throws(() => encodeFrames(['ok', new Uint8Array(200)], 100), FrameError);
  });

  it('rejects garbage payloads', () => {
    const garbage: [string, Buffer][] = [
      ['empty payload', header(0)],
      ['truncated array', Buffer.concat([header(2), Buffer.from([0x93, 0x01])])],
      ['two values in one frame', Buffer.concat([header(2), Buffer.from([0x01, 0x02])])],
      ['unknown extension', Buffer.concat([header(3), Buffer.from([0xd4, 0x33, 0x01])])],
      ['reserved byte', Buffer.concat([header(1), Buffer.from([0xc1])])],
      ['string longer than frame', Buffer.concat([header(3), Buffer.from([0xd9, 0xff, 0x41])])],
    ];
    for (const [label, stream] of garbage) {
      assert.throws(() => new FrameDecoder().push(stream), FrameError, label);
    }
  });

  it('rejects a bad frame that follows good ones in the same chunk', () => {
    const stream = Buffer.concat([encodeFrame('ok'), header(1), Buffer.from([0xc1])]);
    assert.throws(() => new FrameDecoder().push(stream), FrameError);
  });

  it('validates frameBytesMax', () => {
    assert.throws(() => new FrameDecoder({ frameBytesMax: 0 }), RangeError);
    assert.throws(() => new FrameDecoder({ frameBytesMax: 2 ** 32 }), RangeError);
    assert.throws(() => new FrameDecoder({ frameBytesMax: 1.5 }), RangeError);
  });
});

describe('batch frames', () => {
  it('split a turn of messages into frames within the limit, in order, leaving out what can never fit', () => {
    const messages = Array.from({ length: 40 }, (_, index) => ({
      index,
      payload: new Uint8Array(index === 7 ? 5_000 : 300),
    }));
    const encoded = messages.map((message) => encodeMessage(message));
    const { frames, oversized } = encodeBatchFrames(encoded, 1_000);
    assert.equal(oversized, 1);
    assert.ok(frames.length > 1);
    const decoder = new FrameDecoder({ frameBytesMax: 1_000 });
    const received: unknown[] = [];
    for (const frame of frames) {
      assert.ok(frame.length - 4 <= 1_000);
      received.push(...flattenBatches(decoder.push(frame)));
    }
    assert.deepEqual(
      received.map((message) => (message as { index: number }).index),
      messages.map((message) => message.index).filter((index) => index !== 7),
    );
  });
});
