// A data node's life (ARCHITECTURE.md): started unattached (a warm-pool process), attached to
// one cluster's volume with a size in capacity units, resized in place, drained, detached.
//
//   unattached ──attach──▶ attached ──drain──▶ drained ──detach──▶ unattached
//                              │ ▲ resize                  ▲
//                              └─┘          attached ─detach (drains first)
import { randomBytes } from 'node:crypto';
import { cpus, hostname, totalmem } from 'node:os';
import { type CapacityUnit, writerCapacityProblem } from '../../../libs/limits/src/index.js';
import { error } from '../../../libs/resp/src/reply.js';
import { QuorumClient, type StorageNodeAddress } from '../../../libs/storage-client/src/index.js';
import type { LinkTlsClient, WriterCredential } from '../../../libs/wire/src/index.js';
import {
  CACHE_ENTRY_AGE_MAX_MS,
  CACHE_ENTRY_COVERED_AGE_MAX_MS,
  VersionedCache,
} from './cache/versioned-cache.js';
import { type CapacityLimits, limitsFor, TokenBucket } from './capacity/capacity.js';
import { GenerationSweeper } from './engine/generation-sweeper.js';
import { Keyspace } from './engine/keyspace.js';
import { type ReadConsistency, TransactionEngine } from './engine/transaction-engine.js';
import { type IntervalReport, NodeMetrics } from './metrics/node-metrics.js';
import { RedisReporter } from './metrics/redis-reporter.js';
import { cpuFields, memoryFields, usedMemory, wantedSections } from './server/info-sections.js';
import { RespServer } from './server/resp-server.js';
import { ServerConfig } from './server/server-config.js';
import { ServerStats } from './server/server-stats.js';
import { REDIS_COMPATIBLE_VERSION, type Session } from './server/session.js';

export type DataNodeState = 'unattached' | 'attaching' | 'attached' | 'draining' | 'drained';

export interface DataNodeOptions {
  nodeId: string;
  host: string;
  /** The RESP port, opened on attach and closed on drain (0: any free port). */
  respPort: number;
  /** The storage fleet used when an attach names none. */
  storageNodes: StorageNodeAddress[];
  /** Unique among the cluster's writers, ≥ 7 (recovery ballots). */
  coordinatorId: number;
  redisUrl: string | null;
  /** Prefix of the platform's Redis keys and channels (BOREALIS_REDIS_PREFIX); `borealis` by default. */
  redisPrefix?: string;
  /** What one CU buys (a platform setting); PER_CAPACITY_UNIT by default. */
  capacityUnit?: CapacityUnit;
  /**
   * TLS to the storage nodes, verified against this CA (BOREALIS_INTERNAL_TLS_CA_FILE, docs/adr/0014);
   * plain TCP without.
   */
  storageTls?: LinkTlsClient;
  /**
   * How long a cache entry is served whatever the notices (DATA_NODE_CACHE_ENTRY_AGE_MS);
   * CACHE_ENTRY_AGE_MAX_MS by default, and never more: a moved session waits that long out.
   */
  cacheEntryAgeMsMax?: number;
  reportIntervalMs?: number;
  log?: (line: string) => void;
}

export interface AttachRequest {
  clusterId: string;
  volume: string;
  cu: number;
  readConsistency: ReadConsistency;
  password: string | null;
  storageNodes?: StorageNodeAddress[];
  /**
   * The credential the control plane minted for this writer's volume (docs/security.md): the
   * storage nodes of a secured fleet serve no link without one.
   */
  credential?: WriterCredential;
}

export class LifecycleError extends Error {
  override readonly name = 'LifecycleError';
  constructor(
    message: string,
    /** HTTP status for the admin API. */
    readonly status: number,
  ) {
    super(message);
  }
}

/** An attach fails if fewer than 4 storage nodes answer within this time. */
const ATTACH_STORAGE_WAIT_MS = 10_000;
/** A command waits at most this long for the command budget; then it runs anyway, counted. */
const THROTTLE_WAIT_MAX_MS = 2_000;

const VERSION = '0.1.0';

class Attachment {
  readonly startedAtMs = Date.now();
  readonly writerId: string;
  readonly client: QuorumClient;
  readonly cache: VersionedCache;
  readonly engine: TransactionEngine;
  readonly keyspace: Keyspace;
  readonly sweeper: GenerationSweeper;
  readonly bucket: TokenBucket;
  readonly server: RespServer;
  limits: CapacityLimits;
  private readonly capacityUnit: CapacityUnit | undefined;
  readonly sessionsOpen = new Set<Session>();

