// Bytes gathered for one socket while a received chunk is handled, written in one go. Ranges
// that follow each other in the same memory (the requests of a pipeline, the replies in a writer's
// chunk) merge into one, so a pipeline of small commands is usually one write of the bytes as
// they were received.
import type { Socket } from 'node:net';

export class OutputBatch {
  private readonly pieces: Buffer[] = [];
  private runMemory: ArrayBufferLike | null = null;
  private runStart = 0;
  private runEnd = 0;
  private pendingBytes = 0;

  get bytes(): number {
    return this.pendingBytes;
  }

  get isEmpty(): boolean {
    return this.pendingBytes === 0;
  }

  /** Appends `length` bytes of `memory` from `offset`. */
  appendRange(memory: ArrayBufferLike, offset: number, length: number): void {
    if (length === 0) return;
    this.pendingBytes += length;
    if (memory === this.runMemory && offset === this.runEnd) {
      this.runEnd += length;
      return;
    }
    this.closeRun();
    this.runMemory = memory;
    this.runStart = offset;
    this.runEnd = offset + length;
  }

  append(bytes: Buffer): void {
    this.appendRange(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  /** Writes everything gathered to `socket`; answers whether the socket's buffer has room left. */
  flushTo(socket: Socket): boolean {
    this.closeRun();
    const pieces = this.pieces;
    if (pieces.length === 0) return true;
    this.pendingBytes = 0;
    if (pieces.length === 1) {
      const only = pieces[0] as Buffer;
      pieces.length = 0;
      return socket.write(only);
    }
    socket.cork();
    for (const piece of pieces) socket.write(piece);
    pieces.length = 0;
    socket.uncork();
    return socket.writableLength < socket.writableHighWaterMark;
  }

  clear(): void {
    this.pieces.length = 0;
    this.runMemory = null;
    this.pendingBytes = 0;
  }

  private closeRun(): void {
    if (this.runMemory === null) return;
    this.pieces.push(Buffer.from(this.runMemory, this.runStart, this.runEnd - this.runStart));
    this.runMemory = null;
  }
}
