// Length-prefixed msgpack frames for the TCP links between writers and storage nodes.
//
// A frame is a 4-byte big-endian unsigned payload length followed by that many bytes of one
// msgpack value. The messages of every commit (PROPOSE, VOTE, DECIDED, ACCEPT, ACCEPTED) are
// msgpack extension values of a compact layout (quorum-codec.ts, ADR 0023); others are maps.
// Peers batch every frame for one connection per event-loop tick into a single buffer
// (`encodeFrames`), so one socket write carries many messages.
import { C1, Packr, RESERVE_START_SPACE, Unpackr } from 'msgpackr';
import { encodeCompact, unpackWithPooledCopies } from './quorum-codec.js';

export const FRAME_HEADER_BYTES = 4;
/** Default bound on one frame's payload; a peer announcing more is cut off before we buffer it. */
export const FRAME_BYTES_MAX_DEFAULT = 16 * 1024 * 1024;
// The header is a u32, so no configuration can allow more than this.
const FRAME_BYTES_LIMIT = 0xffff_ffff;

/** A frame that cannot be encoded or decoded; the connection it came from cannot be trusted further. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

// `useRecords: false` keeps plain objects as plain msgpack maps (no msgpackr-only record
// extension), so any msgpack implementation can speak the protocol.
const packr = new Packr({ useRecords: false });
// Byte strings are decoded as views into the received bytes, then copied out (`withPooledCopies`):
// a decoded value must not keep the whole socket chunk alive.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, copyBuffers: false });

function checkFrameBytesMax(frameBytesMax: number): void {
  if (!Number.isInteger(frameBytesMax) || frameBytesMax < 1 || frameBytesMax > FRAME_BYTES_LIMIT) {
    throw new RangeError(
      `frameBytesMax must be an integer from 1 to ${FRAME_BYTES_LIMIT}, got ${frameBytesMax}`,
    );
  }
}

/** The frame (header included) for one message. */
export function encodeFrame(message: unknown, frameBytesMax = FRAME_BYTES_MAX_DEFAULT): Buffer {
  checkFrameBytesMax(frameBytesMax);
  let frame: Buffer;
  try {
    // Reserving the header's bytes in front of the payload avoids copying the payload again.
    frame =
      encodeCompact(message, FRAME_HEADER_BYTES) ??
      packr.pack(message, RESERVE_START_SPACE | FRAME_HEADER_BYTES);
  } catch (error) {
    throw new FrameError(`cannot encode message: ${errorMessage(error)}`, { cause: error });
  }
  const payloadBytes = frame.length - FRAME_HEADER_BYTES;
  if (payloadBytes > frameBytesMax) {
    // Failing here names the message's sender; the peer would only see a connection it must close.
    throw new FrameError(
      `message encodes to ${payloadBytes} bytes, over the frame limit of ${frameBytesMax}`,
    );
  }
  frame.writeUInt32BE(payloadBytes, 0);
  return frame;
}

/** One buffer holding the frames of all `messages`, in order. */
export function encodeFrames(messages: readonly unknown[], frameBytesMax = FRAME_BYTES_MAX_DEFAULT): Buffer {
  const frames = messages.map((message) => encodeFrame(message, frameBytesMax));
  return frames.length === 1 ? frames[0] : Buffer.concat(frames);
}

/** One message's msgpack bytes, without a frame header: to be sent in a batch frame. */
export function encodeMessage(message: unknown): Buffer {
  try {
    return encodeCompact(message) ?? packr.pack(message);
  } catch (error) {
    throw new FrameError(`cannot encode message: ${errorMessage(error)}`, { cause: error });
  }
}

/**
 * One frame whose payload is a msgpack array of already encoded messages. The array header is
 * written in front of the encoded bytes, so a message sent to six peers is encoded once, and the
 * receiver decodes a whole turn's messages with one call. Receivers treat a top-level array as a
 * batch (messages themselves are maps).
 */
