// What the proxy forwards for a request must mean to a writer exactly what the client sent: for
// seeded random pipelines (canonical multibulk, inline, Redis's tolerated odd line ends, empty
// arguments) cut into random chunks, the bytes located for each request parse back to the same
// arguments; canonical requests are forwarded in place, from the received chunk.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeRequest, locateRequest, type RequestBytes } from '../../apps/proxy/src/resp/request-bytes.js';
import { ParseError, RequestParser } from '../../libs/resp/src/index.js';
import { mulberry32 } from '../support/prng.js';

function randomArgs(random: () => number): Buffer[] {
  return Array.from({ length: 1 + Math.floor(random() * 4) }, () => {
    const length = random() < 0.1 ? 0 : Math.floor(random() * (random() < 0.1 ? 5_000 : 30));
    const bytes = Buffer.alloc(length);
    for (let index = 0; index < length; index++) bytes[index] = Math.floor(random() * 256);
    return bytes;
  });
}

/** The request as a client may send it: canonical mostly, sometimes with odd but valid bytes. */
function wireForm(args: Buffer[], random: () => number): Buffer {
  const roll = random();
  if (roll < 0.1) return Buffer.from(`${args.map((arg) => `x${arg.length}`).join(' ')}\r\n`);
  if (roll < 0.2) {
    // A count line ended by '\r' and any byte, and odd bytes after a bulk: Redis skips them unchecked.
    const parts: Buffer[] = [Buffer.from(`*${args.length}\rX`)];
    for (const arg of args) parts.push(Buffer.from(`$${arg.length}\r\n`), arg, Buffer.from('ab'));
    return Buffer.concat(parts);
  }
  return encodeRequest(args);
}

function parseAll(bytes: Buffer): Buffer[][] {
  const parser = new RequestParser();
  parser.push(bytes);
  const requests: Buffer[][] = [];
  for (let request = parser.next(); request !== null; request = parser.next()) {
    if (request instanceof ParseError) throw new Error(request.message);
    requests.push(request);
  }
  return requests;
}

describe('request bytes', () => {
  it('locates bytes that parse back to the same request, for 4,000 random requests', () => {
    const random = mulberry32(20261204);
    for (let round = 0; round < 40; round++) {
      const stream = Buffer.concat(Array.from({ length: 100 }, () => wireForm(randomArgs(random), random)));
      const parser = new RequestParser();
      const located: Buffer[] = [];
      const parsed: Buffer[][] = [];
      for (let at = 0; at < stream.length; ) {
        const size = 1 + Math.floor(random() * (random() < 0.5 ? 10 : 4_000));
        parser.push(Buffer.from(stream.subarray(at, at + size)));
        at += size;
        for (let request = parser.next(); request !== null; request = parser.next()) {
          assert.ok(!(request instanceof ParseError));
          const target: RequestBytes = { memory: new ArrayBuffer(0), offset: 0, length: 0 };
          locateRequest(request, target);
          located.push(Buffer.from(Buffer.from(target.memory, target.offset, target.length)));
          parsed.push(request.map((arg) => Buffer.from(arg)));
        }
      }
      assert.deepEqual(parseAll(Buffer.concat(located)), parsed);
    }
  });

  it('forwards a canonical request from the received chunk itself', () => {
    const chunk = Buffer.concat([encodeRequest(['SET', 'k', 'v']), encodeRequest(['GET', 'k'])]);
    const parser = new RequestParser();
    parser.push(chunk);
    const spans = [parser.next(), parser.next()].map((request) => {
      const target: RequestBytes = { memory: new ArrayBuffer(0), offset: 0, length: 0 };
      locateRequest(request as Buffer[], target);
      return target;
    });
    assert.equal(spans[0]?.memory, chunk.buffer);
    assert.equal(spans[1]?.memory, chunk.buffer);
    assert.equal(spans[0]?.offset, chunk.byteOffset);
    assert.equal((spans[0]?.offset ?? 0) + (spans[0]?.length ?? 0), spans[1]?.offset);
    assert.equal((spans[1]?.offset ?? 0) + (spans[1]?.length ?? 0), chunk.byteOffset + chunk.length);
  });
});
