// Passwords already found right, per cluster, so that a client reconnecting with the same password
// costs a keyed digest instead of scrypt. Digests, not passwords, are kept: HMAC-SHA-256 under a
// key made at process start, so the table is no dictionary-attackable hash of anything. Each
// cluster keeps a few (a password rotation briefly has two in use) and forgets them all when its
// route brings another password hash.
import { createHmac, randomBytes } from 'node:crypto';

export const VERIFIED_PER_CLUSTER_MAX = 8;

interface ClusterEntry {
  passwordHash: string;
  /** Oldest first. */
  digests: Set<string>;
}

export class VerifiedPasswords {
  private readonly key = randomBytes(32);
  private readonly clusters = new Map<string, ClusterEntry>();

  constructor(private readonly perClusterMax = VERIFIED_PER_CLUSTER_MAX) {}

  digest(password: Buffer): string {
    return createHmac('sha256', this.key).update(password).digest('base64');
  }

  has(clusterId: string, passwordHash: string, digest: string): boolean {
    const entry = this.clusters.get(clusterId);
    return entry !== undefined && entry.passwordHash === passwordHash && entry.digests.has(digest);
  }

  add(clusterId: string, passwordHash: string, digest: string): void {
    let entry = this.clusters.get(clusterId);
    if (entry === undefined || entry.passwordHash !== passwordHash) {
      entry = { passwordHash, digests: new Set() };
      this.clusters.set(clusterId, entry);
    }
    entry.digests.add(digest);
    if (entry.digests.size > this.perClusterMax) {
      entry.digests.delete(entry.digests.values().next().value as string);
    }
  }

  /** The cluster's password changed or the cluster is gone. */
  forget(clusterId: string): void {
    this.clusters.delete(clusterId);
  }
}
