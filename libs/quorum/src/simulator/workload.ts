// The clients of a simulated run: register clients (reads and read-modify-writes of a few hot
// keys, so that transactions conflict) and bank clients (transfers between accounts and snapshot
// reads of all of them). They drive the writers the way a data node would and record what they
// observed as histories for the checkers. An aborted attempt definitely did not happen and is
// retried a bounded number of times; an unknown outcome stays open (return at infinity).
import type {
  BankInput,
  BankOutput,
  HistoryRecorder,
  OperationHandle,
  RegisterInput,
  RegisterOutput,
} from '../../../history/src/index.js';
import type { ReadEntry, TxId, WriteEntry } from '../messages.js';
import type { ReadValue } from '../writer.js';
import type { InvariantChecker } from './invariants.js';
import type { Prng } from './prng.js';

export const REGISTER_VOLUME = 'registers';
export const BANK_VOLUME = 'bank';
export const REGISTER_KEYS: readonly string[] = ['k0', 'k1', 'k2'];
export const BANK_ACCOUNTS: readonly string[] = ['acct0', 'acct1', 'acct2', 'acct3'];
/** An account that was never written holds this much: no set-up transaction is needed. */
export const INITIAL_BALANCE = 100;
export const BANK_TOTAL = INITIAL_BALANCE * BANK_ACCOUNTS.length;
/** Attempts of one operation that keep aborting on conflicts before the client gives up. */
const MAX_ATTEMPTS = 6;

/** What clients need from the simulation. */
export interface WorkloadHost {
  readonly nowMs: number;
  readonly checker: InvariantChecker;
  readonly registerHistory: HistoryRecorder<RegisterInput, RegisterOutput>;
  readonly bankHistory: HistoryRecorder<BankInput, BankOutput>;
  /** False once the fault phase is over: clients finish what they do and start nothing new. */
  readonly acceptingOperations: boolean;
  /** Starts a read on the client's writer; false when that writer is down. */
  read(client: Client, volume: string, keys: string[]): boolean;
  /** Starts a commit on the client's writer; null when that writer is down. */
  begin(client: Client, volume: string, reads: ReadEntry[], writes: WriteEntry[]): TxId | null;
  /** Asks for `client.wake()` after the delay. */
  wakeLater(client: Client, delayMs: number): void;
  nextProcessId(): number;
  nextValueId(): number;
  trace(line: string): void;
}

/**
 * - `idle`: between operations;
 * - `waiting`: inside an operation, before its next attempt (after an abort, or while its writer is down);
 * - `reading` / `committing`: a read or a commit is in flight on the writer.
 */
type Phase = 'idle' | 'waiting' | 'reading' | 'committing';

export abstract class Client {
  /** History process id; replaced after an unknown outcome, since that operation never ends. */
  process: number;
  phase: Phase = 'idle';
  /** Only the latest scheduled wake-up counts. */
  wakeToken = 0;
  protected attempt = 0;
  protected handle: OperationHandle | null = null;

  constructor(
    readonly name: string,
    readonly writerSlot: number,
    protected readonly host: WorkloadHost,
    protected readonly rng: Prng,
  ) {
    this.process = host.nextProcessId();
  }

  get busy(): boolean {
    return this.phase !== 'idle';
  }

  wake(): void {
    if (this.phase === 'waiting') {
      this.attemptOperation();
    } else if (this.phase === 'idle' && this.host.acceptingOperations) {
      this.attempt = 0;
      this.startOperation();
      this.attemptOperation();
    }
  }

  abstract onRead(values: ReadValue[]): void;
  abstract onCommitted(): void;
  /** Picks the next operation and records its invocation. */
  protected abstract startOperation(): void;
  /** Reads what the operation needs (again, after an abort). */
  protected abstract readForAttempt(): void;
  protected abstract failHandle(handle: OperationHandle): void;
  protected abstract unknownHandle(handle: OperationHandle): void;

  private attemptOperation(): void {
    this.attempt++;
    this.readForAttempt();
  }

  onAborted(reason: string): void {
    this.host.trace(`${this.name} attempt ${this.attempt} aborted: ${reason}`);
    if (this.attempt >= MAX_ATTEMPTS) {
      this.settleFailed();
      return;
    }
    this.phase = 'waiting';
    this.host.wakeLater(this, this.rng.between(0, 5 * this.attempt));
  }

  onReadFailed(): void {
    // No transaction of this attempt started and the earlier ones aborted: nothing happened.
    this.settleFailed();
  }

  onUnknown(): void {
    this.settleUnknown();
  }