  constructor(
    readonly request: AttachRequest,
    readonly node: DataNode,
    options: DataNodeOptions,
    metrics: NodeMetrics,
  ) {
    this.writerId = `${options.nodeId}-${randomBytes(4).toString('hex')}`;
    this.capacityUnit = options.capacityUnit;
    this.limits = limitsFor(request.cu, this.capacityUnit);
    const entryAgeMsMax = Math.min(
      options.cacheEntryAgeMsMax ?? CACHE_ENTRY_AGE_MAX_MS,
      CACHE_ENTRY_AGE_MAX_MS,
    );
    this.cache = new VersionedCache(this.limits.cacheBytes, entryAgeMsMax, {
      coveredSinceMs: () => this.client.noticesCoveredSinceMs(request.volume),
      coveredAgeMsMax: CACHE_ENTRY_COVERED_AGE_MAX_MS,
    });
    this.client = new QuorumClient({
      writerId: this.writerId,
      coordinatorId: options.coordinatorId,
      nodes: request.storageNodes ?? options.storageNodes,
      notifyVolumes: [request.volume],
      onApplied: (notice) => this.cache.applyNotice(notice.changes, Date.now()),
      ...(request.credential !== undefined ? { credential: request.credential } : {}),
      ...(options.storageTls !== undefined
        ? { tls: options.storageTls, log: (line: string) => node.log(`data-node ${options.nodeId}: ${line}`) }
        : {}),
    });
    this.engine = new TransactionEngine({
      volume: request.volume,
      store: this.client,
      cache: this.cache,
      onFlushCommitted: () => this.sweeper.sweep(),
      timings: metrics.transactionTimings,
    });
    this.keyspace = new Keyspace(request.volume, this.client, this.engine);
    this.sweeper = new GenerationSweeper(request.volume, this.client, this.engine, (line) =>
      node.log(`data-node ${options.nodeId}: ${line}`),
    );
    this.bucket = new TokenBucket(this.limits.commandsPerSecond, this.limits.burstCommands, Date.now());
    const attachment = this;
    this.server = new RespServer({
      host: options.host,
      port: options.respPort,
      policy: {
        engine: this.engine,
        keyspace: this.keyspace,
        password: request.password,
        get defaultConsistency() {
          return attachment.request.readConsistency;
        },
        config: node.config,
        stats: node.stats,
        info: (sections) => node.info(sections),
        lastSaveSeconds: () => node.lastSaveSeconds(),
        admitConnection: () => {
          if (this.server.connectionCount >= this.limits.connections) {
            node.stats.rejectedConnections++;
            return error('ERR max number of clients reached');
          }
          node.stats.connectionsReceived++;
          return null;
        },
        admitCommand: () => this.admitCommand(metrics),
        commandDone: (command, micros, reply) => metrics.commandDone(command, micros, reply.kind === 'error'),
        connectionOpened: (session) => {
          this.sessionsOpen.add(session);
          metrics.connectionsGauge.set(this.sessionsOpen.size);
        },
        connectionClosed: (session) => {
          this.sessionsOpen.delete(session);
          metrics.connectionsGauge.set(this.sessionsOpen.size);
        },
      },
    });
  }

  resize(cu: number): void {
    this.limits = limitsFor(cu, this.capacityUnit);
    this.request.cu = cu;
    this.bucket.resize(this.limits.commandsPerSecond, this.limits.burstCommands, Date.now());
    this.cache.resize(this.limits.cacheBytes);
  }

  /** Sessions inside MULTI or holding a WATCH. */
  sessionsInTransaction(): number {
    let count = 0;
    for (const session of this.sessionsOpen) if (session.inTransaction) count++;
    return count;
  }

  private admitCommand(metrics: NodeMetrics): Promise<void> | null {
    if (this.bucket.take(Date.now())) return null;
    metrics.throttled();
    return (async () => {
      const deadline = Date.now() + THROTTLE_WAIT_MAX_MS;
      while (!this.bucket.take(Date.now()) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, this.bucket.waitMs(Date.now()))));
      }
    })();
  }
}

