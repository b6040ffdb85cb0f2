// Mutation checks: each test breaks the compiled protocol in a copy of `dist/libs` (never the
// repository) and requires the simulator, running on that copy, to report a violation. A checker
// that cannot tell these bugs from correct code proves nothing.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

type SimulatorModule = typeof import('../../libs/quorum/src/simulator/index.js');

// This file runs from dist/test/unit; the compiled libraries are in dist/libs.
const compiledLibs = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'libs');

interface Patch {
  /** File under libs/ in the compiled copy. */
  file: string;
  /** Must match exactly one place in that file, so that the test fails loudly if the code drifts. */
  anchor: RegExp;
  replacement: string;
}

interface Mutation extends Patch {
  /** Seeds tried in order until one shows a violation. */
  seeds: { from: number; count: number; profile: string };
}

/** Copies the compiled libraries to a temporary directory, patches the copy, imports its simulator. */
async function withCopy<T>(patch: Patch | null, run: (simulator: SimulatorModule) => T): Promise<T> {
  const root = mkdtempSync(join(tmpdir(), 'borealis-mutation-'));
  try {
    cpSync(compiledLibs, join(root, 'libs'), { recursive: true });
    // The copy is outside the project, so it needs its own marker that .js files are ES modules.
    writeFileSync(join(root, 'package.json'), '{ "type": "module" }\n');
    if (patch !== null) {
      const path = join(root, 'libs', patch.file);
      const source = readFileSync(path, 'utf8');
      const matches = source.match(new RegExp(patch.anchor.source, 'g')) ?? [];
      assert.equal(matches.length, 1, `the anchor ${patch.anchor} must occur exactly once in ${patch.file}`);
      writeFileSync(path, source.replace(patch.anchor, patch.replacement));
    }
    const entry = join(root, 'libs', 'quorum', 'src', 'simulator', 'index.js');
    const simulator = (await import(pathToFileURL(entry).href)) as SimulatorModule;
    return run(simulator);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function assertCaught(context: TestContext, mutation: Mutation): Promise<void> {
  const { from, count, profile } = mutation.seeds;
  const caught = await withCopy(mutation, (simulator) => {
    for (let seed = from; seed < from + count; seed++) {
      const result = simulator.runSimulation({ seed, profile });
      if (!result.ok) return { result, seedsTried: seed - from + 1 };
    }
    return null;
  });
  assert.ok(caught !== null, `no violation in ${count} seeds of profile ${profile} from seed ${from}`);
  // A crash of the harness is not a verdict on the protocol.
  assert.notEqual(caught.result.violation?.invariant, 'exception', caught.result.summary);
  context.diagnostic(
    `caught by seed ${caught.result.seed} (${profile}) after ${caught.seedsTried} seeds: ${caught.result.violation?.invariant}`,
  );
}

test('the copy without a mutation passes the seeds the mutations are tried on', async () => {
  await withCopy(null, (simulator) => {
    for (const profile of ['crash', 'lossy', 'split']) {
      for (let seed = 1; seed <= 5; seed++) {
        const result = simulator.runSimulation({ seed, profile });
        assert.ok(result.ok, result.summary);
      }
    }
  });
});

test('votes that never reach the disk are caught', async (context) => {
  await assertCaught(context, {
    file: 'quorum/src/replica.js',
    // onPropose: the vote is applied in memory but never handed to the shell for its fsync.
    anchor: /this\.persist\((\{\s*kind: 'vote',)/,
    replacement: 'this.applyRecord($1',
    seeds: { from: 1, count: 300, profile: 'crash' },
  });
});

test('releasing pending keys on ACCEPT instead of on the decision is caught', async (context) => {
  await assertCaught(context, {
    file: 'quorum/src/replica.js',
    anchor: /transaction\.accepted = \{ ballot: record\.ballot, decision: record\.decision \};/,
    replacement:
      'transaction.accepted = { ballot: record.ballot, decision: record.decision };\n                this.releaseKeys(volume, record.txid, transaction);',
    seeds: { from: 1, count: 300, profile: 'lossy' },
  });
});

test('committing on three YES votes is caught', async (context) => {
  await assertCaught(context, {
    file: 'quorum/src/quorum-table.js',
    anchor: /commitVotes: 4,/,
    replacement: 'commitVotes: 3,',
    // Three against three is where two disjoint sets of three YES votes come easiest.
    seeds: { from: 1, count: 300, profile: 'split' },
  });
});
