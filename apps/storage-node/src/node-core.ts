// The storage node's event loop without its I/O: messages arrive, are stepped through the
// replica in batches, and what a batch produces is appended to the log; its messages leave only
// once every record appended so far is durable, so a reply never reveals state that a crash could
// take back. Ticks, snapshots, `applied` notices to subscribed writers and the end of a repair
// live here too. The ports are plain callbacks: production binds them to the durable log, TCP
// and timers (storage-node.ts); the shell simulator binds them to simulated ones and runs this
// same class (./simulated-shell.ts).
import {
  type AppliedMessage,
  type Envelope,
  isQuorumMessage,
  NOTICE_MARK_INTERVAL_MS,
  type QuorumMessage,
  REPAIR_PEERS_NEEDED,
  type ReplicaRecord,
  type ReplicaTiming,
  StorageReplica,
} from '../../../libs/quorum/src/index.js';
import { encodeRecords, encodeSnapshotChunks, SNAPSHOT_CHUNK_ENTRIES } from './record-codec.js';

/** The durable log as the core uses it; every `done` is called once, appends' in append order. */
export interface NodeLog {
  append(payloads: Uint8Array[], done: (error: Error | null) => void): void;
  /** Ends the current segment; returns its number (what a snapshot taken now covers). */
  rotate(): number;
  /**
   * Writes a snapshot from its chunks, taken one at a time as earlier ones are written (each in a
   * turn of its own, so that the node goes on serving while it encodes).
   */
  writeSnapshot(
    chunks: Iterable<Uint8Array>,
    coversThroughSegment: number,
    done: (error: Error | null) => void,
  ): void;
  clearRepairMarker(done: (error: Error | null) => void): void;
}

export interface NodeEnvironment {
  nowMs(): number;
  /** In [0, 1): jitters the snapshot threshold. */
  random(): number;
  /** Runs `run` after the current turn (production: setImmediate), once per scheduled batch. */
  defer(run: () => void): void;
  /** Sends one batch of messages to a peer storage node or a writer, by id. */
  send(to: string, messages: QuorumMessage[]): void;
  /** The durable state is unknown (a failed fsync): the node must stop, not answer from it. */
  failStop(reason: string): void;
  logLine(line: string): void;
  /** Records that became durable, before the messages they cover leave (the simulator's checker). */
  onDurable?(records: readonly ReplicaRecord[]): void;
}

export interface NodeCoreOptions {
  nodeId: string;
  /** Node ids of the protection group, in replica-index order. */
  members: readonly string[];
  timing?: Partial<ReplicaTiming>;
  /** Log records appended between snapshots at least (jittered by ±25%); more once the state is larger. */
  snapshotEveryRecords: number;
  /** Entries encoded per snapshot chunk (default SNAPSHOT_CHUNK_ENTRIES). */
  snapshotChunkEntries?: number;
}

/** Messages waiting for the queue to be stepped; beyond this they are dropped (senders resend). */
export const INBOUND_QUEUE_MAX = 200_000;
/** Volumes one writer may subscribe to (`applied` notices). */
export const NOTIFY_VOLUMES_MAX = 1_024;

/** One writer's subscription to a volume's commits: its numbered stream of notices (ADR 0020). */
interface Subscription {
  stream: number;
  /** Notices sent in this stream so far (the last one's `n`). */
  sent: number;
}

interface Waiting {
  /** Runs once appends up to this sequence number are durable. */
  seq: number;
  run: () => void;
}

export class StorageNodeCore {
  readonly replica: StorageReplica;
  private inbound: { from: string; message: QuorumMessage }[] = [];
  private batchScheduled = false;
  /** volume → writers that asked to hear of its commits (for their caches), with their streams. */
  private readonly subscribers = new Map<string, Map<string, Subscription>>();
  /** Stream number of the next subscription: from a random start, so that a restart starts anew. */
  private nextStream: number;
  /** `applied` notices and marks produced since the last flush, sent with its replies. */
  private notices: Envelope[] = [];
  private lastMarkAtMs: number;
  /** Appends handed to the log, and how many of them are durable (appends complete in order). */
  private appendedSeq = 0;
  private durableSeq = 0;
  private readonly waiting: Waiting[] = [];
  /** Records of appends not yet durable, for `onDurable`. */
  private readonly undurable: { seq: number; records: ReplicaRecord[] }[] = [];
  private recordsSinceSnapshot = 0;
  private snapshotThreshold: number;
  private snapshotting = false;
  private stopped = false;
  readonly counters = {
    messagesIn: 0,
    messagesOut: 0,
    malformedMessages: 0,
    droppedInbound: 0,
    batches: 0,
    snapshots: 0,
  };

