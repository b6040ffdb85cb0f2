// Where a commit's CPU goes: the same commits (8 in flight, 4 keys of 100 bytes written blind,
// as a data node's group of SETs) run once with the writer and six storage-node cores in this
// one process, messages through the real frame codec and the log's records encoded but not
// written, and once through six storage-node processes over loopback TCP with their fdatasynced
// logs. The first is the protocol's own work; the ratio shows what processes, sockets, wakeups
// and fsyncs add. Commits of 64 keys in one process give the protocol's cost per key, and the
// last row the floor of any message between two Node processes here: an echo over loopback TCP.
// What an fdatasync costs the cores is measured by the disk bench.
import { fork } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StorageNodeCore } from '../apps/storage-node/src/node-core.js';
import {
  type Envelope,
  type FromReplicaMessage,
  type QuorumMessage,
  type ReadEntry,
  type WriteEntry,
  WriterCoordinator,
} from '../libs/quorum/src/index.js';
import { QuorumClient } from '../libs/storage-client/src/index.js';
import { encodeFrames, FrameDecoder, flattenBatches } from '../libs/wire/src/frames.js';
import { startStorageFleet } from '../test/support/storage-fleet.js';
import { scratchRun } from './lib/cleanup.js';
import { ownCpuMs, processesCpuMs } from './lib/process-cpu.js';
import type { BenchOptions, BenchResult, Row } from './lib/report.js';

const MEMBERS = ['s1', 's2', 's3', 's4', 's5', 's6'];
const VOLUME = 'protocol-cpu';
const COMMITS = 10_000;
const IN_FLIGHT = 8;
const KEYS_PER_COMMIT = 4;
/** The in-process setup once more with commits as large as a pipelined client's (`-P 16`): the cost per key. */
const LARGE_COMMIT_KEYS = 64;
const LARGE_COMMITS = 1_000;
const KEY_SPACE = 100_000;
const VALUE = Buffer.alloc(100, 0x07);
/** What the data node's blind writes carry (ADR 0016): values starting with 0x07 may be replaced. */
const GUARD = { mask: 0x7f, firstBytes: [0x07] };
const ECHOES = 20_000;
const WRITER_ID = 'bench-protocol-cpu';

interface Measured {
  commitsPerSecond: number;
  cpuUsPerCommit: number;
  aborted: number;
}

interface Shape {
  commits: number;
  keysPerCommit: number;
}

const SMALL: Shape = { commits: COMMITS, keysPerCommit: KEYS_PER_COMMIT };
const LARGE: Shape = { commits: LARGE_COMMITS, keysPerCommit: LARGE_COMMIT_KEYS };

/** One commit's read and write sets: `keysPerCommit` random keys written blind at a chosen seq. */
function commitSets(
  keysPerCommit: number,
  random: () => number,
  chooseSeq: () => number,
): { reads: ReadEntry[]; writes: WriteEntry[] } {
  const keys = new Set<string>();
  while (keys.size < keysPerCommit) keys.add(`key:${Math.floor(random() * KEY_SPACE)}`);
  const seq = chooseSeq();
  return {
    reads: [...keys].map((key) => ({ key, seq, blind: GUARD })),
    writes: [...keys].map((key) => ({ key, value: VALUE })),
  };
}

function seqChooser(): () => number {
  let last = 0;
  return () => {
    last = Math.max(Date.now() * 1024, last + 1);
    return last;
  };
}

/**
 * Runs `shape.commits` commits, `IN_FLIGHT` at a time, through `commit` (true when committed); one that
 * loses to another in flight on a shared key (`pending`) is tried again with new keys. Resolves
 * with the number of aborted attempts.
 */
