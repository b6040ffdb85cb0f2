// The clients of a run whose writers are whole writer processes (writer-shell.ts): they speak Redis
// commands over connections, as applications do, and record what they observed for the checkers.
// - Register clients (cluster consistency): GET, SET, DEL, and compare-and-set as WATCH, GET,
//   MULTI, SET, EXEC, on a few hot keys: histories for the linearizability checker.
// - Bank clients (cluster consistency): transfers as WATCH, MGET, MULTI, SET, SET, EXEC, and
//   snapshot reads with MGET: histories for the bank checker.
// - Counter clients (instance consistency, reads from the writer's cache): INCR and GET of
//   counters shared by every writer: histories for the session-guarantees checker.
// An error reply starting with UNKNOWN, or a connection lost with a write in flight, leaves the
// operation open (its outcome is unknown); any other error means nothing was applied, as the data
// node promises, and the operation is left out of the history. The checkers hold it to that.
import type {
  BankInput,
  BankOutput,
  HistoryRecorder,
  OperationHandle,
  RegisterInput,
  RegisterOutput,
  SessionInput,
  SessionOutput,
} from '../../../history/src/index.js';
import type { Prng } from './prng.js';
import { BANK_ACCOUNTS, INITIAL_BALANCE, REGISTER_KEYS } from './workload.js';
import type { SimConnection, SimReply } from './writer-shell.js';

export const COUNTER_KEYS: readonly string[] = ['n0', 'n1'];

/** `count` counter keys (`n0`, `n1`, ...): the first two are COUNTER_KEYS. */
export function counterKeys(count: number): readonly string[] {
  return Array.from({ length: count }, (_, index) => `n${index}`);
}
/** Attempts of one transfer whose EXEC keeps answering null before the client gives up. */
const TRANSFER_ATTEMPTS_MAX = 6;
/** How long a client waits before it tries to reconnect to a writer that is down. */
const RECONNECT_MS = 50;

/** What the clients need from the simulation. */
export interface RedisWorkloadHost {
  readonly nowMs: number;
  /** False once the fault phase is over: clients finish what they do and start nothing new. */
  readonly acceptingOperations: boolean;
  readonly registerHistory: HistoryRecorder<RegisterInput, RegisterOutput>;
  readonly bankHistory: HistoryRecorder<BankInput, BankOutput>;
  readonly counterHistory: HistoryRecorder<SessionInput, SessionOutput>;
  /** A new connection to the writer in `slot`, or null while that writer is down. */
  connect(slot: number, volume: string, consistency: 'instance' | 'cluster'): SimConnection | null;
  /** Resolves after `ms` of virtual time. */
  sleep(ms: number): Promise<void>;
  nextProcessId(): number;
  nextValueId(): number;
  /** The counters the counter clients increment and read. */
  readonly counterKeys: readonly string[];
  /** Whether trace lines are kept: a line per command is built only then. */
  readonly tracing: boolean;
  trace(line: string): void;
}

/** The connection's writer crashed with the command in flight. */
export class ConnectionLost extends Error {
  override readonly name = 'ConnectionLost';
}

/** The operation ended without an answer: it may have been applied (`unknown`) or not (`failed`). */
class Unanswered {
  constructor(
    readonly outcome: 'unknown' | 'failed',
    readonly why: string,
  ) {}
}

/** An operation in flight, as the history must record it if the run ends first. */
interface OpenOperation {
  handle: OperationHandle;
  history: HistoryRecorder<unknown, unknown>;
  /** Whether a command that may write has been sent. */
  mayHaveWritten: boolean;
}

export abstract class RedisClient {
  /** History process id; replaced after an unknown outcome, since that operation never ends. */
  process: number;
  phase = 'idle';
  private connection: SimConnection | null = null;
  protected open: OpenOperation | null = null;
  private abandoned = false;

  constructor(
    readonly name: string,
    readonly writerSlot: number,
    protected readonly host: RedisWorkloadHost,
    protected readonly rng: Prng,
    private readonly volume: string,
    private readonly consistency: 'instance' | 'cluster',
  ) {
    this.process = host.nextProcessId();
  }

  get busy(): boolean {
    return this.phase !== 'idle';
  }

