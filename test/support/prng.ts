// One seeded generator for every test that draws random cases or schedules, so that a failing
// run replays exactly from its seed.

/** mulberry32: a tiny, fast 32-bit PRNG returning numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * The seed a test runs with: `fallback` by default (CI replays the same schedule), the number
 * in `variable` when set, or a fresh one for `variable=random` (the test prints it).
 */
export function seedFromEnvironment(variable: string, fallback: number): number {
  const raw = process.env[variable];
  if (raw === 'random') return Math.floor(Math.random() * 2 ** 31);
  return Number(raw ?? fallback);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
