// Six real storage-node processes and three writers on loopback, with faults injected by PID:
// kill -9 and restart (up to two nodes down at once) and SIGSTOP/SIGCONT. The histories the
// writers record must pass the linearizability checker and the bank invariant.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type BankInput,
  type BankOutput,
  checkBank,
  checkRegisterLinearizability,
  HistoryRecorder,
  type RegisterInput,
  type RegisterOutput,
} from '../../libs/history/src/index.js';
import type { ReadValue } from '../../libs/quorum/src/index.js';
import {
  OutcomeUnknownError,
  QuorumClient,
  QuorumUnavailableError,
} from '../../libs/storage-client/src/index.js';
import { mulberry32, sleep } from '../support/prng.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';
import { waitUntil } from '../support/wait.js';

const VOLUME = 'faults';
const REGISTER_KEYS = ['r0', 'r1', 'r2', 'r3'];
const ACCOUNTS = ['a0', 'a1', 'a2', 'a3', 'a4'];
const INITIAL_BALANCE = 100;
const WORKERS_PER_WRITER = 3;
/**
 * Fault steps the nemesis takes, 500–1,400 ms apart: at least four kills and four pauses. It
 * counts steps, not time, so a slow machine sees the same faults.
 */
const NEMESIS_STEPS = 14;

const encode = (text: string) => Buffer.from(text, 'utf8');
const decode = (value: Uint8Array | null) => (value === null ? null : Buffer.from(value).toString('utf8'));

function healthUrl(fleet: StorageFleet, index: number): string {
  const match = /health at (\S+)/.exec(fleet.process(index).output());
  if (match === null) throw new Error(`no health URL from s${index + 1}`);
  return match[1] as string;
}

async function pendingTransactions(fleet: StorageFleet): Promise<number> {
  let pending = 0;
  for (let index = 0; index < 6; index++) {
    if (!fleet.isRunning(index)) continue;
    const body = (await (await fetch(healthUrl(fleet, index))).json()) as {
      replica: { pendingTransactions: number };
    };
    pending += body.replica.pendingTransactions;
  }
  return pending;
}