  constructor(
    private readonly options: NodeCoreOptions,
    private readonly log: NodeLog,
    private readonly env: NodeEnvironment,
  ) {
    const selfIndex = options.members.indexOf(options.nodeId);
    if (selfIndex < 0) throw new Error(`node ${options.nodeId} is not among the members`);
    this.replica = new StorageReplica({
      members: options.members,
      selfIndex,
      ...(options.timing !== undefined ? { timing: options.timing } : {}),
    });
    this.snapshotThreshold = this.nextSnapshotThreshold();
    this.nextStream = Math.floor(env.random() * 2 ** 31);
    this.lastMarkAtMs = env.nowMs();
  }

  /**
   * After replay: a log that lost records it may have acknowledged makes the replica repair from
   * its peers before it takes part in quorums (ADR 0009).
   */
  startRepair(reason: string): void {
    this.replica.beginRepair(reason, this.env.nowMs());
    const until = new Date((this.replica.repairStatus() as { quietUntilMs: number }).quietUntilMs);
    this.env.logLine(
      `Repairing from its peers: this node answers no vote, accept or read until it has read the whole ` +
        `state of ${REPAIR_PEERS_NEEDED} healthy peers, after a quiet period until ${until.toISOString()}`,
    );
  }

  stop(): void {
    this.stopped = true;
  }

  // ---- connections -----------------------------------------------------------------------------

  /**
   * A writer said hello on a new connection, listing the volumes whose commits by others it wants
   * to hear of: each starts a new notice stream (a renewed credential on the same connection does
   * not come here).
   */
  writerConnected(writerId: string, notifyVolumes: readonly unknown[]): void {
    for (const volume of notifyVolumes.slice(0, NOTIFY_VOLUMES_MAX)) {
      if (typeof volume !== 'string' || this.replica.isDropped(volume)) continue;
      let writers = this.subscribers.get(volume);
      if (writers === undefined) {
        writers = new Map();
        this.subscribers.set(volume, writers);
      }
      writers.set(writerId, { stream: this.nextStream, sent: 0 });
      this.nextStream = (this.nextStream + 1) % 2 ** 31;
    }
  }

  writerDisconnected(writerId: string): void {
    for (const writers of this.subscribers.values()) writers.delete(writerId);
  }

  // ---- inbound ---------------------------------------------------------------------------------

  /** A decoded message from a peer or a writer; anything malformed is dropped and counted. */
  receive(from: string, message: unknown): void {
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
    if (this.batchScheduled) return;
    this.batchScheduled = true;
    this.env.defer(() => this.processBatch());
  }

  private processBatch(): void {
    this.batchScheduled = false;
    if (this.stopped) return;
    const batch = this.inbound;
    this.inbound = [];
    const nowMs = this.env.nowMs();
    for (const { from, message } of batch) this.replica.step(from, message, nowMs);
    this.counters.batches++;
    this.flushReady();
  }

  /**
   * Tells the volume's other subscribed writers which keys a commit changed, for every commit the
   * replica applies, however it learned the decision (a DECIDED, a recovery, a peer's answer, a
   * repair): a writer relies on hearing of each commit from a YES voter (ADR 0020).
   */
  private noticeCommits(records: readonly ReplicaRecord[]): void {
    for (const record of records) {
      if (record.kind !== 'decide' || record.decision !== 'commit') continue;
      const writers = this.subscribers.get(record.volume);
      if (writers === undefined || writers.size === 0) continue;
      const origin = record.txid.slice(0, record.txid.lastIndexOf('.'));
      // The volume's only writer (the common case) hears nothing of its own commits.
      if (writers.size === 1 && writers.has(origin)) continue;
      // A YES voter's decide record has no proposal: it logged it with its vote.
      const proposal =
        record.proposal ?? this.replica.inspectTransaction(record.volume, record.txid)?.proposal ?? null;
      if (proposal === null || proposal.writes.length === 0) continue;
      const readSeq = new Map(proposal.reads.map((read) => [read.key, read.seq]));
      const changes = proposal.writes.map((write) => ({
        key: write.key,
        seq: (readSeq.get(write.key) ?? 0) + 1,
      }));
      for (const [writer, subscription] of writers) {
        if (writer === origin) continue;
        const notice: AppliedMessage = {
          type: 'applied',
          volume: record.volume,
          txid: record.txid,
          changes,
          stream: subscription.stream,
          n: ++subscription.sent,
        };
        this.notices.push({ to: writer, message: notice });
      }
    }
  }

