// The storage node's I/O bindings around its event loop (node-core.ts): TCP (or TLS over it) in
// and out, the durable log, timers. The core decides what to log and when a message may leave
// (once every record appended so far is durable); this file only moves bytes.
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import {
  DEFAULT_REPLICA_TIMING,
  type QuorumMessage,
  type ReplicaTiming,
  type StorageReplica,
} from '../../../libs/quorum/src/index.js';
import {
  encodeBatchFrames,
  encodeFrames,
  encodeMessage,
  FrameDecoder,
  flattenBatches,
} from '../../../libs/wire/src/frames.js';
import {
  type ChallengeMessage,
  type FleetSecret,
  newNonce,
  peerHello,
  verifyHello,
  type WriterClaims,
} from '../../../libs/wire/src/link-auth.js';
import { type LinkTlsClient, type LinkTlsServer, tlsErrorReason } from '../../../libs/wire/src/link-tls.js';
import { OutboundLink } from '../../../libs/wire/src/outbound-link.js';
import { isRevoked, type RevocationList } from '../../../libs/wire/src/revocations.js';
import { type NodeLog, StorageNodeCore } from './node-core.js';
import { decodeRecords, readSnapshot } from './record-codec.js';
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
  /** Log records appended between snapshots. */
  snapshotEveryRecords?: number;
  log?: (line: string) => void;
  /**
   * The fleet secrets this node accepts, the current first, read at every handshake (a rotation
   * changes them while the node runs). Without them every link is taken at its word: only for
   * tools and tests that say so.
   */
  fleetSecrets?: () => readonly FleetSecret[];
  /**
   * Writer credentials revoked before their expiry (libs/wire/src/revocations.ts), looked at on
   * every writer message and hello, and once a second for idle writer links: a revoked writer's
   * links are closed, and it cannot open new ones.
   */
  revocations?: () => RevocationList;
  /**
   * TLS on the storage links (docs/adr/0014): the node serves its port over TLS only (a plain
   * connection fails the TLS handshake and is refused), and dials its peers over TLS, verifying
   * them with `client`'s CA. `server` is read at every connection (a renewed certificate on disk
   * serves from the next one). Without it, plain TCP both ways.
   */
  tls?: { server: () => LinkTlsServer; client: LinkTlsClient };
}

export interface HelloMessage {
  type: 'hello';
  role: 'writer' | 'peer';
  id: string;
  /** Writers only: volumes whose commits by other writers this writer wants to hear of. */
  notifyVolumes?: string[];
}

const WRITER_BACKLOG_BYTES_MAX = 64 * 1024 * 1024;

/**
 * The waits between two ticks: at most the replica's shortest timer (the sync request's 100 ms by
 * default; resends 200 ms), whatever `nextTickAtMs` says, and at least a quarter of it, so that
 * no timer fires more than a quarter late.
 */
function tickWaitBoundsMs(timing: Partial<ReplicaTiming>): { shortest: number; longest: number } {
  const merged = { ...DEFAULT_REPLICA_TIMING, ...timing };
  const longest = Math.min(merged.syncIntervalMs, merged.retransmitMs);
  return { shortest: Math.max(1, Math.floor(longest / 4)), longest };
}

/**
 * How long a node sleeps before its next tick: until the replica's timers are next due, but at
 * least a quarter and at most the whole of the replica's shortest timer. Every wakeup costs an
 * idle process CPU (about 0.3 ms here: docs/performance.md), and when idle the replica's timers
 * are due about ten times a second, not every 10 ms as the node once ticked. The ceiling bounds
 * how late work that a message made due is picked up (a replica that sees it lags asks for a
 * sync sooner), so the timer never needs moving when a message arrives.
 */
export function tickDelayMs(
  nowMs: number,
  nextTickAtMs: number,
  timing: Partial<ReplicaTiming> = {},
): number {
  const { shortest, longest } = tickWaitBoundsMs(timing);
  return Math.min(longest, Math.max(shortest, Math.ceil(nextTickAtMs - nowMs)));
}

/**
 * A connection that has not sent a valid hello this long after it was accepted is closed (with TLS,
 * the TLS handshake is within the same bound: a stalled TLS client holds no slot longer).
 */
