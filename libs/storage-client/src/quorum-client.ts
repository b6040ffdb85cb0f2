// The writers' client for the six-replica store: drives the pure `WriterCoordinator` over links to
// the storage nodes. Messages for one storage node are batched per event-loop turn (one socket
// write each), the coordinator ticks on a timer (resends, timeouts, recovery), and every call has
// a deadline. Links and time are bound at construction: TCP and the system's timers in production,
// the simulator's network and virtual clock in the deterministic simulator, which runs this class
// as it ships.
import {
  type AppliedMessage,
  type Envelope,
  type FromReplicaMessage,
  isQuorumMessage,
  QUORUM,
  type ReadEntry,
  type ReadValue,
  type TxId,
  type WriteEntry,
  WriterCoordinator,
  type WriterEvent,
  type WriterTiming,
} from '../../quorum/src/index.js';
import { encodeMessage } from '../../wire/src/frames.js';
import { type ChallengeMessage, type WriterCredential, writerHello } from '../../wire/src/link-auth.js';
import type { LinkTlsClient } from '../../wire/src/link-tls.js';
import { OutboundLink } from '../../wire/src/outbound-link.js';
import { NoticeStreams } from './notice-streams.js';

export interface StorageNodeAddress {
  id: string;
  host: string;
  port: number;
}

/** A link to one storage node. A broadcast passes the same message object to every link. */
export interface StorageLink {
  readonly connected: boolean;
  send(message: object): void;
  /** Answers the open connection's challenge again (a renewed credential). */
  resendHello?(): void;
  close(): void;
}

/** A hello, or (fleet authentication) the answer to a storage node's challenge. */
export type StorageHello = object | ((challenge: ChallengeMessage) => object);

export interface StorageLinkEvents {
  /** Every message the storage node sends back on this link. */
  onMessage(message: unknown): void;
  /** The link connected or dropped. */
  onStateChange(): void;
}

/** Opens the link to one storage node; it sends `hello` first on every connection. */
export type StorageLinkFactory = (
  node: StorageNodeAddress,
  hello: StorageHello,
  events: StorageLinkEvents,
) => StorageLink;

/** Time as the client sees it. */
export interface ClientClock {
  nowMs(): number;
  /** Runs `run` every `ms` until cancelled. */
  every(ms: number, run: () => void): () => void;
  /** Runs `run` once after `ms`, unless cancelled. */
  after(ms: number, run: () => void): () => void;
  /** Runs `run` after the work of this turn (replies of many nodes handled together). */
  defer(run: () => void): void;
}

export const SYSTEM_CLIENT_CLOCK: ClientClock = {
  nowMs: () => Date.now(),
  every: (ms, run) => {
    const timer = setInterval(run, ms);
    return () => clearInterval(timer);
  },
  after: (ms, run) => {
    const timer = setTimeout(run, ms);
    return () => clearTimeout(timer);
  },
  defer: (run) => setImmediate(run),
};

/** Broadcasts share one message object: encoded once for all six links. */
const encodedMessages = new WeakMap<object, Buffer>();

/**
 * A DECIDED is held until the next message to the same node, which it then precedes in the same
 * socket write, or until the client's next tick (every 5 ms by default), whichever comes first
 * (docs/adr/0018). Nothing waits on it: the commit is chosen when it is sent, and the writer
 * already answered its caller. Sent alone, it costs each storage node a turn and an fsync of its
 * own, for the one `decide` record; riding, it shares them with the next PROPOSE.
 *
 * While another writer of a volume commits (its `applied` notices arrive), a DECIDED goes at once:
 * the keys it releases may be the ones that writer is about to propose, and a replica votes NO
 * while a key is pending. Held again once no notice came for this long.
 */
export const FOREIGN_COMMITS_QUIET_MS = 1_000;

export interface TcpStorageLinkOptions {
  /** TLS to every storage node, verified against this CA (docs/adr/0014); plain TCP without. */
  tls?: LinkTlsClient;
  /** Where a link says its TLS handshake failed (rate-limited per link). */
  log?: (line: string) => void;
}

/** Production's links: TCP (or TLS over it), reconnecting by themselves (libs/wire's OutboundLink). */
export function tcpStorageLinks(options: TcpStorageLinkOptions = {}): StorageLinkFactory {
  return (node, hello, events) => openTcpLink(node, hello, events, options);
}

