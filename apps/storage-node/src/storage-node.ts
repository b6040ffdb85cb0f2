// The storage node's I/O shell around the pure `StorageReplica`: TCP in and out, the durable
// log, ticks and snapshots. Everything a batch of messages produces is appended to the log
// and covered by one fsync before any reply leaves (group commit), so a reply never reveals
// state that a crash could take back.
import { createServer, type Server, type Socket } from 'node:net';
import {
  type AppliedMessage,
  type DecidedMessage,
  type Envelope,
  isQuorumMessage,
  type QuorumMessage,
  REPAIR_PEERS_NEEDED,
  type ReplicaSnapshot,
  type ReplicaTiming,
  StorageReplica,
} from '../../../libs/quorum/src/index.js';
import {
  encodeBatchFrames,
  encodeMessage,
  FrameDecoder,
  flattenBatches,
} from '../../../libs/wire/src/frames.js';
import { OutboundLink } from '../../../libs/wire/src/outbound-link.js';
import { decodeRecords, decodeSnapshot, encodeRecords, encodeSnapshot } from './record-codec.js';
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

interface Inbound {
  from: string;
  message: QuorumMessage;
}

const INBOUND_QUEUE_MAX = 200_000;
const NOTIFY_VOLUMES_MAX = 1_024;
const WRITER_BACKLOG_BYTES_MAX = 64 * 1024 * 1024;

export class StorageNodeServer {
  readonly replica: StorageReplica;
  private readonly options: Required<Omit<StorageNodeOptions, 'timing'>> & Pick<StorageNodeOptions, 'timing'>;
  private log: DurableLog | null = null;
  private server: Server | null = null;
  private readonly peers = new Map<string, OutboundLink>();
  private readonly writers = new Map<string, Socket>();
  /** volume → writers that asked to hear of its commits (for their caches). */
  private readonly subscribers = new Map<string, Set<string>>();
  /** `applied` notices produced by the current batch, sent with its replies. */
  private notices: Envelope[] = [];
  private readonly sockets = new Set<Socket>();
  private inbound: Inbound[] = [];
  private batchScheduled = false;
  private tickTimer: NodeJS.Timeout | null = null;
  /** Resolves once every record appended so far is durable: replies wait behind it. */
  private durable: Promise<void> = Promise.resolve();
  private recordsSinceSnapshot = 0;
  /** Jittered per node, so that six nodes under the same load do not all snapshot at once. */
  private snapshotThreshold = 0;
  private snapshotting = false;
  private stopped = false;
  readonly counters = {
    messagesIn: 0,
    messagesOut: 0,
    malformedMessages: 0,
    droppedInbound: 0,
    droppedOutbound: 0,
    /** Replies too large for any frame (counted in droppedOutbound too). */
    oversizedOutbound: 0,
    batches: 0,
    snapshots: 0,
  };
  replayStats = { records: 0, durationMs: 0, fromSnapshot: false, tornBytesDropped: 0 };

  constructor(options: StorageNodeOptions) {
    const selfIndex = options.members.findIndex((member) => member.id === options.nodeId);
    if (selfIndex < 0) throw new Error(`node ${options.nodeId} is not among the members`);
    this.options = {
      tickIntervalMs: 10,
      snapshotEveryRecords: 500_000,
      log: (line) => console.log(line),
      ...options,
    };
    this.snapshotThreshold = this.nextSnapshotThreshold();
    this.replica = new StorageReplica({
      members: options.members.map((member) => member.id),
      selfIndex,
      ...(options.timing !== undefined ? { timing: options.timing } : {}),
    });
  }

