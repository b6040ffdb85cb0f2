// A Jepsen-style workload over real Redis clients, shared by the tests that run it against data
// nodes directly and through a cluster's endpoint. Register workload: SET, GET, and
// compare-and-set as WATCH/GET/MULTI/SET/EXEC. Bank workload, twice: accounts as keys (transfers
// as WATCH/GET/MULTI/DECRBY/INCRBY/EXEC, snapshots as MGET or MULTI/GET…/EXEC) and accounts as
// fields of one hash (WATCH/HGET/MULTI/HINCRBY/HINCRBY/EXEC, snapshots as HGETALL or
// MULTI/HMGET/EXEC). The histories must be linearizable (registers) and conserve money with no
// overdraft (banks).
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import {
  type BankInput,
  type BankOutput,
  checkBank,
  checkRegisterLinearizability,
  HistoryRecorder,
  type OperationHandle,
  type RegisterInput,
  type RegisterOutput,
} from '../../libs/history/src/index.js';
import { sleep } from './prng.js';

export const REGISTER_KEYS = ['reg:0', 'reg:1', 'reg:2', 'reg:3'];
export const INITIAL_BALANCE = 100;
/** A transfer whose EXEC is aborted by a concurrent change is retried this often, then fails. */
const TRANSFER_ATTEMPTS = 4;
/** Operations still running this long after the workload stops are cut (and stay unknown). */
const SETTLE_MS = 8_000;

type ExecReply = [Error | null, unknown][] | null;

/** An error that proves the command did nothing; any other error may hide an applied write. */
export function definitelyNotApplied(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /^(UNAVAILABLE |TRYAGAIN |EXECABORT |ERR the transaction conflicted)/.test(message);
}

/** EXEC's replies, or null when a WATCHed key changed; an error reply inside it is thrown. */
function execResult(result: ExecReply): unknown[] | null {
  if (result === null) return null;
  for (const [error] of result) if (error !== null) throw error;
  return result.map(([, value]) => value);
}

