// One cluster's endpoint for the cluster's whole life (docs/adr/0006): its port, its client
// connections, and what its route says. It decides whether commands go to writers (route `open`
// with a writer up) or are held (`pausing`, `paused`, no writer up), wakes the cluster while
// commands are held, answers a `pausing` route with `wake` or `quiesced`, moves sessions off
// writers the route drops and says `released` once none uses them, and notices stalled writers.
// New connections go through the TLS acceptor first (plain or TLS, by the route's policy).
import type { Socket } from 'node:net';
import { error } from '../../../../libs/resp/src/index.js';
import type { ClusterRoute, ProxyClusterActivity, RouteWriter } from '../../../../libs/routes/src/index.js';
import type { AuthOutcome } from '../auth/password-checker.js';
import { ClientConnection } from '../connection/client-connection.js';
import type { EndpointServices, HoldingConnection } from '../connection/endpoint-services.js';
import type { LinkFailure, WriterLink } from '../connection/writer-link.js';
import { type HoldTally, holdRefusal } from '../hold/hold-budget.js';
import type { EndpointGauges } from '../metrics/proxy-metrics.js';
import { ConnectionAcceptor } from '../tls/connection-acceptor.js';
import { EndpointListener } from './endpoint-listener.js';
import type { ProxyContext } from './proxy-context.js';
import { QuiesceDecision } from './quiesce-decision.js';
import { WriterPool } from './writer-pool.js';

/** `wake` is published again this often while commands are held. */
export const WAKE_REPEAT_MS = 1_000;
/** A first held command after a quiet spell wakes at once, but not more often than this. */
const WAKE_AGAIN_AFTER_MS = 200;
/** A refused TLS connection is logged at most this often per reason (a client retrying would flood the log). */
const REFUSAL_LOG_INTERVAL_MS = 60_000;
/** A writer that answers nothing this long with commands in flight is taken as failed. */
export const WRITER_STALL_MS = 30_000;

export class ClusterEndpoint implements EndpointServices {
  private route: ClusterRoute;
  private listener: EndpointListener;
  private readonly connections = new Set<ClientConnection>();
  private readonly acceptor: ConnectionAcceptor;
  /** Served connections that came in over TLS. */
  private tlsConnections = 0;
  /** Refusal reason → when it was last logged. */
  private readonly refusalsLoggedAtMs = new Map<string, number>();
  private readonly holders = new Set<HoldingConnection>();
  private readonly links = new Set<WriterLink>();
  private readonly pool = new WriterPool();
  private readonly quiesce = new QuiesceDecision();
  /** Writers the route left out → the route version that did, until no session uses them. */
  private readonly dropped = new Map<string, number>();
  private inFlight = 0;
  private quiesceScheduled = false;
  private lastWakeAtMs = 0;
  private commandsSinceReport = 0;
  private lastCommandAtMs = 0;
  /** Client commands sent to writers since start (read by the metrics). */
  commandsForwarded = 0;
  private closed = false;

  constructor(
    route: ClusterRoute,
    private readonly context: ProxyContext,
  ) {
    this.route = route;
    this.acceptor = this.createAcceptor();
    this.pool.setWriters(route.writers);
    this.quiesce.routeApplied(route.mode, route.version);
    this.listener = this.listen(route.port);
    this.log(
      `serving on ${context.config.endpointHost}:${route.port} (route version ${route.version}, ${describeRoute(route)})`,
    );
    // A cluster first seen pausing (the proxy just started) has nothing in flight: answered at once.
    this.decideQuiesce();
  }

  get clusterId(): string {
    return this.route.clusterId;
  }

  get clusterName(): string {
    return this.route.name;
  }

  get writerPassword(): string {
    return this.route.writerPassword;
  }

  get resumeDeadlineMs(): number {
    return this.context.config.resumeDeadlineMs;
  }

  /** A newer route of this cluster. */
  applyRoute(route: ClusterRoute): void {
    const previous = this.route;
    this.route = route;
    if (route.passwordHash !== previous.passwordHash)
      this.context.checker.verifiedPasswords.forget(route.clusterId);
    if (route.port !== previous.port) {
      this.listener.close();
      this.listener = this.listen(route.port);
    }
    this.pool.setWriters(route.writers);
    this.dropWriters(previous.writers, route);
    if (sharesChanged(previous.writers, route.writers)) this.rebalance();
    this.quiesce.routeApplied(route.mode, route.version);
    // A wake sent under an earlier route says nothing about this one (a pause may have come in
    // between): the next held command wakes the cluster at once.
    this.lastWakeAtMs = 0;
    this.log(`route version ${route.version}: ${describeRoute(route)}`);
    this.resumeHolders();
    this.decideQuiesce();
    this.checkReleased();
  }