const HANDSHAKE_MS = 5_000;
/** The first byte of a TLS record carrying a handshake (a ClientHello): never a frame's. */
const TLS_HANDSHAKE_RECORD = 0x16;
/** Connections still in their handshake at once, at most: more are closed at once. */
const HANDSHAKES_PENDING_MAX = 256;
/** A hello fits in this many bytes; a first frame announcing more is not one. */
const HELLO_BYTES_MAX = 64 * 1024;
/** Refused handshakes logged per minute at most (the rest are counted). */
const REFUSALS_LOGGED_PER_MINUTE = 10;
/** Idle writer links are checked against the revocations this often (busy ones at every message). */
const REVOCATION_SWEEP_MS = 1_000;

/** Messages a writer may send: its commits, recoveries and reads. Replica traffic is for peers. */
const WRITER_MESSAGE_TYPES: ReadonlySet<string> = new Set([
  'propose',
  'accept',
  'prepare',
  'decided',
  'read',
  'scan',
]);

/** What an authenticated connection may do. */
interface LinkRights {
  id: string;
  role: 'writer' | 'peer';
  /** Writers under a credential: the one volume it names, until it expires. */
  claims: WriterClaims | null;
}

export class StorageNodeServer {
  private readonly core: StorageNodeCore;
  private readonly options: Required<
    Omit<StorageNodeOptions, 'timing' | 'fleetSecrets' | 'tls' | 'revocations'>
  > &
    Pick<StorageNodeOptions, 'timing' | 'fleetSecrets' | 'tls' | 'revocations'>;
  private log: DurableLog | null = null;
  private server: Server | null = null;
  private readonly peers = new Map<string, OutboundLink>();
  private readonly writers = new Map<string, Socket>();
  /** The volume of each writer connection under a credential. */
  private readonly writerVolumes = new WeakMap<Socket, string>();
  /** What each writer connection under a credential may do: for closing revoked ones. */
  private readonly writerRights = new Map<Socket, LinkRights>();
  private revocationTimer: NodeJS.Timeout | null = null;
  private readonly sockets = new Set<Socket>();
  private tickTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Outbound counters of the TCP side (the core counts the rest). */
  private readonly outbound = {
    droppedOutbound: 0,
    /** Replies too large for any frame (counted in droppedOutbound too). */
    oversizedOutbound: 0,
  };
  /** What fleet authentication refused: whole connections, and messages of authenticated ones. */
  private readonly auth = {
    refusedHandshakes: 0,
    /** Writers' messages for a volume their credential does not name, or of a replica's kind. */
    refusedMessages: 0,
    /** Writers' messages after their credential expired. */
    expiredMessages: 0,
    /** Writer connections closed because their credential was revoked (docs/security.md). */
    revokedLinks: 0,
    /**
     * Connections whose TLS handshake failed or did not finish in time (a plain client, a client
     * that does not trust this node's certificate): counted in refusedHandshakes too.
     */
    tlsHandshakeFailures: 0,
  };
  private handshaking = 0;
  private refusalsLogged = { minute: 0, count: 0 };
  replayStats = { records: 0, durationMs: 0, fromSnapshot: false, tornBytesDropped: 0 };

