// A writer SIGKILLed under load behind a real proxy (three writers, cluster read consistency),
// with Jepsen-style workloads through the proxy: registers (SET, GET, compare-and-set as
// WATCH/GET/MULTI/SET/EXEC) and a bank (transfers as WATCH/GET/MULTI/DECRBY/INCRBY/EXEC, snapshots
// as MGET). The clients' connections must all stay open; the only error any command may get is
// UNKNOWN, and only a write or an EXEC (a read in flight is sent again); the register history must
// be linearizable and the bank must conserve its money with no overdraft.
//
// FAULT_SEED=<n> picks another workload and kill moment; FAULT_SEED=random a new one, printed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import {
  type BankInput,
  type BankOutput,
  checkBank,
  checkRegisterLinearizability,
  HistoryRecorder,
  type RegisterInput,
  type RegisterOutput,
} from '../../libs/history/src/index.js';
import type { RunningDataNode } from '../support/data-nodes.js';
import { mulberry32, seedFromEnvironment, sleep } from '../support/prng.js';
import { ProxyStack, type TestRoute } from '../support/proxy.js';
import { waitUntil } from '../support/wait.js';

const PASSWORD = 'crash test password';
const WRITER_PASSWORD = 'crash writer password';
const WRITERS = 3;
const REGISTER_CLIENTS = 6;
const BANK_CLIENTS = 6;
const REGISTER_KEYS = ['reg:0', 'reg:1', 'reg:2'];
const ACCOUNTS = Array.from({ length: 5 }, (_, index) => `acct:${index}`);
const INITIAL_BALANCE = 100;
/** Operations completed before the kill, and again after it, before the workload stops. */
const REGISTER_OPS_PER_PHASE = 80;
const TRANSFERS_PER_PHASE = 10;
/** Each phase gives up (and the test fails) after this long. */
const PHASE_MAX_MS = 40_000;
const SEED = seedFromEnvironment('FAULT_SEED', 20261207);
const UNKNOWN = /^UNKNOWN the writer failed while running this command/;

type ExecReply = [Error | null, unknown][] | null;

/** A command's error: UNKNOWN is the one allowed (for writes); anything else is a failure of the proxy. */
class CommandError extends Error {
  constructor(
    readonly command: string,
    cause: unknown,
  ) {
    super(`${command}: ${(cause as Error).message}`);
  }
}