export class DataNode {
  state: DataNodeState = 'unattached';
  readonly metrics: NodeMetrics;
  /** CONFIG GET/SET values: this process's, kept across attachments. */
  readonly config: ServerConfig;
  /** INFO commandstats/errorstats and the counters CONFIG RESETSTAT resets. */
  readonly stats = new ServerStats();
  private attachment: Attachment | null = null;
  private readonly reporter: RedisReporter | null;
  private readonly reportTimer: NodeJS.Timeout;
  private lastReportAtMs = Date.now();
  private lastCpu = process.cpuUsage();
  private lastCumulative = { conflicts: 0, retries: 0, hits: 0, misses: 0 };
  private readonly startedAtMs = Date.now();
  private readonly memoryStartupBytes = usedMemory(process.memoryUsage());
  private memoryPeakBytes = this.memoryStartupBytes;
  readonly log: (line: string) => void;
  lastReport: IntervalReport | null = null;

  constructor(private readonly options: DataNodeOptions) {
    this.log = options.log ?? ((line) => console.log(line));
    this.config = new ServerConfig({ maxclients: () => this.attachment?.limits.connections ?? 0 });
    this.metrics = new NodeMetrics(() => {
      const attachment = this.attachment;
      return {
        conflicts: attachment?.engine.counters.conflicts ?? 0,
        retries: attachment?.engine.counters.retries ?? 0,
        cacheHits: attachment?.cache.stats.hits ?? 0,
        cacheMisses: attachment?.cache.stats.misses ?? 0,
        cacheBytes: attachment?.cache.size.bytes ?? 0,
        groupsWaiting: attachment?.engine.schedulerStats.groupsWaiting ?? 0,
      };
    });
    this.reporter =
      options.redisUrl === null
        ? null
        : new RedisReporter(options.redisUrl, options.redisPrefix ?? 'borealis', (line) =>
            this.log(`data-node ${options.nodeId}: ${line}`),
          );
    const intervalMs = Math.min(500, Math.max(250, options.reportIntervalMs ?? 400));
    this.reportTimer = setInterval(() => this.report(), intervalMs);
    this.reportTimer.unref();
  }

  get respPort(): number | null {
    return this.attachment?.server.boundPort ?? null;
  }

  get attached(): AttachRequest | null {
    return this.attachment?.request ?? null;
  }

  async attach(request: AttachRequest): Promise<void> {
    if (this.state !== 'unattached') {
      throw new LifecycleError(`the node is ${this.state}; detach it before attaching it again`, 409);
    }
    const problem = writerCapacityProblem(request.cu);
    if (problem !== null) throw new LifecycleError(problem, 400);
    this.state = 'attaching';
    const attachment = new Attachment({ ...request }, this, this.options, this.metrics);
    try {
      await attachment.client.waitForNodes(4, ATTACH_STORAGE_WAIT_MS);
      await attachment.server.listen();
    } catch (cause) {
      await attachment.client.close();
      this.state = 'unattached';
      throw new LifecycleError(`attach failed: ${(cause as Error).message}`, 503);
    }
    this.attachment = attachment;
    this.state = 'attached';
    attachment.sweeper.resumeOwedWalk().catch((cause: Error) => {
      this.log(
        `data-node ${this.options.nodeId}: could not check for an owed walk over the volume: ${cause.message}`,
      );
    });
    this.metrics.capacityGauge.set(request.cu);
    this.log(
      `data-node ${this.options.nodeId}: attached to cluster ${request.clusterId} (volume ${request.volume}, ${request.cu} CU, ${request.readConsistency} reads), serving RESP on ${this.options.host}:${attachment.server.boundPort}`,
    );
  }

  /** A fresh credential for the attached volume: proven on the open storage links, none dropped. */
  renewCredential(credential: WriterCredential): void {
    const attachment = this.attachment;
    if (attachment === null || this.state !== 'attached') {
      throw new LifecycleError(`the node is ${this.state}; only an attached node takes a credential`, 409);
    }
    if (credential.claims.volume !== attachment.request.volume) {
      throw new LifecycleError(
        `the credential is for volume ${credential.claims.volume}, but this node serves ${attachment.request.volume}`,
        400,
      );
    }
    if (attachment.request.credential === undefined) {
      throw new LifecycleError('this node was attached without a credential: attach it again with one', 409);
    }
    attachment.client.renewCredential(credential);
    attachment.request.credential = credential;
    this.log(
      `data-node ${this.options.nodeId}: credential renewed (expires ${new Date(credential.claims.expiresAtMs).toISOString()})`,
    );
  }

