// Console output for the set-up scripts: numbered steps with a progress bar,
// so a first `npm start` (which installs and builds) never looks stuck.
const isTty = process.stdout.isTTY === true;

function bar(done, total, width = 20) {
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

export class Steps {
  /** @param {string} title @param {number} total */
  constructor(title, total) {
    this.title = title;
    this.total = total;
    this.done = 0;
  }

  /**
   * Runs one step, printing its name before and its duration after.
   * @template T @param {string} name @param {() => Promise<T>} work @returns {Promise<T>}
   */
  async run(name, work) {
    const started = Date.now();
    const prefix = `${bar(this.done, this.total)} ${this.done + 1}/${this.total} ${name}`;
    process.stdout.write(isTty ? `${prefix} ...` : `${prefix} ...\n`);
    try {
      const result = await work();
      this.done += 1;
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const line = `${bar(this.done, this.total)} ${this.done}/${this.total} ${name} done in ${seconds}s`;
      process.stdout.write(isTty ? `\r\x1b[2K${line}\n` : `${line}\n`);
      return result;
    } catch (error) {
      process.stdout.write(isTty ? '\n' : '');
      throw error;
    }
  }
}

export function info(message) {
  process.stdout.write(`${message}\n`);
}

/** Prints an error that tells the user what to do, then exits. */
export function fail(message) {
  process.stderr.write(`\nerror: ${message}\n`);
  process.exit(1);
}

/**
 * The option `--<name>` of parseArgs' `values` as a positive whole number; anything else exits
 * with an error that names the option.
 * @param {Record<string, unknown>} values @param {string} name @returns {number}
 */
export function positiveOption(values, name) {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < 1)
    fail(`--${name} must be a positive whole number, not ${values[name]}`);
  return value;
}