/** How an operation went wrong: `definite` when it certainly had no effect. */
class OperationFailed extends Error {
  constructor(
    readonly definite: boolean,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** One bank: where its accounts live and how the workload moves and reads money in it. */
interface Bank {
  name: string;
  accounts: readonly string[];
  recorder: HistoryRecorder<BankInput, BankOutput>;
  /** WATCHes what a transfer touches and returns the balance of `from`. */
  watchBalance(connection: Redis, from: string, to: string): Promise<number>;
  move(connection: Redis, from: string, to: string, amount: number): Promise<ExecReply>;
  /** Every balance, read as one snapshot (`variant` picks one of two command forms). */
  snapshot(connection: Redis, variant: boolean): Promise<Record<string, number>>;
}

const keyAccounts = Array.from({ length: 8 }, (_, index) => `acct:${index}`);
const hashKey = 'bank:hash';
const hashAccounts = Array.from({ length: 5 }, (_, index) => `h${index}`);

function makeBanks(): Bank[] {
  return [
    {
      name: 'accounts as keys',
      accounts: keyAccounts,
      recorder: new HistoryRecorder<BankInput, BankOutput>(),
      async watchBalance(connection, from, to) {
        // EXEC checks both WATCHed versions, so this GET need not be a snapshot with `to`.
        await connection.watch(from, to);
        return Number(await connection.get(from));
      },
      move: (connection, from, to, amount) =>
        connection.multi().decrby(from, amount).incrby(to, amount).exec(),
      async snapshot(connection, variant) {
        const values = variant
          ? await connection.mget(...keyAccounts)
          : ((execResult(
              await keyAccounts.reduce((multi, account) => multi.get(account), connection.multi()).exec(),
            ) ?? []) as (string | null)[]);
        return Object.fromEntries(keyAccounts.map((account, index) => [account, Number(values[index])]));
      },
    },
    {
      name: 'accounts as hash fields',
      accounts: hashAccounts,
      recorder: new HistoryRecorder<BankInput, BankOutput>(),
      async watchBalance(connection, from) {
        await connection.watch(hashKey);
        return Number(await connection.hget(hashKey, from));
      },
      move: (connection, from, to, amount) =>
        connection.multi().hincrby(hashKey, from, -amount).hincrby(hashKey, to, amount).exec(),
      async snapshot(connection, variant) {
        if (variant) {
          // Every field the hash holds, so that a stray one would show.
          const fields = await connection.hgetall(hashKey);
          return Object.fromEntries(Object.entries(fields).map(([field, value]) => [field, Number(value)]));
        }
        const [values] = (execResult(
          await connection
            .multi()
            .hmget(hashKey, ...hashAccounts)
            .exec(),
        ) ?? []) as [(string | null)[]];
        return Object.fromEntries(hashAccounts.map((account, index) => [account, Number(values?.[index])]));
      },
    },
  ];
}

export interface WorkloadCounts {
  registerOk: number;
  casTrue: number;
  casFalse: number;
  transfersOk: number;
  insufficient: number;
  bankReads: number;
  unknown: number;
  failed: number;
  connections: number;
}

export interface WorkloadOptions {
  random: () => number;
  /**
   * A connection for a worker whose home is `home`; `attempt` counts its connections so far,
   * so that an implementation can spread reconnections. Rejects while none can be made.
   */
  connect(home: number, attempt: number): Promise<Redis>;
  /** Closes a connection the workload is done with (or gave up on). */
  drop(connection: Redis): void;
  /**
   * Whether an EXEC answered null proves that the WATCHed register changed (a CAS that returned
   * false). True against writers directly. Through the endpoint it is false: a session that
   * moves off the writer holding its WATCH gets null from the endpoint although nothing changed
   * (apps/proxy/ARCHITECTURE.md, session moves); such an EXEC is recorded as failed, which still
   * proves that it ran nothing.
   */
  execNullProvesChange?: boolean;
}

export class JepsenWorkload {
  readonly registers = new HistoryRecorder<RegisterInput, RegisterOutput>();
  readonly banks = makeBanks();
  readonly counts: WorkloadCounts = {
    registerOk: 0,
    casTrue: 0,
    casFalse: 0,
    transfersOk: 0,
    insufficient: 0,
    bankReads: 0,
    unknown: 0,
    failed: 0,
    connections: 0,
  };
  readonly sampleErrors: string[] = [];
  private readonly snapshotsRead = new Map<Bank, number>();
  /** The newest value each register is known to have had: what a compare-and-set expects. */
  private readonly lastSeen = new Map<string, string | null>(REGISTER_KEYS.map((key) => [key, null]));
  private readonly startedAt = performance.now();
  private readonly workers: Promise<void>[] = [];
  private running = true;
  private nextProcess = 0;
  private nextValue = 0;

  constructor(private readonly options: WorkloadOptions) {}

  /** Writes the banks' opening balances through `connection`. */
  static async seed(connection: Redis): Promise<void> {
    assert.equal(
      await connection.mset(...keyAccounts.flatMap((account) => [account, String(INITIAL_BALANCE)])),
      'OK',
    );
    assert.equal(
      await connection.hset(
        hashKey,
        Object.fromEntries(hashAccounts.map((account) => [account, String(INITIAL_BALANCE)])),
      ),
      hashAccounts.length,
    );
  }

  now(): number {
    return performance.now() - this.startedAt;
  }

  /** Starts `count` workers of a role whose home is `home`. */
  start(home: number, role: 'register' | 'bank', count: number): void {
    for (let index = 0; index < count; index++) this.workers.push(this.worker(home, role));
  }

  /** Whether enough completed to judge the histories. */
  enough(minimums: { registerOps: number; transfers: number; bankReads: number }): boolean {
    return (
      this.counts.registerOk > minimums.registerOps &&
      this.counts.transfersOk > minimums.transfers &&
      this.banks.every((bank) => (this.snapshotsRead.get(bank) ?? 0) > minimums.bankReads)
    );
  }

  /** Stops the workers; operations still running after a while are cut by `cut` (they stay unknown). */
  async stop(cut: () => void): Promise<void> {
    this.running = false;
    let settleTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.workers),
      new Promise((resolve) => {
        settleTimer = setTimeout(resolve, SETTLE_MS);
      }),
    ]);
    clearTimeout(settleTimer);
    cut();
    await Promise.all(this.workers);
  }

  /**
   * Final reads once everything has healed: a lost acknowledged write would show here. Each is
   * retried (bounded) while the connection's writer reconnects to restarted storage nodes.
   */
  async finalReads(reader: Redis): Promise<void> {
    const finalRead = async <I, O>(recorder: HistoryRecorder<I, O>, input: I, read: () => Promise<O>) => {
      for (let tries = 1; ; tries++) {
        const handle = recorder.invoke(this.nextProcess, input, this.now());
        try {
          recorder.complete(handle, await read(), this.now());
          return;
        } catch (error) {
          recorder.fail(handle);
          if (tries >= 20) throw error;
          await sleep(250);
        }
      }
    };
    for (const key of REGISTER_KEYS)
      await finalRead(this.registers, { key, kind: 'read' }, () => reader.get(key));
    for (const bank of this.banks)
      await finalRead(bank.recorder, { kind: 'read' }, () => bank.snapshot(reader, true));
  }

  /** Asserts linearizable registers and conserved banks with enough snapshots checked. */
  verify(label: string, minimumBankReads: number): void {
    const linearizable = checkRegisterLinearizability(this.registers.operations());
    const bankResults = this.banks.map((bank) =>
      checkBank(bank.recorder.operations(), {
        accounts: bank.accounts,
        total: bank.accounts.length * INITIAL_BALANCE,
      }),
    );
    const bankSummary = this.banks
      .map((bank, index) => `${bank.name}: ${JSON.stringify(bankResults[index]).slice(0, 1_500)}`)
      .join('; ');
    assert.equal(
      linearizable.ok,
      true,
      `register history (${label}): ${JSON.stringify(linearizable).slice(0, 3_000)}; ${bankSummary}`,
    );
    this.banks.forEach((bank, index) => {
      const result = bankResults[index];
      assert.equal(result?.ok, true, `bank with ${bank.name} (${label}): ${bankSummary}`);
      assert.ok(
        result?.ok === true && result.readsChecked > minimumBankReads,
        `too few snapshots of the bank with ${bank.name}: ${bankSummary}`,
      );
    });
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.options.random() * items.length)] as T;
  }

  private async worker(home: number, role: 'register' | 'bank'): Promise<void> {
    const state: { client: Redis | null; process: number } = { client: null, process: this.nextProcess++ };
    let attempts = 0;
    while (this.running) {
      if (state.client === null) {
        try {
          state.client = await this.options.connect(home, attempts++);
          this.counts.connections++;
        } catch {
          await sleep(50);
          continue;
        }
      }
      const choice = this.options.random();
      if (role === 'register') {
        const key = this.pick(REGISTER_KEYS);
        if (choice < 0.4) await this.registerWrite(state, key);
        else if (choice < 0.75) await this.registerRead(state, key);
        else await this.registerCas(state, key);
      } else {
        const bank = this.pick(this.banks);
        if (choice < 0.7) await this.transfer(state, bank);
        else await this.bankRead(state, bank);
      }
      // While too few storage nodes are up, calls are refused at once: do not spin.
      if (state.client === null) await sleep(20);
    }
    if (state.client !== null) this.options.drop(state.client);
  }

  /** Runs one operation into `recorder`; `run` throws `OperationFailed` to say how it failed. */
  private async attempt<I, O>(
    state: { client: Redis | null; process: number },
    recorder: HistoryRecorder<I, O>,
    input: I,
    run: (connection: Redis, handle: OperationHandle) => Promise<O | 'recorded'>,
  ): Promise<void> {
    const connection = state.client as Redis;
    const handle = recorder.invoke(state.process, input, this.now());
    try {
      const output = await run(connection, handle);
      if (output !== 'recorded') recorder.complete(handle, output, this.now());
    } catch (error) {
      const definite = error instanceof OperationFailed ? error.definite : definitelyNotApplied(error);
      if (this.sampleErrors.length < 8)
        this.sampleErrors.push(`${definite ? 'failed' : 'unknown'}: ${(error as Error).message}`);
      if (definite) {
        recorder.fail(handle);
        this.counts.failed++;
      } else {
        // It may still take effect later: its process id retires with it.
        recorder.unknown(handle);
        this.counts.unknown++;
        state.process = this.nextProcess++;
      }
      // The connection may hold a WATCH or be half way through MULTI: start afresh.
      this.options.drop(connection);
      state.client = null;
    }
  }

  private registerWrite(state: { client: Redis | null; process: number }, key: string): Promise<void> {
    const value = `v${this.nextValue++}`;
    return this.attempt(state, this.registers, { key, kind: 'write', value }, async (connection) => {
      assert.equal(await connection.set(key, value), 'OK');
      this.lastSeen.set(key, value);
      this.counts.registerOk++;
      return 'ok' as const;
    });
  }

  private registerRead(state: { client: Redis | null; process: number }, key: string): Promise<void> {
    return this.attempt(state, this.registers, { key, kind: 'read' }, async (connection) => {
      try {
        const value = await connection.get(key);
        this.lastSeen.set(key, value);
        this.counts.registerOk++;
        return value;
      } catch (error) {
        throw new OperationFailed(true, error); // a read changes nothing
      }
    });
  }

  private registerCas(state: { client: Redis | null; process: number }, key: string): Promise<void> {
    const expected = this.lastSeen.get(key) ?? null;
    const value = `v${this.nextValue++}`;
    return this.attempt(
      state,
      this.registers,
      { key, kind: 'cas', expected, value },
      async (connection, handle) => {
        let current: string | null;
        try {
          await connection.watch(key);
          current = await connection.get(key);
        } catch (error) {
          throw new OperationFailed(true, error); // nothing was written yet
        }
        if (current !== expected) {
          // The GET was the compare: the register did not hold `expected` at that point.
          this.registers.complete(handle, false, this.now());
          this.lastSeen.set(key, current);
          this.counts.registerOk++;
          this.counts.casFalse++;
          await connection.unwatch().catch(() => undefined);
          return 'recorded';
        }
        const result = execResult(await connection.multi().set(key, value).exec());
        if (result === null && this.options.execNullProvesChange === false) {
          throw new OperationFailed(
            true,
            new Error('EXEC answered null: a WATCHed key changed or the session moved; nothing ran'),
          );
        }
        this.counts.registerOk++;
        if (result === null) {
          // Only a committed write changes the key's version after the WATCH, and every write
          // here is of a fresh value: the register no longer held `expected`.
          this.counts.casFalse++;
          return false;
        }
        this.lastSeen.set(key, value);
        this.counts.casTrue++;
        return true;
      },
    );
  }

  private transfer(state: { client: Redis | null; process: number }, bank: Bank): Promise<void> {
    const from = this.pick(bank.accounts);
    const to = this.pick(bank.accounts.filter((account) => account !== from));
    const amount = 1 + Math.floor(this.options.random() * 30);
    return this.attempt(state, bank.recorder, { kind: 'transfer', from, to, amount }, async (connection) => {
      for (let round = 0; round < TRANSFER_ATTEMPTS; round++) {
        let balance: number;
        try {
          balance = await bank.watchBalance(connection, from, to);
        } catch (error) {
          throw new OperationFailed(true, error);
        }
        if (balance < amount) {
          await connection.unwatch();
          this.counts.insufficient++;
          return 'insufficient' as const;
        }
        if (execResult(await bank.move(connection, from, to, amount)) !== null) {
          this.counts.transfersOk++;
          return 'ok' as const;
        }
      }
      throw new OperationFailed(
        true,
        new Error(`EXEC aborted ${TRANSFER_ATTEMPTS} times by concurrent transfers`),
      );
    });
  }

  private bankRead(state: { client: Redis | null; process: number }, bank: Bank): Promise<void> {
    return this.attempt(state, bank.recorder, { kind: 'read' }, async (connection) => {
      try {
        const snapshot = await bank.snapshot(connection, this.options.random() < 0.5);
        this.counts.bankReads++;
        this.snapshotsRead.set(bank, (this.snapshotsRead.get(bank) ?? 0) + 1);
        return snapshot;
      } catch (error) {
        throw new OperationFailed(true, error);
      }
    });
  }
}
