// The routes the proxy serves, by version (docs/adr/0006): a message is applied only if its
// version is above the one held for that cluster, so a duplicate or a late message changes
// nothing. Deleted clusters leave a tombstone (bounded) so that an older route read back later
// does not bring them back. Pure: messages in, changes out.
import { type ClusterRoute, isDeletion, type RouteMessage } from '../../../../libs/routes/src/index.js';

export type RouteChange =
  | { kind: 'set'; route: ClusterRoute; previous: ClusterRoute | null }
  | { kind: 'delete'; clusterId: string; version: number; previous: ClusterRoute };

const TOMBSTONES_MAX = 10_000;

export class RouteTable {
  private readonly routes = new Map<string, ClusterRoute>();
  /** Deleted clusters → the version of their deletion; oldest first. */
  private readonly tombstones = new Map<string, number>();

  get size(): number {
    return this.routes.size;
  }

  get(clusterId: string): ClusterRoute | undefined {
    return this.routes.get(clusterId);
  }

  all(): IterableIterator<ClusterRoute> {
    return this.routes.values();
  }

  /** The changes `message` makes: none when it is not newer than what is held. */
  apply(message: RouteMessage): RouteChange[] {
    const { clusterId, version } = message;
    const current = this.routes.get(clusterId);
    const heldVersion = current?.version ?? this.tombstones.get(clusterId) ?? -1;
    if (version <= heldVersion) return [];
    if (isDeletion(message)) {
      this.bury(clusterId, version);
      if (current === undefined) return [];
      this.routes.delete(clusterId);
      return [{ kind: 'delete', clusterId, version, previous: current }];
    }
    this.tombstones.delete(clusterId);
    // A port belongs to one cluster at a time: another cluster still holding it was deleted while
    // this proxy did not hear of it.
    const displaced = this.displacedBy(message);
    this.routes.set(clusterId, message);
    return [...displaced, { kind: 'set', route: message, previous: current ?? null }];
  }

  /**
   * The whole hash as read after (re)connecting: every newer route is applied, and a cluster
   * missing from it was deleted meanwhile. An empty hash is a Redis that restarted empty (the
   * control plane writes the routes back within seconds), not every cluster deleted: it changes
   * nothing.
   */
  applySnapshot(messages: readonly RouteMessage[]): RouteChange[] {
    const changes = messages.flatMap((message) => this.apply(message));
    if (messages.length === 0) return changes;
    const listed = new Set(messages.map((message) => message.clusterId));
    for (const route of [...this.routes.values()]) {
      if (listed.has(route.clusterId)) continue;
      changes.push(...this.apply({ clusterId: route.clusterId, deleted: true, version: route.version + 1 }));
    }
    return changes;
  }

  private displacedBy(route: ClusterRoute): RouteChange[] {
    const changes: RouteChange[] = [];
    for (const other of [...this.routes.values()]) {
      if (other.clusterId === route.clusterId || other.port !== route.port) continue;
      this.routes.delete(other.clusterId);
      this.bury(other.clusterId, other.version);
      changes.push({ kind: 'delete', clusterId: other.clusterId, version: other.version, previous: other });
    }
    return changes;
  }

  private bury(clusterId: string, version: number): void {
    this.tombstones.delete(clusterId);
    this.tombstones.set(clusterId, version);
    if (this.tombstones.size > TOMBSTONES_MAX) {
      this.tombstones.delete(this.tombstones.keys().next().value as string);
    }
  }
}
