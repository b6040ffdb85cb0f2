// The floor of the data-path benches: the same processes, messages and fsyncs as a data node over
// six storage nodes, with none of the protocol's work. Started by bench/lib/floor.ts as
//   node floor-node.js storage <log file>      a replica: keeps values, logs and fdatasyncs
//   node floor-node.js front <port,port,...>   the data node: RESP in, six links out
//                                              (SET and GET; HELLO, PING, CONFIG, INFO, CLIENT
//                                              and SELECT answered as clients expect as they
//                                              connect)
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
//   its log is written ahead with zeros as a storage node's is (PREALLOCATE_BYTES_DEFAULT), so
//   that most fdatasyncs write no inode;
// - GET from a cache with the longest life the data node gives an entry (CACHE_ENTRY_COVERED_AGE_MAX_MS:
//   a single writer's notice streams are always whole, ADR 0020), a miss read from 3
//   replicas and answered once all 3 have; a GET after a SET of its key not committed yet waits
//   for it, as the data node's scheduler orders them; a connection that sent BOREALIS
//   CONSISTENCY CLUSTER reads every GET from the replicas and caches it as new, as a data node;
// What it leaves out: versions, read and write sets, votes and decisions, msgpack, CRCs,
// authentication, the command table, budgets, metrics, the cache's byte bound. The wire is
// bench/lib/floor-link.ts; a replica keeps values by key in a Map.
import { closeSync, fdatasyncSync, openSync, writevSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { CACHE_ENTRY_COVERED_AGE_MAX_MS } from '../../apps/data-node/src/cache/versioned-cache.js';
import { GROUPS_RUNNING_MAX_DEFAULT } from '../../apps/data-node/src/engine/transaction-engine.js';
import { PREALLOCATE_BYTES_DEFAULT } from '../../apps/storage-node/src/storage/durable-log.js';
import {
  ABSENT,
  FloorWriter,
  frame,
  frameReader,
  KIND_STATS,
  KIND_VALUE,
  KIND_WRITE,
  KIND_WRITTEN,
  readWriteBody,
  TurnWriter,
} from './floor-link.js';

const GROUP_COMMANDS_MAX = 256;

function listen(server: ReturnType<typeof createServer>): void {
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    console.log(`listening on ${address.port}`);
  });
}

// ---- replica ------------------------------------------------------------------------------------

