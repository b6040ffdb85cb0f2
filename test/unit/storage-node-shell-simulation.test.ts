// The simulator running every replica inside the storage node's own event loop (StorageNodeCore)
// over simulated disks that stall, fill up, tear and lose records (apps/storage-node/src/
// simulated-shell.ts): seeds over every fault profile must keep every invariant, and broken copies
// of the compiled node must be caught: replies that leave before their fsync, a replay that cuts
// acknowledged records after damage, and a node that carries on after an fsync failed with EIO.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type SimulatedDiskFaults, storageNodeShell } from '../../apps/storage-node/src/simulated-shell.js';
import { PROFILE_NAMES, runSimulation, type SimulationStats } from '../../libs/quorum/src/simulator/index.js';
import { type Patch, patchedCopy } from '../support/compiled-copy.js';

const SEEDS = 500;

test(`storage-node shell: seeds 1..${SEEDS} over every profile keep every invariant`, () => {
  const shell = storageNodeShell();
  const totals: Partial<Record<keyof SimulationStats, number>> = {};
  const profiles = new Set<string>();
  for (let seed = 1; seed <= SEEDS; seed++) {
    const result = runSimulation({ seed, shell });
    assert.ok(result.ok, result.summary);
    profiles.add(result.profile);
    for (const name of [
      'commits',
      'tornCrashes',
      'failStops',
      'damagedDisks',
      'repairs',
      'replicaCrashes',
    ] as const) {
      totals[name] = (totals[name] ?? 0) + result.stats[name];
    }
  }
  assert.deepEqual([...profiles].sort(), [...PROFILE_NAMES].sort());
  // The faults happened: a run without them would check little.
  assert.ok((totals.commits ?? 0) >= SEEDS * 5, JSON.stringify(totals));
  assert.ok((totals.failStops ?? 0) >= 5, `full disks stopped nodes ${totals.failStops} times`);
  assert.ok((totals.tornCrashes ?? 0) >= 5, JSON.stringify(totals));
  assert.ok((totals.damagedDisks ?? 0) >= 5, JSON.stringify(totals));
  assert.ok((totals.repairs ?? 0) >= (totals.damagedDisks ?? 0), JSON.stringify(totals));
});

interface ShellMutation extends Patch {
  profile: string;
  seeds: number;
  /** Disk faults other than the defaults, to meet the broken rule sooner. */
  faults?: Partial<SimulatedDiskFaults>;
}

/** Runs seeds of `profile` over a patched copy of the compiled node and libraries; the first failure. */
async function firstFailure(mutation: ShellMutation) {
  const copy = patchedCopy(['libs', 'apps/storage-node'], [mutation]);
  try {
    const shellModule = (await import(
      pathToFileURL(join(copy.root, 'apps', 'storage-node', 'src', 'simulated-shell.js')).href
    )) as typeof import('../../apps/storage-node/src/simulated-shell.js');
    const simulator = (await import(
      pathToFileURL(join(copy.root, 'libs', 'quorum', 'src', 'simulator', 'index.js')).href
    )) as typeof import('../../libs/quorum/src/simulator/index.js');
    const shell = shellModule.storageNodeShell({ ...shellModule.DEFAULT_DISK_FAULTS, ...mutation.faults });
    for (let seed = 1; seed <= mutation.seeds; seed++) {
      const result = simulator.runSimulation({ seed, profile: mutation.profile, shell });
      if (!result.ok) return { seed, summary: result.summary, invariant: result.violation?.invariant ?? '' };
    }
    return null;
  } finally {
    copy.remove();
  }
}

async function assertCaught(context: TestContext, mutation: ShellMutation): Promise<void> {
  const caught = await firstFailure(mutation);
  assert.ok(caught !== null, `no violation in ${mutation.seeds} seeds of profile ${mutation.profile}`);
  // A crash of the harness is not a verdict on the node.
  assert.notEqual(caught.invariant, 'exception', caught.summary);
  context.diagnostic(`caught by seed ${caught.seed} (${mutation.profile}): ${caught.invariant}`);
}

test('storage-node shell: replies sent before their fsync completes are caught', async (context) => {
  await assertCaught(context, {
    file: 'apps/storage-node/src/node-core.js',
    anchor: /this\.whenDurable\(\(\) => this\.send\(ready\.messages\)\);/,
    replacement: 'this.send(ready.messages);',
    profile: 'crash',
    seeds: 300,
  });
});

test('storage-node shell: replay that cuts after a damaged record in the middle of the newest segment is caught', async (context) => {
  await assertCaught(context, {
    file: 'apps/storage-node/src/storage/durable-log.js',
    // Damage in the newest segment taken for a torn tail whatever follows it.
    anchor:
      /return damage\.newestSegment && damage\.validRecordFollows === false \? 'torn-tail' : 'corruption';/,
    replacement: "return damage.newestSegment ? 'torn-tail' : 'corruption';",
    profile: 'damage',
    seeds: 300,
  });
});

test('storage-node shell: a node that carries on after an fsync failed with EIO is caught', async (context) => {
  await assertCaught(context, {
    file: 'apps/storage-node/src/node-core.js',
    // Taking the failed fsync for a success, as a retried fsync would report one.
    anchor:
      /if \(error !== null\)\s*this\.env\.failStop\(`cannot make the log durable \(\$\{error\.message\}\)`\);\s*else\s*this\.appendDurable\(seq\);/,
    replacement: 'this.appendDurable(seq);',
    profile: 'crash',
    seeds: 300,
    faults: { fsyncErrorRate: 0.01 },
  });
});
