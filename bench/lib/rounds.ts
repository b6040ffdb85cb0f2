// Benches that compare systems measure each in turn, in rounds, so that a ratio compares
// measurements taken close together: this machine's speed drifts by half and more over minutes
// (docs/performance.md, "A cached read allocates less, and the data-node bench runs its servers
// side by side"). Each figure is then the median of its rounds, and each ratio the median of the
// rounds' ratios.
import { median } from './committed.js';

/** Rounds per comparison. */
export const ROUNDS = 3;

/**
 * The systems in the order of round `roundIndex`: whoever went first in one round goes last in the
 * next, so that none always runs right after the same neighbour.
 */
export function inTurn<T>(systems: readonly T[], roundIndex: number): T[] {
  return systems.map((_, turn) => systems[(turn + roundIndex) % systems.length] as T);
}

/**
 * `ours` over `theirs`, round by round (rates by round index; undefined where a round lacks one),
 * the median of those ratios, and the ratios as the notes list them.
 */
export function ratiosByRound(
  ours: readonly (number | undefined)[],
  theirs: readonly (number | undefined)[],
): { median: number; rounds: number[]; text: string } {
  const rounds: number[] = [];
  for (let index = 0; index < Math.min(ours.length, theirs.length); index++) {
    const [mine, peer] = [ours[index], theirs[index]];
    if (mine !== undefined && peer !== undefined) rounds.push(mine / peer);
  }
  return { median: median(rounds), rounds, text: rounds.map((ratio) => ratio.toFixed(2)).join(', ') };
}
