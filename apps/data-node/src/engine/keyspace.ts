// SCAN, KEYS and DBSIZE: key names come from 3 replicas in hash order (a cursor is the next
// hash, so it is valid on every writer of the cluster), then a point read of those names
// tells which exist now, are not expired, and have the wanted type.
import type { ScanPage } from '../../../../libs/storage-client/src/index.js';
import { globMatch } from '../commands/glob.js';
import { decodeStoredHeader, isExpired, STORED_HEADER_BYTES_MAX } from '../commands/stored-value.js';
import type { TransactionEngine } from './transaction-engine.js';

export interface KeyspaceStore {
  scan(volume: string, fromHash: number, limit: number): Promise<ScanPage>;
}

export interface ScanFilter {
  /** Glob (latin1), or null for every key. */
  pattern: string | null;
  /** 'string' | 'hash' | any other name (which matches nothing), or null. */
  type: string | null;
}

/** KEYS and DBSIZE stop with an error beyond this many keys: their reply must stay bounded. */
export const KEYS_REPLY_MAX = 1_000_000;
const FULL_SCAN_PAGE_KEYS = 5_000;

export class Keyspace {
  constructor(
    private readonly volume: string,
    private readonly store: KeyspaceStore,
    private readonly engine: TransactionEngine,
  ) {}

  /** One SCAN page: the existing keys among about `count` names from `cursor` on. */
  async scanPage(
    cursor: number,
    count: number,
    filter: ScanFilter,
  ): Promise<{ cursor: number; keys: string[] }> {
    const page = await this.store.scan(this.volume, cursor, count);
    return { cursor: page.nextHash, keys: await this.existing(page.keys, filter) };
  }

  async keys(filter: ScanFilter): Promise<string[]> {
    const found: string[] = [];
    let cursor = 0;
    do {
      const page = await this.scanPage(cursor, FULL_SCAN_PAGE_KEYS, filter);
      for (const key of page.keys) found.push(key);
      if (found.length > KEYS_REPLY_MAX) {
        throw new Error(`more than ${KEYS_REPLY_MAX} keys match; use SCAN with a cursor instead`);
      }
      cursor = page.cursor;
    } while (cursor !== 0);
    return found;
  }

  async size(): Promise<number> {
    return (await this.keys({ pattern: null, type: null })).length;
  }

  private async existing(names: string[], filter: ScanFilter): Promise<string[]> {
    const { pattern } = filter;
    const candidates = pattern === null ? names : names.filter((name) => globMatch(pattern, name));
    if (candidates.length === 0) return [];
    // Type and expiry are all a listing needs: the replicas send each value's header only, so
    // a scan costs the same whatever the values' sizes.
    const reads = await this.engine.readFresh(candidates, STORED_HEADER_BYTES_MAX);
    const nowMs = Date.now();
    const keys: string[] = [];
    for (const key of candidates) {
      const bytes = reads.get(key)?.bytes ?? null;
      if (bytes === null) continue;
      const header = decodeStoredHeader(bytes);
      if (isExpired(header, nowMs)) continue;
      if (filter.type !== null && header.type !== filter.type) continue;
      keys.push(key);
    }
    return keys;
  }
}
