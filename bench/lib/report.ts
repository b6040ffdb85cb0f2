// What a bench module returns, and how results reach the console and docs/benchmarks.md.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem, type } from 'node:os';

export type Row = Record<string, string | number>;

/** What `run()` of a `bench/*.bench.ts` module resolves to. */
export interface BenchResult {
  name: string;
  /** One table: columns are the rows' keys, in order of first appearance. */
  rows: Row[];
  /** Said under the table: set-up, caveats, anything a reader needs to weigh the numbers. */
  notes: string[];
  /** Set when the bench could not run here (e.g. its peer cannot be installed): the reason. */
  skipped?: string;
}

/** What `run()` of a bench module is given. */
export interface BenchOptions {
  /** Where benches put data (a fresh directory under it each); the machine summary names its disk. */
  dataDir: string;
  /** Prints a line (under the progress display). */
  log: (message: string) => void;
  /** Shows how far a phase is, `fraction` in [0, 1]; 1 ends that phase's display. */
  progress: (label: string, fraction: number) => void;
}

/** A bench module: `dist/bench/NAME.bench.js`. */
export interface BenchModule {
  run(options: BenchOptions): Promise<BenchResult>;
}

export interface Machine {
  cpu: string;
  cores: number;
  ramGiB: number;
  kernel: string;
  node: string;
  /** The 1-minute load average when the run started: other work on the machine skews the numbers. */
  loadAverage: number;
  /** The filesystem holding the data dir (from `df -T`), or why it is unknown. */
  disk: string;
}

/** Describes this machine; `df -T` for the data dir's filesystem, bounded to 2 s. */
export async function describeMachine(dataDir: string): Promise<Machine> {
  return {
    cpu: cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown',
    cores: availableParallelism(),
    ramGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${type()} ${release()}`,
    node: process.version,
    loadAverage: Math.round((loadavg()[0] ?? 0) * 10) / 10,
    disk: await describeDisk(dataDir),
  };
}

function describeDisk(dir: string): Promise<string> {
  return new Promise((resolve) => {
    execFile('df', ['-P', '-T', dir], { timeout: 2000 }, (error, stdout) => {
      const fields = stdout?.trim().split('\n')[1]?.trim().split(/\s+/);
      if (error || !fields || fields.length < 7) {
        resolve(`${dir} (filesystem unknown: df -T failed)`);
        return;
      }
      const [device, fsType, , , available, , mount] = fields;
      const freeGiB = Math.round(Number(available) / 2 ** 20);
      resolve(`${dir}: ${fsType} on ${device}, mounted on ${mount} (${freeGiB} GiB free)`);
    });
  });
}

/** One line, for each section's "measured on". */
export function machineLine(machine: Machine): string {
  return (
    `${machine.cpu}, ${machine.cores} cores, ${machine.ramGiB} GiB RAM, ${machine.kernel}, ` +
    `Node.js ${machine.node}, load average ${machine.loadAverage} at the start`
  );
}

function machineRows(machine: Machine): [string, string][] {
  return [
    ['CPU', machine.cpu],
    ['cores', String(machine.cores)],
    ['RAM', `${machine.ramGiB} GiB`],
    ['kernel', machine.kernel],
    ['Node.js', machine.node],
    ['load average', `${machine.loadAverage} (1 min, when the run started)`],
    ['data dir', machine.disk],
  ];
}

/** The machine as console lines. */
export function formatMachine(machine: Machine): string {
  const width = Math.max(...machineRows(machine).map(([label]) => label.length));
  return machineRows(machine)
    .map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)
    .join('\n');
}

/** `value` rounded to `digits` decimal places, for a row's cell. */
export function round(value: number, digits: number): number {
  return Math.round(value * 10 ** digits) / 10 ** digits;
}

/** Integers as they are, other numbers with two decimals. */
export function formatValue(value: string | number): string {
  if (typeof value === 'string') return value;
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

function columnsOf(rows: Row[]): string[] {
  const columns: string[] = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  return columns;
}

function isNumeric(rows: Row[], column: string): boolean {
  return rows.every((row) => row[column] === undefined || typeof row[column] === 'number');
}

/** The rows as an aligned plain-text table (numbers right-aligned). */
export function formatTable(rows: Row[]): string {
  if (rows.length === 0) return '  (no rows)';
  const columns = columnsOf(rows);
  const cells = rows.map((row) => columns.map((column) => formatValue(row[column] ?? '')));
  const widths = columns.map((column, i) =>
    Math.max(column.length, ...cells.map((line) => line[i]?.length ?? 0)),
  );
  const numeric = columns.map((column) => isNumeric(rows, column));
  const pad = (text: string, i: number) =>
    numeric[i] ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0);
  const lines = [
    columns.map(pad).join('  '),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...cells.map((line) => line.map(pad).join('  ')),
  ];
  return lines.map((line) => `  ${line.trimEnd()}`).join('\n');
}

function markdownCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The rows as a markdown table (numeric columns right-aligned). */
export function markdownTable(rows: Row[]): string {
  if (rows.length === 0) return '';
  const columns = columnsOf(rows);
  const line = (cells: string[]) => `| ${cells.map(markdownCell).join(' | ')} |`;
  return [
    line(columns),
    `|${columns.map((column) => (isNumeric(rows, column) ? ' ---: ' : ' --- ')).join('|')}|`,
    ...rows.map((row) => line(columns.map((column) => formatValue(row[column] ?? '')))),
  ].join('\n');
}

function utc(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The section of one bench, between its markers. `id` is the module's name (`etcd` for etcd.bench.ts). */
export function markdownSection(id: string, result: BenchResult, machine: Machine, date: Date): string {
  const parts = [
    `## ${result.name}`,
    `Measured ${utc(date)} on ${machineLine(machine)}; data dir ${machine.disk}.`,
  ];
  if (result.skipped) parts.push(`Skipped: ${result.skipped}`);
  const table = markdownTable(result.rows);
  if (table) parts.push(table);
  if (result.notes.length > 0) parts.push(result.notes.map((note) => `- ${note}`).join('\n'));
  return `<!-- bench:${id} -->\n${parts.join('\n\n')}\n<!-- /bench:${id} -->`;
}

