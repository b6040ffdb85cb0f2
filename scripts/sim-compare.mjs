// `npm run sim-compare -- --base <rev>`: whether this checkout's simulator runs are <rev>'s, event
// for event. A change meant to keep the protocol's behaviour (a refactor of the replica or the
// writer, a log line, a comment) is shown to keep it: each seed runs on both builds, the full
// stack as `npm run sim` runs it, and its every trace line, its stats and its verdict are hashed
// and compared. Where all compared seeds match, a sweep made on <rev> speaks for this checkout
// too; the first seed that differs is printed with the first trace line where the runs part.
//
// Builds this checkout, and <rev> in a git worktree under .data/sim-compare (sharing this
// checkout's node_modules, so <rev> must have the same package-lock.json).
//
//   npm run sim-compare -- --base <rev> [--seeds 300] [--from 1] [--step 199]
//
// The seeds compared are from, from + step, ...: a step that is no multiple of the number of fault
// profiles (seeds cycle through them) samples every profile. Exits 1 when a seed differs.
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { checkOutAndBuild, removeBaseTree } from './lib/base-tree.mjs';
import { build } from './lib/build.mjs';
import { ensureDependencies } from './lib/install.mjs';
import { dataDir, repoRoot } from './lib/paths.mjs';
import { ProgressBar } from './lib/progress.mjs';
import { fail, info, positiveOption, Steps } from './lib/ui.mjs';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    seeds: { type: 'string', default: '300' },
    from: { type: 'string', default: '1' },
    step: { type: 'string', default: '199' },
  },
});
if (values.base === undefined) fail('name the commit to compare with: npm run sim-compare -- --base <rev>');
const seeds = positiveOption(values, 'seeds');
const from = positiveOption(values, 'from');
const step = positiveOption(values, 'step');

const baseTree = join(resolve(dataDir, 'sim-compare'), 'base');

/** One build's simulator, run as `npm run sim` runs a seed: the storage node's shell, the data node's writer. */
async function simulatorOf(root) {
  const load = (path) => import(pathToFileURL(join(root, 'dist', path)).href);
  const simulator = await load('libs/quorum/src/simulator/index.js');
  const { storageNodeShell } = await load('apps/storage-node/src/simulated-shell.js');
  const { dataNodeWriterShell } = await load('apps/data-node/src/simulated-writer.js');
  const shell = storageNodeShell();
  const writer = dataNodeWriterShell();
  /** The run of `seed`, with `onLine` called for each trace line. */
  const run = (seed, onLine) =>
    simulator.runSimulationAsync({ seed, shell, writer, trace: true, onTrace: onLine });
  return { run, profileForSeed: simulator.profileForSeed };
}

/** A hash of a run's trace lines, stats and verdict. */
async function fingerprint(simulator, seed) {
  const hash = createHash('sha256');
  const result = await simulator.run(seed, (line) => hash.update(`${line}\n`));
  hash.update(JSON.stringify(result.stats));
  hash.update(result.summary);
  return hash.digest('hex');
}

/** The first trace line at which two runs of `seed` part, with the line before it. */
async function firstDifference(mine, theirs, seed) {
  const linesOf = async (simulator) => {
    const lines = [];
    const result = await simulator.run(seed, (line) => lines.push(line));
    lines.push(`stats: ${JSON.stringify(result.stats)}`, result.summary);
    return lines;
  };
  const [a, b] = [await linesOf(theirs), await linesOf(mine)];
  let index = 0;
  while (index < a.length && index < b.length && a[index] === b[index]) index++;
  const labels = ['both', values.base, 'this checkout'];
  const width = Math.max(...labels.map((label) => label.length)) + 1;
  const row = (label, line) => `  ${`${label}:`.padEnd(width + 1)} ${line}`;
  return [
    `seed ${seed} (${mine.profileForSeed(seed)}) parts at trace line ${index + 1}:`,
    row('both', a[index - 1] ?? '(start)'),
    row(values.base, a[index] ?? '(end)'),
    row('this checkout', b[index] ?? '(end)'),
  ].join('\n');
}

const steps = new Steps('sim-compare', 4);
let exitCode = 0;
try {
  await steps.run('install dependencies', ensureDependencies);
  await steps.run('compile this checkout', build);
  const commit = await steps.run(`compile ${values.base}`, () => checkOutAndBuild(values.base, baseTree));
  const mine = await simulatorOf(repoRoot);
  const theirs = await simulatorOf(baseTree);
  const profiles = new Map();
  const outcome = await steps.run(`compare ${seeds} seeds`, async () => {
    const bar = new ProgressBar(seeds, { counted: 'different' });
    for (let index = 0; index < seeds; index++) {
      const seed = from + index * step;
      const profile = mine.profileForSeed(seed);
      profiles.set(profile, (profiles.get(profile) ?? 0) + 1);
      if ((await fingerprint(mine, seed)) !== (await fingerprint(theirs, seed))) {
        bar.end(index + 1, 1);
        return { compared: index + 1, difference: await firstDifference(mine, theirs, seed) };
      }
      bar.draw(index + 1, 0);
    }
    bar.end(seeds, 0);
    return { compared: seeds, difference: null };
  });
  const sampled = [...profiles].map(([name, count]) => `${name} ${count}`).join(', ');
  const range = `seeds ${from} to ${from + (outcome.compared - 1) * step} every ${step}`;
  if (outcome.difference === null) {
    info(
      `${outcome.compared} seeds (${range}; ${sampled}): every run the same as ${values.base} (${commit.slice(0, 7)}), trace, stats and verdict`,
    );
  } else {
    info(outcome.difference);
    exitCode = 1;
  }
} catch (cause) {
  process.stderr.write(`\nerror: ${cause instanceof Error ? cause.message : String(cause)}\n`);
  exitCode = 1;
} finally {
  await removeBaseTree(baseTree).catch(() => undefined);
}
process.exit(exitCode);
