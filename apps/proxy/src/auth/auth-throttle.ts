// How many password checks (scrypt, tens of ms of CPU each) a client address may cause: a token
// bucket per address. A check takes a token before it starts and a correct password gives it
// back, so only wrong passwords use the budget, and many parallel attempts cannot all start
// before the first one fails. An address without a token is refused at once, without scrypt.
// The table is bounded: past `addressesMax` the address seen least recently is forgotten (which
// only ever gives an address a full bucket again). Pure: time comes in as `nowMs`.

export interface AuthThrottleOptions {
  /** Checks an address may start at once. */
  burst: number;
  /** Tokens an address regains per second. */
  refillPerSecond: number;
  addressesMax: number;
}

export const AUTH_THROTTLE_DEFAULTS: AuthThrottleOptions = {
  burst: 10,
  refillPerSecond: 1,
  addressesMax: 10_000,
};

interface Bucket {
  tokens: number;
  updatedAtMs: number;
}

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

const ALLOWED: ThrottleDecision = { allowed: true };

export class AuthThrottle {
  /** Least recently used first (a Map iterates in insertion order; a touch re-inserts). */
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly options: AuthThrottleOptions = AUTH_THROTTLE_DEFAULTS) {}

  get addresses(): number {
    return this.buckets.size;
  }

  /** Takes a token for one check by `address`, or says how long until one is back. */
  tryAcquire(address: string, nowMs: number): ThrottleDecision {
    const bucket = this.refilled(address, nowMs);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      this.store(address, bucket);
      return ALLOWED;
    }
    this.store(address, bucket);
    const retryAfterMs = Math.ceil(((1 - bucket.tokens) / this.options.refillPerSecond) * 1000);
    return { allowed: false, retryAfterMs };
  }

  /** The check found the password right: the token it took is returned. */
  refund(address: string, nowMs: number): void {
    const bucket = this.refilled(address, nowMs);
    bucket.tokens = Math.min(this.options.burst, bucket.tokens + 1);
    if (bucket.tokens >= this.options.burst) this.buckets.delete(address);
    else this.store(address, bucket);
  }

  private refilled(address: string, nowMs: number): Bucket {
    const bucket = this.buckets.get(address);
    if (bucket === undefined) return { tokens: this.options.burst, updatedAtMs: nowMs };
    const elapsedMs = Math.max(0, nowMs - bucket.updatedAtMs);
    bucket.tokens = Math.min(
      this.options.burst,
      bucket.tokens + (elapsedMs / 1000) * this.options.refillPerSecond,
    );
    bucket.updatedAtMs = nowMs;
    return bucket;
  }

  private store(address: string, bucket: Bucket): void {
    this.buckets.delete(address);
    this.buckets.set(address, bucket);
    while (this.buckets.size > this.options.addressesMax) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
  }
}
