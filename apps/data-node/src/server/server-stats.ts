// INFO commandstats and errorstats, counted as Redis 7 counts them (server.c): a command refused
// before it runs (wrong arity, NOAUTH) is a rejected call of that command, one that runs and
// answers an error is a failed call; every error reply, an unknown command's too, counts under
// its first word (`ERR`, `WRONGTYPE`…). CONFIG RESETSTAT starts them again.

/** Redis's ERROR_STATS_NUMBER: distinct error codes tracked before new ones are no longer added. */
export const ERROR_CODES_MAX = 128;
/** Redis reads the error code from the first 32 bytes of the message. */
const ERROR_CODE_SEARCH_BYTES = 32;

interface CommandCounters {
  calls: number;
  usec: number;
  rejected: number;
  failed: number;
}

export type CommandOutcome = 'ok' | 'failed' | 'rejected';

export class ServerStats {
  private commands = new Map<string, CommandCounters>();
  private errors = new Map<string, number>();
  /** Every error reply (Redis's total_error_replies). */
  errorReplies = 0;
  commandsProcessed = 0;
  connectionsReceived = 0;
  rejectedConnections = 0;
  resetAtMs = Date.now();

  /**
   * One command, by its full name (`get`, `client|info`): `micros` counts for a call that ran
   * (ok or failed), as Redis times only those.
   */
  commandDone(name: string, micros: number, outcome: CommandOutcome): void {
    let counters = this.commands.get(name);
    if (counters === undefined) {
      counters = { calls: 0, usec: 0, rejected: 0, failed: 0 };
      this.commands.set(name, counters);
    }
    if (outcome === 'rejected') {
      counters.rejected++;
      return;
    }
    this.commandsProcessed++;
    counters.calls++;
    counters.usec += Math.round(micros);
    if (outcome === 'failed') counters.failed++;
  }

  /** One error reply sent to a client. */
  errorReplied(message: string): void {
    this.errorReplies++;
    const code = errorCode(message);
    const count = this.errors.get(code);
    if (count !== undefined) this.errors.set(code, count + 1);
    else if (this.errors.size < ERROR_CODES_MAX) this.errors.set(code, 1);
  }

  reset(): void {
    this.commands = new Map();
    this.errors = new Map();
    this.errorReplies = 0;
    this.commandsProcessed = 0;
    this.connectionsReceived = 0;
    this.rejectedConnections = 0;
    this.resetAtMs = Date.now();
  }

  /** INFO commandstats lines, by name. */
  commandStatsFields(): [string, string][] {
    return [...this.commands]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, c]) => [
        `cmdstat_${name}`,
        `calls=${c.calls},usec=${c.usec},usec_per_call=${(c.calls === 0 ? 0 : c.usec / c.calls).toFixed(2)},rejected_calls=${c.rejected},failed_calls=${c.failed}`,
      ]);
  }

  /** INFO errorstats lines, by code. */
  errorStatsFields(): [string, string][] {
    return [...this.errors]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([code, count]) => [`errorstat_${code}`, `count=${count}`]);
  }
}

/** The first word of an error (`WRONGTYPE`), or `ERR` when none ends within 32 bytes. */
export function errorCode(message: string): string {
  const space = message.slice(0, ERROR_CODE_SEARCH_BYTES).indexOf(' ');
  return space < 0 ? 'ERR' : message.slice(0, space);
}