async function drive(
  shape: Shape,
  commit: (sets: { reads: ReadEntry[]; writes: WriteEntry[] }) => Promise<boolean>,
) {
  const chooseSeq = seqChooser();
  let started = 0;
  let aborted = 0;
  const lane = async () => {
    while (started < shape.commits) {
      started++;
      while (!(await commit(commitSets(shape.keysPerCommit, Math.random, chooseSeq)))) aborted++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return aborted;
}

/** The writer and six storage-node cores in this process; each batch of messages is framed and decoded. */
async function inProcess(shape: Shape): Promise<Measured> {
  const writer = new WriterCoordinator({ writerId: WRITER_ID, coordinatorId: 7, members: MEMBERS });
  const waiters = new Map<
    string,
    { resolve: (committed: boolean) => void; reject: (error: Error) => void }
  >();
  const decoders = new Map<string, FrameDecoder>();
  let drainScheduled = false;
  const deliver = (from: string, to: string, messages: readonly QuorumMessage[]) => {
    const bytes = encodeFrames(messages);
    setImmediate(() => {
      const link = `${from}>${to}`;
      let decoder = decoders.get(link);
      if (decoder === undefined) {
        decoder = new FrameDecoder();
        decoders.set(link, decoder);
      }
      for (const message of flattenBatches(decoder.push(bytes))) {
        if (to === WRITER_ID) {
          writer.step(from, message as FromReplicaMessage, Date.now());
          scheduleDrain();
        } else cores.get(to)?.receive(from, message);
      }
    });
  };
  const cores = new Map(
    MEMBERS.map((id) => [
      id,
      new StorageNodeCore(
        { nodeId: id, members: MEMBERS, snapshotEveryRecords: 1_000_000 },
        {
          append: (_payloads, done) => setImmediate(() => done(null)),
          rotate: () => 1,
          writeSnapshot: (_body, _segment, done) => done(null),
          clearRepairMarker: (done) => done(null),
        },
        {
          nowMs: () => Date.now(),
          random: Math.random,
          defer: (run) => setImmediate(run),
          send: (to, messages) => deliver(id, to, messages),
          failStop: (reason) => {
            throw new Error(reason);
          },
          logLine: () => undefined,
        },
      ),
    ]),
  );
  const drain = () => {
    drainScheduled = false;
    const { messages, events } = writer.takeReady();
    const byDestination = new Map<string, QuorumMessage[]>();
    for (const { to, message } of messages as Envelope[]) {
      const list = byDestination.get(to) ?? [];
      list.push(message);
      byDestination.set(to, list);
    }
    for (const [to, list] of byDestination) deliver(WRITER_ID, to, list);
    for (const event of events) {
      if (event.type !== 'committed' && event.type !== 'aborted' && event.type !== 'unknown') continue;
      const waiter = waiters.get(event.txid);
      waiters.delete(event.txid);
      if (event.type === 'unknown') waiter?.reject(new Error(`commit of unknown outcome: ${event.reason}`));
      else waiter?.resolve(event.type === 'committed');
    }
  };
  function scheduleDrain() {
    if (drainScheduled) return;
    drainScheduled = true;
    setImmediate(drain);
  }
  const ticker = setInterval(() => {
    writer.tick(Date.now());
    for (const core of cores.values()) core.tick();
    scheduleDrain();
  }, 10);
  try {
    const cpuBefore = ownCpuMs();
    const startedAt = performance.now();
    const aborted = await drive(
      shape,
      ({ reads, writes }) =>
        new Promise<boolean>((resolve, reject) => {
          const txid = writer.begin(VOLUME, reads, writes, Date.now());
          waiters.set(txid, { resolve, reject });
          scheduleDrain();
        }),
    );
    const seconds = (performance.now() - startedAt) / 1000;
    return {
      commitsPerSecond: shape.commits / seconds,
      cpuUsPerCommit: ((ownCpuMs() - cpuBefore) * 1000) / shape.commits,
      aborted,
    };
  } finally {
    clearInterval(ticker);
  }
}

/** The same commits through six storage-node processes; CPU of this process (the writer) and theirs. */
async function realProcesses(root: string, stops: (() => Promise<void>)[]): Promise<Measured> {
  const fleet = await startStorageFleet({ dataRoot: join(root, 'storage') });
  stops.push(() => fleet.stop());
  const client = new QuorumClient({
    writerId: `${WRITER_ID}-${process.pid}`,
    coordinatorId: 7,
    nodes: fleet.nodes,
  });
  stops.push(() => client.close());
  await client.waitForNodes(6, 10_000);
  const pids = fleet.nodes.map((_, index) => fleet.process(index).child.pid as number);
  const cpuBefore = ownCpuMs() + processesCpuMs(pids);
  const startedAt = performance.now();
  const aborted = await drive(
    SMALL,
    async ({ reads, writes }) => (await client.commit(VOLUME, reads, writes)).outcome === 'committed',
  );
  const seconds = (performance.now() - startedAt) / 1000;
  return {
    commitsPerSecond: COMMITS / seconds,
    cpuUsPerCommit: ((ownCpuMs() + processesCpuMs(pids) - cpuBefore) * 1000) / COMMITS,
    aborted,
  };
}

/** CPU per echo of a 100-byte message between this process and a child over loopback TCP, both sides. */
async function echoFloor(): Promise<{ echoesPerSecond: number; cpuUsPerEcho: number }> {
  const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, PROTOCOL_CPU_ECHO: '1' } });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (message) => resolve(Number(message)));
      child.once('exit', (code) => reject(new Error(`the echo process exited (${code})`)));
    });
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const message = Buffer.alloc(100, 1);
    const childPid = child.pid as number;
    const cpuBefore = ownCpuMs() + processesCpuMs([childPid]);
    const startedAt = performance.now();
    await new Promise<void>((resolve) => {
      let echoes = 0;
      socket.on('data', () => {
        if (++echoes >= ECHOES) resolve();
        else socket.write(message);
      });
      socket.write(message);
    });
    const seconds = (performance.now() - startedAt) / 1000;
    const cpuMs = ownCpuMs() + processesCpuMs([childPid]) - cpuBefore;
    socket.destroy();
    return { echoesPerSecond: ECHOES / seconds, cpuUsPerEcho: (cpuMs * 1000) / ECHOES };
  } finally {
    child.kill();
  }
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const { root, stops, cleanup } = await scratchRun(options.dataDir, 'borealis-bench-protocol-cpu-');
  try {
    options.progress('in one process', 0);
    const local = await inProcess(SMALL);
    const large = await inProcess(LARGE);
    options.progress('in one process', 1);
    options.progress('six storage-node processes', 0);
    const real = await realProcesses(root, stops);
    options.progress('six storage-node processes', 1);
    options.progress('echo between two processes', 0);
    const echo = await echoFloor();
    options.progress('echo between two processes', 1);
    const rows: Row[] = [
      {
        setup:
          'writer + six storage-node cores in one process (frames encoded and decoded, no sockets, no fsync)',
        'commits/s': Math.round(local.commitsPerSecond),
        'CPU µs per commit': Math.round(local.cpuUsPerCommit),
        'CPU / in one process': 1,
      },
      {
        setup: 'writer in this process, six storage-node processes over loopback TCP, fdatasynced logs',
        'commits/s': Math.round(real.commitsPerSecond),
        'CPU µs per commit': Math.round(real.cpuUsPerCommit),
        'CPU / in one process': Math.round((real.cpuUsPerCommit / local.cpuUsPerCommit) * 100) / 100,
      },
      {
        setup: `in one process, ${LARGE_COMMIT_KEYS} keys per commit (a pipelined client's group)`,
        'commits/s': Math.round(large.commitsPerSecond),
        'CPU µs per commit': `${Math.round(large.cpuUsPerCommit)} (${Math.round((large.cpuUsPerCommit - local.cpuUsPerCommit) / (LARGE_COMMIT_KEYS - KEYS_PER_COMMIT))} per key more)`,
        'CPU / in one process': '',
      },
      {
        setup: 'floor: one 100-byte echo between two Node processes over loopback TCP (both sides)',
        'commits/s': `${Math.round(echo.echoesPerSecond)} echoes/s`,
        'CPU µs per commit': `${Math.round(echo.cpuUsPerEcho)} per echo`,
        'CPU / in one process': '',
      },
    ];
    return {
      name: 'protocol-cpu',
      rows,
      notes: [
        `${COMMITS.toLocaleString('en-US')} commits per setup (${LARGE_COMMITS.toLocaleString('en-US')} of ${LARGE_COMMIT_KEYS} keys), ${IN_FLIGHT} in flight, each writing ${KEYS_PER_COMMIT} random keys of ${KEY_SPACE.toLocaleString('en-US')} (${VALUE.length}-byte values) blind (ADR 0016), as a data node's group of SETs does; one writer. CPU is user + system of every process involved (from /proc), over the commits. Attempts that lost to another commit in flight on a shared key and were tried again: ${local.aborted} in one process, ${real.aborted} with processes, ${large.aborted} with ${LARGE_COMMIT_KEYS} keys. "per key more": the large commits' CPU above the small ones', over the keys they add.`,
        'In one process the six storage-node cores (apps/storage-node/src/node-core.ts, the code the storage node runs) and the writer coordinator exchange every message as frames (msgpack), and each core encodes its log records as the node does, but nothing is written or fsynced and no message crosses a socket. The ratio is what the deployment adds: seven processes, their sockets, wakeups, fdatasyncs and garbage collectors, on the cores of this machine.',
        'The echo row is what any message costs two Node processes here before any work is done: one write and one read on each side, and a wakeup. A commit of the real row makes about two such exchanges per storage node (PROPOSE and vote, DECIDED), shared by the commits of a batch. What an fdatasync costs the cores is in the disk bench (`npm run bench -- disk`, "CPU µs per operation"). Run with `npm run bench -- protocol-cpu`.',
      ],
    };
  } finally {
    await cleanup();
  }
}

// The echo process of `echoFloor`: the same file, forked.
if (process.env.PROTOCOL_CPU_ECHO === '1' && process.send !== undefined) {
  const server = createServer((socket: Socket) => {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.send?.(typeof address === 'object' && address !== null ? address.port : 0);
  });
  process.on('disconnect', () => process.exit(0));
}
