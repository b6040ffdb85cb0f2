// Jepsen-style check of the data node as a Redis server: six real storage-node processes, three
// data-node processes (writers) on one volume in cluster read consistency, and ioredis clients on
// every writer. Register workload: SET, GET, and compare-and-set as WATCH/GET/MULTI/SET/EXEC.
// Bank workload, twice: accounts as keys (transfers as WATCH/GET/MULTI/DECRBY/INCRBY/EXEC,
// snapshots as MGET or MULTI/GET…/EXEC) and accounts as fields of one hash (WATCH/HGET/MULTI/
// HINCRBY/HINCRBY/EXEC, snapshots as HGETALL or MULTI/HMGET/EXEC). A nemesis kill -9s and
// restarts storage nodes (never more than two down at once) and SIGKILLs one writer, whose
// clients move to the others. The histories must be linearizable (registers) and conserve money
// with no overdraft (banks).
//
// The nemesis and the workload draw from a fixed seed (the timing of real processes still
// varies from run to run); FAULT_SEED=<n> picks another, FAULT_SEED=random a new one, printed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
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
import { type RunningDataNode, startDataNode } from '../support/data-nodes.js';
import { mulberry32, seedFromEnvironment, sleep } from '../support/prng.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';

const CLUSTER = 'jepsen';
const WRITERS = 3;
const REGISTER_CLIENTS_PER_WRITER = 2;
const BANK_CLIENTS_PER_WRITER = 3;
const REGISTER_KEYS = ['reg:0', 'reg:1', 'reg:2', 'reg:3'];
const INITIAL_BALANCE = 100;
/** The workload runs this long under faults, then on (healed) until enough has completed. */
const WORKLOAD_MS = 15_000;
const WORKLOAD_MAX_MS = 24_000;
/** The nemesis heals everything this long before the workload's first end. */
const HEAL_BEFORE_END_MS = 2_500;
const REGISTER_OPS_MIN = 200;
const TRANSFERS_MIN = 50;
const BANK_READS_MIN = 10;
/** Operations still running this long after the workload ends are cut (and stay unknown). */
const SETTLE_MS = 8_000;
/** The storage layer's own deadlines are 10 s; a command gets a little more. */
const COMMAND_TIMEOUT_MS = 12_000;
/** A transfer whose EXEC is aborted by a concurrent change is retried this often, then fails. */
const TRANSFER_ATTEMPTS = 4;
const SEED = seedFromEnvironment('FAULT_SEED', 20261124);

type ExecReply = [Error | null, unknown][] | null;

