// The simulator running every writer as the data node's writer stack (storage client, transaction
// engine, cache, sessions: apps/data-node/src/simulated-writer.ts) and every replica inside the
// storage node's event loop over faulty simulated disks, with clients speaking Redis commands:
// seeds over every fault profile must keep every invariant, the histories must pass the
// linearizability, bank and session-guarantee checkers, and broken copies of the compiled data
// node must be caught.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { dataNodeWriterShell } from '../../apps/data-node/src/simulated-writer.js';
import { storageNodeShell } from '../../apps/storage-node/src/simulated-shell.js';
import {
  PROFILE_NAMES,
  runSimulationAsync,
  type SimulationOptions,
  type SimulationStats,
} from '../../libs/quorum/src/simulator/index.js';
import { type Patch, patchedCopy } from '../support/compiled-copy.js';

const SEEDS = 500;
/** Seeds on a reliable network, where reads must also be fresh within the staleness bound. */
const RELIABLE_SEEDS = 20;

test(`data-node writers over storage-node shells: seeds 1..${SEEDS} over every profile keep every invariant`, async () => {
  const shell = storageNodeShell();
  const writer = dataNodeWriterShell();
  const totals: Partial<Record<keyof SimulationStats, number>> = {};
  const profiles = new Set<string>();
  for (let seed = 1; seed <= SEEDS; seed++) {
    const result = await runSimulationAsync({ seed, shell, writer });
    assert.ok(result.ok, result.summary);
    profiles.add(result.profile);
    for (const name of [
      'commits',
      'unknownOutcomes',
      'writerCrashes',
      'openOperations',
      'damagedDisks',
      'registerOperations',
      'bankOperations',
      'counterOperations',
    ] as const) {
      totals[name] = (totals[name] ?? 0) + result.stats[name];
    }
  }
  assert.deepEqual([...profiles].sort(), [...PROFILE_NAMES].sort());
  // The faults happened and every workload ran: a run without them would check little.
  const report = JSON.stringify(totals);
  assert.ok((totals.commits ?? 0) >= SEEDS * 20, report);
  assert.ok((totals.unknownOutcomes ?? 0) >= 50, report);
  assert.ok((totals.writerCrashes ?? 0) >= 50, report);
  assert.ok((totals.openOperations ?? 0) >= 50, report);
  assert.ok((totals.damagedDisks ?? 0) >= 5, report);
  for (const name of ['registerOperations', 'bankOperations', 'counterOperations'] as const) {
    assert.ok((totals[name] ?? 0) >= SEEDS * 5, report);
  }
});

test(`data-node writers on a reliable network: seeds 1..${RELIABLE_SEEDS} read counters fresh within the bound`, async () => {
  const shell = storageNodeShell();
  const writer = dataNodeWriterShell();
  for (let seed = 1; seed <= RELIABLE_SEEDS; seed++) {
    const result = await runSimulationAsync({ seed, shell, writer, faults: false });
    assert.ok(result.ok, result.summary);
    assert.ok(result.stats.counterOperations > 0, result.summary);
  }
});

test('data-node writers: a fsync completing as its node crashes is reported before the torn tail after it (seeds 48903..48912)', async () => {
  // The 100,000-seed sweep found the checker told of a torn tail's survivors (a promise) before the
  // rest of the fsync that completed as the node crashed (an accept written earlier): a false
  // "accepted after promising a higher ballot", at seed 48903 of the damage profile. Survivors are
  // now told at the restart. Since DECIDED rides with the writer's next message (ADR 0018), that
  // seed takes another course and no longer tears a log; its neighbours do, so the case runs them all.
  let tornCrashes = 0;
  for (let seed = 48903; seed <= 48912; seed++) {
    const result = await runSimulationAsync({
      seed,
      profile: 'damage',
      shell: storageNodeShell(),
      writer: dataNodeWriterShell(),
    });
    assert.ok(result.ok, result.summary);
    tornCrashes += result.stats.tornCrashes;
  }
  assert.ok(tornCrashes >= 5, `only ${tornCrashes} torn crashes over the ten seeds`);
});

interface WriterMutation extends Patch {
  /** Seeds tried in order until one fails. */
  seeds: number;
  options?: Partial<SimulationOptions>;
}

