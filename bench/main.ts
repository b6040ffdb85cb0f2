// The bench runner (`npm run bench`, after install and compile): runs every dist/bench/NAME.bench.js
// (or, given arguments, those whose NAME contains one of them), prints the machine and each result,
// and writes docs/benchmarks.md. Ctrl-C stops whatever the benches started.
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runCleanups } from './lib/cleanup.js';
import {
  type BenchModule,
  type BenchOptions,
  type BenchResult,
  describeMachine,
  formatMachine,
  formatTable,
  markdownSection,
  readSections,
  writeBenchmarksDoc,
} from './lib/report.js';

const distDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(distDir, '..', '..');
const docPath = join(repoRoot, 'docs', 'benchmarks.md');
const isTty = process.stdout.isTTY === true;

/** The bench modules, by name: compiled files whose source still exists (a deleted bench's stale output is not run). */
function discover(): { name: string; file: string }[] {
  return readdirSync(distDir)
    .filter((file) => file.endsWith('.bench.js'))
    .map((file) => ({ name: file.slice(0, -'.bench.js'.length), file: join(distDir, file) }))
    .filter(({ name }) => existsSync(join(repoRoot, 'bench', `${name}.bench.ts`)))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** One progress line, redrawn in place on a terminal; elsewhere each phase is announced once. */
class Progress {
  private active = false;
  private announced = new Set<string>();

  show(label: string, fraction: number): void {
    if (!isTty) {
      if (!this.announced.has(label)) process.stdout.write(`  ${label} ...\n`);
      this.announced.add(label);
      return;
    }
    // The end of a phase that is no longer shown (already ended) is not shown again.
    if (fraction >= 1 && !this.active) return;
    const width = 20;
    const filled = Math.round(Math.min(Math.max(fraction, 0), 1) * width);
    const line = `  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${label}`;
    process.stdout.write(`\r\x1b[2K${fraction >= 1 ? `${line} done\n` : line}`);
    this.active = fraction < 1;
  }

  log(message: string): void {
    if (this.active) process.stdout.write('\r\x1b[2K');
    this.active = false;
    process.stdout.write(`${message}\n`);
  }
}

const progress = new Progress();
const log = (message: string) => progress.log(message);

let stopping = false;
function onSignal(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  log(`\n${signal} received: stopping what the benches started ...`);
  void runCleanups((error) =>
    log(`while stopping: ${error instanceof Error ? error.message : String(error)}`),
  ).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
}

async function loadBench(file: string): Promise<BenchModule> {
  const module = (await import(pathToFileURL(file).href)) as Partial<BenchModule>;
  if (typeof module.run !== 'function') throw new Error(`${file} exports no run(options)`);
  return module as BenchModule;
}

async function main(): Promise<number> {
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const filters = process.argv.slice(2).filter((arg) => arg.length > 0);
  const all = discover();
  const selected = filters.length > 0 ? all.filter(({ name }) => filters.some((f) => name.includes(f))) : all;
  if (selected.length === 0) {
    log(
      `no bench matches ${filters.map((f) => `"${f}"`).join(', ')}; there are: ${all.map(({ name }) => name).join(', ')}`,
    );
    return 1;
  }

  const dataDir = resolve(process.env.BENCH_DATA_DIR ?? tmpdir());
  const machine = await describeMachine(dataDir);
  const date = new Date();
  log(`machine:\n${formatMachine(machine)}\n`);
  log(`benches: ${selected.map(({ name }) => name).join(', ')}\n`);

  const options: BenchOptions = {
    dataDir,
    log,
    progress: (label, fraction) => progress.show(label, fraction),
  };
  const existing = readSections(docPath);
  const fresh = new Map<string, string>();
  const failed: string[] = [];
  for (const { name, file } of selected) {
    log(`== ${name}`);
    const started = Date.now();
    let result: BenchResult;
    try {
      result = await (await loadBench(file)).run(options);
    } catch (error) {
      if (stopping) return 1;
      log(`${name} failed: ${error instanceof Error ? error.message : String(error)}\n`);
      failed.push(name);
      continue;
    }
    if (stopping) return 1;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (result.skipped) {
      log(`${result.name} skipped: ${result.skipped}`);
      if (existing.has(name)) {
        log(`  (docs/benchmarks.md keeps its earlier ${name} section)\n`);
        continue;
      }
    } else {
      log(`${result.name} (${seconds} s):\n${formatTable(result.rows)}`);
      for (const note of result.notes) log(`  - ${note}`);
      log('');
    }
    fresh.set(name, markdownSection(name, result, machine, date));
  }

  if (fresh.size > 0) {
    writeBenchmarksDoc(docPath, machine, date, fresh);
    log(`wrote docs/benchmarks.md (sections: ${[...fresh.keys()].join(', ')})`);
  }
  if (failed.length > 0) {
    log(`failed: ${failed.join(', ')}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => {
    if (!stopping) process.exitCode = code;
  },
  async (error: unknown) => {
    log(`error: ${error instanceof Error ? error.message : String(error)}`);
    await runCleanups(() => {});
    process.exitCode = 1;
  },
);