describe('quorum store on six real storage nodes', { timeout: 240_000 }, () => {
  let fleet: StorageFleet;
  const writers: QuorumClient[] = [];
  const seed = Number(process.env.FAULT_SEED ?? 20261122);

  before(async () => {
    fleet = await startStorageFleet();
    for (let index = 0; index < 3; index++) {
      writers.push(
        new QuorumClient({
          writerId: `w${index}-${process.pid}`,
          coordinatorId: 7 + index,
          nodes: fleet.nodes,
        }),
      );
    }
    await Promise.all(writers.map((writer) => writer.waitForNodes(6, 10_000)));
    const initial = ACCOUNTS.map((key) => ({ key, value: encode(String(INITIAL_BALANCE)) }));
    const outcome = await (writers[0] as QuorumClient).commit(
      VOLUME,
      ACCOUNTS.map((key) => ({ key, seq: 0 })),
      initial,
    );
    assert.equal(outcome.outcome, 'committed');
  });

  after(async () => {
    await Promise.all(writers.map((writer) => writer.close()));
    await fleet?.stop();
  });

  it('keeps register and bank histories correct while nodes are killed, restarted and paused', async () => {
    const random = mulberry32(seed);
    const registers = new HistoryRecorder<RegisterInput, RegisterOutput>();
    const bank = new HistoryRecorder<BankInput, BankOutput>();
    const startedAt = performance.now();
    const now = () => performance.now() - startedAt;
    let running = true;
    let nextProcess = 0;
    const counts = { committed: 0, unknown: 0, unavailable: 0, conflicts: 0 };

    const worker = async (client: QuorumClient) => {
      let process = nextProcess++;
      let counter = 0;
      /** Runs one operation into `recorder`: an unknown outcome retires the process id (it may still be in flight). */
      const attempt = async <I, O>(
        recorder: HistoryRecorder<I, O>,
        input: I,
        run: () => Promise<O>,
      ): Promise<'ok' | 'unknown' | 'failed'> => {
        const handle = recorder.invoke(process, input, now());
        try {
          recorder.complete(handle, await run(), now());
          return 'ok';
        } catch (error) {
          if (error instanceof OutcomeUnknownError) {
            recorder.unknown(handle);
            process = nextProcess++;
            return 'unknown';
          }
          // Refused, conflicting every time, or a failed read: it did not take effect.
          recorder.fail(handle);
          return 'failed';
        }
      };
      const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;

      while (running) {
        const choice = random();
        let outcome: 'ok' | 'unknown' | 'failed';
        if (choice < 0.35) {
          const key = pick(REGISTER_KEYS);
          const value = `p${process}-${counter++}`;
          outcome = await attempt(registers, { key, kind: 'write', value }, async () => {
            await client.transact(VOLUME, [key], () => ({
              writes: [{ key, value: encode(value) }],
              result: null,
            }));
            return 'ok' as const;
          });
          if (outcome === 'ok') counts.committed++;
          else if (outcome === 'unknown') counts.unknown++;
          else counts.unavailable++;
        } else if (choice < 0.6) {
          const key = pick(REGISTER_KEYS);
          outcome = await attempt(registers, { key, kind: 'read' }, async () => {
            const [value] = await client.read(VOLUME, [key]);
            return decode((value as ReadValue).value);
          });
        } else if (choice < 0.85) {
          const from = pick(ACCOUNTS);
          const to = pick(ACCOUNTS.filter((account) => account !== from));
          const amount = 1 + Math.floor(random() * 30);
          outcome = await attempt(bank, { kind: 'transfer', from, to, amount }, () =>
            client.transact(VOLUME, [from, to], (values) => {
              const [fromBalance, toBalance] = values.map((value) => Number(decode(value.value))) as [
                number,
                number,
              ];
              if (fromBalance < amount) return { writes: [], result: 'insufficient' as const };
              return {
                writes: [
                  { key: from, value: encode(String(fromBalance - amount)) },
                  { key: to, value: encode(String(toBalance + amount)) },
                ],
                result: 'ok' as const,
              };
            }),
          );
        } else {
          // A snapshot counts only if its read-only transaction commits: then no transfer
          // touched these accounts between the reads and the validation.
          outcome = await attempt(bank, { kind: 'read' }, () =>
            client.transact(VOLUME, ACCOUNTS, (values) => ({
              writes: [],
              result: Object.fromEntries(values.map((value) => [value.key, Number(decode(value.value))])),
            })),
          );
        }
        // While too few nodes are reachable every call is refused at once: do not spin.
        if (outcome === 'failed') await sleep(20);
      }
    };

    // A fixed cycle of fault kinds with random victims and pauses: at most two nodes are
    // unavailable at once (killed or stopped), so writes can always make progress.
    const nemesis = async () => {
      const plan = ['kill', 'pause', 'kill', 'restart', 'pause', 'restart'] as const;
      const down = new Set<number>();
      let paused: number | null = null;
      let kills = 0;
      let pauses = 0;
      const pickUp = () => {
        const candidates = [0, 1, 2, 3, 4, 5].filter((index) => !down.has(index));
        return candidates[Math.floor(random() * candidates.length)] as number;
      };
      for (let step = 0; step < NEMESIS_STEPS; step++) {
        await sleep(500 + random() * 900);
        if (paused !== null) {
          fleet.resume(paused);
          paused = null;
        }
        const action = plan[step % plan.length];
        if (action === 'kill' && down.size < 2) {
          const victim = pickUp();
          await fleet.kill(victim);
          down.add(victim);
          kills++;
        } else if (action === 'pause' && down.size < 2) {
          paused = pickUp();
          fleet.pause(paused);
          pauses++;
        } else if (action === 'restart') {
          for (const index of down) await fleet.restart(index);
          down.clear();
        }
      }
      if (paused !== null) fleet.resume(paused);
      for (const index of down) await fleet.restart(index);
      return { kills, pauses };
    };

    const workers = writers.flatMap((client) =>
      Array.from({ length: WORKERS_PER_WRITER }, () => worker(client)),
    );
    const faults = await nemesis();
    running = false;
    await Promise.all(workers);

    // Final reads after healing: an acknowledged write that was lost would show up here.
    await Promise.all(writers.map((writer) => writer.waitForNodes(6, 30_000)));
    for (const key of REGISTER_KEYS) {
      const handle = registers.invoke(nextProcess, { key, kind: 'read' }, now());
      const [value] = await (writers[0] as QuorumClient).read(VOLUME, [key]);
      registers.complete(handle, decode((value as ReadValue).value), now());
    }

    const registerHistory = registers.operations();
    const bankHistory = bank.operations();
    assert.ok(
      faults.kills >= 3 && faults.pauses >= 2,
      `the nemesis killed ${faults.kills} and paused ${faults.pauses} nodes`,
    );
    assert.ok(counts.committed >= 50, `only ${counts.committed} register writes committed`);
    const linearizable = checkRegisterLinearizability(registerHistory);
    assert.equal(
      linearizable.ok,
      true,
      `register history (seed ${seed}): ${JSON.stringify(linearizable).slice(0, 2_000)}`,
    );
    const bankResult = checkBank(bankHistory, {
      accounts: ACCOUNTS,
      total: ACCOUNTS.length * INITIAL_BALANCE,
    });
    assert.equal(
      bankResult.ok,
      true,
      `bank history (seed ${seed}): ${JSON.stringify(bankResult).slice(0, 2_000)}`,
    );
    assert.ok(bankResult.ok && bankResult.readsChecked >= 20, 'too few bank snapshots were checked');
  });

  it('refuses writes with a clear error and still serves reads with three nodes down, then catches up', async () => {
    const writer = writers[0] as QuorumClient;
    await waitUntil(
      'no pending transactions',
      30_000,
      async () => (await pendingTransactions(fleet)) === 0,
      100,
    );
    const before = await writer.read(VOLUME, ACCOUNTS);

    // A whole AZ (s1, s2) plus one more node (s3).
    for (const index of [0, 1, 2]) await fleet.kill(index);
    await waitUntil('the writer to notice', 10_000, async () => writer.connectedNodes === 3, 100);
    await assert.rejects(
      writer.commit(VOLUME, [{ key: 'r0', seq: 0 }], [{ key: 'r0', value: encode('x') }]),
      (error: Error) =>
        error instanceof QuorumUnavailableError &&
        /only 3 of 6 storage nodes are reachable; writes need 4/.test(error.message),
    );
    const during = await writer.read(VOLUME, ACCOUNTS);
    assert.deepEqual(
      during.map((value) => [value.key, value.version.seq]),
      before.map((value) => [value.key, value.version.seq]),
    );

    for (const index of [0, 1, 2]) await fleet.restart(index);
    await writer.waitForNodes(6, 30_000);
    const transfer = await writer.transact(VOLUME, ['a0', 'a1'], (values) => ({
      writes: values.map((value) => ({ key: value.key, value: value.value ?? encode('0') })),
      result: values.map((value) => value.version.seq),
    }));
    assert.equal(transfer.length, 2);

    // Every replica, including the three that were down, converges on the quorum's versions.
    const keys = [...ACCOUNTS, ...REGISTER_KEYS];
    const expected = (await writer.read(VOLUME, keys)).map((value) => value.version.seq);
    await waitUntil(
      'every replica to catch up',
      30_000,
      async () => {
        for (let index = 0; index < 6; index++) {
          const held = await fleet.readFrom(index, VOLUME, keys);
          if (held.some((result, position) => result.version.seq !== expected[position])) return false;
        }
        return true;
      },
      100,
    );
  });

  it('reads past a paused node: the read that asked it hedges, the ones after do not ask it first', async () => {
    // A fresh writer: its first read round asks s1, s2 and s3, and s1 is paused (its connection
    // stays up, so only the hedge can get the read past it).
    // Its hedges wait at least 200 ms, so that on a loaded machine only the paused node makes one.
    const reader = new QuorumClient({
      writerId: `hedge-${process.pid}`,
      coordinatorId: 11,
      nodes: fleet.nodes,
      timing: { readHedgeMinMs: 200 },
    });
    try {
      await reader.waitForNodes(6, 10_000);
      const expected = (await (writers[0] as QuorumClient).read(VOLUME, ACCOUNTS)).map((value) => [
        value.key,
        value.version.seq,
      ]);
      fleet.pause(0);
      try {
        const reads = 12;
        for (let index = 0; index < reads; index++) {
          const values = await reader.read(VOLUME, ACCOUNTS);
          assert.deepEqual(
            values.map((value) => [value.key, value.version.seq]),
            expected,
          );
        }
        const { readRounds, hedgedReadRounds } = reader.counters;
        assert.equal(readRounds, reads);
        assert.ok(hedgedReadRounds >= 1, 'the first read, which asked the paused node, hedged');
        // Reads in turn start at each replica: without skipping it, half of them would ask s1.
        assert.ok(hedgedReadRounds < reads / 2, `${hedgedReadRounds} of ${reads} read rounds hedged`);
      } finally {
        fleet.resume(0);
      }
    } finally {
      reader.close();
    }
  });

  it('replays its log after kill -9 under load, catches up and serves again', async () => {
    const writer = writers[1] as QuorumClient;
    let running = true;
    let committed = 0;
    const load = (async () => {
      let counter = 0;
      while (running) {
        const key = `load-${counter++ % 50}`;
        await writer
          .transact(VOLUME, [key], () => ({
            writes: [{ key, value: encode(String(counter)) }],
            result: null,
          }))
          .then(() => committed++)
          .catch(() => undefined);
      }
    })();
    await sleep(1_500);
    await fleet.kill(4);
    await sleep(1_500);
    const replay = await fleet.restart(4);
    await sleep(1_500);
    running = false;
    await load;
    assert.ok(committed > 20, `only ${committed} commits under load`);
    assert.ok(replay.replayedRecords > 0, 'the restarted node replayed nothing');

    const keys = Array.from({ length: 50 }, (_, index) => `load-${index}`);
    const expected = (await writer.read(VOLUME, keys)).map((value) => value.version.seq);
    await waitUntil(
      'the restarted node to catch up',
      30_000,
      async () => {
        const held = await fleet.readFrom(4, VOLUME, keys);
        return held.every((result, position) => result.version.seq === expected[position]);
      },
      100,
    );
  });
});
