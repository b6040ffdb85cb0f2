// What a client connection asks of its cluster's endpoint: whether and where commands may go,
// the hold budget, the password check, and the counts the endpoint keeps. (An interface, so that
// the connection does not depend on the endpoint's implementation.)

import type { RouteWriter } from '../../../../libs/routes/src/index.js';
import type { AuthOutcome } from '../auth/password-checker.js';
import type { HoldTally } from '../hold/hold-budget.js';
import type { LinkFailure, WriterLink } from './writer-link.js';

export interface EndpointServices {
  readonly clusterId: string;
  readonly clusterName: string;
  readonly writerPassword: string;
  readonly resumeDeadlineMs: number;
  /** Commands may go to a writer now: the route is open and a writer is available. */
  canForward(): boolean;
  /** The writer with the fewest sessions, among those not just found down; null if none. */
  chooseWriter(): RouteWriter | null;
  linkOpened(link: WriterLink): void;
  /** The writer accepted a session's log-in: it works. */
  writerLoggedIn(writerId: string): void;
  /** With a failure, the writer failed under it (it is avoided for a while, unless it was only full). */
  linkClosed(link: WriterLink, failure: LinkFailure | null): void;
  /** Client commands sent to writers and not yet answered, summed over the cluster. */
  inFlightChanged(delta: number): void;
  /** Holds one more command; null, or the TRYAGAIN error line naming the limit it would break. */
  tryHold(tally: HoldTally, bytes: number): string | null;
  releaseHold(tally: HoldTally, bytes: number): void;
  /** The connection holds commands (or no longer does): the endpoint wakes the cluster and resumes it. */
  holdingChanged(connection: HoldingConnection, holding: boolean): void;
  checkPassword(password: Buffer, address: string): AuthOutcome | Promise<AuthOutcome>;
  recordWrongUser(): void;
  commandArrived(): void;
  /** Held commands were answered TRYAGAIN: the cluster did not resume within the deadline. */
  resumeDeadlineMissed(commands: number): void;
  /** A session moved to another writer (after a route change or a writer failure). */
  sessionMoved(): void;
  connectionClosed(connection: HoldingConnection): void;
}

/** What the endpoint asks of a connection. */
export interface HoldingConnection {
  readonly id: number;
  /** Sends what waits for a writer, if one can be had now. */
  resume(): void;
  /** Answers held commands older than the resume deadline with an error naming it. */
  expireHeld(nowMs: number): void;
}
