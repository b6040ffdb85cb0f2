// The load generator's engine: connections to the endpoint (ioredis), an open-loop scheduler
// that issues what the pattern asks for, and the counts a summary is made of. Commands are
// issued on time whatever the replies do (open loop), up to a bound in flight per connection;
// what that bound holds back is counted as shortfall, never silently dropped.
import { randomBytes } from 'node:crypto';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { type Pattern, scheduledBy } from './patterns.js';

export type Workload = 'kv' | 'counter';

export interface LoadOptions {
  host: string;
  port: number;
  password: string | null;
  pattern: Pattern;
  workload: Workload;
  connections: number;
  keys: number;
  valueSize: number;
  keyPrefix: string;
  /** `kv`: share of GETs (the rest are SETs). */
  readRatio: number;
  timeoutMs: number;
  /** Commands in flight per connection at most. */
  inFlightMax: number;
}

export interface SecondStats {
  second: number;
  ops: number;
  failed: number;
}

export interface Progress {
  elapsedSeconds: number;
  durationSeconds: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
}

export interface LoadResult {
  /** When the schedule's time 0 was, ms since the epoch. */
  startedAtMs: number;
  durationSeconds: number;
  ops: number;
  failed: number;
  errorsByKind: Record<string, number>;
  shortfall: number;
  histogram: RecordableHistogram;
  connections: { opened: number; dropped: number };
  perSecond: SecondStats[];
  counters: { acknowledged: Record<string, number>; unknown: Record<string, number> } | null;
}

/** The kind of a failed command: the error reply's code (TRYAGAIN, UNKNOWN, ERR, …), a timeout, or a connection failure. */
export function errorKind(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/timed out/i.test(message)) return 'timeout';
  const code = /^([A-Z][A-Z_-]{1,31})\b/.exec(message)?.[1];
  if (code !== undefined && code !== 'Connection' && code !== 'Stream') return code;
  return 'connection';
}

const TICK_MS = 5;
/** After the schedule ends, commands still in flight get this long beyond their own timeout. */
const DRAIN_GRACE_MS = 1_000;

export class LoadGenerator {
  private readonly clients: Redis[] = [];
  private readonly inFlight: number[] = [];
  private readonly value: string;
  private readonly histogram = createHistogram();
  private secondHistogram = createHistogram();
  private readonly perSecond: SecondStats[] = [];
  private readonly errorsByKind: Record<string, number> = {};
  private readonly acknowledged = new Map<string, number>();
  private readonly unknown = new Map<string, number>();
  private ops = 0;
  private failed = 0;
  private shortfall = 0;
  private opened = 0;
  private dropped = 0;
  private issued = 0;
  private next = 0;
  private stopping = false;
  private startedAt = 0;

  constructor(private readonly options: LoadOptions) {
    this.value = randomBytes(Math.ceil(options.valueSize / 2))
      .toString('hex')
      .slice(0, options.valueSize);
  }

  /** Opens every connection; false when none could be opened (the endpoint is unreachable). */
  async connect(): Promise<{ ok: boolean; error: string | null }> {
    const { host, port, password, timeoutMs } = this.options;
    let lastError: string | null = null;
    await Promise.all(
      Array.from({ length: this.options.connections }, async (_, index) => {
        let wasReady = false;
        const client = new Redis({
          host,
          port,
          ...(password === null ? {} : { password }),
          lazyConnect: true,
          enableReadyCheck: false,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          autoResendUnfulfilledCommands: false,
          commandTimeout: timeoutMs,
          connectTimeout: Math.min(timeoutMs, 10_000),
          // A lost connection is counted, then opened again (bounded), so the run goes on.
          retryStrategy: (attempt) => (this.stopping || attempt > 50 ? null : Math.min(100 * attempt, 1_000)),
        });
        client.on('error', (error: Error) => {
          lastError = error.message;
        });
        client.on('ready', () => {
          wasReady = true;
        });
        client.on('close', () => {
          if (wasReady && !this.stopping) this.dropped++;
          wasReady = false;
        });
        this.clients[index] = client;
        this.inFlight[index] = 0;
        try {
          await client.connect();
          this.opened++;
        } catch (error) {
          lastError = (error as Error).message;
        }
      }),
    );
    return { ok: this.opened > 0, error: lastError };
  }

