// A progress bar on stderr for long loops over seeds: redrawn in place on a terminal; without one
// (a log file, CI), a line per tenth and at least one a minute, so that a long run's log shows it
// moving.
const PROGRESS_EVERY_MS = 200;
/** Without a terminal, the longest wait between two progress lines. */
const LINE_EVERY_MS = 60_000;

/** @param {number} seconds */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60
    ? `${minutes}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`
    : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

export class ProgressBar {
  /**
   * @param {number} total how many units the loop runs
   * @param {{ unit?: string, counted?: string }} [labels] the unit's name (`seeds`) and what the
   *   count shown beside the rate is of (`failures`)
   */
  constructor(total, { unit = 'seeds', counted = 'failures' } = {}) {
    this.total = total;
    this.unit = unit;
    this.counted = counted;
    this.started = Date.now();
    this.lastDrawn = 0;
    this.isTty = process.stderr.isTTY === true;
    this.lastTenth = -1;
    this.lastLineAt = this.started;
  }

  /** @param {number} done @param {number} count @param {boolean} [force] */
  draw(done, count, force = false) {
    const now = Date.now();
    if (!force && now - this.lastDrawn < PROGRESS_EVERY_MS) return;
    this.lastDrawn = now;
    const elapsed = (now - this.started) / 1000;
    const rate = done / Math.max(elapsed, 1e-3);
    const width = 30;
    const filled = Math.round((done / this.total) * width);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${this.unit}  ${rate.toFixed(0)} ${this.unit}/s  ETA ${formatDuration((this.total - done) / rate)}  ${count} ${this.counted}`;
    if (this.isTty) {
      process.stderr.write(`\r\x1b[2K${line}`);
    } else {
      const tenth = Math.floor((done / this.total) * 10);
      if (tenth !== this.lastTenth || force || now - this.lastLineAt >= LINE_EVERY_MS) {
        this.lastTenth = tenth;
        this.lastLineAt = now;
        process.stderr.write(`${line}\n`);
      }
    }
  }

  /** @param {number} done @param {number} count */
  end(done, count) {
    if (!this.isTty && this.lastTenth === 10) return;
    this.draw(done, count, true);
    if (this.isTty) process.stderr.write('\n');
  }
}