  /** Operations one after another until the fault phase ends. */
  async run(): Promise<void> {
    await this.host.sleep(this.rng.between(0, 20));
    while (this.host.acceptingOperations && !this.abandoned) {
      this.phase = 'operating';
      try {
        await this.operate();
      } catch (cause) {
        if (!(cause instanceof Unanswered)) throw cause;
        this.settleUnanswered(cause);
      }
      this.phase = 'idle';
      await this.host.sleep(this.rng.between(0, 25));
    }
  }

  /** The run ends with this client's operation in flight. */
  abandon(): void {
    this.abandoned = true;
    if (this.open !== null) this.settleUnanswered(new Unanswered('unknown', 'the run ended'));
  }

  /** One operation: invokes, runs and completes it, or throws `Unanswered`. */
  protected abstract operate(): Promise<void>;

  protected begin<I, O>(history: HistoryRecorder<I, O>, input: I): void {
    this.open = {
      handle: history.invoke(this.process, input, this.host.nowMs),
      history: history as HistoryRecorder<unknown, unknown>,
      mayHaveWritten: false,
    };
  }

  protected complete(output: unknown): void {
    const open = this.open;
    if (open === null || this.abandoned) return;
    this.open = null;
    open.history.complete(open.handle, output, this.host.nowMs);
  }

  private settleUnanswered(unanswered: Unanswered): void {
    const open = this.open;
    if (open === null) return;
    this.open = null;
    this.host.trace(`${this.name}: ${unanswered.outcome}: ${unanswered.why}`);
    if (unanswered.outcome === 'unknown' && open.mayHaveWritten) {
      open.history.unknown(open.handle);
      this.process = this.host.nextProcessId();
    } else {
      open.history.fail(open.handle);
    }
  }

  /**
   * Sends one command; a command that may write marks the operation so. Throws `Unanswered` on
   * an error reply (the connection's transaction state is reset first), or when the writer
   * crashed with the command in flight.
   */
  protected async call(args: readonly string[], writes: boolean): Promise<SimReply> {
    while (this.connection === null) {
      this.connection = this.host.connect(this.writerSlot, this.volume, this.consistency);
      if (this.connection === null) await this.host.sleep(RECONNECT_MS);
    }
    if (writes && this.open !== null) this.open.mayHaveWritten = true;
    let reply: SimReply;
    try {
      reply = await this.connection.command(args);
    } catch (cause) {
      if (!(cause instanceof ConnectionLost)) throw cause;
      this.connection = null;
      throw new Unanswered('unknown', `${args[0]} in flight on a writer that crashed`);
    }
    if (this.host.tracing) this.host.trace(`${this.name}: ${args.join(' ')} → ${JSON.stringify(reply)}`);
    const failure = errorOf(reply);
    if (failure !== null) {
      await this.reset();
      throw new Unanswered(failure.startsWith('UNKNOWN') ? 'unknown' : 'failed', `${args[0]}: ${failure}`);
    }
    return reply;
  }

  /** Out of MULTI and WATCH after a failed step (RESET touches no storage). */
  private async reset(): Promise<void> {
    const connection = this.connection;
    if (connection === null) return;
    try {
      await connection.command(['RESET']);
    } catch {
      this.connection = null;
    }
  }
}

/** The error of a reply: its own, or the first inside an array (EXEC's replies). */
function errorOf(reply: SimReply): string | null {
  if (reply !== null && typeof reply === 'object' && !Array.isArray(reply)) return reply.error;
  if (Array.isArray(reply)) {
    for (const item of reply) {
      const inner = errorOf(item);
      if (inner !== null) return inner;
    }
  }
  return null;
}

function text(reply: SimReply): string | null {
  if (reply === null) return null;
  if (typeof reply !== 'string') throw new Error(`expected a string reply, got ${JSON.stringify(reply)}`);
  return reply;
}

/** GET, SET, DEL and WATCH-guarded compare-and-set of a few hot keys. */
export class RedisRegisterClient extends RedisClient {
  /** The value this client last saw per key: what its compare-and-sets expect. */
  private readonly seen = new Map<string, string>();

