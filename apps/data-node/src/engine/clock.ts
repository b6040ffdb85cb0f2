// Time as the engine sees it. Production uses the system's; a test or a simulator passes its own,
// so that retries, backoff and cache ages run on simulated time.
export interface Clock {
  nowMs(): number;
  sleep(ms: number): Promise<void>;
}

export const SYSTEM_CLOCK: Clock = {
  nowMs: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
