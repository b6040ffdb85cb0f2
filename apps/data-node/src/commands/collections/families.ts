// Every collection family's hooks (layout.ts `CollectionFamily`), by type: what reclaim, COPY and
// MEMORY USAGE use to find a collection's element keys whatever its type.

import { LIST_FAMILY } from '../list-layout.js';
import { ZSET_FAMILY } from '../zset/zset-store.js';
import { bucketFamily } from './buckets.js';
import type { CollectionFamily, CollectionType } from './layout.js';

export const COLLECTION_FAMILIES: ReadonlyMap<CollectionType, CollectionFamily> = new Map<
  CollectionType,
  CollectionFamily
>([
  ['hash', bucketFamily('hash')],
  ['set', bucketFamily('set')],
  ['list', LIST_FAMILY],
  ['zset', ZSET_FAMILY],
]);