/** Plain TCP links, as a storage fleet without internal TLS serves them. */
export const TCP_STORAGE_LINKS: StorageLinkFactory = tcpStorageLinks();

function openTcpLink(
  node: StorageNodeAddress,
  hello: StorageHello,
  events: StorageLinkEvents,
  options: TcpStorageLinkOptions,
): StorageLink {
  const link = new OutboundLink({
    host: node.host,
    port: node.port,
    hello,
    onMessage: (message) => events.onMessage(message),
    onStateChange: () => events.onStateChange(),
    ...(options.tls !== undefined ? { tls: options.tls } : {}),
    ...(options.log !== undefined ? { log: options.log } : {}),
  });
  return {
    get connected() {
      return link.connected;
    },
    send(message) {
      let bytes = encodedMessages.get(message);
      if (bytes === undefined) {
        bytes = encodeMessage(message);
        encodedMessages.set(message, bytes);
      }
      link.sendEncoded(bytes);
    },
    resendHello: () => link.resendHello(),
    close: () => link.close(),
  };
}

export interface QuorumClientOptions {
  /** Unique per writer process incarnation; prefixes its transaction ids. */
  writerId: string;
  /** Unique recovery ballot id among writers, ≥ 7. */
  coordinatorId: number;
  /** The protection group, in replica-index order (two per AZ). */
  nodes: StorageNodeAddress[];
  timing?: Partial<WriterTiming>;
  /** How often the writer's timers are checked while it has work (default 5 ms). */
  tickIntervalMs?: number;
  /**
   * Tick while idle too. By default the ticks stop once nothing waits on time (no call in flight,
   * no decision bookkeeping) and start again with the next call or message: an idle data node
   * then does not wake 200 times a second. The simulator keeps ticking, so that its runs stay
   * the same event for event as the sweeps its protocol was checked by.
   */
  tickWhileIdle?: boolean;
  /** Calls in flight at most; more are refused at once with `ClientOverloadedError`. */
  inFlightMax?: number;
  /** Volumes whose commits by other writers the storage nodes report (`onApplied`). */
  notifyVolumes?: string[];
  /** Another writer's commit, once per storage node that learns it (so up to six times). */
  onApplied?: (message: AppliedMessage) => void;
  /**
   * Every DECIDED as the writer makes it, before the client holds it for its node's next write
   * (ADR 0018): the simulator's checker learns a decision when the writer does, as the writer's
   * own reads use it from then on, not only when the message leaves.
   */
  onDecided?: (decisions: readonly Envelope[]) => void;
  /** TCP (`tcpStorageLinks`, with `tls` and `log` below) unless the simulator passes its own. */
  links?: StorageLinkFactory;
  /**
   * TLS to the storage nodes, verified against this CA (docs/adr/0014): for nodes that serve their
   * port over TLS, which refuse plain links. Only for the default TCP links.
   */
  tls?: LinkTlsClient;
  /** Where the default links report a failed TLS handshake (rate-limited per link). */
  log?: (line: string) => void;
  /** The system's time unless the simulator passes its own. */
  clock?: ClientClock;
  /** For the backoff of `transact`: Math.random unless the simulator passes its own. */
  random?: () => number;
  /** Thresholds of the quorum table: only for tests that prove the checkers catch a bad one. */
  quorum?: typeof QUORUM;
  /**
   * The credential the control plane minted for this writer's volume (link-auth.ts): every link
   * answers its storage node's challenge with it. Without one, links say hello unauthenticated,
   * which only storage nodes without fleet secrets accept.
   */
  credential?: WriterCredential;
}

export interface ScanPage {
  keys: string[];
  /** The cursor of the next page; 0 when the scan is complete. */
  nextHash: number;
}

export type CommitResult =
  | { outcome: 'committed'; txid: TxId }
  | { outcome: 'aborted'; txid: TxId; reason: string };

/** Not enough storage nodes are reachable to even try: nothing was sent. */
export class QuorumUnavailableError extends Error {
  override readonly name = 'QuorumUnavailableError';
}

/** The commit may or may not have happened; only a later read can tell. */
export class OutcomeUnknownError extends Error {
  override readonly name = 'OutcomeUnknownError';
  constructor(
    readonly txid: TxId,
    reason: string,
  ) {
    super(`outcome of transaction ${txid} unknown: ${reason}`);
  }
}