  /** The cluster is deleted, or the proxy stops: no more connections; those open end with `reason`. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.listener.close();
    this.acceptor.closeAll();
    for (const connection of [...this.connections]) connection.end(error(reason));
    this.context.metrics.forgetCluster(this.clusterId);
  }

  /** Every 200 ms or so: quarantines that ended, wake repeats, resume deadlines, stalled writers, idle links. */
  tick(nowMs: number): void {
    if (this.pool.expireQuarantines(nowMs)) this.resumeHolders();
    if (this.holders.size > 0) {
      if (nowMs - this.lastWakeAtMs >= WAKE_REPEAT_MS) this.wake(nowMs);
      for (const holder of [...this.holders]) holder.expireHeld(nowMs);
    }
    for (const link of [...this.links]) {
      if (link.inFlight.length > 0 && !link.readingPaused && nowMs - link.lastProgressMs > WRITER_STALL_MS)
        link.fail(false, `writer ${link.writer.id} answered nothing for ${WRITER_STALL_MS / 1000} s`);
    }
    // An idle session need not hold one of its writer's connections (a writer takes 200 per CU).
    const idleBeforeMs = nowMs - this.context.config.idleLinkCloseMs;
    for (const connection of this.connections) connection.closeLinkIdleBefore(idleBeforeMs);
  }

  /** The activity since the last call, for the report to the autoscaler. */
  takeActivity(): ProxyClusterActivity {
    const held = this.context.budget.of(this.clusterId);
    const sessionsInTransaction = this.sessionsInTransaction();
    const commands = this.commandsSinceReport;
    this.commandsSinceReport = 0;
    return {
      connections: this.connections.size,
      heldConnections: held.connections,
      heldBytes: held.bytes,
      commands,
      lastCommandAtMs: this.lastCommandAtMs,
      sessionsInTransaction,
    };
  }

  describe(): Record<string, unknown> {
    const held = this.context.budget.of(this.clusterId);
    const route = this.route;
    return {
      clusterId: route.clusterId,
      name: route.name,
      port: route.port,
      version: route.version,
      mode: route.mode,
      tls: route.tls,
      writers: route.writers.map((writer) => ({ id: writer.id, sessions: this.pool.linksTo(writer.id) })),
      listening: this.listener.listening,
      listenError: this.listener.lastError,
      connections: this.connections.size,
      tlsConnections: this.tlsConnections,
      connectionsNotYetServed: this.acceptor.waiting,
      heldConnections: held.connections,
      heldBytes: held.bytes,
      inFlight: this.inFlight,
      writersDropped: [...this.dropped.keys()],
    };
  }

  gauges(): EndpointGauges {
    const held = this.context.budget.of(this.clusterId);
    return {
      clusterId: this.clusterId,
      connections: this.connections.size,
      heldConnections: held.connections,
      heldBytes: held.bytes,
      commandsForwarded: this.commandsForwarded,
    };
  }

  // ----- EndpointServices -----

  canForward(): boolean {
    return !this.closed && this.route.mode === 'open' && this.pool.hasAvailable(Date.now());
  }

  chooseWriter(): RouteWriter | null {
    return this.pool.choose(Date.now());
  }

  linkOpened(link: WriterLink): void {
    this.links.add(link);
    this.pool.linkOpened(link.writer.id);
  }

  writerLoggedIn(writerId: string): void {
    this.pool.markUp(writerId);
  }

  linkClosed(link: WriterLink, failure: LinkFailure | null): void {
    if (!this.links.delete(link)) return;
    const writerId = link.writer.id;
    this.pool.linkClosed(writerId);
    if (failure !== null && !failure.writerFull) {
      const nowMs = Date.now();
      if (!this.pool.isDown(writerId, nowMs))
        this.log(`writer ${writerId} failed (${failure.reason}): kept out for a while`);
      this.pool.markDown(writerId, nowMs);
      this.context.metrics.writerFailures.inc({ cluster: this.clusterId });
    }
    this.checkReleased();
  }

  inFlightChanged(delta: number): void {
    this.inFlight += delta;
    if (delta > 0) this.commandsForwarded += delta;
    else if (this.inFlight === 0) this.scheduleQuiesceDecision();
  }