  /** The client's writer crashed with this client's operation in flight. */
  onWriterCrash(): void {
    if (this.phase === 'committing') this.settleUnknown();
    else if (this.phase === 'reading') this.settleFailed();
  }

  /** The run ends with this operation in flight. */
  abandon(): void {
    if (this.phase === 'committing') this.settleUnknown();
    else if (this.phase !== 'idle') this.settleFailed();
  }

  protected settleDone(): void {
    this.phase = 'idle';
    this.handle = null;
    this.host.wakeLater(this, this.rng.between(0, 25));
  }

  protected settleFailed(): void {
    if (this.handle !== null) this.failHandle(this.handle);
    this.settleDone();
  }

  protected settleUnknown(): void {
    if (this.handle !== null) this.unknownHandle(this.handle);
    this.process = this.host.nextProcessId();
    this.settleDone();
  }

  /** While the writer is down, the operation waits for it instead of failing at once. */
  protected readOrWait(volume: string, keys: string[]): void {
    this.phase = 'reading';
    if (this.host.read(this, volume, keys)) return;
    this.phase = 'waiting';
    this.attempt--;
    this.host.wakeLater(this, 50);
  }

  protected commit(volume: string, reads: ReadEntry[], writes: WriteEntry[]): void {
    this.phase = 'committing';
    if (this.host.begin(this, volume, reads, writes) === null) this.settleFailed();
  }
}

export function encodeText(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let index = 0; index < text.length; index++) bytes[index] = text.charCodeAt(index) & 0xff;
  return bytes;
}