export function encodeBatchFrame(
  encodedMessages: readonly Buffer[],
  frameBytesMax = FRAME_BYTES_MAX_DEFAULT,
): Buffer {
  checkFrameBytesMax(frameBytesMax);
  let payloadBytes = 5;
  for (const encoded of encodedMessages) payloadBytes += encoded.length;
  if (payloadBytes > frameBytesMax) {
    throw new FrameError(`batch encodes to ${payloadBytes} bytes, over the frame limit of ${frameBytesMax}`);
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadBytes);
  frame.writeUInt32BE(payloadBytes, 0);
  frame[FRAME_HEADER_BYTES] = 0xdd; // msgpack array32
  frame.writeUInt32BE(encodedMessages.length, FRAME_HEADER_BYTES + 1);
  let offset = FRAME_HEADER_BYTES + 5;
  for (const encoded of encodedMessages) {
    encoded.copy(frame, offset);
    offset += encoded.length;
  }
  return frame;
}

/**
 * Batch frames for `encodedMessages`, in order, each within `frameBytesMax`: a turn's messages
 * to one peer can add up to more than one frame may hold. A message that alone exceeds the
 * limit cannot be sent at all; it is left out and reported in `oversized`.
 */
export function encodeBatchFrames(
  encodedMessages: readonly Buffer[],
  frameBytesMax = FRAME_BYTES_MAX_DEFAULT,
): { frames: Buffer[]; oversized: number } {
  checkFrameBytesMax(frameBytesMax);
  const frames: Buffer[] = [];
  let oversized = 0;
  let batch: Buffer[] = [];
  let batchBytes = BATCH_HEADER_BYTES;
  for (const encoded of encodedMessages) {
    if (BATCH_HEADER_BYTES + encoded.length > frameBytesMax) {
      oversized++;
      continue;
    }
    if (batchBytes + encoded.length > frameBytesMax) {
      frames.push(encodeBatchFrame(batch, frameBytesMax));
      batch = [];
      batchBytes = BATCH_HEADER_BYTES;
    }
    batch.push(encoded);
    batchBytes += encoded.length;
  }
  if (batch.length > 0) frames.push(encodeBatchFrame(batch, frameBytesMax));
  return { frames, oversized };
}

/** The msgpack array32 header in front of a batch's messages. */
const BATCH_HEADER_BYTES = 5;

/** The messages of decoded frames, with batch frames (top-level arrays) flattened. */
export function flattenBatches(decoded: readonly unknown[]): unknown[] {
  if (!decoded.some(Array.isArray)) return decoded as unknown[];
  const messages: unknown[] = [];
  for (const value of decoded) {
    if (Array.isArray(value)) for (const message of value) messages.push(message);
    else messages.push(value);
  }
  return messages;
}

/**
 * Splits a byte stream into messages. Feed it every chunk read from one connection, in order.
 *
 * Each payload byte is copied at most twice (once if its frame lies inside one chunk, which is
 * the common case), however the stream is chunked. Buffered data is bounded by one frame:
 * `frameBytesMax` plus the header. After a `FrameError` the decoder refuses further input,
 * because the stream's framing is lost; the caller closes that connection.
 */
export class FrameDecoder {
  readonly frameBytesMax: number;
  // The header of the frame being assembled, when it arrived split across chunks.
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  // Copies of the parts of a payload that spans chunks; joined once the last part arrives.
  private payloadParts: Buffer[] = [];
  private payloadFilled = 0;
  private payloadBytes = -1;
  private failure: FrameError | null = null;

