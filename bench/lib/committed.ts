// The figures a bench wrote into docs/benchmarks.md last time it was committed, read back so that a
// run can be compared with them: a guard against regressions in figures that do not move with
// the machine's load (CPU per operation), beside the ratios against a peer in the same run.
import type { Row } from './report.js';

export interface CommittedSection {
  /** The section's "Measured …" line: when, on what machine. */
  measured: string;
  rows: Row[];
}

/** The table of the `<!-- bench:<name> -->` section of `doc`, its cells as text; null if absent. */
export function committedSection(doc: string, name: string): CommittedSection | null {
  const start = doc.indexOf(`<!-- bench:${name} -->`);
  const end = doc.indexOf(`<!-- /bench:${name} -->`, start);
  if (start < 0 || end < 0) return null;
  const lines = doc.slice(start, end).split('\n');
  const measured = lines.find((line) => line.startsWith('Measured ')) ?? '';
  const tableLines = lines.filter((line) => line.startsWith('|'));
  if (tableLines.length < 2) return { measured, rows: [] };
  const cells = (line: string) =>
    line
      .slice(1, line.endsWith('|') ? -1 : undefined)
      .split('|')
      .map((cell) => cell.trim());
  const header = cells(tableLines[0] as string);
  const rows = tableLines.slice(2).map((line) => {
    const row: Row = {};
    cells(line).forEach((cell, index) => {
      row[header[index] ?? `column ${index}`] = cell;
    });
    return row;
  });
  return { measured, rows };
}

/**
 * One line per row of `current` found in `committed` (same values in `keyColumns`): the figure in
 * `column` now and then, their ratio, and "higher than allowed" past `allowedRatio`.
 */
export function compareWithCommitted(
  current: Row[],
  committed: CommittedSection,
  keyColumns: readonly string[],
  column: string,
  allowedRatio: number,
  /** The machine's own drift, from a peer measured both times (1 when unknown): ratios are divided by it. */
  machineFactor = 1,
): { lines: string[]; regressions: number; ratios: number[] } {
  const key = (row: Row) => keyColumns.map((name) => String(row[name] ?? '')).join(' · ');
  const before = new Map(committed.rows.map((row) => [key(row), Number(row[column])]));
  const lines: string[] = [];
  const ratios: number[] = [];
  let regressions = 0;
  for (const row of current) {
    const then = before.get(key(row));
    const now = Number(row[column]);
    if (then === undefined || !Number.isFinite(then) || then <= 0 || !Number.isFinite(now)) continue;
    const ratio = now / then;
    const adjusted = ratio / machineFactor;
    ratios.push(ratio);
    const flagged = adjusted > allowedRatio;
    if (flagged) regressions++;
    const adjustment = machineFactor === 1 ? '' : `, ${adjusted.toFixed(2)}× after the machine's drift`;
    lines.push(
      `${key(row)}: ${now} now, ${then} committed (${ratio.toFixed(2)}×${adjustment})` +
        (flagged ? `, higher than the ${allowedRatio}× allowed` : ''),
    );
  }
  return { lines, regressions, ratios };
}

/** The median of `values` (1 for none): a peer's typical drift between two runs. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 1;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