const sectionPattern = /<!-- bench:([\w.-]+) -->\n[\s\S]*?<!-- \/bench:\1 -->/g;

/** The sections, by id, of an existing docs/benchmarks.md (none when it does not exist). */
export function readSections(path: string): Map<string, string> {
  const sections = new Map<string, string>();
  if (!existsSync(path)) return sections;
  for (const match of readFileSync(path, 'utf8').matchAll(sectionPattern)) {
    if (match[1]) sections.set(match[1], match[0]);
  }
  return sections;
}

/**
 * Writes docs/benchmarks.md: a header with this run's date and machine, then every section, sorted by id.
 * `fresh` replaces or adds the sections of the benches that ran; the other sections already in the file stay.
 */
export function writeBenchmarksDoc(
  path: string,
  machine: Machine,
  date: Date,
  fresh: Map<string, string>,
): void {
  const sections = readSections(path);
  for (const [id, text] of fresh) sections.set(id, text);
  const header = [
    '# Benchmarks',
    'Written by `npm run bench`, which runs every `bench/*.bench.ts` and prints the same tables. ' +
      '`npm run bench -- <text>` runs only the benches whose name contains `<text>` and replaces only ' +
      'their sections: each section says when and where it was measured. Edit the benches, not this file.',
    `Last run: ${utc(date)}, on:`,
    [
      '| machine | |',
      '| --- | --- |',
      ...machineRows(machine).map(([k, v]) => `| ${k} | ${markdownCell(v)} |`),
    ].join('\n'),
  ];
  const body = [...sections.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, text]) => text);
  writeFileSync(path, `${[...header, ...body].join('\n\n')}\n`);
}

/**
 * "n of m (p%)": the quorum commits chosen by six YES votes without an ACCEPT round (ADR 0015),
 * from QuorumClient counters; "n/a" without any commit.
 */
export function fastCommitShare(counters: { commits: number; fastCommits: number }): string {
  const { commits, fastCommits } = counters;
  if (commits === 0) return 'n/a';
  return `${fastCommits.toLocaleString('en-US')} of ${commits.toLocaleString('en-US')} (${Math.round((100 * fastCommits) / commits)}%)`;
}