export class ReadFailedError extends Error {
  override readonly name = 'ReadFailedError';
}

/** Too many calls in flight: refused before anything was sent, so nothing happened. */
export class ClientOverloadedError extends Error {
  override readonly name = 'ClientOverloadedError';
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

export class QuorumClient {
  readonly writerId: string;
  private readonly coordinator: WriterCoordinator;
  private readonly links = new Map<string, StorageLink>();
  /** `waitForNodes` calls, each checked when a link connects or drops. */
  private readonly connectionWaiters = new Set<() => void>();
  private readonly commitWaiters = new Map<TxId, Waiter<CommitResult>>();
  private readonly readWaiters = new Map<number, Waiter<ReadValue[]>>();
  private readonly scanWaiters = new Map<number, Waiter<ScanPage>>();
  private readonly onApplied: ((message: AppliedMessage) => void) | undefined;
  /** Whether each storage node's notices have reached us whole, and since when (ADR 0020). */
  private readonly noticeStreams: NoticeStreams;
  private readonly onDecided: ((decisions: readonly Envelope[]) => void) | undefined;
  /** Cancels the running ticks; null while idle (see `tickWhileIdle`). */
  private stopTicking: (() => void) | null = null;
  private readonly tickIntervalMs: number;
  private readonly tickWhileIdle: boolean;
  private readonly clock: ClientClock;
  private readonly random: () => number;
  private readonly inFlightMax: number;
  private credential: WriterCredential | undefined;
  private flushScheduled = false;
  private closed = false;
  /** DECIDED messages waiting to ride with the next message to their node (FOREIGN_COMMITS_QUIET_MS). */
  private readonly heldDecisions = new Map<string, object[]>();
  /** When another writer's commit was last reported here (`applied`), on this client's clock. */
  private foreignCommitAtMs = Number.NEGATIVE_INFINITY;
  private readonly tallies = {
    commits: 0,
    /** Commits chosen by six YES votes, without an ACCEPT round (ADR 0015). */
    fastCommits: 0,
    aborts: 0,
    unknownOutcomes: 0,
    reads: 0,
    readFailures: 0,
    malformed: 0,
    /** DECIDED messages that rode with a later message to their node, not in a write of their own. */
    decisionsRidden: 0,
  };

  /** What this client has done since it started (the data node's health and metrics). */
  get counters(): typeof this.tallies & {
    readRounds: number;
    hedgedReadRounds: number;
    noticeStreamRestarts: number;
  } {
    const reads = this.coordinator.readRoundCounters;
    return {
      ...this.tallies,
      readRounds: reads.rounds,
      hedgedReadRounds: reads.hedged,
      noticeStreamRestarts: this.noticeStreams.restarts,
    };
  }

  constructor(options: QuorumClientOptions) {
    this.writerId = options.writerId;
    this.inFlightMax = options.inFlightMax ?? 4_096;
    this.onApplied = options.onApplied;
    this.onDecided = options.onDecided;
    this.clock = options.clock ?? SYSTEM_CLIENT_CLOCK;
    this.random = options.random ?? Math.random;
    this.credential = options.credential;
    const { writerId, notifyVolumes } = options;
    const hello: StorageHello =
      this.credential === undefined
        ? {
            type: 'hello',
            role: 'writer',
            id: writerId,
            ...(notifyVolumes !== undefined ? { notifyVolumes } : {}),
          }
        : (challenge: ChallengeMessage) =>
            writerHello(this.credential as WriterCredential, writerId, challenge, notifyVolumes);
    this.coordinator = new WriterCoordinator({
      writerId: options.writerId,
      coordinatorId: options.coordinatorId,
      members: options.nodes.map((node) => node.id),
      ...(options.timing !== undefined ? { timing: options.timing } : {}),
      ...(options.quorum !== undefined ? { quorum: options.quorum } : {}),
    });
    if (options.links !== undefined && (options.tls !== undefined || options.log !== undefined)) {
      throw new Error(
        'QuorumClient: tls and log apply to the default TCP links; give them to your links instead',
      );
    }
    const openLink =
      options.links ??
      (options.tls === undefined && options.log === undefined
        ? TCP_STORAGE_LINKS
        : tcpStorageLinks({
            ...(options.tls !== undefined ? { tls: options.tls } : {}),
            ...(options.log !== undefined ? { log: options.log } : {}),
          }));
    this.noticeStreams = new NoticeStreams(
      options.nodes.map((node) => node.id),
      (options.quorum ?? QUORUM).reads,
    );
    for (const node of options.nodes) {
      const link = openLink(node, hello, {
        onMessage: (message) => this.onMessage(node.id, message),
        onStateChange: () => {
          if (this.links.get(node.id)?.connected === true)
            this.noticeStreams.connected(node.id, this.clock.nowMs());
          else this.noticeStreams.disconnected(node.id);
          for (const check of [...this.connectionWaiters]) check();
        },
      });
      this.links.set(node.id, link);
      // Links that are up from the start (the simulator's) never report a change.
      if (link.connected) this.noticeStreams.connected(node.id, this.clock.nowMs());
    }
    this.tickIntervalMs = options.tickIntervalMs ?? 5;
    this.tickWhileIdle = options.tickWhileIdle ?? false;
    if (this.tickWhileIdle) this.startTicking();
  }

