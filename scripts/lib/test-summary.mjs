// Counts test results from node:test's event stream: only leaf tests count (a test
// with subtests, or a describe block, is a container), and skipped tests are not passes.
export class TestSummary {
  passed = 0;
  failed = 0;
  skipped = 0;
  /** @type {{ file: string, name: string, error: string }[]} */
  failures = [];
  /** @type {Map<string, number>} nesting of the previous result per file */
  #previousNesting = new Map();

  /** @param {'pass' | 'fail'} outcome @param {any} data an event of node:test's run() stream */
  record(outcome, data) {
    const file = data.file ?? '(unknown file)';
    const previous = this.#previousNesting.get(file);
    this.#previousNesting.set(file, data.nesting);
    // Results arrive children first, so a result right after a deeper one closes a container.
    const isContainer = data.details?.type === 'suite' || previous === data.nesting + 1;
    // A failed container is counted only when none of its tests failed (say, its hook threw).
    if (isContainer && (outcome === 'pass' || this.#failuresIn(file) > 0)) return;
    if (data.skip !== undefined || data.todo !== undefined) {
      this.skipped += 1;
    } else if (outcome === 'pass') {
      this.passed += 1;
    } else {
      this.failed += 1;
      const cause = data.details?.error?.cause ?? data.details?.error;
      this.failures.push({ file, name: data.name, error: String(cause?.message ?? cause ?? 'failed') });
    }
  }

  #failuresIn(file) {
    return this.failures.filter((failure) => failure.file === file).length;
  }

  line() {
    return `${this.passed} passed, ${this.failed} failed${this.skipped ? `, ${this.skipped} skipped` : ''}`;
  }
}
