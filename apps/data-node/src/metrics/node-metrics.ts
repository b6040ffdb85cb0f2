// What a data node measures: counted as commands run, read out every reporting interval (for
// the control plane, through Redis) and on scrape (Prometheus).
import { Counter, Gauge, Registry } from 'prom-client';
import type { DataNodeIntervalReport } from '../../../../libs/routes/src/index.js';
import type { TransactionTimings } from '../engine/transaction-engine.js';
import { CountedHistogram } from './counted-histogram.js';
import { LatencyHistogram } from './latency-histogram.js';

/** The report published every interval; its shape is the platform's contract (libs/routes). */
export type IntervalReport = DataNodeIntervalReport;

/** Counters that only grow; the reporter turns them into per-interval deltas. */
export interface CumulativeSource {
  conflicts: number;
  retries: number;
  cacheHits: number;
  cacheMisses: number;
}

/** Buckets of the latency histograms, in seconds. */
const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly commandSeconds: CountedHistogram;
  private readonly queueSeconds: CountedHistogram;
  private readonly commitSeconds: CountedHistogram;
  /**
   * The engine's timings (transaction-engine.ts): with the command histogram they say whether a
   * slow command waited in this node, for a transaction to start, or at the storage replicas.
   */
  readonly transactionTimings: TransactionTimings;
  private readonly throttledTotal: Counter;
  private readonly errorsTotal: Counter;
  readonly connectionsGauge: Gauge;
  readonly capacityGauge: Gauge;
  /**
   * Commands answered since start, by name: counted here and handed to the Prometheus counter
   * when it is scraped. A labelled `inc` per command (hashing its labels each time) was a few
   * percent of a data node's CPU under pipelined GETs.
   */
  private readonly commandCounts = new Map<string, number>();
  private intervalHistogram = new LatencyHistogram();
  private intervalCommands = 0;
  private intervalThrottled = 0;
  lastCommandAtMs = 0;
  commandsSinceStart = 0;
  throttledSinceStart = 0;

  constructor(collectEngine: () => CumulativeSource & { cacheBytes: number; groupsWaiting: number }) {
    const registry = this.registry;
    const commandCounts = this.commandCounts;
    new Counter({
      name: 'borealis_data_node_commands_total',
      help: 'Commands answered, by command name',
      labelNames: ['command'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [command, count] of commandCounts) this.inc({ command }, count);
      },
    });
    this.commandSeconds = new CountedHistogram({
      name: 'borealis_data_node_command_duration_seconds',
      help: 'Time from a command being read to its reply, throttling included',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [registry],
    });
    this.queueSeconds = new CountedHistogram({
      name: 'borealis_data_node_transaction_queue_seconds',
      help: 'Time a command waited for its transaction to start: behind busy keys, or for one of the transactions in flight',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [registry],
    });
    this.commitSeconds = new CountedHistogram({
      name: 'borealis_data_node_quorum_commit_seconds',
      help: 'Time of a commit at the storage replicas, from sending it to its outcome',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [registry],
    });
    const queueSeconds = this.queueSeconds;
    const commitSeconds = this.commitSeconds;
    this.transactionTimings = {
      queued: (ms) => queueSeconds.observe(ms / 1000),
      committed: (ms) => commitSeconds.observe(ms / 1000),
    };
    this.throttledTotal = new Counter({
      name: 'borealis_data_node_throttled_commands_total',
      help: 'Commands delayed by the capacity-unit command budget',
      registers: [registry],
    });
    this.errorsTotal = new Counter({
      name: 'borealis_data_node_error_replies_total',
      help: 'Commands answered with an error',
      registers: [registry],
    });
    this.connectionsGauge = new Gauge({
      name: 'borealis_data_node_connections',
      help: 'Open client connections',
      registers: [registry],
    });
    this.capacityGauge = new Gauge({
      name: 'borealis_data_node_capacity_units',
      help: 'Current size of this writer in capacity units (0 when unattached)',
      registers: [registry],
    });
    const cumulative = (name: string, help: string, read: (source: CumulativeSource) => number): void => {
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read(collectEngine()));
        },
      });
    };
    cumulative(
      'borealis_data_node_conflicts_total',
      'Transactions that lost to another writer and were retried',
      (s) => s.conflicts,
    );
    cumulative('borealis_data_node_retries_total', 'Transaction attempts after the first', (s) => s.retries);
    cumulative('borealis_data_node_cache_hits_total', 'Reads served by the writer cache', (s) => s.cacheHits);
    cumulative(
      'borealis_data_node_cache_misses_total',
      'Reads that went to the storage replicas',
      (s) => s.cacheMisses,
    );
    new Gauge({
      name: 'borealis_data_node_cache_bytes',
      help: 'Bytes held by the writer cache',
      registers: [registry],
      collect() {
        this.set(collectEngine().cacheBytes);
      },
    });
  }

  commandDone(command: string, micros: number, isError: boolean): void {
    this.commandCounts.set(command, (this.commandCounts.get(command) ?? 0) + 1);
    this.commandSeconds.observe(micros / 1e6);
    if (isError) this.errorsTotal.inc();
    this.intervalHistogram.record(micros);
    this.intervalCommands++;
    this.commandsSinceStart++;
    this.lastCommandAtMs = Date.now();
  }

  throttled(): void {
    this.throttledTotal.inc();
    this.intervalThrottled++;
    this.throttledSinceStart++;
  }

  /** The interval's numbers, then a fresh interval. */
  takeInterval(): { commands: number; throttled: number; p50Micros: number; p99Micros: number } {
    const result = {
      commands: this.intervalCommands,
      throttled: this.intervalThrottled,
      p50Micros: this.intervalHistogram.percentileMicros(0.5),
      p99Micros: this.intervalHistogram.percentileMicros(0.99),
    };
    this.intervalHistogram.reset();
    this.intervalCommands = 0;
    this.intervalThrottled = 0;
    return result;
  }
}
