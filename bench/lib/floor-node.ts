// The floor of the data-node bench: the same processes, messages and fsyncs as a data node over
// six storage nodes, with none of the protocol's work. Started by bench/lib/floor.ts as
//   node floor-node.js storage <log file>      a replica: keeps values, logs and fdatasyncs
//   node floor-node.js front <port,port,...>   the data node: RESP in, six links out
//                                              (SET and GET; HELLO, PING, CONFIG, CLIENT and
//                                              SELECT answered as clients expect as they connect)
// and each prints "listening on <port>".
//
// What it keeps of the real path, per request:
// - a RESP connection per client, its commands parsed and answered in order, replies written
//   once per event-loop turn;
// - SETs grouped as the data node's scheduler groups them: a SET starts its own commit while
//   fewer than GROUPS_RUNNING_MAX_DEFAULT commits are in flight, else it joins one open group
//   that starts when a commit ends (at most 256 commands); one frame per commit to each of the
//   six replicas, frames to one replica written once per turn;
// - a replica handles what one turn brought as a batch: one log write and one fdatasync, then
//   its answers; a commit is acknowledged after 4 of 6 answers (the other two are still read);
// - GET from a cache with the data node's age bound (CACHE_ENTRY_AGE_MAX_MS), a miss read from 3
//   replicas and answered once all 3 have.
// What it leaves out: versions, read and write sets, votes and decisions, msgpack, CRCs,
// authentication, the command table, budgets, metrics, the cache's byte bound. Frames are
// [u32 body length][u8 kind][u32 id][body]; values are kept by key in a Map.
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { CACHE_ENTRY_AGE_MAX_MS } from '../../apps/data-node/src/cache/versioned-cache.js';
import { GROUPS_RUNNING_MAX_DEFAULT } from '../../apps/data-node/src/engine/transaction-engine.js';

const KIND_WRITE = 1;
const KIND_READ = 2;
const KIND_WRITTEN = 3;
const KIND_VALUE = 4;
const HEADER_BYTES = 9;
const WRITE_QUORUM = 4;
const READ_QUORUM = 3;
const GROUP_COMMANDS_MAX = 256;
const ABSENT = 0xffff_ffff;

function frame(kind: number, id: number, body: Buffer): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32LE(body.length, 0);
  header.writeUInt8(kind, 4);
  header.writeUInt32LE(id, 5);
  return body.length === 0 ? header : Buffer.concat([header, body]);
}

/** Splits a byte stream into frames; `onFrame` gets views valid until it returns. */
function frameReader(onFrame: (kind: number, id: number, body: Buffer) => void): (chunk: Buffer) => void {
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

/** Writes queued per socket and sent once per event-loop turn. */
class TurnWriter {
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

function listen(server: ReturnType<typeof createServer>): void {
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    console.log(`listening on ${address.port}`);
  });
}

// ---- replica ------------------------------------------------------------------------------------

function runStorage(logPath: string): void {
  const log = openSync(logPath, 'a');
  const values = new Map<string, Buffer>();
  const writer = new TurnWriter();
  let batch: { socket: Socket; kind: number; id: number; body: Buffer }[] = [];

  const handleBatch = () => {
    const work = batch;
    batch = [];
    const logged: Buffer[] = [];
    for (const item of work) {
      if (item.kind !== KIND_WRITE) continue;
      logged.push(item.body);
      // Body: repeated [u16 key length][key][u32 value length][value].
      let offset = 0;
      while (offset < item.body.length) {
        const keyLength = item.body.readUInt16LE(offset);
        const key = item.body.toString('latin1', offset + 2, offset + 2 + keyLength);
        offset += 2 + keyLength;
        const valueLength = item.body.readUInt32LE(offset);
        values.set(key, item.body.subarray(offset + 4, offset + 4 + valueLength));
        offset += 4 + valueLength;
      }
    }
    if (logged.length > 0) {
      writeSync(log, logged.length === 1 ? (logged[0] as Buffer) : Buffer.concat(logged));
      fdatasyncSync(log);
    }
    for (const item of work) {
      if (item.kind === KIND_WRITE) {
        writer.send(item.socket, frame(KIND_WRITTEN, item.id, Buffer.alloc(0)));
        continue;
      }
      const value = values.get(item.body.toString('latin1'));
      const body = Buffer.allocUnsafe(4 + (value?.length ?? 0));
      body.writeUInt32LE(value === undefined ? ABSENT : value.length, 0);
      value?.copy(body, 4);
      writer.send(item.socket, frame(KIND_VALUE, item.id, body));
    }
  };

  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on(
      'data',
      frameReader((kind, id, body) => {
        // The body is a view into a chunk the reader reuses: keep a copy until the batch runs.
        batch.push({ socket, kind, id, body: Buffer.from(body) });
        if (batch.length === 1) setImmediate(handleBatch);
      }),
    );
    socket.on('error', () => socket.destroy());
  });
  process.on('SIGTERM', () => {
    closeSync(log);
    process.exit(0);
  });
  listen(server);
}

