// A data node's writer stack inside the deterministic simulator: the storage client
// (QuorumClient), the transaction engine, the versioned cache with its `applied` notices, and the
// sessions that the RESP server hands each parsed command to, all as they ship, bound to the
// simulation's network and virtual clock instead of TCP and timers. Clients of the run speak Redis
// commands to it; their histories go through the linearizability, bank and session-guarantee
// checkers, and the storage client's reads and commits through the simulator's invariants.
//
//   npm run sim -- --writer data-node [--shell storage-node] …
//
// One process serves every volume of the run through one storage client (one writer id), each
// volume with its own engine and cache, as one attachment each would. What the process does not
// take from here: the RESP parser (commands arrive parsed), admission and throttling, metrics.
import type {
  AppliedMessage,
  Envelope,
  Proposal,
  QuorumMessage,
  ReadEntry,
  WriteEntry,
} from '../../../libs/quorum/src/index.js';
import type {
  SimConnection,
  SimReply,
  WriterShell,
  WriterShellFactory,
  WriterShellHost,
  WriterShellStart,
} from '../../../libs/quorum/src/simulator/index.js';
import type { Reply } from '../../../libs/resp/src/reply.js';
import {
  type ClientClock,
  type CommitResult,
  QuorumClient,
  type StorageLinkFactory,
} from '../../../libs/storage-client/src/index.js';
import { CACHE_ENTRY_COVERED_AGE_MAX_MS, VersionedCache } from './cache/versioned-cache.js';
import { storageKey } from './commands/collections/layout.js';
import { decodeStoredValue } from './commands/stored-value.js';
import type { Clock } from './engine/clock.js';
import { Keyspace } from './engine/keyspace.js';
import {
  type ReadConsistency,
  TransactionEngine,
  type TransactionStore,
} from './engine/transaction-engine.js';
import { ServerConfig } from './server/server-config.js';
import { ServerStats } from './server/server-stats.js';
import { Session, type SessionHost } from './server/session.js';

/** Cache bytes of one simulated volume: far above what the run's few keys take. */
const SIMULATED_CACHE_BYTES = 4 * 1024 * 1024;
/**
 * The age bound of a simulated writer's cache entries: far below a run's seconds of virtual time,
 * as production's is below a writer's life, so that entries outlive it and are served on only
 * while the notice streams cover them (ADR 0020).
 */
export const SIMULATED_CACHE_ENTRY_AGE_MAX_MS = 300;

interface Volume {
  cache: VersionedCache;
  engine: TransactionEngine;
  keyspace: Keyspace;
}

class SimulatedWriter implements WriterShell {
  private readonly client: QuorumClient;
  private readonly volumes = new Map<string, Volume>();
  private readonly host: WriterShellHost;
  private readonly writerId: string;
  private readonly config = new ServerConfig();
  private readonly stats = new ServerStats();
  /** Per storage node: the link's message handler, while the process runs. */
  private readonly inbound = new Map<string, (message: unknown) => void>();
  private sessions = 0;
  private stopped = false;

  constructor(options: WriterShellStart) {
    const { host } = options;
    this.host = host;
    this.writerId = options.writerId;
    const clientClock: ClientClock = {
      nowMs: () => host.nowMs(),
      every: (ms, run) => {
        let cancelled = false;
        const again = () => {
          if (cancelled) return;
          run();
          host.schedule(ms, again);
        };
        host.schedule(ms, again);
        return () => {
          cancelled = true;
        };
      },
      after: (ms, run) => {
        let cancelled = false;
        host.schedule(ms, () => {
          if (!cancelled) run();
        });
        return () => {
          cancelled = true;
        };
      },
      defer: (run) => host.schedule(0, run),
    };
    // The simulation's network stands in for TCP: a link is always up (the network drops what a
    // partition cuts), and a message object goes out as it is, not encoded.
    const links: StorageLinkFactory = (node, _hello, events) => {
      this.inbound.set(node.id, (message) => events.onMessage(message));
      return {
        connected: true,
        send: (message) => {
          if (!this.stopped) host.send([{ to: node.id, message } as Envelope]);
        },
        close: () => this.inbound.delete(node.id),
      };
    };
    this.client = new QuorumClient({
      writerId: options.writerId,
      coordinatorId: options.coordinatorId,
      nodes: options.members.map((id) => ({ id, host: '', port: 0 })),
      timing: options.timing,
      notifyVolumes: [...options.volumes],
      onApplied: (notice) => this.onApplied(notice),
      onDecided: (decisions) => {
        if (!this.stopped) host.decided(decisions);
      },
      links,
      clock: clientClock,
      // The simulated writer ticks as it did when the sweeps ran (QuorumClientOptions.tickWhileIdle).
      tickWhileIdle: true,
      random: () => host.random(),
      ...(options.quorum !== undefined ? { quorum: options.quorum } : {}),
    });
    const engineClock: Clock = {
      nowMs: () => host.nowMs(),
      sleep: (ms) => new Promise((resolve) => host.schedule(ms, resolve)),
    };
    for (const volume of options.volumes) {
      const store = this.checkedStore(volume);
      const client = this.client;
      const cache = new VersionedCache(SIMULATED_CACHE_BYTES, SIMULATED_CACHE_ENTRY_AGE_MAX_MS, {
        coveredSinceMs: () => client.noticesCoveredSinceMs(volume),
        coveredAgeMsMax: CACHE_ENTRY_COVERED_AGE_MAX_MS,
      });
      const engine = new TransactionEngine({
        volume,
        store,
        cache,
        clock: engineClock,
        random: () => host.random(),
      });
      const keyspace = new Keyspace(volume, this.client, engine, () => host.random());
      this.volumes.set(volume, { cache, engine, keyspace });
    }
  }