  constructor(options: StorageNodeOptions) {
    this.options = {
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
  get counters(): StorageNodeCore['counters'] & StorageNodeServer['outbound'] & StorageNodeServer['auth'] {
    return { ...this.core.counters, ...this.outbound, ...this.auth };
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
        readSnapshot(body, replica.beginRestore());
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
    const secrets = this.options.fleetSecrets;
    if (secrets === undefined) {
      this.options.log(
        `storage-node ${this.options.nodeId}: no fleet secrets: links are NOT authenticated (tools and tests only)`,
      );
    }
    const tls = this.options.tls;
    for (const member of this.options.members) {
      if (member.id === this.options.nodeId) continue;
      const open: HelloMessage = { type: 'hello', role: 'peer', id: this.options.nodeId };
      this.peers.set(
        member.id,
        new OutboundLink({
          host: member.host,
          port: member.port,
          hello:
            secrets === undefined
              ? open
              : (challenge: ChallengeMessage) =>
                  peerHello(secrets()[0] as FleetSecret, this.options.nodeId, challenge),
          ...(tls !== undefined
            ? {
                tls: tls.client,
                log: (line: string) =>
                  this.options.log(`storage-node ${this.options.nodeId}: peer ${member.id}: ${line}`),
              }
            : {}),
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
    this.scheduleTick();
    if (this.options.revocations !== undefined) {
      this.revocationTimer = setInterval(() => this.closeRevokedLinks(), REVOCATION_SWEEP_MS);
      this.revocationTimer.unref();
    }
  }

  /** The next tick, when the replica's timers are next due (`tickDelayMs`); each tick schedules the next. */
  private scheduleTick(): void {
    if (this.stopped) return;
    const delayMs = tickDelayMs(Date.now(), this.core.nextTickAtMs(), this.options.timing);
    this.tickTimer = setTimeout(() => {
      this.core.tick();
      this.scheduleTick();
    }, delayMs);
  }

  /** Closes the links of writers whose credential was revoked, idle ones included. */
  private closeRevokedLinks(): void {
    for (const [socket, rights] of this.writerRights) {
      if (rights.claims !== null && this.revoked(rights.claims)) this.closeRevoked(socket, rights);
    }
  }

  private closeRevoked(socket: Socket, rights: LinkRights): void {
    this.writerRights.delete(socket);
    this.auth.revokedLinks++;
    this.options.log(
      `storage-node ${this.options.nodeId}: closed writer ${rights.id}'s link: its credential for volume ${rights.claims?.volume} was revoked`,
    );
    socket.destroy();
  }

  get listeningPort(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.core.stop();
    if (this.tickTimer !== null) clearTimeout(this.tickTimer);
    this.tickTimer = null;
    if (this.revocationTimer !== null) clearInterval(this.revocationTimer);
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
      // What the storage port speaks: `tls` refuses plain connections (docs/adr/0014).
      transport: this.options.tls === undefined ? 'plain' : 'tls',
      ...(this.options.tls !== undefined ? { tlsCertificate: this.tlsCertificate() } : {}),
      // Which fleet secrets it accepts (their ids, never the secrets), or that links are open.
      linkAuth:
        this.options.fleetSecrets === undefined
          ? { mode: 'open' }
          : { mode: 'fleet-secret', accepted: this.options.fleetSecrets().map((secret) => secret.id) },
      peers: Object.fromEntries([...this.peers].map(([id, link]) => [id, link.stats()])),
      counters: this.counters,
    };
  }

  private tlsCertificate(): { validTo: string; names: string } | null {
    try {
      const { validTo, names } = (this.options.tls as NonNullable<StorageNodeOptions['tls']>).server();
      return { validTo, names };
    } catch {
      return null;
    }
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

  /**
   * A connection: with TLS its handshake first; then the challenge, then nothing but a valid hello
   * is read (bounded in size and time, the TLS handshake within the same bound), then messages
   * within the link's rights reach the core.
   */
  private accept(raw: Socket): void {
    raw.setNoDelay(true);
    if (this.handshaking >= HANDSHAKES_PENDING_MAX) {
      this.refuse(raw, `more than ${HANDSHAKES_PENDING_MAX} connections in their handshake`);
      return;
    }
    const tls = this.options.tls;
    let server: LinkTlsServer | null = null;
    if (tls !== undefined) {
      try {
        server = tls.server();
      } catch (error) {
        this.refuse(raw, `no TLS certificate to serve with: ${(error as Error).message}`);
        return;
      }
    }
    // The TLS socket wraps the TCP one: from here on everything reads and writes through it.
    const socket: Socket =
      server === null
        ? raw
        : new TLSSocket(raw, { isServer: true, secureContext: server.context, requestCert: false });
    this.sockets.add(socket);
    this.handshaking++;
    const nonce = newNonce();
    let secured = server === null;
    const challenge = () => socket.write(encodeFrames([{ type: 'challenge', nonce }]));
    const decoder = new FrameDecoder();
    let rights: LinkRights | null = null;
    let handshakeOver = false;
    const endHandshake = () => {
      if (handshakeOver) return;
      handshakeOver = true;
      this.handshaking--;
      clearTimeout(timer);
    };
    const timer = setTimeout(() => {
      endHandshake();
      if (!secured) this.auth.tlsHandshakeFailures++;
      this.refuse(
        socket,
        secured ? `no valid hello within ${HANDSHAKE_MS} ms` : `no TLS handshake within ${HANDSHAKE_MS} ms`,
      );
    }, HANDSHAKE_MS);
    timer.unref();
    if (secured) challenge();
    else {
      socket.once('secure', () => {
        secured = true;
        challenge();
      });
      socket.on('error', (error: Error) => {
        if (secured || handshakeOver) return;
        endHandshake();
        this.auth.tlsHandshakeFailures++;
        this.refuse(
          socket,
          `its TLS handshake failed (${tlsErrorReason(error.message)}): a client without TLS, or one that does not trust this node's certificate`,
        );
      });
    }
    socket.on('data', (chunk: Buffer) => {
      if (rights === null && decoder.bufferedBytes === 0 && chunk.length >= 4) {
        if (server === null && chunk[0] === TLS_HANDSHAKE_RECORD) {
          endHandshake();
          this.refuse(
            socket,
            'a TLS handshake, but this node serves plain TCP (started without internal TLS)',
          );
          return;
        }
        const announced = chunk.readUInt32BE(0);
        if (announced > HELLO_BYTES_MAX) {
          endHandshake();
          this.refuse(socket, `a first frame of ${announced} bytes, larger than any hello`);
          return;
        }
      }
      let messages: unknown[];
      try {
        messages = decoder.push(chunk);
      } catch (error) {
        if (rights === null) {
          endHandshake();
          this.refuse(socket, `bytes that are no hello (${(error as Error).message})`);
          return;
        }
        this.options.log(
          `storage-node ${this.options.nodeId}: closing a connection: ${(error as Error).message}`,
        );
        socket.destroy();
        return;
      }
      for (const message of flattenBatches(messages)) {
        if (rights === null) {
          rights = this.identify(socket, message, nonce);
          endHandshake();
          if (rights === null) return;
          // The other side counts the link as up only now: a refused hello never looks connected.
          socket.write(encodeFrames([{ type: 'welcome' }]));
          continue;
        }
        if (rights.role === 'writer' && isHello(message)) {
          // A renewed credential, proven over this connection's challenge.
          if (!this.renew(socket, rights, message, nonce)) return;
          continue;
        }
        if (!this.permits(socket, rights, message)) {
          if (socket.destroyed) return;
          continue;
        }
        this.core.receive(rights.id, message);
      }
    });
    // A TLS socket outlives an error after its handshake (a record that fails its integrity check):
    // such a connection can no longer be trusted, so it ends here, as a TCP one ends on its errors.
    socket.on('error', (error: Error) => {
      if (secured && server !== null) {
        this.options.log(
          `storage-node ${this.options.nodeId}: closing a TLS connection: ${tlsErrorReason(error.message)}`,
        );
      }
      socket.destroy();
    });
    socket.on('close', () => {
      // Gone before a valid hello: a handshake that failed, counted as refused (and a client that
      // left during the TLS handshake, say because it did not trust the certificate, as a TLS one).
      if (!handshakeOver) {
        this.auth.refusedHandshakes++;
        if (!secured) this.auth.tlsHandshakeFailures++;
      }
      endHandshake();
      this.sockets.delete(socket);
      this.writerRights.delete(socket);
      const id = (rights as LinkRights | null)?.id;
      if (id !== undefined && this.writers.get(id) === socket) {
        this.writers.delete(id);
        this.core.writerDisconnected(id);
      }
    });
  }

  /** Closes a connection that failed its handshake; counted, and logged within a bound. */
  private refuse(socket: Socket, reason: string): void {
    this.auth.refusedHandshakes++;
    const minute = Math.floor(Date.now() / 60_000);
    if (this.refusalsLogged.minute !== minute) this.refusalsLogged = { minute, count: 0 };
    if (this.refusalsLogged.count++ < REFUSALS_LOGGED_PER_MINUTE) {
      this.options.log(
        `storage-node ${this.options.nodeId}: refused a connection from ${socket.remoteAddress ?? '?'}: ${reason}`,
      );
    }
    socket.destroy();
  }

  /** Whether an authenticated link may send this message; a refusal is counted, not answered. */
  private permits(socket: Socket, rights: LinkRights, message: unknown): boolean {
    if (rights.role === 'peer' || rights.claims === null) return true;
    const candidate = message as { type?: unknown; volume?: unknown } | null;
    if (
      typeof candidate !== 'object' ||
      candidate === null ||
      typeof candidate.type !== 'string' ||
      !WRITER_MESSAGE_TYPES.has(candidate.type) ||
      candidate.volume !== rights.claims.volume
    ) {
      this.auth.refusedMessages++;
      return false;
    }
    if (rights.claims.expiresAtMs <= Date.now()) {
      this.auth.expiredMessages++;
      return false;
    }
    if (this.revoked(rights.claims)) {
      this.closeRevoked(socket, rights);
      return false;
    }
    return true;
  }

  private revoked(claims: WriterClaims): boolean {
    const revocations = this.options.revocations?.();
    return revocations !== undefined && isRevoked(revocations, claims);
  }

  /** A writer's hello on its open link: a fresh credential for the same writer and volume. */
  private renew(socket: Socket, rights: LinkRights, message: unknown, nonce: string): boolean {
    const secrets = this.options.fleetSecrets;
    if (secrets === undefined) return true;
    const verdict = verifyHello(message, nonce, secrets(), Date.now());
    if (
      !verdict.ok ||
      verdict.role !== 'writer' ||
      verdict.id !== rights.id ||
      verdict.claims.volume !== rights.claims?.volume
    ) {
      this.refuse(socket, verdict.ok ? 'a renewed hello for another writer or volume' : verdict.reason);
      return false;
    }
    if (this.revoked(verdict.claims)) {
      this.refuse(
        socket,
        `writer ${verdict.id}'s renewed credential for volume ${verdict.claims.volume} is revoked`,
      );
      return false;
    }
    rights.claims = verdict.claims;
    return true;
  }

  private identify(socket: Socket, message: unknown, nonce: string): LinkRights | null {
    const secrets = this.options.fleetSecrets;
    if (secrets !== undefined) {
      const verdict = verifyHello(message, nonce, secrets(), Date.now());
      if (!verdict.ok) {
        this.refuse(socket, verdict.reason);
        return null;
      }
      if (verdict.role === 'peer') {
        if (!this.options.members.some((member) => member.id === verdict.id)) {
          this.refuse(socket, `peer ${verdict.id} is not a member of this protection group`);
          return null;
        }
        return { id: verdict.id, role: 'peer', claims: null };
      }
      if (this.revoked(verdict.claims)) {
        this.refuse(
          socket,
          `writer ${verdict.id}'s credential for volume ${verdict.claims.volume} is revoked`,
        );
        return null;
      }
      // Replies go to a writer by its id: an id in use for another volume is not taken over.
      const holder = this.writers.get(verdict.id);
      const holderVolume = holder === undefined ? undefined : this.writerVolumes.get(holder);
      if (holderVolume !== undefined && holderVolume !== verdict.claims.volume) {
        this.refuse(socket, `writer id ${verdict.id} is connected for another volume`);
        return null;
      }
      this.writers.set(verdict.id, socket);
      this.writerVolumes.set(socket, verdict.claims.volume);
      const hello = message as HelloMessage;
      const notify = Array.isArray(hello.notifyVolumes)
        ? hello.notifyVolumes.filter((volume) => volume === verdict.claims.volume)
        : [];
      this.core.writerConnected(verdict.id, notify);
      const rights: LinkRights = { id: verdict.id, role: 'writer', claims: verdict.claims };
      this.writerRights.set(socket, rights);
      return rights;
    }
    const id = this.identifyOpen(socket, message);
    return id === null ? null : { id, role: (message as HelloMessage).role, claims: null };
  }

  /** Without fleet secrets: a hello is taken at its word (tools and tests only). */
  private identifyOpen(socket: Socket, message: unknown): string | null {
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

function isHello(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'hello';
}
