// Capacity units (DESIGN §1): what one CU buys, and the token bucket that enforces its command
// budget. Pure: time comes in as `nowMs`. The facts themselves (per-CU budget, step, per-writer
// maximum) live in libs/limits, shared with the control plane, so that the two cannot disagree.
import { type CapacityUnit, PER_CAPACITY_UNIT } from '../../../../libs/limits/src/index.js';

export interface CapacityLimits {
  cu: number;
  commandsPerSecond: number;
  /** A full bucket holds one second of commands. */
  burstCommands: number;
  cacheBytes: number;
  connections: number;
}

/**
 * What `cu` capacity units buy. What one CU buys is a platform setting (BOREALIS_CU_*, passed to
 * data nodes as DATA_NODE_CU_*); tests lower its command rate so that one machine can drive
 * several CU of load.
 */
export function limitsFor(cu: number, unit: CapacityUnit = PER_CAPACITY_UNIT): CapacityLimits {
  const commandsPerSecond = cu * unit.commandsPerSecond;
  return {
    cu,
    commandsPerSecond,
    burstCommands: commandsPerSecond,
    cacheBytes: cu * unit.cacheBytes,
    connections: Math.floor(cu * unit.connections),
  };
}

export class TokenBucket {
  private tokens: number;
  private refilledAtMs: number;

  constructor(
    private ratePerSecond: number,
    private burst: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.refilledAtMs = nowMs;
  }

  /** Takes one token if there is one. */
  take(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** How long until a token is available (0 if one is). */
  waitMs(nowMs: number): number {
    this.refill(nowMs);
    if (this.tokens >= 1) return 0;
    return Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }

  /** A resize keeps the tokens already earned, capped by the new burst. */
  resize(ratePerSecond: number, burst: number, nowMs: number): void {
    this.refill(nowMs);
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.tokens = Math.min(this.tokens, burst);
  }

  private refill(nowMs: number): void {
    const elapsedMs = Math.max(0, nowMs - this.refilledAtMs);
    this.refilledAtMs = nowMs;
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.ratePerSecond) / 1000);
  }
}