export function decodeText(bytes: Uint8Array | null): string | null {
  if (bytes === null) return null;
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

type RegisterOperationState =
  | { kind: 'read'; key: string; floor: number }
  | { kind: 'write'; key: string; value: string | null; floor: number; blind: boolean };

/**
 * Values starting with this byte are pinned: a blind write may not replace them (its guard
 * allows only a value starting with the key's first byte), so it aborts and retries with a read.
 */
const PINNED_PREFIX = '#';

/**
 * Reads, and writes of a unique value to a few hot keys: most read the version first, some are
 * blind (ADR 0016) and commit at a version their client chose, with a guard against pinned values.
 */
export class RegisterClient extends Client {
  private operation: RegisterOperationState | null = null;
  /** The last seq a blind write of this client chose: the next one is higher. */
  private blindSeq = 0;

  protected startOperation(): void {
    const key = this.rng.pick(REGISTER_KEYS);
    if (this.rng.chance(0.45)) {
      this.handle = this.host.registerHistory.invoke(this.process, { key, kind: 'read' }, this.host.nowMs);
      this.operation = { kind: 'read', key, floor: 0 };
    } else {
      // Rare deletes: a key can go back to absent, which reads must also get right.
      const value = this.rng.chance(0.05)
        ? null
        : `${this.rng.chance(0.15) ? PINNED_PREFIX : ''}${key}=${this.host.nextValueId()}`;
      this.handle = this.host.registerHistory.invoke(
        this.process,
        { key, kind: 'write', value },
        this.host.nowMs,
      );
      const blind = value !== null && this.rng.chance(0.4);
      this.operation = { kind: 'write', key, value, floor: 0, blind };
    }
  }

  protected readForAttempt(): void {
    const operation = this.operation as RegisterOperationState;
    // A blind write skips the read on its first attempt only: after an abort it reads, as a
    // data node does, so a clock behind the key's version cannot keep it aborting.
    if (operation.kind === 'write' && operation.blind && this.attempt === 1) {
      this.commitBlind(operation.key, operation.value);
      return;
    }
    operation.floor = this.host.checker.readFloor(REGISTER_VOLUME, operation.key);
    this.readOrWait(REGISTER_VOLUME, [operation.key]);
  }

  /**
   * A write at a version chosen from the clock, above any this client chose before. The clock is
   * coarse on purpose (4 seqs per 50 ms, where a data node uses 1,024 per ms): clients often
   * choose the same seq, or one below the key's version, which replicas must refuse.
   */
  private commitBlind(key: string, value: string | null): void {
    this.blindSeq = Math.max(Math.floor(this.host.nowMs / 50) * 4, this.blindSeq + 1);
    this.commit(
      REGISTER_VOLUME,
      [{ key, seq: this.blindSeq - 1, blind: { mask: 0xff, firstBytes: [key.charCodeAt(0)] } }],
      [{ key, value: value === null ? null : encodeText(value) }],
    );
  }

  onRead(values: ReadValue[]): void {
    const operation = this.operation as RegisterOperationState;
    const read = values[0] as ReadValue;
    this.host.checker.checkRead(REGISTER_VOLUME, operation.key, read.version, operation.floor, this.name);
    if (operation.kind === 'read') {
      this.host.registerHistory.complete(
        this.handle as OperationHandle,
        decodeText(read.value),
        this.host.nowMs,
      );
      this.settleDone();
      return;
    }
    this.commit(
      REGISTER_VOLUME,
      [{ key: operation.key, seq: read.version.seq }],
      [{ key: operation.key, value: operation.value === null ? null : encodeText(operation.value) }],
    );
  }

  onCommitted(): void {
    this.host.registerHistory.complete(this.handle as OperationHandle, 'ok', this.host.nowMs);
    this.settleDone();
  }

  protected failHandle(handle: OperationHandle): void {
    this.host.registerHistory.fail(handle);
  }

  protected unknownHandle(handle: OperationHandle): void {
    this.host.registerHistory.unknown(handle);
  }
}

type BankOperationState =
  | { kind: 'transfer'; from: string; to: string; amount: number; floors: number[] }
  | { kind: 'snapshot'; floors: number[]; balances: Record<string, number> | null };

/** Transfers between accounts (only with sufficient funds) and snapshot reads of all accounts. */
export class BankClient extends Client {
  private operation: BankOperationState | null = null;

  protected startOperation(): void {
    if (this.rng.chance(0.35)) {
      this.handle = this.host.bankHistory.invoke(this.process, { kind: 'read' }, this.host.nowMs);
      this.operation = { kind: 'snapshot', floors: [], balances: null };
    } else {
      const from = this.rng.pick(BANK_ACCOUNTS);
      let to = this.rng.pick(BANK_ACCOUNTS);
      while (to === from) to = this.rng.pick(BANK_ACCOUNTS);
      const amount = this.rng.int(1, 60);
      this.handle = this.host.bankHistory.invoke(
        this.process,
        { kind: 'transfer', from, to, amount },
        this.host.nowMs,
      );
      this.operation = { kind: 'transfer', from, to, amount, floors: [] };
    }
  }

  private keys(): string[] {
    const operation = this.operation as BankOperationState;
    return operation.kind === 'transfer' ? [operation.from, operation.to] : [...BANK_ACCOUNTS];
  }

  protected readForAttempt(): void {
    const operation = this.operation as BankOperationState;
    const keys = this.keys();
    operation.floors = keys.map((key) => this.host.checker.readFloor(BANK_VOLUME, key));
    this.readOrWait(BANK_VOLUME, keys);
  }

  onRead(values: ReadValue[]): void {
    const operation = this.operation as BankOperationState;
    values.forEach((value, index) => {
      this.host.checker.checkRead(
        BANK_VOLUME,
        value.key,
        value.version,
        operation.floors[index] ?? 0,
        this.name,
      );
    });
    const balanceOf = (value: ReadValue): number =>
      value.value === null ? INITIAL_BALANCE : Number(decodeText(value.value));
    const reads = values.map((value) => ({ key: value.key, seq: value.version.seq }));
    let writes: WriteEntry[] = [];
    if (operation.kind === 'transfer') {
      const [from, to] = values as [ReadValue, ReadValue];
      const fromBalance = balanceOf(from);
      if (fromBalance < operation.amount) {
        this.host.bankHistory.complete(this.handle as OperationHandle, 'insufficient', this.host.nowMs);
        this.settleDone();
        return;
      }
      writes = [
        { key: operation.from, value: encodeText(String(fromBalance - operation.amount)) },
        { key: operation.to, value: encodeText(String(balanceOf(to) + operation.amount)) },
      ];
    } else {
      operation.balances = Object.fromEntries(values.map((value) => [value.key, balanceOf(value)]));
    }
    // A snapshot commits a read-only transaction: its replicas confirm nothing changed since,
    // and it counts only if that commit succeeds.
    this.commit(BANK_VOLUME, reads, writes);
  }

  onCommitted(): void {
    const operation = this.operation as BankOperationState;
    const output: BankOutput =
      operation.kind === 'transfer' ? 'ok' : (operation.balances as Record<string, number>);
    this.host.bankHistory.complete(this.handle as OperationHandle, output, this.host.nowMs);
    this.settleDone();
  }

  protected failHandle(handle: OperationHandle): void {
    this.host.bankHistory.fail(handle);
  }

  protected unknownHandle(handle: OperationHandle): void {
    this.host.bankHistory.unknown(handle);
  }
}