function runStorage(logPath: string): void {
  const log = openSync(logPath, 'w');
  const zeros = Buffer.alloc(PREALLOCATE_BYTES_DEFAULT);
  // Bytes logged, and the file's length with the zeros written ahead of them.
  let logged = 0;
  let fileBytes = 0;
  const values = new Map<string, Buffer>();
  const writer = new TurnWriter();
  let batch: { socket: Socket; kind: number; id: number; body: Buffer }[] = [];
  let fsyncs = 0;

  const handleBatch = () => {
    const work = batch;
    batch = [];
    const bodies: Buffer[] = [];
    let bytes = 0;
    for (const item of work) {
      if (item.kind !== KIND_WRITE) continue;
      bodies.push(item.body);
      bytes += item.body.length;
      for (const { key, value } of readWriteBody(item.body)) values.set(key, value);
    }
    if (bodies.length > 0) {
      const buffers = [bodies.length === 1 ? (bodies[0] as Buffer) : Buffer.concat(bodies)];
      if (logged + bytes > fileBytes) {
        buffers.push(zeros);
        fileBytes = logged + bytes + zeros.length;
      }
      const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
      const written = writevSync(log, buffers, logged);
      if (written !== total) throw new Error(`the floor's log took ${written} of ${total} bytes`);
      logged += bytes;
      fdatasyncSync(log);
      fsyncs++;
    }
    for (const item of work) {
      if (item.kind === KIND_WRITE) {
        writer.send(item.socket, frame(KIND_WRITTEN, item.id, Buffer.alloc(0)));
        continue;
      }
      if (item.kind === KIND_STATS) {
        const body = Buffer.allocUnsafe(4);
        body.writeUInt32LE(fsyncs % 2 ** 32, 0);
        writer.send(item.socket, frame(KIND_STATS, item.id, body));
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
  /** After `BOREALIS CONSISTENCY CLUSTER`, as on a data node: its GETs read the replicas. */
  readsReplicas: boolean;
}

interface PendingSet {
  connection: Connection;
  reply: Reply;
  key: Buffer;
  keyText: string;
  value: Buffer;
  /** GETs of the key that came after this SET: answered with its value once it commits. */
  readers: { connection: Connection; reply: Reply }[];
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
  const replicas = await FloorWriter.connect(replicaPorts);
  const cache = new Map<string, { value: Buffer | null; storedAtMs: number }>();
  const stats = { commits: 0, hits: 0, misses: 0 };
  let commitsInFlight = 0;
  let openGroup: PendingSet[] = [];
  /** Each key's newest SET not committed yet: a GET after it waits for it, as in the data node. */
  const newestPendingSet = new Map<string, PendingSet>();

  const flushReplies = (connection: Connection) => {
    const ready: Buffer[] = [];
    while (connection.replies.length > 0 && (connection.replies[0] as Reply).bytes !== null) {
      ready.push((connection.replies.shift() as Reply).bytes as Buffer);
    }
    if (ready.length > 0)
      writer.send(connection.socket, ready.length === 1 ? (ready[0] as Buffer) : Buffer.concat(ready));
  };

  const startCommit = (sets: PendingSet[]) => {
    commitsInFlight++;
    stats.commits++;
    replicas.write(sets).then(
      () => {
        const now = Date.now();
        const touched = new Set<Connection>();
        for (const set of sets) {
          cache.set(set.keyText, { value: set.value, storedAtMs: now });
          set.reply.bytes = OK;
          touched.add(set.connection);
          for (const reader of set.readers) {
            reader.reply.bytes = bulk(set.value);
            touched.add(reader.connection);
          }
          if (newestPendingSet.get(set.keyText) === set) newestPendingSet.delete(set.keyText);
        }
        commitEnded(touched);
      },
      (error: Error) => {
        const touched = new Set<Connection>();
        const failed = Buffer.from(`-ERR ${error.message}\r\n`);
        for (const set of sets) {
          set.reply.bytes = failed;
          touched.add(set.connection);
          for (const reader of set.readers) {
            reader.reply.bytes = failed;
            touched.add(reader.connection);
          }
          if (newestPendingSet.get(set.keyText) === set) newestPendingSet.delete(set.keyText);
        }
        commitEnded(touched);
      },
    );
  };

  const commitEnded = (touched: Set<Connection>) => {
    for (const connection of touched) flushReplies(connection);
    commitsInFlight--;
    if (openGroup.length > 0) {
      const group = openGroup;
      openGroup = [];
      startCommit(group);
    }
  };

  const read = (key: string, connection: Connection, reply: Reply) => {
    const startedAtMs = Date.now();
    replicas.read(key).then(
      (value) => {
        // A SET that committed meanwhile cached a newer value: it stays.
        if (!((cache.get(key)?.storedAtMs ?? Number.NEGATIVE_INFINITY) >= startedAtMs)) {
          cache.set(key, { value, storedAtMs: Date.now() });
        }
        reply.bytes = value === null ? NULL_BULK : bulk(value);
        flushReplies(connection);
      },
      (error: Error) => {
        reply.bytes = Buffer.from(`-ERR ${error.message}\r\n`);
        flushReplies(connection);
      },
    );
  };

  const command = (connection: Connection, args: Buffer[]) => {
    const name = (args[0] ?? Buffer.alloc(0)).toString('latin1').toUpperCase();
    const reply: Reply = { bytes: null };
    connection.replies.push(reply);
    if (name === 'SET' && args.length === 3) {
      // Copies: the arguments are views into the connection's read buffer.
      const key = Buffer.from(args[1] as Buffer);
      const set: PendingSet = {
        connection,
        reply,
        key,
        keyText: key.toString('latin1'),
        value: Buffer.from(args[2] as Buffer),
        readers: [],
      };
      newestPendingSet.set(set.keyText, set);
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
      const pending = newestPendingSet.get(key);
      const cached = cache.get(key);
      if (pending !== undefined) {
        stats.hits++;
        pending.readers.push({ connection, reply });
      } else if (
        !connection.readsReplicas &&
        cached !== undefined &&
        Date.now() - cached.storedAtMs <= CACHE_ENTRY_COVERED_AGE_MAX_MS
      ) {
        stats.hits++;
        reply.bytes = cached.value === null ? NULL_BULK : bulk(cached.value);
      } else {
        stats.misses++;
        read(key, connection, reply);
      }
    } else if (name === 'CONFIG' && args.length === 3) {
      // redis-benchmark asks for `save` and `appendonly` at its start: an empty setting each.
      reply.bytes = Buffer.concat([Buffer.from('*2\r\n'), bulk(args[2] as Buffer), bulk(Buffer.alloc(0))]);
    } else if (
      name === 'BOREALIS' &&
      args.length === 3 &&
      (args[1] as Buffer).toString('latin1').toUpperCase() === 'CONSISTENCY' &&
      (args[2] as Buffer).toString('latin1').toUpperCase() === 'CLUSTER'
    ) {
      // What the data-node bench sends to prime a cache with entries read as new (each read
      // from the replicas is stored again), as a data node does for its cluster reads.
      connection.readsReplicas = true;
      reply.bytes = OK;
    } else if (name === 'FLOORSTATS') {
      reply.bytes = bulk(Buffer.from(JSON.stringify(stats)));
    } else if (name === 'HELLO') {
      // RESP2 only: a client asking for RESP3 falls back, as it does with a Redis 5.
      reply.bytes = Buffer.from('-NOPROTO the floor speaks RESP2 only\r\n');
    } else if (name === 'INFO') {
      // A client's ready check (ioredis) waits for `loading:0`.
      reply.bytes = bulk(Buffer.from('# Server\r\nredis_version:7.0.0\r\nloading:0\r\n'));
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
    const connection: Connection = { socket, replies: [], readsReplicas: false };
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

// A floor process outlives no bench: when its parent is gone (a bench killed outright), it ends.
const PARENT_CHECK_MS = 1_000;
const parentAtStart = process.ppid;
setInterval(() => {
  if (process.ppid !== parentAtStart) process.exit(0);
}, PARENT_CHECK_MS).unref();

const [role, argument] = process.argv.slice(2);
if (role === 'storage' && argument !== undefined) runStorage(argument);
else if (role === 'front' && argument !== undefined) await runFront(argument.split(',').map(Number));
else {
  console.error('usage: floor-node.js storage <log file> | front <port,port,...>');
  process.exit(2);
}
