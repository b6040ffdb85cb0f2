// The bounded maps that drop their oldest entries: the data node's cache (CLOCK over a Map) and
// the writer's decision cache (first in, first out), full, one new key at a time. Before MapHand
// (libs/collections) each eviction took a fresh iterator from the front of the Map, which steps
// over every slot V8 keeps for entries deleted before it: a cost that grew with the map. The
// peers in the same run: that way of finding the oldest entry, and the floor, a Map set and delete
// whose oldest key comes from a plain ring of keys.
import { cacheEntryBytes, VersionedCache } from '../apps/data-node/src/cache/versioned-cache.js';
import { MapHand } from '../libs/collections/src/index.js';
import type { BenchOptions, BenchResult, Row } from './lib/report.js';

const SIZES = [10_000, 100_000, 1_000_000];
/** Measured operations per case (fewer for the way before, whose cost grows with the map). */
const OPERATIONS = 200_000;
const OPERATIONS_WAY_BEFORE = 20_000;
/** The way before is not run above this size: filling the map twice over would take minutes. */
const WAY_BEFORE_SIZE_MAX = 100_000;
const VALUE = new Uint8Array(100);

const keyOf = (i: number): string => `key:${String(i).padStart(12, '0')}`;
const noop = (): void => {};

/** ns per operation of `step(i)` for i in [from, from + count). */
function timePerOperation(from: number, count: number, step: (i: number) => void): number {
  const started = process.hrtime.bigint();
  for (let i = from; i < from + count; i++) step(i);
  return Number(process.hrtime.bigint() - started) / count;
}

function cacheOffer(size: number): number {
  const cache = new VersionedCache(cacheEntryBytes(keyOf(0), VALUE) * size, 10_000);
  const offer = (i: number) => cache.offer(keyOf(i), { seq: 1, txid: 'w.1', value: VALUE }, 0);
  for (let i = 0; i < size * 2; i++) offer(i); // full, and past the first rounds of evictions
  return timePerOperation(size * 2, OPERATIONS, offer);
}

/** First in, first out: a new key set, the oldest deleted once the map holds more than `size`. */
function fifo(
  size: number,
  fillTo: number,
  operations: number,
  added: (key: string) => void,
  dropOldest: (map: Map<string, number>) => void,
): number {
  const map = new Map<string, number>();
  const step = (i: number) => {
    const key = keyOf(i);
    map.set(key, i);
    added(key);
    if (map.size > size) dropOldest(map);
  };
  for (let i = 0; i < fillTo; i++) step(i);
  return timePerOperation(fillTo, operations, step);
}

function fifoWithHand(size: number): number {
  let hand: MapHand<string, number> | null = null;
  return fifo(size, size * 2, OPERATIONS, noop, (map) => {
    hand ??= new MapHand(map);
    hand.dropOldest();
  });
}

function fifoWayBefore(size: number): number {
  return fifo(size, size * 2, OPERATIONS_WAY_BEFORE, noop, (map) => {
    map.delete(map.keys().next().value as string);
  });
}

/** The floor: the oldest key known from a ring of the keys beside the map. */
function fifoFloor(size: number): number {
  const ring: string[] = new Array(size + 1).fill('');
  let head = 0;
  let tail = 0;
  return fifo(
    size,
    size * 2,
    OPERATIONS,
    (key) => {
      ring[tail] = key;
      tail = (tail + 1) % ring.length;
    },
    (map) => {
      map.delete(ring[head] as string);
      head = (head + 1) % ring.length;
    },
  );
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const rows: Row[] = [];
  for (const [index, size] of SIZES.entries()) {
    options.progress('bounded maps', index / SIZES.length);
    const cache = cacheOffer(size);
    const hand = fifoWithHand(size);
    const before = size <= WAY_BEFORE_SIZE_MAX ? fifoWayBefore(size) : null;
    const floor = fifoFloor(size);
    rows.push({
      entries: size,
      'data node cache: ns per offer of a new key, full': Math.round(cache),
      'FIFO with MapHand: ns per set + eviction': Math.round(hand),
      'FIFO by keys().next(), the way before: ns': before === null ? 'not run' : Math.round(before),
      'floor (ring of keys): ns': Math.round(floor),
      'MapHand / floor': Math.round((hand / floor) * 100) / 100,
      'way before / MapHand': before === null ? '' : Math.round(before / hand),
    });
  }
  options.progress('bounded maps', 1);
  return {
    name: 'bounded-maps: dropping the oldest entry of a full map',
    rows,
    notes: [
      `Each case fills its map to twice its size first (so evictions have run for a whole map), then times ${OPERATIONS.toLocaleString('en-US')} operations (${OPERATIONS_WAY_BEFORE.toLocaleString('en-US')} for the way before, not run above ${WAY_BEFORE_SIZE_MAX.toLocaleString('en-US')} entries, where its fill alone takes minutes) of a new 16-byte key; the cache's values are 100 bytes, its bytes bound set to hold the stated entries.`,
      'The data node cache is apps/data-node/src/cache/versioned-cache.ts (CLOCK over a Map, no entry read, so each offer evicts one); the writer keeps its last 100,000 decisions the FIFO way (libs/quorum/src/writer.ts), and the cache of a data node at 8 CU (512 MiB) holds about a million such entries.',
      'The way before: the oldest key from a fresh iterator, `map.keys().next()`, which steps over the slots V8 keeps for deleted entries until it rehashes the table. Run with `npm run bench -- bounded-maps`.',
    ],
  };
}
