// `npm run side-by-side -- --base <rev>`: the data node of this checkout against the data node of
// an earlier commit, on the same machine at the same time. A change to the data path often moves
// its cost by less than this machine's noise moves a single bench run; two builds measured in
// turn, over one storage fleet, several rounds, show what the change did.
//
// Builds this checkout, and <rev> in a git worktree under .data/side-by-side (sharing this
// checkout's node_modules, so <rev> must have the same package-lock.json). Starts six storage
// nodes and one data node per build (each with its own volume, at the bench's size and with an
// unthrottled command budget), runs redis-benchmark against each in turn, alternating which goes
// first, and prints req/s and the CPU µs per request of the data node and of the six storage
// nodes, for every round and as medians. Nothing is written to docs: the caller quotes the table
// with this command.
//
//   npm run side-by-side -- --base <rev> [--tests set,get,get:P16] [--rounds 4]
//                           [--requests 40000] [--keys 100000]
//
// A test is set or get (the data path's rows), optionally `:P<n>` for a pipeline of n. Each build gets
// one unmeasured SET pass first, so that its hot paths are compiled and its cache holds what its
// SETs wrote.
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { checkOutAndBuild, removeBaseTree } from './lib/base-tree.mjs';
import { build } from './lib/build.mjs';
import { ensureDependencies } from './lib/install.mjs';
import { dataDir, repoRoot } from './lib/paths.mjs';
import { fail, info, positiveOption, Steps } from './lib/ui.mjs';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    tests: { type: 'string', default: 'set,get' },
    rounds: { type: 'string', default: '4' },
    requests: { type: 'string', default: '40000' },
    keys: { type: 'string', default: '100000' },
  },
});
if (values.base === undefined) fail('name the commit to compare with: npm run side-by-side -- --base <rev>');
const rounds = positiveOption(values, 'rounds');
const requests = positiveOption(values, 'requests');
const keySpace = positiveOption(values, 'keys');
const tests = values.tests.split(',').map((text) => {
  const match = /^(set|get)(?::P(\d+))?$/i.exec(text.trim());
  if (match === null) fail(`a test is set or get with an optional :P<n>, not "${text}"`);
  return { label: text.trim(), name: match[1].toLowerCase(), pipeline: Number(match[2] ?? 1) };
});

const root = resolve(dataDir, 'side-by-side');
const baseTree = join(root, 'base');
const runDir = join(root, 'run');

const steps = new Steps('side-by-side', 4);
const stops = [];
let exitCode = 0;
try {
  await steps.run('install dependencies', ensureDependencies);
  await steps.run('compile this checkout', build);
  await steps.run(`compile ${values.base}`, () => checkOutAndBuild(values.base, baseTree));

  const helper = (path) => import(pathToFileURL(join(repoRoot, 'dist', path)).href);
  const { startStorageFleet } = await helper('test/support/storage-fleet.js');
  const { startDataNode } = await helper('test/support/data-nodes.js');
  const { processesCpuMs } = await helper('bench/lib/process-cpu.js');
  const { BENCH_CU, BENCH_CU_COMMANDS_PER_SECOND } = await helper('bench/lib/servers.js');
  const { CLIENTS, redisBenchmark, VALUE_BYTES } = await helper('bench/lib/redis-benchmark.js');

  const measured = await steps.run('start the servers and measure', async () => {
    rmSync(runDir, { recursive: true, force: true });
    const fleet = await startStorageFleet({ dataRoot: join(runDir, 'storage') });
    stops.push(() => fleet.stop());
    const storagePids = fleet.nodes.map((_, index) => fleet.process(index).child.pid);
    const builds = [
      { name: values.base, entry: join(baseTree, 'dist/apps/data-node/src/main.js') },
      { name: 'this checkout', entry: join(repoRoot, 'dist/apps/data-node/src/main.js') },
    ];
    for (const [index, candidate] of builds.entries()) {
      const node = await startDataNode({
        id: `d${index + 1}`,
        storage: fleet.nodes,
        coordinatorId: 7 + index,
        cu: BENCH_CU,
        cluster: `side-by-side-${index + 1}`,
        entry: candidate.entry,
        env: { DATA_NODE_CU_COMMANDS_PER_SECOND: String(BENCH_CU_COMMANDS_PER_SECOND) },
      });
      stops.push(() => node.stop());
      candidate.node = node;
    }
    // The data-node bench's redis-benchmark run (its clients and value size), over --keys keys.
    const benchmark = async (port, test) =>
      (await redisBenchmark({ port }, requests, { command: test.name, pipeline: test.pipeline }, keySpace))
        .requestsPerSecond;
    for (const candidate of builds) await benchmark(candidate.node.respPort, { name: 'set', pipeline: 1 });
    const rows = [];
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? builds : [...builds].reverse();
      for (const candidate of order) {
        const dataNodePid = candidate.node.process.child.pid;
        for (const test of tests) {
          const dataNodeBefore = processesCpuMs([dataNodePid]);
          const storageBefore = processesCpuMs(storagePids);
          const perSecond = await benchmark(candidate.node.respPort, test);
          rows.push({
            build: candidate.name,
            test: test.label,
            round: round + 1,
            perSecond,
            dataNodeMicros: ((processesCpuMs([dataNodePid]) - dataNodeBefore) * 1000) / requests,
            storageMicros: ((processesCpuMs(storagePids) - storageBefore) * 1000) / requests,
          });
        }
      }
      info(`  round ${round + 1} of ${rounds} done`);
    }
    return { rows, builds: builds.map((candidate) => candidate.name) };
  });

  const median = (numbers) => {
    const sorted = [...numbers].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  };
  const whole = (value) => Math.round(value).toLocaleString('en-US');
  info('');
  info(
    `redis-benchmark -c ${CLIENTS} -n ${requests} -r ${keySpace} -d ${VALUE_BYTES}, ${rounds} rounds; per round: req/s / data node CPU µs / storage CPU µs per request`,
  );
  info('');
  info('| test | build | rounds | median req/s | median data node µs | median storage µs |');
  info('| --- | --- | --- | ---: | ---: | ---: |');
  for (const test of tests) {
    for (const name of measured.builds) {
      const mine = measured.rows.filter((row) => row.test === test.label && row.build === name);
      const perRound = mine
        .map((row) => `${whole(row.perSecond)} / ${whole(row.dataNodeMicros)} / ${whole(row.storageMicros)}`)
        .join(', ');
      info(
        `| ${test.label} | ${name} | ${perRound} | ${whole(median(mine.map((row) => row.perSecond)))} | ${whole(median(mine.map((row) => row.dataNodeMicros)))} | ${whole(median(mine.map((row) => row.storageMicros)))} |`,
      );
    }
  }
} catch (cause) {
  process.stderr.write(`\nerror: ${cause instanceof Error ? cause.message : String(cause)}\n`);
  exitCode = 1;
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  rmSync(runDir, { recursive: true, force: true });
  await removeBaseTree(baseTree).catch(() => undefined);
}
process.exit(exitCode);
