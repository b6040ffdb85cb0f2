// `npm run sim`: installs what is missing, compiles, then runs the deterministic simulator of the
// quorum protocol (libs/quorum/src/simulator).
//
//   npm run sim -- --seeds 100000 [--from N] [--profile name] [--duration ms] [--workers N]
//       sweeps seeds from..from+seeds-1 on worker threads, with a progress bar on stderr; stops at
//       the first failure and prints its seed and the command that replays it.
//   npm run sim -- --seed 12345 [--profile name] [--duration ms] [--trace]
//       runs one seed; --trace prints every event of the run.
//
// Without --profile, each seed picks its fault profile (seed mod the number of profiles).
// By default the simulator runs the code that ships: every replica inside the storage node's own
// event loop (apps/storage-node/src/node-core.ts) over simulated disks that stall, fail fsyncs,
// fill up, tear and rot (--shell storage-node), and every writer as the data node's writer stack
// (storage client, transaction engine, cache, sessions: apps/data-node/src/simulated-writer.ts)
// with clients speaking Redis commands (--writer data-node).
// --shell none drives the replica state machines directly; --writer none runs the bare writer
// coordinators with clients speaking the protocol; --core is both (the fastest, the protocol alone).
// --no-faults runs a reliable network without crashes (where reads must also be fresh).
// --no-build skips the install and compile steps.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { repoRoot } from './lib/paths.mjs';
import { ProgressBar } from './lib/progress.mjs';

const simulatorPath = resolve(repoRoot, 'dist', 'libs', 'quorum', 'src', 'simulator', 'index.js');
/** Seeds a worker runs per request: large enough to amortize messages, small enough to stop soon. */
const CHUNK_SEEDS = 25;

const shellPaths = {
  'storage-node': resolve(repoRoot, 'dist', 'apps', 'storage-node', 'src', 'simulated-shell.js'),
};
const writerPaths = {
  'data-node': resolve(repoRoot, 'dist', 'apps', 'data-node', 'src', 'simulated-writer.js'),
};

async function loadSimulator() {
  return import(pathToFileURL(simulatorPath).href);
}

/** The shell factory named by --shell, or undefined for the replica state machine alone. */
async function loadShell(name) {
  if (name === null || name === undefined) return undefined;
  const { storageNodeShell } = await import(pathToFileURL(shellPaths[name]).href);
  return storageNodeShell();
}

/** The writer process factory named by --writer, or undefined for the bare writer coordinator. */
async function loadWriter(name) {
  if (name === null || name === undefined) return undefined;
  const { dataNodeWriterShell } = await import(pathToFileURL(writerPaths[name]).href);
  return dataNodeWriterShell();
}

/** What the options give every run: the profile, the duration, the shells. */
async function runOptions(options) {
  const shell = await loadShell(options.shell);
  const writer = await loadWriter(options.writer);
  return {
    ...(options.profile ? { profile: options.profile } : {}),
    ...(options.durationMs ? { durationMs: options.durationMs } : {}),
    ...(shell ? { shell } : {}),
    ...(writer ? { writer } : {}),
    ...(options.faults === false ? { faults: false } : {}),
  };
}

// ---- worker: runs chunks of seeds, stops a chunk at its first failure -------------------------

async function workerMain() {
  const { runSimulationAsync } = await loadSimulator();
  const common = await runOptions(workerData);
  parentPort.on('message', async ({ from, count }) => {
    for (let seed = from; seed < from + count; seed++) {
      const result = await runSimulationAsync({ seed, ...common });
      if (!result.ok) {
        parentPort.postMessage({ from, ran: seed - from + 1, failure: { seed, summary: result.summary } });
        return;
      }
    }
    parentPort.postMessage({ from, ran: count, failure: null });
  });
  parentPort.postMessage({ ready: true });
}

// ---- main ---------------------------------------------------------------------------------------