  resize(cu: number): void {
    const problem = writerCapacityProblem(cu);
    if (problem !== null) throw new LifecycleError(problem, 400);
    if (this.attachment === null || this.state !== 'attached') {
      throw new LifecycleError(`the node is ${this.state}; only an attached node can be resized`, 409);
    }
    const from = this.attachment.request.cu;
    this.attachment.resize(cu);
    this.metrics.capacityGauge.set(cu);
    this.log(`data-node ${this.options.nodeId}: resized from ${from} to ${cu} CU in place`);
  }

  /** Stop accepting, let in-flight work finish, close the connections. */
  async drain(timeoutMs = 30_000): Promise<{ closedIdle: number; cut: number }> {
    const attachment = this.attachment;
    if (attachment === null || this.state !== 'attached') {
      throw new LifecycleError(`the node is ${this.state}; only an attached node can be drained`, 409);
    }
    this.state = 'draining';
    await attachment.server.stopListening();
    const result = await attachment.server.closeConnections(timeoutMs);
    this.state = 'drained';
    this.log(
      `data-node ${this.options.nodeId}: drained (${result.closedIdle} connections closed after their last command, ${result.cut} cut at the ${timeoutMs} ms limit)`,
    );
    return result;
  }

  async detach(): Promise<void> {
    if (this.state === 'attached') await this.drain();
    const attachment = this.attachment;
    if (attachment === null || this.state !== 'drained') {
      throw new LifecycleError(`the node is ${this.state}; nothing to detach`, 409);
    }
    attachment.sweeper.stop();
    await attachment.client.close();
    attachment.cache.clear();
    this.attachment = null;
    this.state = 'unattached';
    this.metrics.capacityGauge.set(0);
    this.log(`data-node ${this.options.nodeId}: detached from cluster ${attachment.request.clusterId}`);
  }

  async stop(): Promise<void> {
    clearInterval(this.reportTimer);
    if (this.state === 'attached' || this.state === 'drained') await this.detach().catch(() => undefined);
    await this.reporter?.close();
  }

  describe(): Record<string, unknown> {
    const attachment = this.attachment;
    return {
      nodeId: this.options.nodeId,
      state: this.state,
      attachedCluster: attachment?.request.clusterId ?? null,
      volume: attachment?.request.volume ?? null,
      cu: attachment?.request.cu ?? 0,
      readConsistency: attachment?.request.readConsistency ?? null,
      respPort: attachment?.server.boundPort ?? null,
      writerId: attachment?.writerId ?? null,
      // What the credential grants and until when; never its key.
      credential:
        attachment?.request.credential === undefined
          ? null
          : {
              volume: attachment.request.credential.claims.volume,
              secretId: attachment.request.credential.claims.secretId,
              expiresAt: new Date(attachment.request.credential.claims.expiresAtMs).toISOString(),
            },
      connections: attachment?.server.connectionCount ?? 0,
      limits: attachment?.limits ?? null,
      storageNodesConnected: attachment?.client.connectedNodes ?? 0,
      // How its storage links travel (docs/adr/0014).
      storageTransport: this.options.storageTls === undefined ? 'plain' : 'tls',
      engine:
        attachment === null ? null : { ...attachment.engine.counters, ...attachment.engine.schedulerStats },
      cache: attachment === null ? null : { ...attachment.cache.size, ...attachment.cache.stats },
      reclaim:
        attachment === null
          ? null
          : {
              ...attachment.engine.reclaimer.counters,
              pending: attachment.engine.reclaimer.pending,
              flushSweeps: attachment.sweeper.counters,
            },
      quorumClient:
        attachment === null
          ? null
          : {
              ...attachment.client.counters,
              // Storage nodes whose notices reach this writer whole: 3 let cached entries outlive 10 s (ADR 0020).
              wholeNoticeStreams: attachment.client.wholeNoticeStreams(attachment.request.volume),
            },
      lastReport: this.lastReport,
    };
  }

  /** LASTSAVE: when this process started (ARCHITECTURE.md, "LASTSAVE"). */
  lastSaveSeconds(): number {
    return Math.floor(this.startedAtMs / 1000);
  }

