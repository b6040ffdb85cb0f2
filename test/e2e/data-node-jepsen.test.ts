// Jepsen-style check of the data node as a Redis server: six real storage-node processes, three
// data-node processes (writers) on one volume in cluster read consistency, and ioredis clients on
// every writer running the register and bank workloads of test/support/jepsen-workload.ts. A
// nemesis kill -9s and restarts storage nodes (never more than two down at once) and SIGKILLs one
// writer, whose clients move to the others. The histories must be linearizable (registers) and
// conserve money with no overdraft (banks).
//
// The nemesis and the workload draw from a fixed seed (the timing of real processes still
// varies from run to run); FAULT_SEED=<n> picks another, FAULT_SEED=random a new one, printed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { JepsenCluster, untilWorkloadEnds } from '../support/jepsen-cluster.js';
import { JepsenWorkload } from '../support/jepsen-workload.js';
import { mulberry32, seedFromEnvironment } from '../support/prng.js';

const CLUSTER = 'jepsen';
const WRITERS = 3;
const REGISTER_CLIENTS_PER_WRITER = 2;
const BANK_CLIENTS_PER_WRITER = 3;
/**
 * The workload runs at least this long, and on after the nemesis has healed everything until
 * enough has completed.
 */
const WORKLOAD_MS = 15_000;
/** When the nemesis is quick, the wait for enough ends here; a slow one moves it on as far. */
const WORKLOAD_MAX_MS = 24_000;
/** Fault steps the nemesis takes, 400–1,100 ms apart: at least seven storage kills. */
const NEMESIS_STEPS = 14;
/** The workload runs on at least this long after the nemesis has healed everything. */
const HEALED_MS = 2_500;
const MINIMUMS = { registerOps: 200, transfers: 50, bankReads: 10 };
/** The storage layer's own deadlines are 10 s; a command gets a little more. */
const COMMAND_TIMEOUT_MS = 12_000;
const SEED = seedFromEnvironment('FAULT_SEED', 20261124);

describe('data nodes under storage and writer crashes (Jepsen-style)', { timeout: 180_000 }, () => {
  const cluster = new JepsenCluster({
    name: CLUSTER,
    writers: WRITERS,
    idPrefix: 'j',
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
  });
  const { writers } = cluster;
  const connect = (index: number): Promise<Redis> => cluster.connect(index);
  const drop = (client: Redis): void => cluster.drop(client);

  before(async () => {
    await cluster.start();
    const setup = await connect(0);
    await JepsenWorkload.seed(setup);
    drop(setup);
  });

  after(() => cluster.stop());

  it(`keeps register and bank histories correct through crashes (seed ${SEED})`, async (t) => {
    if (process.env.FAULT_SEED === 'random') console.log(`data-node Jepsen test: FAULT_SEED=${SEED}`);
    const random = mulberry32(SEED);
    const alive = new Set(writers.map((_, index) => index));
    const workload = new JepsenWorkload({
      random,
      // A worker stays with its writer while it lives, then spreads over the others.
      connect: (home, attempt) => {
        const index = alive.has(home) ? home : ([...alive][(home + attempt) % alive.size] as number);
        return connect(index);
      },
      drop,
    });
    const now = () => workload.now();

    // Storage faults in a fixed cycle with random victims (at most two down at once), and one
    // writer SIGKILLed at a random step in the middle.
    const nemesis = () => cluster.nemesis({ random, steps: NEMESIS_STEPS, alive });

    for (const index of writers.keys()) {
      workload.start(index, 'register', REGISTER_CLIENTS_PER_WRITER);
      workload.start(index, 'bank', BANK_CLIENTS_PER_WRITER);
    }
    const faults = await nemesis();
    // On a slow machine the workload runs on a little (healed) to complete enough to judge.
    await untilWorkloadEnds(now, {
      workloadMs: WORKLOAD_MS,
      healedMs: HEALED_MS,
      workloadMaxMs: WORKLOAD_MAX_MS,
      enough: () => workload.enough(MINIMUMS),
    });
    // Whatever is still running when the workload is cut stays unknown.
    await workload.stop(() => {
      cluster.disconnectAll();
    });

    const reader = await connect([...alive][0] as number);
    await workload.finalReads(reader);
    drop(reader);

    const { counts } = workload;
    t.diagnostic(`seed ${SEED}; faults ${JSON.stringify(faults)}; counts ${JSON.stringify(counts)}`);
    if (workload.sampleErrors.length > 0) t.diagnostic(`some errors: ${workload.sampleErrors.join(' | ')}`);

    assert.ok(faults.kills >= 3, `the nemesis killed only ${faults.kills} storage nodes`);
    assert.ok(
      counts.registerOk > MINIMUMS.registerOps,
      `only ${counts.registerOk} register operations completed`,
    );
    assert.ok(counts.casTrue > 10, `only ${counts.casTrue} compare-and-sets succeeded`);
    assert.ok(counts.transfersOk > MINIMUMS.transfers, `only ${counts.transfersOk} transfers completed`);
    workload.verify(`seed ${SEED}`, MINIMUMS.bankReads);
  });
});
