// The storage node's I/O bindings around its event loop (node-core.ts): TCP in and out, the
// durable log, timers. The core decides what to log and when a message may leave (once every
// record appended so far is durable); this file only moves bytes.
import { createServer, type Server, type Socket } from 'node:net';
import type {
  QuorumMessage,
  ReplicaSnapshot,
  ReplicaTiming,
  StorageReplica,
} from '../../../libs/quorum/src/index.js';
import {
  encodeBatchFrames,
  encodeMessage,
  FrameDecoder,
  flattenBatches,
} from '../../../libs/wire/src/frames.js';
import { OutboundLink } from '../../../libs/wire/src/outbound-link.js';
import { type NodeLog, StorageNodeCore } from './node-core.js';
import { decodeRecords, decodeSnapshot } from './record-codec.js';
import { DurableLog } from './storage/durable-log.js';

export interface PeerAddress {
  id: string;
  host: string;
  port: number;
}

export interface StorageNodeOptions {
  nodeId: string;
  az: string;
  host: string;
  port: number;
  dataDir: string;
  /** The six members of the protection group, in replica-index order (this node among them). */
  members: PeerAddress[];
  timing?: Partial<ReplicaTiming>;
  tickIntervalMs?: number;
  /** Log records appended between snapshots. */
  snapshotEveryRecords?: number;
  log?: (line: string) => void;
}

export interface HelloMessage {
  type: 'hello';
  role: 'writer' | 'peer';
  id: string;
  /** Writers only: volumes whose commits by other writers this writer wants to hear of. */
  notifyVolumes?: string[];
}

const WRITER_BACKLOG_BYTES_MAX = 64 * 1024 * 1024;

export class StorageNodeServer {
  private readonly core: StorageNodeCore;
  private readonly options: Required<Omit<StorageNodeOptions, 'timing'>> & Pick<StorageNodeOptions, 'timing'>;
  private log: DurableLog | null = null;
  private server: Server | null = null;
  private readonly peers = new Map<string, OutboundLink>();
  private readonly writers = new Map<string, Socket>();
  private readonly sockets = new Set<Socket>();
  private tickTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Outbound counters of the TCP side (the core counts the rest). */
  private readonly outbound = {
    droppedOutbound: 0,
    /** Replies too large for any frame (counted in droppedOutbound too). */
    oversizedOutbound: 0,
  };
  replayStats = { records: 0, durationMs: 0, fromSnapshot: false, tornBytesDropped: 0 };

  constructor(options: StorageNodeOptions) {
    this.options = {
      tickIntervalMs: 10,
      snapshotEveryRecords: 500_000,
      log: (line) => console.log(line),
      ...options,
    };
    const label = `storage-node ${options.nodeId}`;
    this.core = new StorageNodeCore(
      {
        nodeId: options.nodeId,
        members: options.members.map((member) => member.id),
        snapshotEveryRecords: this.options.snapshotEveryRecords,
        ...(options.timing !== undefined ? { timing: options.timing } : {}),
      },
      this.logPort(),
      {
        nowMs: () => Date.now(),
        random: () => Math.random(),
        defer: (run) => setImmediate(run),
        send: (to, messages) => this.send(to, messages),
        failStop: (reason) => this.failStop(reason),
        logLine: (line) => this.options.log(`${label}: ${line}`),
      },
    );
  }

  get replica(): StorageReplica {
    return this.core.replica;
  }

  /** The core's counters (messages, batches, snapshots) and the TCP side's. */
  get counters(): StorageNodeCore['counters'] & StorageNodeServer['outbound'] {
    return { ...this.core.counters, ...this.outbound };
  }