  protected async operate(): Promise<void> {
    const key = this.rng.pick(REGISTER_KEYS);
    const roll = this.rng.next();
    const expected = this.seen.get(key);
    if (roll < 0.4) {
      this.begin(this.host.registerHistory, { key, kind: 'read' });
      const value = text(await this.call(['GET', key], false));
      if (value !== null) this.seen.set(key, value);
      this.complete(value);
    } else if (roll < 0.75 || expected === undefined) {
      // Rare deletes: a key can go back to absent, which reads must also get right.
      const value = this.rng.chance(0.05) ? null : `${key}=${this.host.nextValueId()}`;
      this.begin(this.host.registerHistory, { key, kind: 'write', value });
      await this.call(value === null ? ['DEL', key] : ['SET', key, value], true);
      this.complete('ok');
    } else {
      // Values are unique and the expected one is not null, so a changed version is a changed value.
      const value = `${key}=${this.host.nextValueId()}`;
      this.begin(this.host.registerHistory, { key, kind: 'cas', expected, value });
      await this.call(['WATCH', key], false);
      const current = text(await this.call(['GET', key], false));
      if (current !== expected) {
        await this.call(['UNWATCH'], false);
        if (current !== null) this.seen.set(key, current);
        this.complete(false);
        return;
      }
      await this.call(['MULTI'], false);
      await this.call(['SET', key, value], false);
      const replies = await this.call(['EXEC'], true);
      if (replies !== null) this.seen.set(key, value);
      this.complete(replies !== null);
    }
  }
}

/** Transfers under WATCH (only with sufficient funds) and snapshot reads of every account. */
export class RedisBankClient extends RedisClient {
  protected async operate(): Promise<void> {
    if (this.rng.chance(0.35)) {
      this.begin(this.host.bankHistory, { kind: 'read' });
      const replies = (await this.call(['MGET', ...BANK_ACCOUNTS], false)) as SimReply[];
      this.complete(
        Object.fromEntries(BANK_ACCOUNTS.map((account, index) => [account, balance(replies[index] ?? null)])),
      );
      return;
    }
    const from = this.rng.pick(BANK_ACCOUNTS);
    let to = this.rng.pick(BANK_ACCOUNTS);
    while (to === from) to = this.rng.pick(BANK_ACCOUNTS);
    const amount = this.rng.int(1, 60);
    this.begin(this.host.bankHistory, { kind: 'transfer', from, to, amount });
    for (let attempt = 1; attempt <= TRANSFER_ATTEMPTS_MAX; attempt++) {
      await this.call(['WATCH', from, to], false);
      const [fromReply, toReply] = (await this.call(['MGET', from, to], false)) as SimReply[];
      const fromBalance = balance(fromReply ?? null);
      if (fromBalance < amount) {
        await this.call(['UNWATCH'], false);
        this.complete('insufficient');
        return;
      }
      await this.call(['MULTI'], false);
      await this.call(['SET', from, String(fromBalance - amount)], false);
      await this.call(['SET', to, String(balance(toReply ?? null) + amount)], false);
      if ((await this.call(['EXEC'], true)) !== null) {
        this.complete('ok');
        return;
      }
      // A watched account changed: this attempt applied nothing.
      await this.host.sleep(this.rng.between(0, 5 * attempt));
    }
    throw new Unanswered('failed', `transfer conflicted ${TRANSFER_ATTEMPTS_MAX} times`);
  }
}

function balance(reply: SimReply): number {
  const value = text(reply);
  return value === null ? INITIAL_BALANCE : Number(value);
}

/** INCR and GET of counters shared by every writer, reading from this writer's cache. */
export class RedisCounterClient extends RedisClient {
  protected async operate(): Promise<void> {
    const key = this.rng.pick(this.host.counterKeys);
    if (this.rng.chance(0.5)) {
      this.begin(this.host.counterHistory, { f: 'incr', key });
      const value = await this.call(['INCR', key], true);
      this.complete({ value: value as number });
    } else {
      this.begin(this.host.counterHistory, { f: 'get', key });
      const value = text(await this.call(['GET', key], false));
      this.complete({ value: value === null ? 0 : Number(value) });
    }
  }
}
