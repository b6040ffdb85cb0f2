// Random members of a bucket collection, with Redis's count rules (HRANDFIELD, SRANDMEMBER,
// SPOP): a negative count picks with repetition, a positive one picks distinct members, and a
// count at least the size answers every member. Only as many buckets are read as the count
// needs (a few random ones), except for counts near the size, which read them all.
import type { DataCommandContext } from '../context-access.js';
import { BUCKET_LOAD_MIN, type BucketTable } from './buckets.js';

/** Members one reply may carry: a bound on the work and memory of one command. */
export const RANDOM_PICKS_MAX = 1_000_000;

/**
 * `count` members picked at random (see above), or null when |count| is over
 * `RANDOM_PICKS_MAX`. With repetition, a member is picked uniformly from a random sample of
 * buckets; distinct picks come from such a sample when it holds enough members.
 */
export function randomPicks(
  table: BucketTable,
  count: bigint,
  context: DataCommandContext,
): [string, Buffer][] | null {
  if (count === 0n || table.size === 0) return [];
  const wanted = count < 0n ? -count : count;
  const distinct = count > 0n && count !== 1n;
  if (distinct && wanted >= BigInt(table.size)) {
    table.loadAll();
    return [...table.entries()];
  }
  if (wanted > BigInt(RANDOM_PICKS_MAX)) return null;
  const picks = Number(wanted);
  let pool = samplePool(table, picks);
  if (distinct && pool.length < picks) {
    table.loadAll();
    pool = [...table.entries()];
  }
  if (!distinct) {
    return Array.from(
      { length: picks },
      () => pool[Math.floor(context.random() * pool.length)] as [string, Buffer],
    );
  }
  // A partial Fisher–Yates shuffle: the first `picks` positions, each drawn from the rest.
  const shuffled = [...pool];
  for (let index = 0; index < picks; index++) {
    const other = index + Math.floor(context.random() * (shuffled.length - index));
    [shuffled[index], shuffled[other]] = [
      shuffled[other] as [string, Buffer],
      shuffled[index] as [string, Buffer],
    ];
  }
  return shuffled.slice(0, picks);
}

/** The members of enough random buckets to offer about `picks` distinct ones (at least one member). */
function samplePool(table: BucketTable, picks: number): [string, Buffer][] {
  if (table.bucketCount <= 8 || picks * 2 >= table.size) {
    table.loadAll();
    return [...table.entries()];
  }
  const buckets = Math.ceil((picks * 2) / BUCKET_LOAD_MIN) + 1;
  const pool = table.sample(buckets);
  if (pool.length > 0) return pool;
  table.loadAll();
  return [...table.entries()];
}
