// The simulator running every replica inside the storage node's own event loop (StorageNodeCore)
// over simulated disks that stall, fill up, tear and lose records (apps/storage-node/src/
// simulated-shell.ts): seeds over every fault profile must keep every invariant, and a broken copy
// of the compiled node whose replies leave before their fsync must be caught.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { storageNodeShell } from '../../apps/storage-node/src/simulated-shell.js';
import { PROFILE_NAMES, runSimulation, type SimulationStats } from '../../libs/quorum/src/simulator/index.js';

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

// dist/test/unit → dist
const compiled = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('storage-node shell: replies sent before their fsync completes are caught', async (context) => {
  // Inside dist, so that the copy's packages (msgpackr) resolve from the repository's node_modules.
  const root = mkdtempSync(join(compiled, '.mutant-'));
  try {
    for (const part of ['libs', 'apps/storage-node']) {
      cpSync(join(compiled, part), join(root, part), { recursive: true });
    }
    const path = join(root, 'apps', 'storage-node', 'src', 'node-core.js');
    const source = readFileSync(path, 'utf8');
    const anchor = /this\.whenDurable\(\(\) => this\.send\(ready\.messages\)\);/g;
    assert.equal(source.match(anchor)?.length, 1, 'the persist-then-send rule is where the test expects it');
    writeFileSync(path, source.replace(anchor, 'this.send(ready.messages);'));

    const shellModule = (await import(
      pathToFileURL(join(root, 'apps', 'storage-node', 'src', 'simulated-shell.js')).href
    )) as typeof import('../../apps/storage-node/src/simulated-shell.js');
    const simulator = (await import(
      pathToFileURL(join(root, 'libs', 'quorum', 'src', 'simulator', 'index.js')).href
    )) as typeof import('../../libs/quorum/src/simulator/index.js');
    const shell = shellModule.storageNodeShell();
    let caught: { seed: number; summary: string; invariant: string } | null = null;
    for (let seed = 1; seed <= 300 && caught === null; seed++) {
      const result = simulator.runSimulation({ seed, profile: 'crash', shell });
      if (!result.ok)
        caught = { seed, summary: result.summary, invariant: result.violation?.invariant ?? '' };
    }
    assert.ok(caught !== null, 'no violation in 300 seeds of profile crash');
    assert.notEqual(caught.invariant, 'exception', caught.summary);
    context.diagnostic(`caught by seed ${caught.seed} (crash): ${caught.invariant}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