  /** INFO [section …]: Redis's sections, named and ordered as Redis 7 does, then Borealis's. */
  async info(sections: string[]): Promise<string> {
    const wanted = wantedSections(sections);
    const attachment = this.attachment;
    const lines: string[] = [];
    const section = (name: string, fields: [string, string | number][]): void => {
      if (!wanted.has(name.toLowerCase())) return;
      if (lines.length > 0) lines.push('');
      lines.push(`# ${name}`);
      for (const [key, value] of fields) lines.push(`${key}:${value}`);
    };
    const uptimeSeconds = Math.floor((Date.now() - this.startedAtMs) / 1000);
    section('Server', [
      ['redis_version', REDIS_COMPATIBLE_VERSION],
      ['borealis_version', VERSION],
      ['redis_mode', 'standalone'],
      ['os', `${process.platform} ${process.arch}`],
      ['arch_bits', 64],
      ['process_id', process.pid],
      ['tcp_port', attachment?.server.boundPort ?? 0],
      ['uptime_in_seconds', uptimeSeconds],
      ['uptime_in_days', Math.floor(uptimeSeconds / 86_400)],
      ['executable', process.argv[1] ?? ''],
      ['hostname', hostname()],
    ]);
    section('Clients', [
      ['connected_clients', attachment?.server.connectionCount ?? 0],
      ['maxclients', attachment?.limits.connections ?? 0],
      ['blocked_clients', 0],
      ['clients_in_transaction', attachment?.sessionsInTransaction() ?? 0],
    ]);
    const usage = process.memoryUsage();
    this.memoryPeakBytes = Math.max(this.memoryPeakBytes, usedMemory(usage));
    section(
      'Memory',
      memoryFields({
        usage,
        peakBytes: this.memoryPeakBytes,
        startupBytes: this.memoryStartupBytes,
        datasetBytes: attachment?.cache.size.bytes ?? 0,
        totalSystemBytes: totalmem(),
        maxmemory: this.config.get('maxmemory') ?? '0',
        maxmemoryPolicy: this.config.get('maxmemory-policy') ?? 'noeviction',
      }),
    );
    section('Persistence', [
      ['loading', 0],
      ['rdb_changes_since_last_save', 0],
      ['rdb_bgsave_in_progress', 0],
      ['rdb_last_save_time', this.lastSaveSeconds()],
      ['aof_enabled', 0],
      ['aof_rewrite_in_progress', 0],
    ]);
    section('Stats', [
      ['total_connections_received', this.stats.connectionsReceived],
      ['total_commands_processed', this.stats.commandsProcessed],
      ['instantaneous_ops_per_sec', Math.round(this.lastReport?.opsPerSecond ?? 0)],
      ['rejected_connections', this.stats.rejectedConnections],
      ['keyspace_hits', attachment?.cache.stats.hits ?? 0],
      ['keyspace_misses', attachment?.cache.stats.misses ?? 0],
      ['total_error_replies', this.stats.errorReplies],
      ['throttled_commands', this.metrics.throttledSinceStart],
    ]);
    section('Replication', [
      ['role', 'master'],
      ['connected_slaves', 0],
      ['master_repl_offset', 0],
    ]);
    section('CPU', cpuFields(process.cpuUsage()));
    section('Commandstats', this.stats.commandStatsFields());
    section('Errorstats', this.stats.errorStatsFields());
    section('Cluster', [['cluster_enabled', 0]]);
    if (wanted.has('keyspace')) {
      // DBSIZE's count while it holds (no write seen since it was made), else a walk's if one
      // ends within a quarter second, else the latest made: INFO never waits for a whole walk
      // (Keyspace.recentCounts). `keyspace_counted_ms_ago` below tells how old it is.
      const counts = attachment === null ? null : await attachment.keyspace.recentCounts();
      section(
        'Keyspace',
        counts === null || counts.keys === 0
          ? []
          : [['db0', `keys=${counts.keys},expires=${counts.expires},avg_ttl=0`]],
      );
    }
    const counters = attachment?.engine.counters;
    section('Borealis', [
      ['node_id', this.options.nodeId],
      ['state', this.state],
      ['cluster_id', attachment?.request.clusterId ?? ''],
      ['volume', attachment?.request.volume ?? ''],
      ['capacity_units', attachment?.request.cu ?? 0],
      ['commands_per_second_max', attachment?.limits.commandsPerSecond ?? 0],
      ['read_consistency', attachment?.request.readConsistency ?? ''],
      ['writer_id', attachment?.writerId ?? ''],
      ['storage_nodes_connected', attachment?.client.connectedNodes ?? 0],
      ['keyspace_counted_ms_ago', attachment?.keyspace.countedMsAgo() ?? -1],
      ['cache_bytes', attachment?.cache.size.bytes ?? 0],
      ['cache_bytes_max', attachment?.cache.size.bytesMax ?? 0],
      ['cache_hit_ratio', (attachment?.cache.hitRatio() ?? 0).toFixed(4)],
      ['transactions', counters?.transactions ?? 0],
      ['commits', counters?.commits ?? 0],
      // Quorum commits chosen by six YES votes without an ACCEPT round (ADR 0015).
      ['quorum_fast_commits', attachment?.client.counters.fastCommits ?? 0],
      ['quorum_commits', attachment?.client.counters.commits ?? 0],
      // Point-read rounds, and those that asked all six replicas after waiting on the first three.
      ['quorum_read_rounds', attachment?.client.counters.readRounds ?? 0],
      ['quorum_hedged_read_rounds', attachment?.client.counters.hedgedReadRounds ?? 0],
      // DECIDED messages that rode in a storage node's next write instead of one of their own (ADR 0018).
      ['quorum_decisions_ridden', attachment?.client.counters.decisionsRidden ?? 0],
      // Storage nodes whose `applied` notices reach this writer whole, and streams started over (ADR 0020).
      ['notice_streams_whole', attachment?.client.wholeNoticeStreams(attachment.request.volume) ?? 0],
      ['notice_stream_restarts', attachment?.client.counters.noticeStreamRestarts ?? 0],
      // Commits that wrote keys without reading them first (ADR 0016).
      ['blind_commits', counters?.blindCommits ?? 0],
      ['conflicts', counters?.conflicts ?? 0],
      ['retries', counters?.retries ?? 0],
      ['watch_aborts', counters?.watchAborts ?? 0],
      ['unknown_outcomes', counters?.unknownOutcomes ?? 0],
      ['cpus', cpus().length],
    ]);
    // As Redis: a section it does not know gives an empty reply.
    return lines.length === 0 ? '' : `${lines.join('\r\n')}\r\n`;
  }