  /** Runs the pattern to its end (or until `signal` aborts), then waits for what is in flight. */
  async run(onProgress: (progress: Progress) => void, signal: AbortSignal): Promise<LoadResult> {
    const { pattern } = this.options;
    this.startedAt = performance.now();
    const startedAtMs = Date.now();
    let lastSecond = -1;
    await new Promise<void>((resolve) => {
      const finish = () => {
        clearInterval(timer);
        resolve();
      };
      const timer = setInterval(() => {
        const t = (performance.now() - this.startedAt) / 1_000;
        const second = Math.floor(t);
        if (second !== lastSecond && lastSecond >= 0) {
          onProgress(this.progress(lastSecond + 1));
          this.secondHistogram = createHistogram();
        }
        lastSecond = second;
        if (t >= pattern.durationSeconds || signal.aborted) return finish();
        this.issueDue(Math.floor(scheduledBy(pattern, t)));
      }, TICK_MS);
      signal.addEventListener('abort', finish, { once: true });
    });
    if (pattern.name === 'idle') this.pingAll();
    await this.drain();
    const elapsed = (performance.now() - this.startedAt) / 1_000;
    this.stopping = true;
    for (const client of this.clients) client.disconnect();
    return {
      startedAtMs,
      durationSeconds: Math.round(elapsed * 1_000) / 1_000,
      ops: this.ops,
      failed: this.failed,
      errorsByKind: { ...this.errorsByKind },
      shortfall: this.shortfall,
      histogram: this.histogram,
      connections: { opened: this.opened, dropped: this.dropped },
      perSecond: this.perSecond.filter((entry) => entry !== undefined),
      counters:
        this.options.workload === 'counter'
          ? { acknowledged: Object.fromEntries(this.acknowledged), unknown: Object.fromEntries(this.unknown) }
          : null,
    };
  }

  private progress(elapsedSeconds: number): Progress {
    const lastSecond = this.perSecond[elapsedSeconds - 1];
    return {
      elapsedSeconds,
      durationSeconds: this.options.pattern.durationSeconds,
      opsPerSecond: lastSecond?.ops ?? 0,
      p50Ms: this.secondHistogram.count > 0 ? this.secondHistogram.percentile(50) / 1_000 : 0,
      p99Ms: this.secondHistogram.count > 0 ? this.secondHistogram.percentile(99) / 1_000 : 0,
      failed: this.failed,
    };
  }

  private issueDue(due: number): void {
    const count = this.clients.length;
    while (this.issued < due) {
      let index = -1;
      for (let tried = 0; tried < count; tried++) {
        const candidate = (this.next + tried) % count;
        if ((this.inFlight[candidate] as number) < this.options.inFlightMax) {
          index = candidate;
          break;
        }
      }
      if (index < 0) {
        // Every connection is at its bound: what is due now is not sent, and says so.
        this.shortfall += due - this.issued;
        this.issued = due;
        return;
      }
      this.next = (index + 1) % count;
      this.issued++;
      this.issue(index);
    }
  }

  private issue(index: number): void {
    const client = this.clients[index] as Redis;
    const { workload, keys, keyPrefix, readRatio } = this.options;
    const key = `${keyPrefix}${workload === 'counter' ? 'counter:' : 'key:'}${Math.floor(Math.random() * keys)}`;
    let command: Promise<unknown>;
    if (workload === 'counter') command = client.incr(key);
    else if (Math.random() < readRatio) command = client.get(key);
    else command = client.set(key, this.value);
    this.track(index, command, key);
  }

  private track(index: number, command: Promise<unknown>, key: string | null): void {
    const started = performance.now();
    this.inFlight[index] = (this.inFlight[index] as number) + 1;
    command.then(
      () => {
        const micros = Math.max(1, Math.round((performance.now() - started) * 1_000));
        this.histogram.record(micros);
        this.secondHistogram.record(micros);
        this.ops++;
        this.countSecond('ops');
        if (key !== null && this.options.workload === 'counter') bump(this.acknowledged, key);
      },
      (error: unknown) => {
        this.failed++;
        this.countSecond('failed');
        const kind = errorKind(error);
        this.errorsByKind[kind] = (this.errorsByKind[kind] ?? 0) + 1;
        if (key !== null && this.options.workload === 'counter') bump(this.unknown, key);
      },
    );
    void command
      .catch(() => undefined)
      .finally(() => {
        this.inFlight[index] = (this.inFlight[index] as number) - 1;
      });
  }

  private countSecond(field: 'ops' | 'failed'): void {
    const second = Math.floor((performance.now() - this.startedAt) / 1_000);
    if (second < 0 || second > this.options.pattern.durationSeconds + 60) return;
    let entry = this.perSecond[second];
    if (entry === undefined) {
      entry = { second, ops: 0, failed: 0 };
      this.perSecond[second] = entry;
    }
    entry[field]++;
  }

  /** The idle pattern's check at the end: every connection must still answer. */
  private pingAll(): void {
    for (const [index, client] of this.clients.entries()) this.track(index, client.ping(), null);
  }

  private async drain(): Promise<void> {
    const deadline = performance.now() + this.options.timeoutMs + DRAIN_GRACE_MS;
    while (this.inFlight.some((count) => count > 0) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}