function parseArguments(argv) {
  const options = {
    seeds: null,
    from: 1,
    seed: null,
    profile: null,
    durationMs: null,
    trace: false,
    build: true,
    shell: 'storage-node',
    writer: 'data-node',
    faults: true,
  };
  options.workers = availableParallelism();
  const choice = (flag, value, paths) => {
    if (value === 'none') return null;
    if (!(value in paths))
      throw new Error(`${flag} takes none, ${Object.keys(paths).join(', ')}; got ${JSON.stringify(value)}`);
    return value;
  };
  const number = (flag, value) => {
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed))
      throw new Error(`${flag} needs an integer, got ${JSON.stringify(value)}`);
    return parsed;
  };
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index];
    const next = () => {
      index++;
      if (index >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[index];
    };
    switch (flag) {
      case '--seeds':
        options.seeds = number(flag, next());
        break;
      case '--from':
        options.from = number(flag, next());
        break;
      case '--seed':
        options.seed = number(flag, next());
        break;
      case '--profile':
        options.profile = next();
        break;
      case '--duration':
        options.durationMs = number(flag, next());
        break;
      case '--workers':
        options.workers = Math.max(1, number(flag, next()));
        break;
      case '--trace':
        options.trace = true;
        break;
      case '--shell':
        options.shell = choice(flag, next(), shellPaths);
        break;
      case '--writer':
        options.writer = choice(flag, next(), writerPaths);
        break;
      case '--core':
        options.shell = null;
        options.writer = null;
        break;
      case '--no-faults':
        options.faults = false;
        break;
      case '--no-build':
        options.build = false;
        break;
      default:
        throw new Error(`unknown argument ${JSON.stringify(flag)} (see the top of scripts/sim.mjs)`);
    }
  }
  if (options.seed === null && options.seeds === null) options.seeds = 1_000;
  return options;
}

async function sweep(options) {
  const total = options.seeds;
  const last = options.from + total - 1;
  const workerCount = Math.min(options.workers, Math.ceil(total / CHUNK_SEEDS));
  const bar = new ProgressBar(total);
  const started = Date.now();
  let nextSeed = options.from;
  let done = 0;
  let failure = null;
  let failures = 0;
  const workers = [];

  await new Promise((resolveSweep, rejectSweep) => {
    let active = 0;
    const dispatch = (worker) => {
      // After a failure only seeds below it still matter: the lowest failing seed is reported.
      if (nextSeed > last || (failure !== null && nextSeed > failure.seed)) {
        worker.terminate();
        return;
      }
      const count = Math.min(CHUNK_SEEDS, last - nextSeed + 1);
      worker.postMessage({ from: nextSeed, count });
      nextSeed += count;
      active++;
    };
    const settleIfIdle = () => {
      if (active === 0 && (nextSeed > last || failure !== null)) resolveSweep();
    };
    for (let index = 0; index < workerCount; index++) {
      const worker = new Worker(new URL(import.meta.url), {
        workerData: {
          profile: options.profile,
          durationMs: options.durationMs,
          shell: options.shell,
          writer: options.writer,
          faults: options.faults,
        },
      });
      workers.push(worker);
      worker.on('error', rejectSweep);
      worker.on('message', (message) => {
        if (message.ready) {
          dispatch(worker);
          settleIfIdle();
          return;
        }
        active--;
        done += message.ran;
        if (message.failure !== null) {
          failures++;
          if (failure === null || message.failure.seed < failure.seed) failure = message.failure;
        }
        bar.draw(done, failures);
        dispatch(worker);
        settleIfIdle();
      });
    }
  });
  await Promise.all(workers.map((worker) => worker.terminate()));
  bar.end(done, failures);

  const seconds = (Date.now() - started) / 1000;
  const profile = `${options.profile ?? 'all profiles'}${options.shell ? `, ${options.shell} shell` : ''}${options.writer ? `, ${options.writer} writers` : ''}`;
  if (failure !== null) {
    process.stdout.write(`\nFAILED ${failure.summary}\n\n`);
  }
  // After a failure, seeds ran out of order: a count, not a range.
  const range = failure === null ? `${options.from}..${last}` : `from ${options.from}`;
  process.stdout.write(
    `${done} seeds (${range}, ${profile}) in ${seconds.toFixed(1)} s: ${(done / seconds).toFixed(1)} seeds/s, ${failures} failures\n`,
  );
  return failure === null;
}

async function replay(options) {
  const { runSimulationAsync } = await loadSimulator();
  const result = await runSimulationAsync({
    seed: options.seed,
    ...(await runOptions(options)),
    trace: options.trace,
    onTrace: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`\n${result.summary}\n`);
  process.stdout.write(`stats: ${JSON.stringify(result.stats)}\n`);
  if (result.ok && !options.trace) process.stdout.write(`trace: ${result.replay}\n`);
  return result.ok;
}

async function main() {
  let options;
  try {
    options = parseArguments(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(2);
  }
  if (options.build) {
    // Imported here so that worker threads, which run this same file, load none of it.
    const { build } = await import('./lib/build.mjs');
    const { ensureDependencies } = await import('./lib/install.mjs');
    const { fail, Steps } = await import('./lib/ui.mjs');
    const steps = new Steps('sim', 2);
    try {
      await steps.run('install dependencies', ensureDependencies);
      await steps.run('compile', build);
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
    }
  }
  const ok = options.seed !== null ? await replay(options) : await sweep(options);
  process.exitCode = ok ? 0 : 1;
}

// Piped into `head`, stdout closes early: that is the reader's choice, not a failure.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

if (isMainThread) await main();
else await workerMain();