/** Runs seeds over a patched copy of the compiled apps and libraries; the first failure. */
async function firstFailure(mutation: WriterMutation) {
  const copy = patchedCopy(['apps', 'libs', 'generated'], [mutation]);
  try {
    const module = async <T>(...path: string[]) =>
      (await import(pathToFileURL(join(copy.root, ...path)).href)) as T;
    const { dataNodeWriterShell: writerOf } = await module<
      typeof import('../../apps/data-node/src/simulated-writer.js')
    >('apps', 'data-node', 'src', 'simulated-writer.js');
    const { storageNodeShell: shellOf } = await module<
      typeof import('../../apps/storage-node/src/simulated-shell.js')
    >('apps', 'storage-node', 'src', 'simulated-shell.js');
    const simulator = await module<typeof import('../../libs/quorum/src/simulator/index.js')>(
      'libs',
      'quorum',
      'src',
      'simulator',
      'index.js',
    );
    const [shell, writer] = [shellOf(), writerOf()];
    for (let seed = 1; seed <= mutation.seeds; seed++) {
      const result = await simulator.runSimulationAsync({ seed, shell, writer, ...mutation.options });
      if (!result.ok) return { seed, summary: result.summary, invariant: result.violation?.invariant ?? '' };
    }
    return null;
  } finally {
    copy.remove();
  }
}

async function assertCaught(context: TestContext, mutation: WriterMutation): Promise<void> {
  const caught = await firstFailure(mutation);
  assert.ok(caught !== null, `no violation in ${mutation.seeds} seeds`);
  // A crash of the harness is not a verdict on the data node.
  assert.notEqual(caught.invariant, 'exception', caught.summary);
  context.diagnostic(`caught by seed ${caught.seed}: ${caught.invariant}`);
}

test('data-node writers: a cache that ignores applied notices is caught (instance consistency)', async (context) => {
  await assertCaught(context, {
    file: 'apps/data-node/src/cache/versioned-cache.js',
    anchor:
      /for \(const change of changes\)\s*\{\s*this\.invalidate\(change\.key, change\.seq\);\s*this\.remember\(change\.key, change\.seq, nowMs\);\s*\}/,
    replacement: 'void changes; /* the notice is ignored */',
    seeds: 10,
    options: { faults: false },
  });
});

test('data-node writers: an engine that retries a commit of unknown outcome as if it had failed is caught', async (context) => {
  await assertCaught(context, {
    file: 'apps/data-node/src/engine/transaction-engine.js',
    anchor: /await this\.options\.store\.commit\(this\.options\.volume, readEntries, writes\);/,
    replacement:
      "await this.options.store.commit(this.options.volume, readEntries, writes).catch((cause) => { if (cause instanceof OutcomeUnknownError) return { outcome: 'aborted', txid: cause.txid, reason: 'taken for a conflict' }; throw cause; });",
    seeds: 200,
  });
});

// ADR 0020's stream rules, under the profile that cuts one writer off at a time (some cuts
// longer than the streams' silence window) and checks counter reads within its staleness bound.
const CUT_OFF_WRITER = { profile: 'cut-off-writer' } as const;

test('data-node writers: notice streams that miss a gap in their numbers are caught (a cut-off writer)', async (context) => {
  await assertCaught(context, {
    file: 'libs/storage-client/src/notice-streams.js',
    anchor: /current\.stream !== stream \|\| current\.n !== previous/,
    replacement: 'current.stream !== stream',
    seeds: 100,
    options: CUT_OFF_WRITER,
  });
});

test('data-node writers: notice streams that still count a silent stream are caught (a cut-off writer)', async (context) => {
  await assertCaught(context, {
    file: 'libs/storage-client/src/notice-streams.js',
    anchor: /if \(nowMs <= deadlineMs\)/,
    replacement: 'if (nowMs <= deadlineMs || true)',
    seeds: 100,
    options: CUT_OFF_WRITER,
  });
});

// The profile's bound (1.8 s) measures the window itself, not only its presence: a window a third
// longer lets a cut-off writer serve entries past the bound. (Windows of 1.65 and 1.8 s passed
// seeds 1..1,000: within the bound's allowance for the network's delay and a notice's lag.) Caught
// by seed 241: a window this close to the bound needs a cut of the right length at the right time.
test('data-node writers: notice streams with a silence window of 2 s instead of 1.5 s are caught (a cut-off writer)', async (context) => {
  await assertCaught(context, {
    file: 'libs/storage-client/src/notice-streams.js',
    anchor: /STREAM_SILENT_MS = 1_500;/,
    replacement: 'STREAM_SILENT_MS = 2_000;',
    seeds: 400,
    options: CUT_OFF_WRITER,
  });
});
