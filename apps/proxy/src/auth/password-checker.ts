// Checks a client's password against its cluster's scrypt hash, keeping scrypt off the common
// path: a password already found right answers from a keyed digest at once, and one being checked
// already waits for that check (a thousand clients reconnecting at once cost one scrypt run, and
// no throttle tokens); otherwise the client address must have a token (auth-throttle.ts), and at
// most `concurrency` scrypt runs go at once, with a bounded queue behind them. A refusal for
// either bound costs nothing.
import { verifyPassword } from '../../../../libs/secrets/src/index.js';
import { AUTH_THROTTLE_DEFAULTS, AuthThrottle } from './auth-throttle.js';
import { VerifiedPasswords } from './verified-passwords.js';

export type AuthOutcome =
  | { kind: 'ok' }
  | { kind: 'wrong' }
  | { kind: 'throttled'; retryAfterMs: number }
  | { kind: 'busy' };

export interface PasswordCheckerOptions {
  /** scrypt runs at once (each takes a core for tens of ms and 16 MiB). */
  concurrency: number;
  /** Checks waiting for a run; past it a check is refused as busy. */
  queueMax: number;
  throttle?: AuthThrottle;
  verify?: (password: string, hash: string) => Promise<boolean>;
  nowMs?: () => number;
}

export interface AuthCounters {
  /** Answered from the digests of passwords already verified. */
  remembered: number;
  /** scrypt runs. */
  verified: number;
  wrong: number;
  throttled: number;
  busy: number;
}

const OK: AuthOutcome = { kind: 'ok' };
const WRONG: AuthOutcome = { kind: 'wrong' };
const BUSY: AuthOutcome = { kind: 'busy' };

export class PasswordChecker {
  readonly counters: AuthCounters = { remembered: 0, verified: 0, wrong: 0, throttled: 0, busy: 0 };
  readonly verifiedPasswords = new VerifiedPasswords();
  private readonly throttle: AuthThrottle;
  private readonly verify: (password: string, hash: string) => Promise<boolean>;
  private readonly nowMs: () => number;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** Checks under way, by cluster, hash and digest: whether the password is right. */
  private readonly underWay = new Map<string, Promise<boolean>>();

  constructor(private readonly options: PasswordCheckerOptions) {
    this.throttle = options.throttle ?? new AuthThrottle(AUTH_THROTTLE_DEFAULTS);
    this.verify = options.verify ?? verifyPassword;
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** Synchronous when the answer needs no scrypt run. */
  check(
    clusterId: string,
    passwordHash: string,
    password: Buffer,
    address: string,
  ): AuthOutcome | Promise<AuthOutcome> {
    const digest = this.verifiedPasswords.digest(password);
    if (this.verifiedPasswords.has(clusterId, passwordHash, digest)) {
      this.counters.remembered++;
      return OK;
    }
    const key = `${clusterId}\n${passwordHash}\n${digest}`;
    const sameCheck = this.underWay.get(key);
    if (sameCheck !== undefined) return sameCheck.then((right) => this.outcome(right, false));
    const decision = this.throttle.tryAcquire(address, this.nowMs());
    if (!decision.allowed) {
      this.counters.throttled++;
      return { kind: 'throttled', retryAfterMs: decision.retryAfterMs };
    }
    if (this.running >= this.options.concurrency && this.waiting.length >= this.options.queueMax) {
      this.throttle.refund(address, this.nowMs());
      this.counters.busy++;
      return BUSY;
    }
    const check = this.verifyInTurn(clusterId, passwordHash, password, digest, address);
    this.underWay.set(key, check);
    void check.finally(() => this.underWay.delete(key));
    return check.then((right) => this.outcome(right, true));
  }

  /** A password the caller knows is wrong without a check (another user name). */
  recordWrong(): void {
    this.counters.wrong++;
  }

  /** Whether the password is right, from one scrypt run (in turn with the others). */
  private async verifyInTurn(
    clusterId: string,
    passwordHash: string,
    password: Buffer,
    digest: string,
    address: string,
  ): Promise<boolean> {
    await this.acquireRun();
    let right = false;
    try {
      this.counters.verified++;
      right = await this.verify(password.toString('utf8'), passwordHash).catch(() => false);
    } finally {
      this.releaseRun();
    }
    if (right) {
      this.throttle.refund(address, this.nowMs());
      this.verifiedPasswords.add(clusterId, passwordHash, digest);
    }
    return right;
  }

  /** The answer to one client, counted: `checked` for the client whose attempt ran the check. */
  private outcome(right: boolean, checked: boolean): AuthOutcome {
    if (!right) {
      this.counters.wrong++;
      return WRONG;
    }
    if (!checked) this.counters.remembered++;
    return OK;
  }

  private async acquireRun(): Promise<void> {
    if (this.running < this.options.concurrency) {
      this.running++;
      return;
    }
    // The run that ends hands its place over, so none can slip in between.
    await new Promise<void>((wake) => this.waiting.push(wake));
  }

  private releaseRun(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.running--;
    else next();
  }
}