describe('a writer killed under load behind the proxy', { timeout: 115_000 }, () => {
  const stack = new ProxyStack({
    writers: Array.from({ length: WRITERS }, (_, index) => ({
      id: `k${index + 1}`,
      cluster: 'crashing',
      readConsistency: 'cluster' as const,
    })),
    writerPassword: WRITER_PASSWORD,
  });
  const { clients, writers } = stack;
  let route: TestRoute;
  let closedConnections = 0;

  before(async () => {
    await stack.start();
    route = await stack.newRoute({ password: PASSWORD });
    await stack.publish(route);
    const setup = await clients.redis(route.port, { password: PASSWORD });
    await setup.mset(...ACCOUNTS.flatMap((account) => [account, String(INITIAL_BALANCE)]));
  });

  after(() => stack.stop());

  it(`keeps connections open, fails only writes in flight with UNKNOWN, and keeps histories correct (seed ${SEED})`, async (t) => {
    const random = mulberry32(SEED);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
    const registers = new HistoryRecorder<RegisterInput, RegisterOutput>();
    const bank = new HistoryRecorder<BankInput, BankOutput>();
    const startedAt = performance.now();
    const now = () => performance.now() - startedAt;
    const unexpected: string[] = [];
    const counts = { unknown: 0, registerOk: 0, transfers: 0, snapshots: 0, nullExec: 0 };
    let nextProcess = 0;
    let nextValue = 0;
    let running = true;

    /** Runs a command; UNKNOWN on a write is returned as 'unknown', anything else unexpected throws. */
    const command = async <T>(
      name: string,
      write: boolean,
      run: () => Promise<T>,
    ): Promise<T | 'unknown'> => {
      try {
        return await run();
      } catch (cause) {
        if (write && UNKNOWN.test((cause as Error).message)) {
          counts.unknown++;
          return 'unknown';
        }
        unexpected.push(new CommandError(name, cause).message);
        throw cause;
      }
    };

    const registerWorker = async (client: Redis) => {
      let process = nextProcess++;
      while (running) {
        const key = pick(REGISTER_KEYS);
        const roll = random();
        if (roll < 0.4) {
          const value = `v${nextValue++}`;
          const handle = registers.invoke(process, { key, kind: 'write', value }, now());
          const result = await command('SET', true, () => client.set(key, value));
          if (result === 'unknown') {
            registers.unknown(handle);
            process = nextProcess++;
          } else registers.complete(handle, 'ok', now());
        } else if (roll < 0.75) {
          const handle = registers.invoke(process, { key, kind: 'read' }, now());
          registers.complete(handle, await command('GET', false, () => client.get(key)), now());
        } else {
          await compareAndSet(client, key, process).then((retired) => {
            if (retired) process = nextProcess++;
          });
        }
        counts.registerOk++;
      }
    };

    /** WATCH/GET/MULTI/SET/EXEC; true when its outcome is unknown (the process retires). */
    const compareAndSet = async (client: Redis, key: string, process: number): Promise<boolean> => {
      await command('WATCH', false, () => client.watch(key));
      const expected = await command('GET', false, () => client.get(key));
      const value = `v${nextValue++}`;
      const handle = registers.invoke(
        process,
        { key, kind: 'cas', expected: expected as string | null, value },
        now(),
      );
      const result = await command(
        'EXEC',
        true,
        () => client.multi().set(key, value).exec() as Promise<ExecReply>,
      );
      if (result === 'unknown') {
        registers.unknown(handle);
        return true;
      }
      // Null: a watched key changed, or the session moved off its writer; either way nothing ran.
      if (result === null) {
        counts.nullExec++;
        registers.fail(handle);
      } else registers.complete(handle, true, now());
      return false;
    };

    const bankWorker = async (client: Redis) => {
      const process = nextProcess++;
      while (running) {
        if (random() < 0.3) {
          const handle = bank.invoke(process, { kind: 'read' }, now());
          const values = (await command('MGET', false, () => client.mget(...ACCOUNTS))) as (string | null)[];
          bank.complete(
            handle,
            Object.fromEntries(ACCOUNTS.map((account, index) => [account, Number(values[index])])),
            now(),
          );
          counts.snapshots++;
          continue;
        }
        const from = pick(ACCOUNTS);
        const to = pick(ACCOUNTS.filter((account) => account !== from));
        const amount = 1 + Math.floor(random() * 20);
        await command('WATCH', false, () => client.watch(from, to));
        const balance = Number(await command('GET', false, () => client.get(from)));
        if (balance < amount) {
          await command('UNWATCH', false, () => client.unwatch());
          continue;
        }
        const handle = bank.invoke(process, { kind: 'transfer', from, to, amount }, now());
        const result = await command(
          'EXEC',
          true,
          () => client.multi().decrby(from, amount).incrby(to, amount).exec() as Promise<ExecReply>,
        );
        if (result === 'unknown') bank.unknown(handle);
        else if (result === null) bank.fail(handle);
        else {
          bank.complete(handle, 'ok', now());
          counts.transfers++;
        }
      }
    };

    const connect = async () => {
      const client = await clients.redis(route.port, { password: PASSWORD });
      client.on('close', () => {
        if (running) closedConnections++;
      });
      return client;
    };
    const registerClients = await Promise.all(Array.from({ length: REGISTER_CLIENTS }, connect));
    const bankClients = await Promise.all(Array.from({ length: BANK_CLIENTS }, connect));
    const workers = [
      ...registerClients.map((client) => registerWorker(client).catch(() => undefined)),
      ...bankClients.map((client) => bankWorker(client).catch(() => undefined)),
    ];
    const victim = Math.floor(random() * WRITERS);
    // By work done, not by time: the kill comes after a phase of the workload, and another follows.
    const phase = async (what: string) => {
      const registersFrom = counts.registerOk;
      const transfersFrom = counts.transfers;
      await waitUntil(what, PHASE_MAX_MS, () => {
        if (unexpected.length > 0) return true;
        return (
          counts.registerOk >= registersFrom + REGISTER_OPS_PER_PHASE &&
          counts.transfers >= transfersFrom + TRANSFERS_PER_PHASE
        );
      });
    };
    await phase('the workload before the kill');
    await sleep(Math.floor(random() * 300));
    const failuresBefore = await stack.proxy.metric('borealis_proxy_writer_failures_total');
    (writers[victim] as RunningDataNode).kill();
    await phase('the workload after the kill');
    running = false;
    await Promise.all(workers);

    const failures = (await stack.proxy.metric('borealis_proxy_writer_failures_total')) - failuresBefore;
    t.diagnostic(
      `seed ${SEED}: killed k${victim + 1}; ${JSON.stringify(counts)}; ${failures} writer link failures`,
    );
    assert.deepEqual(unexpected, [], 'errors other than UNKNOWN on a write');
    assert.equal(closedConnections, 0, 'a client connection was closed');
    assert.ok(failures >= 1, 'the proxy saw no writer failure');
    assert.ok(counts.snapshots > 0, 'no bank snapshot was read');

    const reader = registerClients[0] as Redis;
    for (const key of REGISTER_KEYS) {
      const handle = registers.invoke(nextProcess, { key, kind: 'read' }, now());
      registers.complete(handle, await reader.get(key), now());
    }
    const handle = bank.invoke(nextProcess, { kind: 'read' }, now());
    const finalBalances = await reader.mget(...ACCOUNTS);
    bank.complete(
      handle,
      Object.fromEntries(ACCOUNTS.map((account, index) => [account, Number(finalBalances[index])])),
      now(),
    );
    const linearizable = checkRegisterLinearizability(registers.operations());
    assert.equal(linearizable.ok, true, JSON.stringify(linearizable).slice(0, 3_000));
    const conserved = checkBank(bank.operations(), {
      accounts: ACCOUNTS,
      total: ACCOUNTS.length * INITIAL_BALANCE,
    });
    assert.equal(conserved.ok, true, JSON.stringify(conserved).slice(0, 3_000));
  });
});
