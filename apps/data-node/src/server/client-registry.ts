// What the connections of one RESP listener share: the list CLIENT LIST and CLIENT KILL walk,
// the MONITOR connections every command is shown to, and CLIENT PAUSE. All of it is this
// writer's only: another writer of the cluster has its own clients, monitors and pause.
import { formatMonitorLine } from './client-info.js';

/** What the registry needs of a connection's session. */
export interface RegisteredClient {
  readonly id: number;
  readonly remoteAddress: string;
  /** Sends one MONITOR line to this client (a monitor); it may disconnect a client that lags. */
  sendMonitorLine(line: string): void;
}

export type PauseMode = 'write' | 'all';

/** Redis's CLIENT PAUSE takes any timeout; a pause here ends after this long whatever was asked. */
export const PAUSE_MS_MAX = 24 * 60 * 60 * 1000;

/** Wall-clock microseconds: Date.now() gives milliseconds only, so the monotonic clock adds the rest. */
const EPOCH_MICROS_AT_HRTIME_ZERO = BigInt(Date.now()) * 1000n - process.hrtime.bigint() / 1000n;

export function nowMicros(): bigint {
  return EPOCH_MICROS_AT_HRTIME_ZERO + process.hrtime.bigint() / 1000n;
}

export class ClientRegistry<Client extends RegisteredClient = RegisteredClient> {
  private readonly clients = new Map<number, Client>();
  private readonly monitors = new Set<Client>();
  private pause: {
    mode: PauseMode;
    untilMs: number;
    timer: NodeJS.Timeout;
    ended: Promise<void>;
    end(): void;
  } | null = null;

  add(client: Client): void {
    this.clients.set(client.id, client);
  }

  remove(client: Client): void {
    this.clients.delete(client.id);
    this.monitors.delete(client);
  }

  get all(): Client[] {
    return [...this.clients.values()];
  }

  get monitorCount(): number {
    return this.monitors.size;
  }

  startMonitor(client: Client): void {
    this.monitors.add(client);
  }

  stopMonitor(client: Client): void {
    this.monitors.delete(client);
  }

  isMonitor(client: Client): boolean {
    return this.monitors.has(client);
  }

  /** Shows a command `from` runs to every monitor (the caller leaves out what Redis leaves out). */
  feedMonitors(from: RegisteredClient, args: readonly Buffer[]): void {
    if (this.monitors.size === 0) return;
    const line = formatMonitorLine(nowMicros(), from.remoteAddress, args);
    for (const monitor of this.monitors) monitor.sendMonitorLine(line);
  }

  /** CLIENT PAUSE: a later pause replaces an earlier one only if it ends later, as in Redis. */
  pauseFor(ms: number, mode: PauseMode, nowMs: number): void {
    const untilMs = nowMs + Math.min(ms, PAUSE_MS_MAX);
    const current = this.pause;
    if (current !== null) {
      // Redis keeps the later end and the stricter mode of the two.
      if (untilMs <= current.untilMs && (current.mode === 'all' || mode === 'write')) return;
      if (untilMs > current.untilMs) {
        clearTimeout(current.timer);
        current.untilMs = untilMs;
        current.timer = setTimeout(() => this.unpause(), untilMs - nowMs);
        current.timer.unref();
      }
      if (mode === 'all') current.mode = 'all';
      return;
    }
    let end = (): void => undefined;
    const ended = new Promise<void>((resolve) => {
      end = resolve;
    });
    const timer = setTimeout(() => this.unpause(), untilMs - nowMs);
    timer.unref();
    this.pause = { mode, untilMs, timer, ended, end };
  }

  unpause(): void {
    const current = this.pause;
    if (current === null) return;
    this.pause = null;
    clearTimeout(current.timer);
    current.end();
  }

  /** Resolves when the pause that holds a command of this kind ends; null when none holds it. */
  pausedUntilEnd(isWrite: boolean): Promise<void> | null {
    const current = this.pause;
    if (current === null) return null;
    if (current.mode === 'write' && !isWrite) return null;
    return current.ended;
  }
}