/** An error that proves the command did nothing; any other error may hide an applied write. */
function definitelyNotApplied(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /^(UNAVAILABLE |EXECABORT |ERR the transaction conflicted)/.test(message);
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

const banks: Bank[] = [
  {
    name: 'accounts as keys',
    accounts: keyAccounts,
    recorder: new HistoryRecorder<BankInput, BankOutput>(),
    async watchBalance(connection, from, to) {
      // EXEC checks both WATCHed versions, so this GET need not be a snapshot with `to`.
      await connection.watch(from, to);
      return Number(await connection.get(from));
    },
    move: (connection, from, to, amount) => connection.multi().decrby(from, amount).incrby(to, amount).exec(),
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

describe('data nodes under storage and writer crashes (Jepsen-style)', { timeout: 180_000 }, () => {
  let fleet: StorageFleet | undefined;
  const writers: RunningDataNode[] = [];
  const clients = new Set<Redis>();

  const connect = async (index: number): Promise<Redis> => {
    const writer = writers[index] as RunningDataNode;
    const client = new Redis({
      host: '127.0.0.1',
      port: writer.respPort,
      lazyConnect: true,
      // A lost connection is never retried: commands in flight on it are indeterminate.
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: 5_000,
    });
    client.on('error', () => undefined);
    clients.add(client);
    try {
      await client.connect();
    } catch (error) {
      client.disconnect();
      clients.delete(client);
      throw error;
    }
    return client;
  };

  const drop = (client: Redis) => {
    client.disconnect();
    clients.delete(client);
  };

  before(async () => {
    fleet = await startStorageFleet();
    const storage = fleet.nodes;
    writers.push(
      ...(await Promise.all(
        Array.from({ length: WRITERS }, (_, index) =>
          startDataNode({
            id: `j${index + 1}`,
            storage,
            coordinatorId: 7 + index,
            cluster: CLUSTER,
            volume: CLUSTER,
            cu: 16,
            readConsistency: 'cluster',
          }),
        ),
      )),
    );
    const setup = await connect(0);
    assert.equal(
      await setup.mset(...keyAccounts.flatMap((account) => [account, String(INITIAL_BALANCE)])),
      'OK',
    );
    assert.equal(
      await setup.hset(
        hashKey,
        Object.fromEntries(hashAccounts.map((account) => [account, String(INITIAL_BALANCE)])),
      ),
      hashAccounts.length,
    );
    drop(setup);
  });

  after(async () => {
    for (const client of clients) client.disconnect();
    clients.clear();
    await Promise.all(writers.map((writer) => writer.stop()));
    await fleet?.stop();
  });

  it(`keeps register and bank histories correct through crashes (seed ${SEED})`, async (t) => {
    if (process.env.FAULT_SEED === 'random') console.log(`data-node Jepsen test: FAULT_SEED=${SEED}`);
    const currentFleet = fleet as StorageFleet;
    const random = mulberry32(SEED);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
    const registers = new HistoryRecorder<RegisterInput, RegisterOutput>();
    const startedAt = performance.now();
    const now = () => performance.now() - startedAt;
    const alive = new Set(writers.map((_, index) => index));
    /** The newest value each register is known to have had: what a compare-and-set expects. */
    const lastSeen = new Map<string, string | null>(REGISTER_KEYS.map((key) => [key, null]));
    let running = true;
    let nextProcess = 0;
    let nextValue = 0;
    const counts = {
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
    const snapshotsRead = new Map<Bank, number>(banks.map((bank) => [bank, 0]));
    const sampleErrors: string[] = [];

    const worker = async (home: number, role: 'register' | 'bank') => {
      let writerIndex = home;
      let client: Redis | null = null;
      let process = nextProcess++;

      /** Runs one operation into `recorder`; `run` throws `OperationFailed` to say how it failed. */
      const attempt = async <I, O>(
        recorder: HistoryRecorder<I, O>,
        input: I,
        run: (connection: Redis, handle: OperationHandle) => Promise<O | 'recorded'>,
      ): Promise<void> => {
        const connection = client as Redis;
        const handle = recorder.invoke(process, input, now());
        try {
          const output = await run(connection, handle);
          if (output !== 'recorded') recorder.complete(handle, output, now());
        } catch (error) {
          const definite = error instanceof OperationFailed ? error.definite : definitelyNotApplied(error);
          if (sampleErrors.length < 8)
            sampleErrors.push(`${definite ? 'failed' : 'unknown'}: ${(error as Error).message}`);
          if (definite) {
            recorder.fail(handle);
            counts.failed++;
          } else {
            // It may still take effect later: its process id retires with it.
            recorder.unknown(handle);
            counts.unknown++;
            process = nextProcess++;
          }
          // The connection may hold a WATCH or be half way through MULTI: start afresh.
          drop(connection);
          client = null;
        }
      };

      const registerWrite = (key: string) => {
        const value = `v${nextValue++}`;
        return attempt(registers, { key, kind: 'write', value }, async (connection) => {
          assert.equal(await connection.set(key, value), 'OK');
          lastSeen.set(key, value);
          counts.registerOk++;
          return 'ok' as const;
        });
      };

      const registerRead = (key: string) =>
        attempt(registers, { key, kind: 'read' }, async (connection) => {
          try {
            const value = await connection.get(key);
            lastSeen.set(key, value);
            counts.registerOk++;
            return value;
          } catch (error) {
            throw new OperationFailed(true, error); // a read changes nothing
          }
        });

      const registerCas = (key: string) => {
        const expected = lastSeen.get(key) ?? null;
        const value = `v${nextValue++}`;
        return attempt(registers, { key, kind: 'cas', expected, value }, async (connection, handle) => {
          let current: string | null;
          try {
            await connection.watch(key);
            current = await connection.get(key);
          } catch (error) {
            throw new OperationFailed(true, error); // nothing was written yet
          }
          if (current !== expected) {
            // The GET was the compare: the register did not hold `expected` at that point.
            registers.complete(handle, false, now());
            lastSeen.set(key, current);
            counts.registerOk++;
            counts.casFalse++;
            await connection.unwatch().catch(() => undefined);
            return 'recorded';
          }
          const result = execResult(await connection.multi().set(key, value).exec());
          counts.registerOk++;
          if (result === null) {
            // Only a committed write changes the key's version after the WATCH, and every write
            // here is of a fresh value: the register no longer held `expected`.
            counts.casFalse++;
            return false;
          }
          lastSeen.set(key, value);
          counts.casTrue++;
          return true;
        });
      };

      const transfer = (bank: Bank) => {
        const from = pick(bank.accounts);
        const to = pick(bank.accounts.filter((account) => account !== from));
        const amount = 1 + Math.floor(random() * 30);
        return attempt(bank.recorder, { kind: 'transfer', from, to, amount }, async (connection) => {
          for (let round = 0; round < TRANSFER_ATTEMPTS; round++) {
            let balance: number;
            try {
              balance = await bank.watchBalance(connection, from, to);
            } catch (error) {
              throw new OperationFailed(true, error);
            }
            if (balance < amount) {
              await connection.unwatch();
              counts.insufficient++;
              return 'insufficient' as const;
            }
            if (execResult(await bank.move(connection, from, to, amount)) !== null) {
              counts.transfersOk++;
              return 'ok' as const;
            }
          }
          throw new OperationFailed(
            true,
            new Error(`EXEC aborted ${TRANSFER_ATTEMPTS} times by concurrent transfers`),
          );
        });
      };

      const bankRead = (bank: Bank) =>
        attempt(bank.recorder, { kind: 'read' }, async (connection) => {
          try {
            const snapshot = await bank.snapshot(connection, random() < 0.5);
            counts.bankReads++;
            snapshotsRead.set(bank, (snapshotsRead.get(bank) ?? 0) + 1);
            return snapshot;
          } catch (error) {
            throw new OperationFailed(true, error);
          }
        });

      while (running) {
        if (client === null) {
          if (!alive.has(writerIndex))
            writerIndex = [...alive][(home + counts.connections) % alive.size] as number;
          try {
            client = await connect(writerIndex);
            counts.connections++;
          } catch {
            writerIndex = [...alive][Math.floor(random() * alive.size)] as number;
            await sleep(50);
            continue;
          }
        }
        const choice = random();
        if (role === 'register') {
          const key = pick(REGISTER_KEYS);
          if (choice < 0.4) await registerWrite(key);
          else if (choice < 0.75) await registerRead(key);
          else await registerCas(key);
        } else {
          const bank = pick(banks);
          if (choice < 0.7) await transfer(bank);
          else await bankRead(bank);
        }
        // While too few storage nodes are up, calls are refused at once: do not spin.
        if (client === null) await sleep(20);
      }
      if (client !== null) drop(client);
    };

    // Storage faults in a fixed cycle with random victims (at most two down at once), and one
    // writer SIGKILLed at a random moment in the middle.
    const nemesis = async () => {
      const plan = ['kill', 'kill', 'restart-one', 'kill', 'restart-all'] as const;
      const down = new Set<number>();
      const deadline = WORKLOAD_MS - HEAL_BEFORE_END_MS;
      const writerKillAt = WORKLOAD_MS * (0.3 + random() * 0.25);
      let kills = 0;
      let restarts = 0;
      let killedWriter: number | null = null;
      const killWriter = () => {
        killedWriter = Math.floor(random() * WRITERS);
        alive.delete(killedWriter);
        (writers[killedWriter] as RunningDataNode).kill();
      };
      for (let step = 0; now() < deadline && step < 100; step++) {
        await sleep(400 + random() * 700);
        if (killedWriter === null && now() >= writerKillAt) {
          killWriter();
          continue;
        }
        const action = plan[step % plan.length];
        if (action === 'kill' && down.size < 2) {
          const victim = pick([0, 1, 2, 3, 4, 5].filter((index) => !down.has(index)));
          await currentFleet.kill(victim);
          down.add(victim);
          kills++;
        } else if (action === 'restart-one' && down.size > 0) {
          const back = pick([...down]);
          await currentFleet.restart(back);
          down.delete(back);
          restarts++;
        } else if (action === 'restart-all') {
          for (const index of down) await currentFleet.restart(index);
          restarts += down.size;
          down.clear();
        }
      }
      if (killedWriter === null) killWriter();
      for (const index of down) await currentFleet.restart(index);
      restarts += down.size;
      return { kills, restarts, killedWriter };
    };

    const workers = writers.flatMap((_, index) => [
      ...Array.from({ length: REGISTER_CLIENTS_PER_WRITER }, () => worker(index, 'register')),
      ...Array.from({ length: BANK_CLIENTS_PER_WRITER }, () => worker(index, 'bank')),
    ]);
    const faults = await nemesis();
    // On a slow machine the workload runs on a little (healed) to complete enough to judge.
    const enough = () =>
      counts.registerOk > REGISTER_OPS_MIN &&
      counts.transfersOk > TRANSFERS_MIN &&
      banks.every((bank) => (snapshotsRead.get(bank) ?? 0) > BANK_READS_MIN);
    while (now() < WORKLOAD_MS || (now() < WORKLOAD_MAX_MS && !enough())) await sleep(100);
    running = false;
    let settleTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(workers),
      new Promise((resolve) => {
        settleTimer = setTimeout(resolve, SETTLE_MS);
      }),
    ]);
    clearTimeout(settleTimer);
    // Whatever is still running is cut: those operations stay unknown.
    for (const client of clients) client.disconnect();
    await Promise.all(workers);

    // Final reads once everything has healed: a lost acknowledged write would show here. Each
    // is retried (bounded) while the writer reconnects to the restarted storage nodes.
    const survivor = [...alive][0] as number;
    const reader = await connect(survivor);
    const finalRead = async <I, O>(recorder: HistoryRecorder<I, O>, input: I, read: () => Promise<O>) => {
      for (let tries = 1; ; tries++) {
        const handle = recorder.invoke(nextProcess, input, now());
        try {
          recorder.complete(handle, await read(), now());
          return;
        } catch (error) {
          recorder.fail(handle);
          if (tries >= 20) throw error;
          await sleep(250);
        }
      }
    };
    for (const key of REGISTER_KEYS) {
      await finalRead(registers, { key, kind: 'read' }, () => reader.get(key));
    }
    for (const bank of banks) {
      await finalRead(bank.recorder, { kind: 'read' }, () => bank.snapshot(reader, true));
    }
    drop(reader);

    t.diagnostic(`seed ${SEED}; faults ${JSON.stringify(faults)}; counts ${JSON.stringify(counts)}`);
    if (sampleErrors.length > 0) t.diagnostic(`some errors: ${sampleErrors.join(' | ')}`);

    assert.ok(faults.kills >= 3, `the nemesis killed only ${faults.kills} storage nodes`);
    assert.ok(
      counts.registerOk > REGISTER_OPS_MIN,
      `only ${counts.registerOk} register operations completed`,
    );
    assert.ok(counts.casTrue > 10, `only ${counts.casTrue} compare-and-sets succeeded`);
    assert.ok(counts.transfersOk > TRANSFERS_MIN, `only ${counts.transfersOk} transfers completed`);

    const registerHistory = registers.operations();
    const linearizable = checkRegisterLinearizability(registerHistory);
    const bankResults = banks.map((bank) =>
      checkBank(bank.recorder.operations(), {
        accounts: bank.accounts,
        total: bank.accounts.length * INITIAL_BALANCE,
      }),
    );
    const bankSummary = banks
      .map((bank, index) => `${bank.name}: ${JSON.stringify(bankResults[index]).slice(0, 1_500)}`)
      .join('; ');
    assert.equal(
      linearizable.ok,
      true,
      `register history (seed ${SEED}): ${JSON.stringify(linearizable).slice(0, 3_000)}; ${bankSummary}`,
    );
    banks.forEach((bank, index) => {
      const result = bankResults[index];
      assert.equal(result?.ok, true, `bank with ${bank.name} (seed ${SEED}): ${bankSummary}`);
      assert.ok(
        result?.ok === true && result.readsChecked > BANK_READS_MIN,
        `too few snapshots of the bank with ${bank.name}: ${bankSummary}`,
      );
    });
  });
});