// ---- data node ----------------------------------------------------------------------------------

/** One command's place in its connection's reply order. */
interface Reply {
  bytes: Buffer | null;
}

interface Connection {
  socket: Socket;
  replies: Reply[];
}

interface PendingSet {
  connection: Connection;
  reply: Reply;
  key: Buffer;
  value: Buffer;
}

const OK = Buffer.from('+OK\r\n');
const NULL_BULK = Buffer.from('$-1\r\n');

function bulk(value: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n')]);
}

/**
 * The arrays of bulk strings a RESP stream holds (what redis-benchmark sends); the rest waits
 * for more bytes. Returns the offset parsed up to.
 */
function parseCommands(bytes: Buffer, onCommand: (args: Buffer[]) => void): number {
  let offset = 0;
  for (;;) {
    const start = offset;
    if (bytes[offset] !== 0x2a) return start; // '*'
    let lineEnd = bytes.indexOf('\r\n', offset);
    if (lineEnd < 0) return start;
    const count = Number(bytes.toString('latin1', offset + 1, lineEnd));
    offset = lineEnd + 2;
    const args: Buffer[] = [];
    for (let index = 0; index < count; index++) {
      lineEnd = bytes.indexOf('\r\n', offset);
      if (lineEnd < 0) return start;
      const length = Number(bytes.toString('latin1', offset + 1, lineEnd));
      if (lineEnd + 2 + length + 2 > bytes.length) return start;
      args.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + length));
      offset = lineEnd + 2 + length + 2;
    }
    onCommand(args);
  }
}