  private report(): void {
    const nowMs = Date.now();
    const intervalMs = Math.max(1, nowMs - this.lastReportAtMs);
    this.lastReportAtMs = nowMs;
    const cpu = process.cpuUsage(this.lastCpu);
    this.lastCpu = process.cpuUsage();
    // INFO's used_memory_peak: sampled here too, not only when INFO is asked.
    this.memoryPeakBytes = Math.max(this.memoryPeakBytes, usedMemory(process.memoryUsage()));
    const interval = this.metrics.takeInterval();
    const attachment = this.attachment;
    const cumulative = {
      conflicts: attachment?.engine.counters.conflicts ?? 0,
      retries: attachment?.engine.counters.retries ?? 0,
      hits: attachment?.cache.stats.hits ?? 0,
      misses: attachment?.cache.stats.misses ?? 0,
    };
    const delta = (key: keyof typeof cumulative): number =>
      Math.max(0, cumulative[key] - this.lastCumulative[key]);
    const lookups = delta('hits') + delta('misses');
    const report: IntervalReport = {
      nodeId: this.options.nodeId,
      clusterId: attachment?.request.clusterId ?? null,
      state: this.state,
      cu: attachment?.request.cu ?? 0,
      atMs: nowMs,
      intervalMs,
      opsPerSecond: (interval.commands * 1000) / intervalMs,
      commands: interval.commands,
      throttledCommands: interval.throttled,
      p50LatencyMs: interval.p50Micros / 1000,
      p99LatencyMs: interval.p99Micros / 1000,
      connections: attachment?.server.connectionCount ?? 0,
      sessionsInTransaction: attachment?.sessionsInTransaction() ?? 0,
      cacheHitRatio: lookups === 0 ? 0 : delta('hits') / lookups,
      conflicts: delta('conflicts'),
      retries: delta('retries'),
      cpuPercent: ((cpu.user + cpu.system) / 1000 / intervalMs) * 100,
      lastCommandAtMs: this.metrics.lastCommandAtMs,
    };
    this.lastCumulative = cumulative;
    this.lastReport = report;
    this.reporter?.report(report);
  }
}