  /** Replays the log, then listens: a restarted node answers only once it is caught up locally. */
  async start(): Promise<void> {
    const startedAt = performance.now();
    const opened = await DurableLog.open(this.options.dataDir, {
      onRecord: (payload: Uint8Array) => {
        for (const record of decodeRecords(payload)) {
          this.replica.applyRecord(record);
          this.replayStats.records++;
        }
      },
      onSnapshot: (body: Uint8Array) => {
        this.replica.restore(decodeSnapshot(body) as ReplicaSnapshot);
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
      this.replica.beginRepair(damage.reason, Date.now());
      const until = new Date((this.replica.repairStatus() as { quietUntilMs: number }).quietUntilMs);
      this.options.log(
        `storage-node ${this.options.nodeId}: ${damage.earlier ? 'an earlier start found damage' : 'log damaged'}: ` +
          `${damage.reason}${damage.setAsideIn !== null ? ` (damaged files copied to ${damage.setAsideIn})` : ''}. ` +
          `Repairing from its peers: this node answers no vote, accept or read until it has read the whole ` +
          `state of ${REPAIR_PEERS_NEEDED} healthy peers, after a quiet period until ${until.toISOString()}`,
      );
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
    this.tickTimer = setInterval(() => this.onTick(), this.options.tickIntervalMs);
  }

  get listeningPort(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    for (const link of this.peers.values()) link.close();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await this.durable.catch(() => undefined);
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
    const dropped = this.replica.dropVolume(volume, Date.now());
    // Writers subscribed to its commits hear no more of them.
    this.subscribers.delete(volume);
    // The volume's data is still in the log segments: a snapshot now (or as soon as the running
    // one ends) leaves it out and deletes the segments, instead of after the next ~500,000 records.
    if (dropped.existed)
      this.recordsSinceSnapshot = Math.max(this.recordsSinceSnapshot, this.snapshotThreshold);
    this.flushReady();
    await this.durable;
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
        this.receive(peerId, message);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (peerId !== null && this.writers.get(peerId) === socket) {
        this.writers.delete(peerId);
        for (const writers of this.subscribers.values()) writers.delete(peerId);
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
      this.counters.malformedMessages++;
      socket.destroy();
      return null;
    }
    if (hello.role === 'writer') {
      this.writers.set(hello.id, socket);
      const volumes = Array.isArray(hello.notifyVolumes)
        ? hello.notifyVolumes.slice(0, NOTIFY_VOLUMES_MAX)
        : [];
      for (const volume of volumes) {
        if (typeof volume !== 'string' || this.replica.isDropped(volume)) continue;
        let writers = this.subscribers.get(volume);
        if (writers === undefined) {
          writers = new Set();
          this.subscribers.set(volume, writers);
        }
        writers.add(hello.id);
      }
    }
    return hello.id;
  }

  private receive(from: string, message: unknown): void {
    if (!isQuorumMessage(message)) {
      this.counters.malformedMessages++;
      return;
    }
    if (this.inbound.length >= INBOUND_QUEUE_MAX) {
      // The sender resends; an unbounded queue would only turn overload into a crash.
      this.counters.droppedInbound++;
      return;
    }
    this.counters.messagesIn++;
    this.inbound.push({ from, message });
    this.scheduleBatch();
  }

  private scheduleBatch(): void {
    if (this.batchScheduled) return;
    this.batchScheduled = true;
    setImmediate(() => this.processBatch());
  }

  private processBatch(): void {
    this.batchScheduled = false;
    if (this.stopped) return;
    const batch = this.inbound;
    this.inbound = [];
    const nowMs = Date.now();
    for (const { from, message } of batch) {
      this.replica.step(from, message, nowMs);
      if (message.type === 'decided') this.noticeCommit(message);
    }
    this.counters.batches++;
    this.flushReady();
  }

  /** Tells the volume's other subscribed writers which keys a commit changed. */
  private noticeCommit(message: DecidedMessage): void {
    if (message.decision !== 'commit' || this.replica.isDropped(message.volume)) return;
    const writers = this.subscribers.get(message.volume);
    if (writers === undefined || writers.size === 0) return;
    // YES voters get DECIDED without the proposal: they logged it with their vote.
    const proposal =
      message.proposal ?? this.replica.inspectTransaction(message.volume, message.txid)?.proposal ?? null;
    if (proposal === null || proposal.writes.length === 0) return;
    const readSeq = new Map(proposal.reads.map((read) => [read.key, read.seq]));
    const notice: AppliedMessage = {
      type: 'applied',
      volume: message.volume,
      txid: message.txid,
      changes: proposal.writes.map((write) => ({ key: write.key, seq: (readSeq.get(write.key) ?? 0) + 1 })),
    };
    const origin = message.txid.slice(0, message.txid.lastIndexOf('.'));
    for (const writer of writers) if (writer !== origin) this.notices.push({ to: writer, message: notice });
  }

  private onTick(): void {
    if (this.stopped) return;
    this.replica.tick(Date.now());
    this.flushReady();
    if (this.replica.takeRepairCompletion()) void this.confirmRepair();
  }

  /** The state is whole again: once everything the repair wrote is durable, the log says so. */
  private async confirmRepair(): Promise<void> {
    const repair = this.replica.completedRepair();
    try {
      await (this.log as DurableLog).clearRepairMarker();
    } catch (error) {
      this.failStop(error);
      return;
    }
    const tookS = repair === null ? 0 : (repair.completedAtMs - repair.startedAtMs) / 1000;
    this.options.log(
      `storage-node ${this.options.nodeId}: repair complete after ${tookS.toFixed(1)} s: ` +
        `read the whole state of ${REPAIR_PEERS_NEEDED} healthy peers; taking part in quorums again`,
    );
  }

  // ---- persist, then send ----------------------------------------------------------------------

  private flushReady(): void {
    const ready = this.replica.takeReady();
    if (this.notices.length > 0) {
      for (const notice of this.notices) ready.messages.push(notice);
      this.notices = [];
    }
    if (ready.records.length > 0) {
      const log = this.log as DurableLog;
      // One log record per batch (a msgpack array): one checksum and one encode call for all.
      const payloads = [encodeRecords(ready.records)];
      this.recordsSinceSnapshot += ready.records.length;
      this.durable = log.append(payloads);
      this.durable.catch((error: unknown) => this.failStop(error));
    }
    if (this.recordsSinceSnapshot >= this.snapshotThreshold) void this.snapshot();
    if (ready.messages.length === 0) return;
    // Messages wait for every record appended so far, not only this batch's: they may
    // reveal state an earlier, still unsynced batch produced.
    void this.durable.then(
      () => this.send(ready.messages),
      () => undefined,
    );
  }

  private send(envelopes: Envelope[]): void {
    const toWriters = new Map<Socket, QuorumMessage[]>();
    for (const { to, message } of envelopes) {
      this.counters.messagesOut++;
      if (to === this.options.nodeId) {
        this.receive(to, message);
        continue;
      }
      const peer = this.peers.get(to);
      if (peer !== undefined) {
        peer.send(message);
        continue;
      }
      const socket = this.writers.get(to);
      if (socket === undefined || socket.writableLength > WRITER_BACKLOG_BYTES_MAX) {
        this.counters.droppedOutbound++;
        continue;
      }
      let list = toWriters.get(socket);
      if (list === undefined) {
        list = [];
        toWriters.set(socket, list);
      }
      list.push(message);
    }
    // One frame per writer per batch (a msgpack array the writer decodes in one call), split
    // where the batch outgrows a frame; a single reply too large for any frame is dropped and
    // counted: the writer's request then times out rather than this node stopping.
    for (const [socket, messages] of toWriters) {
      const { frames, oversized } = encodeBatchFrames(messages.map(encodeMessage));
      this.counters.droppedOutbound += oversized;
      this.counters.oversizedOutbound += oversized;
      for (const frame of frames) socket.write(frame);
    }
  }

  private async snapshot(): Promise<void> {
    if (this.snapshotting || this.log === null) return;
    this.snapshotting = true;
    this.recordsSinceSnapshot = 0;
    this.snapshotThreshold = this.nextSnapshotThreshold();
    try {
      // Rotate and serialize in the same turn: the snapshot then covers exactly the closed segments.
      const segment = this.log.rotate();
      const body = encodeSnapshot(this.replica.snapshot());
      await this.log.writeSnapshot(body, segment);
      this.counters.snapshots++;
    } catch (error) {
      this.options.log(
        `storage-node ${this.options.nodeId}: snapshot failed (will retry): ${(error as Error).message}`,
      );
    } finally {
      this.snapshotting = false;
    }
  }

  private nextSnapshotThreshold(): number {
    return Math.round(this.options.snapshotEveryRecords * (0.75 + Math.random() * 0.5));
  }

  /** A failed fsync leaves the durable state unknown: stop rather than answer from it. */
  private failStop(error: unknown): void {
    this.options.log(
      `storage-node ${this.options.nodeId}: cannot make the log durable (${(error as Error).message}); stopping`,
    );
    process.exit(1);
  }
}