async function runFront(replicaPorts: number[]): Promise<void> {
  const writer = new TurnWriter();
  const links = await Promise.all(
    replicaPorts.map(
      (port) =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () => resolve(socket));
          socket.setNoDelay(true);
          socket.once('error', reject);
        }),
    ),
  );
  const cache = new Map<string, { value: Buffer | null; storedAtMs: number }>();
  const commits = new Map<number, { answers: number; sets: PendingSet[] }>();
  const reads = new Map<
    number,
    { answers: number; value: Buffer | null; key: string; connection: Connection; reply: Reply }
  >();
  const stats = { commits: 0, hits: 0, misses: 0 };
  let nextId = 1;
  let commitsInFlight = 0;
  let openGroup: PendingSet[] = [];
  let nextReadReplica = 0;

  const flushReplies = (connection: Connection) => {
    const ready: Buffer[] = [];
    while (connection.replies.length > 0 && (connection.replies[0] as Reply).bytes !== null) {
      ready.push((connection.replies.shift() as Reply).bytes as Buffer);
    }
    if (ready.length > 0)
      writer.send(connection.socket, ready.length === 1 ? (ready[0] as Buffer) : Buffer.concat(ready));
  };

  const startCommit = (sets: PendingSet[]) => {
    const id = nextId++;
    commitsInFlight++;
    stats.commits++;
    commits.set(id, { answers: 0, sets });
    const parts: Buffer[] = [];
    for (const set of sets) {
      const keyLength = Buffer.allocUnsafe(2);
      keyLength.writeUInt16LE(set.key.length, 0);
      const valueLength = Buffer.allocUnsafe(4);
      valueLength.writeUInt32LE(set.value.length, 0);
      parts.push(keyLength, set.key, valueLength, set.value);
    }
    const bytes = frame(KIND_WRITE, id, Buffer.concat(parts));
    for (const link of links) writer.send(link, bytes);
  };

  const onWritten = (id: number) => {
    const commit = commits.get(id);
    if (commit === undefined) return;
    commit.answers++;
    if (commit.answers === WRITE_QUORUM) {
      const now = Date.now();
      const touched = new Set<Connection>();
      for (const set of commit.sets) {
        cache.set(set.key.toString('latin1'), { value: set.value, storedAtMs: now });
        set.reply.bytes = OK;
        touched.add(set.connection);
      }
      for (const connection of touched) flushReplies(connection);
      commitsInFlight--;
      if (openGroup.length > 0) {
        const group = openGroup;
        openGroup = [];
        startCommit(group);
      }
    }
    if (commit.answers === links.length) commits.delete(id);
  };

  const onValue = (id: number, body: Buffer) => {
    const read = reads.get(id);
    if (read === undefined) return;
    read.answers++;
    const length = body.readUInt32LE(0);
    if (length !== ABSENT && read.value === null) read.value = Buffer.from(body.subarray(4, 4 + length));
    if (read.answers < READ_QUORUM) return;
    reads.delete(id);
    cache.set(read.key, { value: read.value, storedAtMs: Date.now() });
    read.reply.bytes = read.value === null ? NULL_BULK : bulk(read.value);
    flushReplies(read.connection);
  };

  for (const link of links) {
    link.on(
      'data',
      frameReader((kind, id, body) => {
        if (kind === KIND_WRITTEN) onWritten(id);
        else if (kind === KIND_VALUE) onValue(id, body);
      }),
    );
  }

  const command = (connection: Connection, args: Buffer[]) => {
    const name = (args[0] ?? Buffer.alloc(0)).toString('latin1').toUpperCase();
    const reply: Reply = { bytes: null };
    connection.replies.push(reply);
    if (name === 'SET' && args.length === 3) {
      // Copies: the arguments are views into the connection's read buffer.
      const set = {
        connection,
        reply,
        key: Buffer.from(args[1] as Buffer),
        value: Buffer.from(args[2] as Buffer),
      };
      if (commitsInFlight < GROUPS_RUNNING_MAX_DEFAULT) startCommit([set]);
      else {
        openGroup.push(set);
        if (openGroup.length >= GROUP_COMMANDS_MAX) {
          startCommit(openGroup);
          openGroup = [];
        }
      }
    } else if (name === 'GET' && args.length === 2) {
      const key = (args[1] as Buffer).toString('latin1');
      const cached = cache.get(key);
      if (cached !== undefined && Date.now() - cached.storedAtMs <= CACHE_ENTRY_AGE_MAX_MS) {
        stats.hits++;
        reply.bytes = cached.value === null ? NULL_BULK : bulk(cached.value);
      } else {
        stats.misses++;
        const id = nextId++;
        reads.set(id, { answers: 0, value: null, key, connection, reply });
        const bytes = frame(KIND_READ, id, Buffer.from(key, 'latin1'));
        for (let index = 0; index < READ_QUORUM; index++) {
          writer.send(links[(nextReadReplica + index) % links.length] as Socket, bytes);
        }
        nextReadReplica = (nextReadReplica + 1) % links.length;
      }
    } else if (name === 'CONFIG' && args.length === 3) {
      // redis-benchmark asks for `save` and `appendonly` at its start: an empty setting each.
      reply.bytes = Buffer.concat([Buffer.from('*2\r\n'), bulk(args[2] as Buffer), bulk(Buffer.alloc(0))]);
    } else if (name === 'FLOORSTATS') {
      reply.bytes = bulk(Buffer.from(JSON.stringify(stats)));
    } else if (name === 'HELLO') {
      // RESP2 only: a client asking for RESP3 falls back, as it does with a Redis 5.
      reply.bytes = Buffer.from('-NOPROTO the floor speaks RESP2 only\r\n');
    } else if (name === 'CLIENT' || name === 'SELECT') {
      // What clients send as they connect (ioredis: CLIENT SETINFO), taken as done.
      reply.bytes = OK;
    } else if (name === 'PING') {
      reply.bytes = Buffer.from('+PONG\r\n');
    } else {
      reply.bytes = Buffer.from(
        `-ERR the floor serves SET and GET, and what clients send as they connect\r\n`,
      );
    }
  };

  const server = createServer((socket) => {
    socket.setNoDelay(true);
    const connection: Connection = { socket, replies: [] };
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      const bytes = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const parsed = parseCommands(bytes, (args) => command(connection, args));
      pending = Buffer.from(bytes.subarray(parsed));
      flushReplies(connection);
    });
    socket.on('error', () => socket.destroy());
  });
  process.on('SIGTERM', () => process.exit(0));
  listen(server);
}

const [role, argument] = process.argv.slice(2);
if (role === 'storage' && argument !== undefined) runStorage(argument);
else if (role === 'front' && argument !== undefined) await runFront(argument.split(',').map(Number));
else {
  console.error('usage: floor-node.js storage <log file> | front <port,port,...>');
  process.exit(2);
}