  get inFlight(): number {
    return this.client.inFlight;
  }

  receive(from: string, message: QuorumMessage): void {
    if (this.stopped) return;
    this.inbound.get(from)?.(message);
  }

  connect(volume: string, consistency: ReadConsistency): SimConnection {
    const served = this.volumes.get(volume);
    if (served === undefined) throw new Error(`${this.writerId} does not serve volume ${volume}`);
    const host: SessionHost = {
      engine: served.engine,
      keyspace: served.keyspace,
      password: null,
      defaultConsistency: consistency,
      config: this.config,
      stats: this.stats,
      info: async () => '',
      lastSaveSeconds: () => 0,
    };
    const session = new Session(++this.sessions, host);
    return {
      command: async (args) =>
        toSimReply((await session.handle(args.map((arg) => Buffer.from(arg, 'latin1')))).reply),
    };
  }

  stop(): void {
    this.stopped = true;
  }

  /** As data-node.ts wires it: a notice drops the cached versions it supersedes. */
  private onApplied(notice: AppliedMessage): void {
    this.volumes.get(notice.volume)?.cache.applyNotice(notice.changes, this.host.nowMs());
  }

  /** The storage client as the engine uses it, with the simulator's checks on what it answers. */
  private checkedStore(volume: string): TransactionStore {
    const { client, host } = this;
    return {
      async read(readVolume, keys, prefixBytes) {
        const check = host.readStarted(readVolume, keys);
        const values = await client.read(readVolume, keys, prefixBytes);
        if (prefixBytes === undefined) check(values);
        return values;
      },
      async commit(commitVolume: string, reads: ReadEntry[], writes: WriteEntry[]): Promise<CommitResult> {
        const proposedAtMs = host.nowMs();
        let result: CommitResult;
        try {
          result = await client.commit(commitVolume, reads, writes);
        } catch (cause) {
          if ((cause as Error).name === 'OutcomeUnknownError') {
            const txid = (cause as { txid: string }).txid;
            host.commitEnded(volume, { txid, reads, writes, proposedAtMs } as Proposal, 'unknown');
          }
          throw cause;
        }
        const proposal = { txid: result.txid, reads, writes, proposedAtMs } as Proposal;
        host.commitEnded(volume, proposal, result.outcome);
        return result;
      },
    };
  }
}

/** A reply as the simulated clients read it: strings in latin1, nulls, integers, arrays, errors. */
function toSimReply(reply: Reply): SimReply {
  switch (reply.kind) {
    case 'simple':
      return reply.value;
    case 'error':
      return { error: reply.message };
    case 'integer':
      return Number(reply.value);
    case 'bulk':
      return typeof reply.value === 'string' ? reply.value : reply.value.toString('latin1');
    case 'null':
    case 'nullArray':
      return null;
    case 'array':
    case 'set':
      return reply.items.map(toSimReply);
    default:
      return { error: `the simulated client reads no ${reply.kind} replies` };
  }
}

/** The data node's writer stack as the simulator's writer processes. */
export function dataNodeWriterShell(): WriterShellFactory {
  return {
    name: 'data-node',
    start: (options) => new SimulatedWriter(options),
    volumeKey: (key) => storageKey(key),
    decodeValue: (bytes) => {
      if (bytes === null) return null;
      const stored = decodeStoredValue(bytes);
      return stored.type === 'string' ? Buffer.from(stored.value).toString('latin1') : null;
    },
    // Microtasks all run before the next turn's immediates: one turn settles every chain.
    settle: async () => {
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}