  /** Peers written off and taken back (ADR 0022): rare, and what an operator must see. */
  private logWriteOffs(records: readonly ReplicaRecord[]): void {
    for (const record of records) {
      if (record.kind === 'writeOff') {
        this.env.logLine(
          `wrote off peer ${record.peer}: decisions awaiting its confirmation passed ` +
            `${this.replica.timing.unconfirmedBytesMax} bytes while it was silent, so they are forgotten ` +
            'without it; it votes NO until it has settled what it holds and rejoined (ADR 0022)',
        );
      } else if (record.kind === 'readmit') {
        this.env.logLine(`took back peer ${record.peer}: it settled what it held after being written off`);
      }
    }
  }

  /** Each subscribed writer hears its streams' last numbers (NOTICE_MARK_INTERVAL_MS). */
  private markStreams(): void {
    for (const [volume, writers] of this.subscribers) {
      for (const [writer, { stream, sent }] of writers) {
        this.notices.push({ to: writer, message: { type: 'noticeMark', volume, stream, n: sent } });
      }
    }
  }

  /** When the replica's timers or the next notice mark next have work, on the env's clock. */
  nextTickAtMs(): number {
    return Math.min(this.replica.nextTickAtMs(), this.lastMarkAtMs + NOTICE_MARK_INTERVAL_MS);
  }

  tick(): void {
    if (this.stopped) return;
    const nowMs = this.env.nowMs();
    this.replica.tick(nowMs);
    if (nowMs - this.lastMarkAtMs >= NOTICE_MARK_INTERVAL_MS) {
      this.lastMarkAtMs = nowMs;
      this.markStreams();
    }
    this.flushReady();
    if (this.replica.takeRepairCompletion()) this.confirmRepair();
  }

  // ---- a volume deleted --------------------------------------------------------------------------

  /**
   * Deletes a volume (docs/adr/0007-deleting-volumes.md); `done` runs once the drop is durable:
   * every record appended so far, this one included. A second call logs nothing but still waits.
   */
  dropVolume(volume: string, done: (dropped: { existed: boolean; keys: number }) => void): void {
    const dropped = this.replica.dropVolume(volume, this.env.nowMs());
    // Writers subscribed to its commits hear no more of them.
    this.subscribers.delete(volume);
    // The volume's data is still in the log segments: a snapshot now (or as soon as the running
    // one ends) leaves it out and deletes the segments, instead of after the next ~500,000 records.
    if (dropped.existed)
      this.recordsSinceSnapshot = Math.max(this.recordsSinceSnapshot, this.snapshotThreshold);
    this.flushReady();
    this.whenDurable(() => done(dropped));
  }

  // ---- persist, then send ----------------------------------------------------------------------

  private flushReady(): void {
    const ready = this.replica.takeReady();
    this.noticeCommits(ready.records);
    this.logWriteOffs(ready.records);
    if (this.notices.length > 0) {
      for (const notice of this.notices) ready.messages.push(notice);
      this.notices = [];
    }
    if (ready.records.length > 0) {
      // One log record per batch (a msgpack array): one checksum and one encode call for all.
      const seq = ++this.appendedSeq;
      this.recordsSinceSnapshot += ready.records.length;
      if (this.env.onDurable !== undefined) this.undurable.push({ seq, records: ready.records });
      this.log.append([encodeRecords(ready.records)], (error) => {
        if (error !== null) this.env.failStop(`cannot make the log durable (${error.message})`);
        else this.appendDurable(seq);
      });
    }
    if (this.recordsSinceSnapshot >= this.snapshotThreshold) this.snapshot();
    if (ready.messages.length === 0) return;
    // Messages wait for every record appended so far, not only this batch's: they may
    // reveal state an earlier, still unsynced batch produced.
    this.whenDurable(() => this.send(ready.messages));
  }

