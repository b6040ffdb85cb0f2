// The proxy's reply framer against the RESP reply parser: seeded random replies of every RESP2 and
// RESP3 kind, encoded, concatenated and cut into random chunks, must come out as exactly the bytes
// of each reply, in order, with the right top-level type and null flag; malformed streams fail;
// a reply past the size bound is skipped whole and the next one still framed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FramingError, isErrorType, ReplyFramer } from '../../apps/proxy/src/resp/reply-framer.js';
import { encodeReply, ParseError, type Reply, ReplyParser } from '../../libs/resp/src/index.js';
import { mulberry32 } from '../support/prng.js';

function randomReply(random: () => number, depth = 0): Reply {
  const pick = Math.floor(random() * (depth > 3 ? 8 : 12));
  const text = () => 'x'.repeat(Math.floor(random() * 40));
  switch (pick) {
    case 0:
      return { kind: 'simple', value: text() };
    case 1:
      return { kind: 'error', message: `ERR ${text()}` };
    case 2:
      return { kind: 'integer', value: Math.floor((random() - 0.5) * 1e12) };
    case 3:
      return { kind: 'bulk', value: Buffer.alloc(Math.floor(random() * 3_000), 0x0d) };
    case 4:
      return { kind: 'null' };
    case 5:
      return { kind: 'nullArray' };
    case 6:
      return { kind: 'double', value: random() * 100 };
    case 7:
      return { kind: 'verbatim', format: 'txt', value: `line\r\n${text()}` };
    case 8:
      return { kind: 'array', items: children(random, depth) };
    case 9:
      return { kind: 'set', items: children(random, depth) };
    case 10:
      return {
        kind: 'map',
        entries: children(random, depth).map((item) => [item, randomReply(random, depth + 1)]),
      };
    default:
      return { kind: 'integer', value: 10n ** 20n };
  }
}

function children(random: () => number, depth: number): Reply[] {
  return Array.from({ length: Math.floor(random() * 5) }, () => randomReply(random, depth + 1));
}

/** Frames `stream` cut into chunks at random places; every reply's bytes, type and null flag. */
function frame(stream: Buffer, random: () => number, framer = new ReplyFramer()) {
  const framed: { bytes: Buffer; topType: number; isNull: boolean; oversize: boolean }[] = [];
  for (let at = 0; at < stream.length; ) {
    const size = 1 + Math.floor(random() * (random() < 0.5 ? 8 : 5_000));
    framer.push(stream.subarray(at, at + size));
    at += size;
    for (;;) {
      const found = framer.next();
      if (found instanceof FramingError) throw new Error(found.message);
      if (!found) break;
      framed.push({
        bytes: Buffer.from(framer.source.subarray(framer.start, framer.end)),
        topType: framer.topType,
        isNull: framer.isNull,
        oversize: framer.oversize,
      });
    }
  }
  return framed;
}

describe('reply framer', () => {
  it('frames 3,000 random RESP2 and RESP3 replies cut into random chunks exactly', () => {
    const random = mulberry32(20261203);
    for (let round = 0; round < 30; round++) {
      const protocol = round % 2 === 0 ? 2 : 3;
      const replies = Array.from({ length: 100 }, () => encodeReply(randomReply(random), protocol));
      const framed = frame(Buffer.concat(replies), random);
      assert.equal(framed.length, replies.length);
      framed.forEach((reply, index) => {
        const expected = replies[index] as Buffer;
        assert.ok(reply.bytes.equals(expected), `reply ${index} of round ${round}`);
        assert.equal(reply.topType, expected[0]);
        const parser = new ReplyParser();
        parser.push(expected);
        const parsed = parser.next() as Reply;
        assert.ok(!(parsed instanceof ParseError));
        assert.equal(isErrorType(reply.topType), parsed.kind === 'error');
        assert.equal(reply.isNull, parsed.kind === 'null' || parsed.kind === 'nullArray');
      });
    }
  });

  it('keeps an attribute with the reply it annotates, and a push as a reply of its own', () => {
    const stream = Buffer.from(
      '|1\r\n+key\r\n:1\r\n*2\r\n:1\r\n:2\r\n>2\r\n+message\r\n+x\r\n$-1\r\n*-1\r\n_\r\n',
    );
    const framed = frame(stream, mulberry32(1));
    assert.deepEqual(
      framed.map((reply) => reply.bytes.toString('latin1')),
      ['|1\r\n+key\r\n:1\r\n*2\r\n:1\r\n:2\r\n', '>2\r\n+message\r\n+x\r\n', '$-1\r\n', '*-1\r\n', '_\r\n'],
    );
    assert.deepEqual(
      framed.map((reply) => reply.isNull),
      [false, false, true, true, true],
    );
    assert.equal(String.fromCharCode(framed[0]?.topType ?? 0), '*');
  });

  it('gives a reply that lies in one chunk as a range of that chunk, without a copy', () => {
    const framer = new ReplyFramer();
    const chunk = Buffer.from('+OK\r\n$3\r\nabc\r\n');
    framer.push(chunk);
    assert.equal(framer.next(), true);
    assert.equal(framer.source, chunk);
    assert.equal(framer.next(), true);
    assert.equal(framer.source, chunk);
    assert.deepEqual([framer.start, framer.end], [5, chunk.length]);
  });

  it('fails on malformed replies, and for good', () => {
    for (const bad of ['?x\r\n', '+OK\n', '$3\r\nabcd\r\n', '*x\r\n', '$-2\r\n', '%-1\r\n', '+OK\rX\n']) {
      const framer = new ReplyFramer();
      framer.push(Buffer.from(bad));
      const found = framer.next();
      assert.ok(found instanceof FramingError, `${JSON.stringify(bad)} gave ${found}`);
      framer.push(Buffer.from('+OK\r\n'));
      assert.ok(framer.next() instanceof FramingError);
    }
  });

  it('skips a reply past replyBytesMax without holding it, and frames the next one', () => {
    const framer = new ReplyFramer({ replyBytesMax: 1_000 });
    const big = encodeReply(
      { kind: 'array', items: Array.from({ length: 50 }, () => ({ kind: 'bulk', value: 'y'.repeat(100) })) },
      2,
    );
    const framed = frame(Buffer.concat([big, Buffer.from('+after\r\n')]), mulberry32(7), framer);
    assert.equal(framed.length, 2);
    assert.equal(framed[0]?.oversize, true);
    assert.equal(framed[0]?.bytes.length, 0);
    assert.equal(framed[1]?.bytes.toString(), '+after\r\n');
    assert.equal(framer.bufferedBytes, 0);
  });
});
