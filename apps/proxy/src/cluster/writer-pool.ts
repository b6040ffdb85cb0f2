// Which writer a new session link goes to: the route's writer with the fewest links for its
// capacity (links per CU), skipping one that just failed. A failed writer is kept out for
// QUARANTINE_MS, twice as long after each failure in a row (up to QUARANTINE_MAX_MS), until a
// session logs in on it again: a dead writer still in the route, having no links, would
// otherwise draw every new session. Counts links per writer, which also says when a writer the
// route dropped is released. Pure: time comes in as `nowMs`.
import type { RouteWriter } from '../../../../libs/routes/src/index.js';

export const QUARANTINE_MS = 1_000;
export const QUARANTINE_MAX_MS = 30_000;

export class WriterPool {
  private writers: readonly RouteWriter[] = [];
  private readonly links = new Map<string, number>();
  private readonly downUntilMs = new Map<string, number>();
  /** Failures in a row per writer, since a session last logged in on it. */
  private readonly failures = new Map<string, number>();
  /** Where the search for the fewest links starts, so that ties spread. */
  private rotation = 0;

  setWriters(writers: readonly RouteWriter[]): void {
    this.writers = writers;
    for (const id of [...this.failures.keys()]) {
      if (writers.some((writer) => writer.id === id)) continue;
      this.downUntilMs.delete(id);
      this.failures.delete(id);
    }
  }

  linksTo(writerId: string): number {
    return this.links.get(writerId) ?? 0;
  }

  /** Whether some writer of the route can take a session now. */
  hasAvailable(nowMs: number): boolean {
    return this.writers.some((writer) => this.isUp(writer.id, nowMs));
  }

  /** The writer whose links per CU would be fewest with one more: sessions spread by capacity. */
  choose(nowMs: number): RouteWriter | null {
    let best: RouteWriter | null = null;
    let bestLoad = Number.POSITIVE_INFINITY;
    const count = this.writers.length;
    for (let step = 0; step < count; step++) {
      const writer = this.writers[(this.rotation + step) % count] as RouteWriter;
      const load = (this.linksTo(writer.id) + 1) / writer.cu;
      if (load < bestLoad && this.isUp(writer.id, nowMs)) {
        best = writer;
        bestLoad = load;
      }
    }
    this.rotation = (this.rotation + 1) % Math.max(1, count);
    return best;
  }

  /**
   * How many of `sessions` links each writer should hold: in proportion to its CU, rounded up (so
   * that the shares cover every session).
   */
  shares(sessions: number): Map<string, number> {
    const totalCu = this.writers.reduce((sum, writer) => sum + writer.cu, 0);
    return new Map(this.writers.map((writer) => [writer.id, Math.ceil((sessions * writer.cu) / totalCu)]));
  }

  linkOpened(writerId: string): void {
    this.links.set(writerId, this.linksTo(writerId) + 1);
  }

  linkClosed(writerId: string): void {
    const left = this.linksTo(writerId) - 1;
    if (left > 0) this.links.set(writerId, left);
    else this.links.delete(writerId);
  }

  /** A link to the writer failed: no new session goes there for a while. */
  markDown(writerId: string, nowMs: number): void {
    const failures = (this.failures.get(writerId) ?? 0) + 1;
    this.failures.set(writerId, failures);
    const quarantineMs = Math.min(QUARANTINE_MAX_MS, QUARANTINE_MS * 2 ** Math.min(failures - 1, 16));
    this.downUntilMs.set(writerId, nowMs + quarantineMs);
  }

  /** A session logged in on the writer: it works. */
  markUp(writerId: string): void {
    this.failures.delete(writerId);
  }

  /** Forgets quarantines that ended; true if one did. */
  expireQuarantines(nowMs: number): boolean {
    let ended = false;
    for (const [id, until] of this.downUntilMs) {
      if (until > nowMs) continue;
      this.downUntilMs.delete(id);
      ended = true;
    }
    return ended;
  }

  isDown(writerId: string, nowMs: number): boolean {
    return !this.isUp(writerId, nowMs);
  }

  private isUp(writerId: string, nowMs: number): boolean {
    const until = this.downUntilMs.get(writerId);
    return until === undefined || until <= nowMs;
  }
}