  constructor(options: { frameBytesMax?: number } = {}) {
    const frameBytesMax = options.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT;
    checkFrameBytesMax(frameBytesMax);
    this.frameBytesMax = frameBytesMax;
  }

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.headerFilled + this.payloadFilled;
  }

  /**
   * The messages completed by `chunk`, in stream order. The chunk is not retained, so the caller
   * may reuse its memory afterwards. Throws `FrameError` on an oversize or undecodable frame;
   * messages decoded earlier in the same chunk are then dropped along with the connection.
   */
  push(chunk: Uint8Array): unknown[] {
    if (this.failure !== null) throw this.failure;
    // msgpackr decodes strings with Buffer methods, so a plain Uint8Array gets a Buffer view (no copy).
    const bytes = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    try {
      return this.consume(bytes);
    } catch (error) {
      this.failure =
        error instanceof FrameError
          ? error
          : new FrameError(`cannot decode frame: ${errorMessage(error)}`, { cause: error });
      this.payloadParts = [];
      throw this.failure;
    }
  }

  private consume(chunk: Buffer): unknown[] {
    const messages: unknown[] = [];
    const chunkBytes = chunk.length;
    let offset = 0;
    while (offset < chunkBytes) {
      if (this.payloadBytes < 0) {
        if (this.headerFilled === 0 && chunkBytes - offset >= FRAME_HEADER_BYTES) {
          // Fast path: the whole header, and often the whole payload, is in this chunk.
          const payloadBytes = chunk.readUInt32BE(offset);
          offset += FRAME_HEADER_BYTES;
          this.checkAnnounced(payloadBytes);
          if (chunkBytes - offset >= payloadBytes) {
            messages.push(decodePayload(chunk, offset, offset + payloadBytes));
            offset += payloadBytes;
            continue;
          }
          this.payloadBytes = payloadBytes;
          continue;
        }
        const taken = Math.min(FRAME_HEADER_BYTES - this.headerFilled, chunkBytes - offset);
        this.header.set(chunk.subarray(offset, offset + taken), this.headerFilled);
        this.headerFilled += taken;
        offset += taken;
        if (this.headerFilled < FRAME_HEADER_BYTES) break;
        this.headerFilled = 0;
        const payloadBytes = this.header.readUInt32BE(0);
        this.checkAnnounced(payloadBytes);
        this.payloadBytes = payloadBytes;
        continue;
      }
      const taken = Math.min(this.payloadBytes - this.payloadFilled, chunkBytes - offset);
      if (this.payloadFilled === 0 && taken === this.payloadBytes) {
        // The header ended the previous chunk and the whole payload is in this one.
        messages.push(decodePayload(chunk, offset, offset + taken));
      } else {
        this.payloadParts.push(Buffer.from(chunk.subarray(offset, offset + taken)));
        this.payloadFilled += taken;
        if (this.payloadFilled === this.payloadBytes) {
          const payload = Buffer.concat(this.payloadParts, this.payloadBytes);
          this.payloadParts = [];
          this.payloadFilled = 0;
          messages.push(decodePayload(payload, 0, payload.length));
        }
      }
      offset += taken;
      if (this.payloadFilled === 0) this.payloadBytes = -1;
    }
    return messages;
  }

  private checkAnnounced(payloadBytes: number): void {
    if (payloadBytes > this.frameBytesMax) {
      throw new FrameError(`frame announces ${payloadBytes} bytes, over the limit of ${this.frameBytesMax}`);
    }
    if (payloadBytes === 0) {
      // No msgpack value is zero bytes long, so an empty frame means the stream is not ours.
      throw new FrameError('frame announces an empty payload');
    }
  }
}

function decodePayload(bytes: Buffer, start: number, end: number): unknown {
  let message: unknown;
  try {
    // The unpacker also rejects a payload that holds more than one value.
    message = unpackWithPooledCopies(() => unpackr.unpack(bytes, { start, end }));
  } catch (error) {
    throw new FrameError(`undecodable ${end - start}-byte frame payload: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  if (message === C1) {
    // 0xc1 is the one byte msgpack never uses; msgpackr hands back a marker instead of failing.
    throw new FrameError('frame payload is the reserved msgpack byte 0xc1');
  }
  return message;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