  tryHold(tally: HoldTally, bytes: number): string | null {
    const { budget, metrics } = this.context;
    const limit = budget.tryHold(this.clusterId, tally, bytes);
    if (limit === null) return null;
    metrics.holdRefusals.inc({ cluster: this.clusterId, limit });
    return holdRefusal(limit, budget.limits, this.route.name);
  }

  releaseHold(tally: HoldTally, bytes: number): void {
    this.context.budget.release(this.clusterId, tally, bytes);
  }

  holdingChanged(connection: HoldingConnection, holding: boolean): void {
    if (!holding) {
      this.holders.delete(connection);
      return;
    }
    this.holders.add(connection);
    // The first held command wakes the cluster at once (unless a pause decision is pending: it
    // says wake itself); the tick repeats it.
    const nowMs = Date.now();
    if (this.holders.size === 1 && nowMs - this.lastWakeAtMs >= WAKE_AGAIN_AFTER_MS) this.wake(nowMs);
  }

  checkPassword(password: Buffer, address: string): AuthOutcome | Promise<AuthOutcome> {
    return this.context.checker.check(this.clusterId, this.route.passwordHash, password, address);
  }

  recordWrongUser(): void {
    this.context.checker.recordWrong();
  }

  commandArrived(): void {
    this.commandsSinceReport++;
    this.lastCommandAtMs = Date.now();
  }

  resumeDeadlineMissed(commands: number): void {
    this.context.metrics.resumeDeadlineMisses.inc({ cluster: this.clusterId }, commands);
  }

  sessionMoved(): void {
    this.context.metrics.sessionsMoved.inc({ cluster: this.clusterId });
  }

  connectionClosed(connection: HoldingConnection): void {
    const client = connection as ClientConnection;
    if (!this.connections.delete(client)) return;
    if (client.secure) this.tlsConnections--;
    this.holders.delete(connection);
    this.context.releaseClient();
  }

  // ----- inside -----

  private listen(port: number): EndpointListener {
    const listener = new EndpointListener(
      this.context.config.endpointHost,
      port,
      (socket) => this.accept(socket),
      (line) => this.log(line),
    );
    listener.open();
    return listener;
  }

  private accept(socket: Socket): void {
    if (this.closed || !this.context.admitClient()) {
      socket.on('error', () => undefined);
      socket.end('-ERR max number of clients reached\r\n');
      return;
    }
    // Counted among the proxy's connections from here: a connection that never says whether it
    // speaks TLS still holds a socket.
    this.acceptor.accept(socket);
  }

  private createAcceptor(): ConnectionAcceptor {
    const { context } = this;
    return new ConnectionAcceptor({
      policy: () => this.route.tls,
      secureContext: () => context.certificate?.().context ?? null,
      handshakeTimeoutMs: context.config.tlsHandshakeTimeoutMs,
      serve: (socket, secure) => this.serve(socket, secure),
      refused: (reason, logLine) => {
        context.metrics.connectionsRefused.inc({ cluster: this.clusterId, reason });
        const nowMs = Date.now();
        if (logLine === null || nowMs - (this.refusalsLoggedAtMs.get(reason) ?? 0) < REFUSAL_LOG_INTERVAL_MS)
          return;
        this.refusalsLoggedAtMs.set(reason, nowMs);
        this.log(
          `${logLine} (logged once a minute at most; borealis_proxy_connections_refused_total counts them)`,
        );
      },
      handshakeFailed: () => context.metrics.tlsHandshakeFailures.inc({ cluster: this.clusterId }),
      gone: () => context.releaseClient(),
    });
  }

  private serve(socket: Socket, secure: boolean): void {
    if (this.closed) {
      socket.destroy();
      this.context.releaseClient();
      return;
    }
    const connection = new ClientConnection(socket, this, this.context.nextClientId(), clientAddress(socket));
    connection.secure = secure;
    if (secure) this.tlsConnections++;
    this.connections.add(connection);
  }

  /**
   * Writers joined (scale-out) or changed size: sessions on a writer holding more than its share
   * (in proportion to its CU) leave it at their next command boundary, and their next command
   * opens a link to the writer with the fewest links per CU (DESIGN §5, §6). Sessions inside
   * MULTI or holding a WATCH stay where they are.
   */
  private rebalance(): void {
    const writers = this.route.writers;
    if (writers.length < 2 || this.route.mode !== 'open') return;
    const linked = new Map<string, ClientConnection[]>();
    let total = 0;
    for (const connection of this.connections) {
      const writerId = connection.linkedWriterId;
      if (writerId === null) continue;
      total++;
      if (connection.state.inTransaction) continue;
      const sessions = linked.get(writerId);
      if (sessions === undefined) linked.set(writerId, [connection]);
      else sessions.push(connection);
    }
    const shares = this.pool.shares(total);
    for (const [writerId, sessions] of linked) {
      const surplus = this.pool.linksTo(writerId) - (shares.get(writerId) ?? 0);
      for (const connection of sessions.slice(0, Math.max(0, surplus))) connection.retireLinkTo(writerId);
    }
  }

