// The storage node's bound on V8's heap growth, apart from main.ts (which starts a node when
// imported), so that benches that measure a node's work in a process of their own start it alike.

/**
 * How far V8 lets the heap grow past what the last full collection kept, in percent. V8 picks a
 * factor of up to 4× by itself, and a storage node's heap is mostly its keys: measured after
 * 300,000 SETs of 100 bytes (docs/performance.md), each node's RSS grew 0.73–1.12 KiB per key with
 * V8's choice and 0.57–0.59 KiB with 50. The price is more full collections: about a quarter more
 * CPU per commit in the quorum bench's insert rows, which create 50,000 keys a second.
 */
export const DEFAULT_HEAP_GROWING_PERCENT = 50;

/** The V8 flag that bounds the heap's growth at `percent`. */
export function heapGrowingFlag(percent: number): string {
  return `--heap-growing-percent=${percent}`;
}
