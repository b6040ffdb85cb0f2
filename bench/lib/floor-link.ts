// The floor's wire (bench/lib/floor-node.ts): frames of [u32 body length][u8 kind][u32 id][body]
// between a writer and six bare replicas, and the writer's side of those links, which the
// floor's front and the quorum bench's floor rows both use. A write is acknowledged once 4 of 6
// replicas have logged and fdatasynced it; a read once 3 have answered.
import { connect, type Socket } from 'node:net';

export const KIND_WRITE = 1;
export const KIND_READ = 2;
export const KIND_WRITTEN = 3;
export const KIND_VALUE = 4;
export const KIND_STATS = 5;
const HEADER_BYTES = 9;
const WRITE_QUORUM = 4;
const READ_QUORUM = 3;
/** A value's length field when the replica holds no value for the key. */
export const ABSENT = 0xffff_ffff;
/** A write or read not answered by its quorum within this long fails (a replica died). */
const ANSWER_TIMEOUT_MS = 30_000;

export function frame(kind: number, id: number, body: Buffer): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32LE(body.length, 0);
  header.writeUInt8(kind, 4);
  header.writeUInt32LE(id, 5);
  return body.length === 0 ? header : Buffer.concat([header, body]);
}

/** Splits a byte stream into frames; `onFrame` gets views valid until it returns. */
export function frameReader(
  onFrame: (kind: number, id: number, body: Buffer) => void,
): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    let bytes = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (bytes.length >= HEADER_BYTES) {
      const length = bytes.readUInt32LE(0);
      if (bytes.length < HEADER_BYTES + length) break;
      onFrame(bytes.readUInt8(4), bytes.readUInt32LE(5), bytes.subarray(HEADER_BYTES, HEADER_BYTES + length));
      bytes = bytes.subarray(HEADER_BYTES + length);
    }
    pending = Buffer.from(bytes);
  };
}

/** Writes queued per socket and sent once per event-loop turn, as the real links do. */
export class TurnWriter {
  private readonly queued = new Map<Socket, Buffer[]>();
  private scheduled = false;

  send(socket: Socket, bytes: Buffer): void {
    const list = this.queued.get(socket);
    if (list === undefined) this.queued.set(socket, [bytes]);
    else list.push(bytes);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      for (const [target, chunks] of this.queued) {
        if (!target.destroyed)
          target.write(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
      }
      this.queued.clear();
    });
  }
}

/** A write's body: repeated [u16 key length][key][u32 value length][value]. */
export function writeBody(entries: readonly { key: Buffer; value: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { key, value } of entries) {
    const keyLength = Buffer.allocUnsafe(2);
    keyLength.writeUInt16LE(key.length, 0);
    const valueLength = Buffer.allocUnsafe(4);
    valueLength.writeUInt32LE(value.length, 0);
    parts.push(keyLength, key, valueLength, value);
  }
  return Buffer.concat(parts);
}

/** The entries of a write's body (`writeBody`), as views into it. */
export function* readWriteBody(body: Buffer): Generator<{ key: string; value: Buffer }> {
  let offset = 0;
  while (offset < body.length) {
    const keyLength = body.readUInt16LE(offset);
    const key = body.toString('latin1', offset + 2, offset + 2 + keyLength);
    offset += 2 + keyLength;
    const valueLength = body.readUInt32LE(offset);
    yield { key, value: body.subarray(offset + 4, offset + 4 + valueLength) };
    offset += 4 + valueLength;
  }
}

interface Waiting {
  answers: number;
  needed: number;
  value: Buffer | null;
  bodies: Buffer[] | null;
  timer: NodeJS.Timeout;
  resolve: (value: Buffer | null) => void;
  reject: (error: Error) => void;
}

/** One writer's links to the six replicas. */
export class FloorWriter {
  private readonly waiting = new Map<number, Waiting>();
  private readonly turn = new TurnWriter();
  private nextId = 1;
  private nextReadReplica = 0;

  private constructor(private readonly links: Socket[]) {
    for (const link of links) {
      link.on(
        'data',
        frameReader((kind, id, body) => this.answered(kind, id, body)),
      );
      link.on('error', () => link.destroy());
    }
  }

  static async connect(ports: readonly number[]): Promise<FloorWriter> {
    const links = await Promise.all(
      ports.map(
        (port) =>
          new Promise<Socket>((resolve, reject) => {
            const socket = connect(port, '127.0.0.1', () => resolve(socket));
            socket.setNoDelay(true);
            socket.once('error', reject);
          }),
      ),
    );
    return new FloorWriter(links);
  }

  /** Resolves once 4 of the 6 replicas have the entries on disk. */
  async write(entries: readonly { key: Buffer; value: Buffer }[]): Promise<void> {
    const bytes = frame(KIND_WRITE, this.nextId, writeBody(entries));
    const answered = this.wait(WRITE_QUORUM);
    for (const link of this.links) this.turn.send(link, bytes);
    await answered;
  }

  /** The key's value as 3 of the 6 replicas answer it (the first that holds one), or null. */
  read(key: string): Promise<Buffer | null> {
    const bytes = frame(KIND_READ, this.nextId, Buffer.from(key, 'latin1'));
    const answered = this.wait(READ_QUORUM);
    for (let index = 0; index < READ_QUORUM; index++) {
      this.turn.send(this.links[(this.nextReadReplica + index) % this.links.length] as Socket, bytes);
    }
    this.nextReadReplica = (this.nextReadReplica + 1) % this.links.length;
    return answered;
  }

  /** fdatasyncs made by the six replicas since they started. */
  async fsyncs(): Promise<number> {
    const bytes = frame(KIND_STATS, this.nextId, Buffer.alloc(0));
    const bodies: Buffer[] = [];
    const answered = this.wait(this.links.length, bodies);
    for (const link of this.links) this.turn.send(link, bytes);
    await answered;
    return bodies.reduce((sum, body) => sum + body.readUInt32LE(0), 0);
  }

  close(): void {
    for (const link of this.links) link.destroy();
  }

  /** Waits for `needed` answers to the next id; `bodies` collects stats answers. */
  private wait(needed: number, bodies: Buffer[] | null = null): Promise<Buffer | null> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`floor: fewer than ${needed} replicas answered within ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      this.waiting.set(id, { answers: 0, needed, value: null, bodies, timer, resolve, reject });
    });
  }

  private answered(kind: number, id: number, body: Buffer): void {
    const waiting = this.waiting.get(id);
    if (waiting === undefined) return;
    waiting.answers++;
    if (kind === KIND_VALUE) {
      const length = body.readUInt32LE(0);
      if (length !== ABSENT && waiting.value === null)
        waiting.value = Buffer.from(body.subarray(4, 4 + length));
    } else if (kind === KIND_STATS) waiting.bodies?.push(Buffer.from(body));
    if (waiting.answers < waiting.needed) return;
    this.waiting.delete(id);
    clearTimeout(waiting.timer);
    waiting.resolve(waiting.value);
  }
}