  private dropWriters(previousWriters: readonly RouteWriter[], route: ClusterRoute): void {
    const current = new Map(route.writers.map((writer) => [writer.id, writer]));
    for (const id of [...this.dropped.keys()]) {
      if (current.has(id)) this.dropped.delete(id);
      else this.dropped.set(id, route.version);
    }
    for (const writer of previousWriters) {
      const now = current.get(writer.id);
      if (now !== undefined && now.host === writer.host && now.port === writer.port) continue;
      // Left out, or at another address (a writer started again): its sessions move.
      if (now === undefined) this.dropped.set(writer.id, route.version);
      for (const connection of this.connections) connection.retireLinkTo(writer.id);
    }
  }

  /** A writer the route dropped that no session uses any more is released. */
  private checkReleased(): void {
    for (const [writerId, version] of [...this.dropped]) {
      if (this.pool.linksTo(writerId) > 0) continue;
      this.dropped.delete(writerId);
      const { proxyId } = this.context.config;
      this.context.events.publish({
        type: 'released',
        clusterId: this.clusterId,
        writerId,
        version,
        proxyId,
      });
      this.log(`released writer ${writerId} (route version ${version})`);
    }
  }

  private resumeHolders(): void {
    if (!this.canForward()) return;
    for (const holder of [...this.holders]) holder.resume();
  }

  /**
   * The last reply in flight arrived: decide once this turn's I/O is done, not inside it. The
   * reply's session may have more of its pipeline to read, which is then held (and the pause
   * cancelled) rather than left unread under a quiesced endpoint; and no link is closed in the
   * middle of handing its replies over.
   */
  private scheduleQuiesceDecision(): void {
    if (this.quiesceScheduled || !this.quiesce.awaiting) return;
    this.quiesceScheduled = true;
    setImmediate(() => {
      this.quiesceScheduled = false;
      if (!this.closed) this.decideQuiesce();
    });
  }

  private decideQuiesce(): void {
    // A session inside MULTI or holding a WATCH keeps the cluster awake (DESIGN §5): closing its
    // link would drop what its writer holds for it, so the pause is refused like a held command.
    const outcome = this.quiesce.decide(
      this.inFlight,
      this.holders.size > 0 || this.sessionsInTransaction() > 0,
    );
    if (outcome === null) return;
    if (outcome.type === 'wake') {
      this.wake(Date.now());
      return;
    }
    const { proxyId } = this.context.config;
    this.context.events.publish({
      type: 'quiesced',
      clusterId: this.clusterId,
      version: outcome.version,
      proxyId,
    });
    for (const connection of this.connections) connection.closeIdleLink();
    this.log(`quiesced (route version ${outcome.version})`);
  }

  /** Sessions inside MULTI or holding a WATCH: the cluster must not pause under them. */
  private sessionsInTransaction(): number {
    let count = 0;
    for (const connection of this.connections) if (connection.state.inTransaction) count++;
    return count;
  }

  private wake(nowMs: number): void {
    if (this.quiesce.awaiting) return;
    this.lastWakeAtMs = nowMs;
    const { proxyId } = this.context.config;
    this.context.events.publish({ type: 'wake', clusterId: this.clusterId, proxyId });
    this.context.metrics.wakesSent.inc({ cluster: this.clusterId });
  }

  private log(line: string): void {
    this.context.log(`cluster ${this.route.name} (${this.route.clusterId}): ${line}`);
  }
}

/** Whether a writer joined or one that stays changed its CU: the sessions' shares moved. */
function sharesChanged(previous: readonly RouteWriter[], current: readonly RouteWriter[]): boolean {
  const before = new Map(previous.map((writer) => [writer.id, writer.cu]));
  return current.some((writer) => before.get(writer.id) !== writer.cu);
}

function describeRoute(route: ClusterRoute): string {
  const writers = route.writers
    .map((writer) => `${writer.id}@${writer.host}:${writer.port} ${writer.cu} CU`)
    .join(', ');
  return `${route.mode}, writers [${writers}]`;
}

/** The client's IP address, IPv4 written plainly even on a dual-stack socket. */
function clientAddress(socket: Socket): string {
  const address = socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