  /** Nothing for a tick to do: the writer is idle and no DECIDED is held for a later message. */
  private get idle(): boolean {
    return this.coordinator.idle && this.heldDecisions.size === 0;
  }

  private startTicking(): void {
    this.stopTicking = this.clock.every(this.tickIntervalMs, () => {
      this.coordinator.tick(this.clock.nowMs());
      this.drain();
      this.sendHeldDecisions();
      if (!this.tickWhileIdle && this.idle && this.stopTicking !== null) {
        this.stopTicking();
        this.stopTicking = null;
      }
    });
  }

  /**
   * A fresh credential (before the old one expires, or after a rotation of the fleet secret):
   * every open link proves it over its connection's challenge, so no connection drops, and later
   * connections use it.
   */
  renewCredential(credential: WriterCredential): void {
    if (this.credential === undefined) throw new Error('this client was opened without a credential');
    this.credential = credential;
    for (const link of this.links.values()) link.resendHello?.();
  }

  /** When the current credential expires (ms since the epoch), or null without one. */
  get credentialExpiresAtMs(): number | null {
    return this.credential?.claims.expiresAtMs ?? null;
  }

  /**
   * Since when the `applied` notices of a read quorum of storage nodes for `volume` have reached
   * this client whole (ADR 0020): a cached version stored after it would have heard of every later
   * commit a YES voter applied. +Infinity when fewer streams are whole.
   */
  noticesCoveredSinceMs(volume: string): number {
    return this.noticeStreams.coveredSinceMs(volume, this.clock.nowMs());
  }

  /** Storage nodes whose notice streams for `volume` are whole right now (health). */
  wholeNoticeStreams(volume: string): number {
    return this.noticeStreams.wholeStreams(volume, this.clock.nowMs());
  }

  /** Storage nodes with an open connection right now. */
  get connectedNodes(): number {
    let count = 0;
    for (const link of this.links.values()) if (link.connected) count++;
    return count;
  }