  /** The durable log, bound to the core's callback port (opened by `start`). */
  private logPort(): NodeLog {
    const log = (): DurableLog => {
      if (this.log === null) throw new Error('the log is not open');
      return this.log;
    };
    const settle = (promise: Promise<void>, done: (error: Error | null) => void) =>
      promise.then(
        () => done(null),
        (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
      );
    return {
      append: (payloads, done) => void settle(log().append(payloads), done),
      rotate: () => log().rotate(),
      writeSnapshot: (body, segment, done) => void settle(log().writeSnapshot(body, segment), done),
      clearRepairMarker: (done) => void settle(log().clearRepairMarker(), done),
    };
  }

  /** Replays the log, then listens: a restarted node answers only once it is caught up locally. */
  async start(): Promise<void> {
    const startedAt = performance.now();
    const replica = this.core.replica;
    const opened = await DurableLog.open(this.options.dataDir, {
      onRecord: (payload: Uint8Array) => {
        for (const record of decodeRecords(payload)) {
          replica.applyRecord(record);
          this.replayStats.records++;
        }
      },
      onSnapshot: (body: Uint8Array) => {
        replica.restore(decodeSnapshot(body) as ReplicaSnapshot);
        this.replayStats.fromSnapshot = true;
      },
      // Damage that is not a torn tail leaves the replayed prefix, which may lack acknowledged
      // records: the replica repairs from its peers before it takes part in quorums (ADR 0009).
      damage: 'keepPrefix',
    });
    this.log = opened.log;
    const tornBytesDropped = opened.recovery.tornTail?.bytesDropped ?? 0;
    this.replayStats.tornBytesDropped = tornBytesDropped;
    this.replayStats.durationMs = Math.round(performance.now() - startedAt);
    this.options.log(
      `storage-node ${this.options.nodeId}: replayed ${this.replayStats.records} log records` +
        `${this.replayStats.fromSnapshot ? ' after a snapshot' : ''} in ${this.replayStats.durationMs} ms` +
        (tornBytesDropped > 0 ? ` (cut a torn tail of ${tornBytesDropped} bytes)` : ''),
    );
    const damage = opened.recovery.damage;
    if (damage !== null) {
      this.options.log(
        `storage-node ${this.options.nodeId}: ${damage.earlier ? 'an earlier start found damage' : 'log damaged'}: ` +
          `${damage.reason}${damage.setAsideIn !== null ? ` (damaged files copied to ${damage.setAsideIn})` : ''}.`,
      );
      this.core.startRepair(damage.reason);
    }
    for (const member of this.options.members) {
      if (member.id === this.options.nodeId) continue;
      this.peers.set(
        member.id,
        new OutboundLink({
          host: member.host,
          port: member.port,
          hello: { type: 'hello', role: 'peer', id: this.options.nodeId } satisfies HelloMessage,
        }),
      );
    }
    this.server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      const server = this.server as Server;
      server.once('error', reject);
      server.listen({ host: this.options.host, port: this.options.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.tickTimer = setInterval(() => this.core.tick(), this.options.tickIntervalMs);
  }

  get listeningPort(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.core.stop();
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    for (const link of this.peers.values()) link.close();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    // Appends already handed to the log finish (or fail) before it closes.
    await this.log?.append([]).catch(() => undefined);
    await this.log?.close();
  }

  /**
   * Deletes a volume on this node (docs/adr/0007-deleting-volumes.md) and resolves once the drop
   * is durable: every record appended so far, this one included, is fsynced. A second call for the
   * same volume logs nothing but still waits for that, so it never answers before the first drop
   * is on disk. From the next batch on, messages about the volume are ignored.
   */
  async dropVolume(volume: string): Promise<{ volume: string; existed: boolean; keys: number }> {
    if (this.log === null || this.stopped)
      throw new Error(`storage node ${this.options.nodeId} is not serving`);
    const dropped = await new Promise<{ existed: boolean; keys: number }>((resolve) =>
      this.core.dropVolume(volume, resolve),
    );
    return { volume, ...dropped };
  }

  stats(): Record<string, unknown> {
    const replica = this.replica.stats();
    return {
      nodeId: this.options.nodeId,
      az: this.options.az,
      /** Bytes of the log segments and the snapshot on disk. */
      logBytes: this.log?.diskBytes() ?? 0,
      volumes: replica.volumes,
      replica,
      log: this.log?.stats() ?? null,
      replay: this.replayStats,
      repair: this.repairHealth(),
      connections: { writers: this.writers.size, sockets: this.sockets.size },
      peers: Object.fromEntries([...this.peers].map(([id, link]) => [id, link.stats()])),
      counters: this.counters,
    };
  }

  /** Whether the replica is whole, repairing (and how far along), or whole again after a repair. */
  private repairHealth(): Record<string, unknown> {
    const repairing = this.replica.repairStatus();
    if (repairing !== null) {
      return {
        state: 'repairing',
        ...repairing,
        startedAt: new Date(repairing.startedAtMs).toISOString(),
        quietUntil: new Date(repairing.quietUntilMs).toISOString(),
      };
    }
    const last = this.replica.completedRepair();
    if (last === null) return { state: 'whole' };
    return {
      state: 'repaired',
      reason: last.reason,
      startedAt: new Date(last.startedAtMs).toISOString(),
      completedAt: new Date(last.completedAtMs).toISOString(),
    };
  }

  // ---- inbound -------------------------------------------------------------------------------

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    this.sockets.add(socket);
    const decoder = new FrameDecoder();
    let peerId: string | null = null;
    socket.on('data', (chunk: Buffer) => {
      let messages: unknown[];
      try {
        messages = decoder.push(chunk);
      } catch (error) {
        this.options.log(
          `storage-node ${this.options.nodeId}: closing a connection: ${(error as Error).message}`,
        );
        socket.destroy();
        return;
      }
      for (const message of flattenBatches(messages)) {
        if (peerId === null) {
          peerId = this.identify(socket, message);
          if (peerId === null) return;
          continue;
        }
        this.core.receive(peerId, message);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (peerId !== null && this.writers.get(peerId) === socket) {
        this.writers.delete(peerId);
        this.core.writerDisconnected(peerId);
      }
    });
  }

  private identify(socket: Socket, message: unknown): string | null {
    const hello = message as Partial<HelloMessage> | null;
    if (
      typeof hello !== 'object' ||
      hello === null ||
      hello.type !== 'hello' ||
      (hello.role !== 'writer' && hello.role !== 'peer') ||
      typeof hello.id !== 'string' ||
      hello.id.length === 0 ||
      hello.id.length > 256
    ) {
      this.core.counters.malformedMessages++;
      socket.destroy();
      return null;
    }
    if (hello.role === 'writer') {
      this.writers.set(hello.id, socket);
      this.core.writerConnected(hello.id, Array.isArray(hello.notifyVolumes) ? hello.notifyVolumes : []);
    }
    return hello.id;
  }

  /** One batch of the core's messages to a peer (its link queues them) or a writer (one frame). */
  private send(to: string, messages: QuorumMessage[]): void {
    const peer = this.peers.get(to);
    if (peer !== undefined) {
      for (const message of messages) peer.send(message);
      return;
    }
    const socket = this.writers.get(to);
    if (socket === undefined || socket.writableLength > WRITER_BACKLOG_BYTES_MAX) {
      this.outbound.droppedOutbound += messages.length;
      return;
    }
    // One frame per writer per batch (a msgpack array the writer decodes in one call), split
    // where the batch outgrows a frame; a single reply too large for any frame is dropped and
    // counted: the writer's request then times out rather than this node stopping.
    const { frames, oversized } = encodeBatchFrames(messages.map(encodeMessage));
    this.outbound.droppedOutbound += oversized;
    this.outbound.oversizedOutbound += oversized;
    for (const frame of frames) socket.write(frame);
  }

  /** A failed fsync leaves the durable state unknown: stop rather than answer from it. */
  private failStop(reason: string): void {
    this.options.log(`storage-node ${this.options.nodeId}: ${reason}; stopping`);
    process.exit(1);
  }
}
