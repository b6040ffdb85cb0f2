// Capacity units (DESIGN §1): what one CU buys, and the token bucket that enforces its command
// budget. Pure: time comes in as `nowMs`. The facts themselves (per-CU budget, step, per-writer
// maximum) live in libs/limits, shared with the control plane, so that the two cannot disagree.
import { PER_CAPACITY_UNIT } from '../../../../libs/limits/src/index.js';

export interface CapacityLimits {
  cu: number;
  commandsPerSecond: number;
  /** A full bucket holds one second of commands. */
  burstCommands: number;
  cacheBytes: number;
  connections: number;
}

/**
 * What `cu` capacity units buy. The command rate of one CU is a platform setting
 * (BOREALIS_CU_COMMANDS_PER_SECOND, passed to data nodes as DATA_NODE_CU_COMMANDS_PER_SECOND);
 * tests lower it so that one machine can drive several CU of load.
 */
export function limitsFor(
  cu: number,
  cuCommandsPerSecond: number = PER_CAPACITY_UNIT.commandsPerSecond,
): CapacityLimits {
  const commandsPerSecond = cu * cuCommandsPerSecond;
  return {
    cu,
    commandsPerSecond,
    burstCommands: commandsPerSecond,
    cacheBytes: cu * PER_CAPACITY_UNIT.cacheBytes,
    connections: Math.floor(cu * PER_CAPACITY_UNIT.connections),
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