  /**
   * Resolves once at least `count` storage nodes are connected, or rejects after `timeoutMs`.
   * Woken by the links' connections themselves: an attach waits for the last connection it
   * needs, not for a polling interval.
   */
  waitForNodes(count: number, timeoutMs: number): Promise<void> {
    if (this.connectedNodes >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.connectedNodes < count) return;
        cancel();
        this.connectionWaiters.delete(check);
        resolve();
      };
      const cancel = this.clock.after(timeoutMs, () => {
        this.connectionWaiters.delete(check);
        reject(
          new QuorumUnavailableError(
            `only ${this.connectedNodes} of 6 storage nodes connected after ${timeoutMs} ms`,
          ),
        );
      });
      this.connectionWaiters.add(check);
    });
  }

  /** Point read from 3 replicas; with `prefixBytes`, only that many leading bytes of each value. */
  read(volume: string, keys: string[], prefixBytes?: number): Promise<ReadValue[]> {
    const refusal = this.refusal(QUORUM.reads, 'reads');
    if (refusal !== null) return Promise.reject(refusal);
    return new Promise((resolve, reject) => {
      const requestId = this.coordinator.read(volume, keys, this.clock.nowMs(), prefixBytes);
      this.readWaiters.set(requestId, { resolve, reject });
      this.drain();
    });
  }

  /** One page of key names in hash order from `fromHash`, merged from 3 replicas. */
  scan(volume: string, fromHash: number, limit: number): Promise<ScanPage> {
    const refusal = this.refusal(QUORUM.reads, 'scans');
    if (refusal !== null) return Promise.reject(refusal);
    return new Promise((resolve, reject) => {
      const requestId = this.coordinator.scan(volume, fromHash, limit, this.clock.nowMs());
      this.scanWaiters.set(requestId, { resolve, reject });
      this.drain();
    });
  }

  /** Calls waiting for the storage nodes. */
  get inFlight(): number {
    return this.commitWaiters.size + this.readWaiters.size + this.scanWaiters.size;
  }

  /** Commits `writes` if every key in `reads` still has the version read. */
  commit(volume: string, reads: ReadEntry[], writes: WriteEntry[]): Promise<CommitResult> {
    const refusal = this.refusal(QUORUM.commitVotes, 'writes');
    if (refusal !== null) return Promise.reject(refusal);
    return new Promise((resolve, reject) => {
      const txid = this.coordinator.begin(volume, reads, writes, this.clock.nowMs());
      this.commitWaiters.set(txid, { resolve, reject });
      this.drain();
    });
  }

  /**
   * Read-modify-write with bounded, jittered retries on conflict: reads `keys`, asks `update`
   * for the writes (none: the read alone is validated), commits.
   */
  async transact<T>(
    volume: string,
    keys: string[],
    update: (values: ReadValue[]) => { writes: WriteEntry[]; result: T },
    attemptsMax = 20,
  ): Promise<T> {
    let lastReason = '';
    for (let attempt = 0; attempt < attemptsMax; attempt++) {
      const values = await this.read(volume, keys);
      const { writes, result } = update(values);
      const reads = values.map((value) => ({ key: value.key, seq: value.version.seq }));
      const outcome = await this.commit(volume, reads, writes);
      if (outcome.outcome === 'committed') return result;
      lastReason = outcome.reason;
      const backoffMs = Math.min(50, 2 ** attempt) * (0.5 + this.random());
      await new Promise<void>((resolve) => this.clock.after(backoffMs, resolve));
    }
    throw new Error(`transaction kept conflicting after ${attemptsMax} attempts (last: ${lastReason})`);
  }

  /**
   * Closes the links and ends every call in flight. A commit in flight may already have reached
   * the replicas and been chosen, so it ends with `OutcomeUnknownError`, never a plain failure
   * that a caller could take for "not applied". Reads and scans end with `ReadFailedError`: a
   * read changes nothing, so "it failed, nothing happened" is the whole truth about it.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.stopTicking?.();
    this.stopTicking = null;
    if (this.heldDecisions.size > 0) {
      // Decisions still held go out first: replicas would otherwise keep the keys pending until
      // a recovery or repair told them.
      this.sendHeldDecisions();
      await new Promise<void>((resolve) => this.clock.defer(resolve));
    }
    for (const link of this.links.values()) link.close();
    for (const [txid, waiter] of this.commitWaiters) {
      this.tallies.unknownOutcomes++;
      waiter.reject(
        new OutcomeUnknownError(txid, 'the quorum client was closed before the decision arrived'),
      );
    }
    const readsClosed = new ReadFailedError('the quorum client was closed before the storage nodes answered');
    for (const waiter of this.readWaiters.values()) waiter.reject(readsClosed);
    for (const waiter of this.scanWaiters.values()) waiter.reject(readsClosed);
    this.commitWaiters.clear();
    this.readWaiters.clear();
    this.scanWaiters.clear();
  }

  /** Why a call cannot even be tried right now (nothing is sent then), or null. */
  private refusal(replicasNeeded: number, what: string): Error | null {
    if (this.closed) return new QuorumUnavailableError('the quorum client is closed; nothing was sent');
    if (this.inFlight >= this.inFlightMax) {
      return new ClientOverloadedError(
        `this writer already has ${this.inFlightMax} calls in flight to the storage nodes, its limit; ` +
          'nothing was sent: retry shortly',
      );
    }
    const connected = this.connectedNodes;
    if (connected < replicasNeeded) {
      return new QuorumUnavailableError(
        `only ${connected} of 6 storage nodes are reachable; ${what} need ${replicasNeeded}. ` +
          'Start the missing storage nodes or check the network between writer and storage.',
      );
    }
    return null;
  }

  private onMessage(from: string, message: unknown): void {
    if (!isQuorumMessage(message)) {
      this.tallies.malformed++;
      return;
    }
    if (message.type === 'applied') {
      this.foreignCommitAtMs = this.clock.nowMs();
      this.noticeStreams.notice(from, message.volume, message.stream, message.n, this.foreignCommitAtMs);
      this.onApplied?.(message);
      return;
    }
    if (message.type === 'noticeMark') {
      this.noticeStreams.mark(from, message.volume, message.stream, message.n, this.clock.nowMs());
      return;
    }
    this.coordinator.step(from, message as FromReplicaMessage, this.clock.nowMs());
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Replies from many nodes in one turn are handled first, then sent on together.
    this.clock.defer(() => {
      this.flushScheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    const { messages, events } = this.coordinator.takeReady();
    if (messages.length > 0) {
      if (this.onDecided !== undefined) {
        const decisions = messages.filter(({ message }) => message.type === 'decided');
        if (decisions.length > 0) this.onDecided(decisions);
      }
      const hold = this.clock.nowMs() - this.foreignCommitAtMs >= FOREIGN_COMMITS_QUIET_MS;
      for (const { to, message } of messages) {
        if (hold && message.type === 'decided') {
          const held = this.heldDecisions.get(to);
          if (held === undefined) this.heldDecisions.set(to, [message]);
          else held.push(message);
          continue;
        }
        const link = this.links.get(to);
        if (link === undefined) continue;
        // Held decisions first, in the order they were made: in this turn's write, ahead of a
        // PROPOSE that may name the keys they release.
        const held = this.heldDecisions.get(to);
        if (held !== undefined) {
          this.heldDecisions.delete(to);
          for (const decided of held) link.send(decided);
          this.tallies.decisionsRidden += held.length;
        }
        link.send(message);
      }
    }
    for (const event of events) this.settle(event);
    // Every call and every message that gives the writer work passes here: the ticks start again.
    if (this.stopTicking === null && !this.closed && !this.idle) this.startTicking();
  }

  /** Sends every held DECIDED on its own: nothing else went to its node within a tick. */
  private sendHeldDecisions(): void {
    for (const [to, held] of this.heldDecisions) {
      const link = this.links.get(to);
      if (link !== undefined) for (const decided of held) link.send(decided);
    }
    this.heldDecisions.clear();
  }

  private settle(event: WriterEvent): void {
    switch (event.type) {
      case 'committed':
      case 'aborted': {
        const waiter = this.commitWaiters.get(event.txid);
        this.commitWaiters.delete(event.txid);
        if (event.type === 'committed') {
          this.tallies.commits++;
          if (event.fastPath) this.tallies.fastCommits++;
          waiter?.resolve({ outcome: 'committed', txid: event.txid });
        } else {
          this.tallies.aborts++;
          waiter?.resolve({ outcome: 'aborted', txid: event.txid, reason: event.reason });
        }
        return;
      }
      case 'unknown': {
        this.tallies.unknownOutcomes++;
        const waiter = this.commitWaiters.get(event.txid);
        this.commitWaiters.delete(event.txid);
        waiter?.reject(new OutcomeUnknownError(event.txid, event.reason));
        return;
      }
      case 'read': {
        this.tallies.reads++;
        const waiter = this.readWaiters.get(event.requestId);
        this.readWaiters.delete(event.requestId);
        waiter?.resolve(event.values);
        return;
      }
      case 'readFailed': {
        this.tallies.readFailures++;
        const waiter = this.readWaiters.get(event.requestId) ?? this.scanWaiters.get(event.requestId);
        this.readWaiters.delete(event.requestId);
        this.scanWaiters.delete(event.requestId);
        waiter?.reject(new ReadFailedError(event.reason));
        return;
      }
      case 'scanned': {
        const waiter = this.scanWaiters.get(event.requestId);
        this.scanWaiters.delete(event.requestId);
        waiter?.resolve({ keys: event.keys, nextHash: event.nextHash });
        return;
      }
    }
  }
}