  /** Runs `run` once every append so far is durable: now, if none is pending. */
  private whenDurable(run: () => void): void {
    if (this.durableSeq >= this.appendedSeq) run();
    else this.waiting.push({ seq: this.appendedSeq, run });
  }

  private appendDurable(seq: number): void {
    if (seq <= this.durableSeq) return;
    this.durableSeq = seq;
    while (this.undurable.length > 0 && (this.undurable[0] as { seq: number }).seq <= seq) {
      this.env.onDurable?.((this.undurable.shift() as { records: ReplicaRecord[] }).records);
    }
    while (this.waiting.length > 0 && (this.waiting[0] as Waiting).seq <= seq) {
      (this.waiting.shift() as Waiting).run();
    }
  }

  private send(envelopes: Envelope[]): void {
    if (this.stopped) return;
    const byDestination = new Map<string, QuorumMessage[]>();
    for (const { to, message } of envelopes) {
      this.counters.messagesOut++;
      if (to === this.options.nodeId) {
        this.receive(to, message);
        continue;
      }
      let list = byDestination.get(to);
      if (list === undefined) {
        list = [];
        byDestination.set(to, list);
      }
      list.push(message);
    }
    for (const [to, messages] of byDestination) this.env.send(to, messages);
  }

  // ---- snapshots and repair --------------------------------------------------------------------

  private snapshot(): void {
    if (this.snapshotting) return;
    this.snapshotting = true;
    this.recordsSinceSnapshot = 0;
    this.snapshotThreshold = this.nextSnapshotThreshold();
    // Rotate and begin reading in the same turn: the snapshot then holds the state after exactly the
    // records of the closed segments. Its chunks are encoded as the log writes them, over many
    // turns (at a million keys, one turn took 10-14 s: docs/performance.md), while the replica goes
    // on changing; the reader keeps what a key or record held now for each one changed before it is read.
    const segment = this.log.rotate();
    const reader = this.replica.beginSnapshot();
    const chunks = encodeSnapshotChunks(reader, this.options.snapshotChunkEntries ?? SNAPSHOT_CHUNK_ENTRIES);
    this.log.writeSnapshot(chunks, segment, (error) => {
      // Whether or not the log got to the chunks' end (a refusal takes none of them).
      reader.close();
      this.snapshotting = false;
      if (error === null) this.counters.snapshots++;
      else this.env.logLine(`snapshot failed (will retry): ${error.message}`);
    });
  }

  /**
   * Records until the next snapshot: `snapshotEveryRecords`, or as many as the state holds keys and
   * transactions if that is more, jittered. A snapshot encodes and writes the whole state (2.6 s of
   * CPU at 850,000 keys on this project's machine, in chunks: `npm run bench -- snapshot`); after a fixed
   * count of records its cost per record logged would grow with the state. Once the log since the last one is as
   * long as the state, each record pays for about one entry of the next snapshot, and a restart
   * replays a snapshot and about as many records again at most (Redis rewrites its AOF on the same
   * rule: once it has grown by the size it had after the last rewrite).
   */
  private nextSnapshotThreshold(): number {
    const { keys, transactions } = this.replica.stats();
    const records = Math.max(this.options.snapshotEveryRecords, keys + transactions);
    return Math.round(records * (0.75 + this.env.random() * 0.5));
  }

  /** The state is whole again: once everything the repair wrote is durable, the log says so. */
  private confirmRepair(): void {
    const repair = this.replica.completedRepair();
    this.log.clearRepairMarker((error) => {
      if (error !== null) {
        this.env.failStop(`cannot record the end of the repair (${error.message})`);
        return;
      }
      const tookS = repair === null ? 0 : (repair.completedAtMs - repair.startedAtMs) / 1000;
      this.env.logLine(
        `repair complete after ${tookS.toFixed(1)} s: read the whole state of ${REPAIR_PEERS_NEEDED} ` +
          'healthy peers; taking part in quorums again',
      );
    });
  }

  /** Appends handed to the log and not yet durable. */
  get appendsInFlight(): number {
    return this.appendedSeq - this.durableSeq;
  }
}
