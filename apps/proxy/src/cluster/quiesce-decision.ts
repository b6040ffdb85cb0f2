// The proxy's answer to a `pausing` route (docs/adr/0006, pause): it holds new commands, waits
// for those in flight, and then, in one turn of the event loop, decides: `wake` if a command is
// held or a session is inside MULTI or holds a WATCH (the pause is cancelled), else `quiesced`
// for that route version. Pure: the endpoint tells
// it what it sees and acts on the decision at once, so no command can be between forwarded and
// held when it decides.

export type QuiesceOutcome = { type: 'wake' } | { type: 'quiesced'; version: number };

export class QuiesceDecision {
  /** The pausing route version still to be answered. */
  private pendingVersion: number | null = null;

  /** A route was applied. */
  routeApplied(mode: string, version: number): void {
    this.pendingVersion = mode === 'pausing' ? version : null;
  }

  /** Waiting for commands in flight before answering a pausing route: a wake waits for the decision. */
  get awaiting(): boolean {
    return this.pendingVersion !== null;
  }

  /** The decision, once nothing is in flight; null while there is nothing to decide yet. */
  decide(inFlight: number, holding: boolean): QuiesceOutcome | null {
    if (this.pendingVersion === null || inFlight > 0) return null;
    const version = this.pendingVersion;
    this.pendingVersion = null;
    return holding ? { type: 'wake' } : { type: 'quiesced', version };
  }
}
