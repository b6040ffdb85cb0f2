// A client's requests in the order it sent them, each waiting for its answer, and the answers
// written in that order whatever order they were found in (a local answer, a writer's reply, an
// error for a held command). A silent entry (CLIENT REPLY OFF/SKIP) is answered but not written. A writer's reply to the oldest request goes straight into the output
// as a range of the bytes it came in.
import type { Socket } from 'node:net';
import { OutputBatch } from '../resp/output-batch.js';
import type { Entry } from '../session/entry.js';
import { Fifo } from '../util/fifo.js';

export class ReplyOrder {
  private readonly waiting = new Fifo<Entry>();
  private readonly output = new OutputBatch();

  /** Requests not yet answered (or answered and not yet written). */
  get length(): number {
    return this.waiting.length;
  }

  push(entry: Entry): void {
    this.waiting.push(entry);
  }

  /** Every entry still waiting, oldest first. */
  entries(): Entry[] {
    const all: Entry[] = [];
    for (let index = 0; index < this.waiting.length; index++) all.push(this.waiting.at(index) as Entry);
    return all;
  }

  /**
   * The reply to `entry` is `length` bytes of `memory` from `offset`: written out now if `entry` is
   * the oldest request (true), else left for the caller to keep (false).
   */
  passThrough(entry: Entry, memory: ArrayBufferLike, offset: number, length: number): boolean {
    if (this.waiting.peek() !== entry) return false;
    this.waiting.shift();
    if (!entry.silent) this.output.appendRange(memory, offset, length);
    return true;
  }

  /** Out-of-band bytes (a RESP3 push), between two replies. */
  appendUnordered(bytes: Buffer): void {
    this.output.append(bytes);
  }

  /** Writes the answers that are next in order; false when the client is not reading fast enough. */
  writeTo(socket: Socket): boolean {
    for (let head = this.waiting.peek(); head?.reply != null; head = this.waiting.peek()) {
      if (!head.silent) this.output.append(head.reply);
      this.waiting.shift();
    }
    if (this.output.isEmpty) return true;
    return this.output.flushTo(socket);
  }

  clear(): void {
    this.waiting.drain();
    this.output.clear();
  }
}
