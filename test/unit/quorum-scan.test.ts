// Scans (SCAN/KEYS/DBSIZE) over the pure protocol: one writer and six replicas in memory, a
// message pump that can keep a replica out, and pages merged from 3 replies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Envelope,
  type FromReplicaMessage,
  keyHash,
  StorageReplica,
  WriterCoordinator,
  type WriterEvent,
} from '../../libs/quorum/src/index.js';

const MEMBERS = ['s1', 's2', 's3', 's4', 's5', 's6'];
const VOLUME = 'v';

class Cluster {
  readonly replicas = MEMBERS.map((_, selfIndex) => new StorageReplica({ members: MEMBERS, selfIndex }));
  readonly writer = new WriterCoordinator({ writerId: 'w', coordinatorId: 7, members: MEMBERS });
  readonly events: WriterEvent[] = [];
  /** Replicas that receive nothing (cut off). */
  readonly isolated = new Set<string>();
  nowMs = 1_000;

  pump(): void {
    for (let round = 0; round < 1_000; round++) {
      const envelopes: { from: string; envelope: Envelope }[] = [];
      const fromWriter = this.writer.takeReady();
      this.events.push(...fromWriter.events);
      for (const envelope of fromWriter.messages) envelopes.push({ from: 'w', envelope });
      this.replicas.forEach((replica, index) => {
        for (const envelope of replica.takeReady().messages)
          envelopes.push({ from: MEMBERS[index] as string, envelope });
      });
      if (envelopes.length === 0) return;
      for (const { from, envelope } of envelopes) {
        if (envelope.to === 'w') {
          this.writer.step(from, envelope.message as FromReplicaMessage, this.nowMs);
          continue;
        }
        if (this.isolated.has(envelope.to) || this.isolated.has(from)) continue;
        this.replicas[MEMBERS.indexOf(envelope.to)]?.step(from, envelope.message, this.nowMs);
      }
    }
    throw new Error('messages kept flowing');
  }

  commit(key: string, value: string | null): void {
    this.writer.begin(
      VOLUME,
      [{ key, seq: 0 }],
      [{ key, value: value === null ? null : Buffer.from(value) }],
      this.nowMs,
    );
    this.pump();
    // With replicas cut off, a commit waits a few ms for six votes before its ACCEPT round
    // (ADR 0015): let the writer's clock move until it is decided.
    for (let waited = 0; this.writer.inFlightCommits > 0 && waited < 100; waited++) {
      this.nowMs += 10;
      this.writer.tick(this.nowMs);
      this.pump();
    }
  }

  scanAll(limit: number): string[][] {
    const pages: string[][] = [];
    let cursor = 0;
    do {
      const requestId = this.writer.scan(VOLUME, cursor, limit, this.nowMs);
      this.pump();
      const event = this.events.find(
        (candidate) => candidate.type === 'scanned' && candidate.requestId === requestId,
      );
      assert.ok(event !== undefined && event.type === 'scanned', 'scan answered');
      pages.push(event.keys);
      cursor = event.nextHash;
      assert.ok(pages.length < 10_000);
    } while (cursor !== 0);
    return pages;
  }
}

describe('quorum scans', () => {
  it('pages through every key exactly once, in hash order, whatever the page size', () => {
    const cluster = new Cluster();
    const keys = Array.from({ length: 300 }, (_, i) => `key:${i}`);
    for (const key of keys) cluster.commit(key, 'x');
    for (const limit of [1, 7, 64, 1_000]) {
      const pages = cluster.scanAll(limit);
      const seen = pages.flat();
      assert.deepEqual([...seen].sort(), [...keys].sort(), `limit ${limit}`);
      const hashes = seen.map(keyHash);
      assert.deepEqual(
        hashes,
        [...hashes].sort((a, b) => a - b),
        'hash order',
      );
    }
  });

  it('finds keys that some replicas missed, and leaves out deleted keys', () => {
    const cluster = new Cluster();
    cluster.isolated.add('s1');
    cluster.isolated.add('s3');
    for (let i = 0; i < 100; i++) cluster.commit(`a${i}`, 'x');
    cluster.isolated.clear();
    cluster.isolated.add('s2');
    cluster.isolated.add('s6');
    for (let i = 0; i < 100; i++) cluster.commit(`b${i}`, 'y');
    cluster.isolated.clear();
    cluster.writer.begin(VOLUME, [{ key: 'a0', seq: 1 }], [{ key: 'a0', value: null }], cluster.nowMs);
    cluster.pump();
    const seen = cluster.scanAll(16).flat();
    assert.equal(seen.length, 199);
    assert.equal(new Set(seen).size, 199);
    assert.ok(!seen.includes('a0'), 'a deleted key is not listed');
  });

  it('a read with prefixBytes returns only the leading bytes of each value, committed or pending', () => {
    const cluster = new Cluster();
    cluster.commit('long', 'abcdefghij');
    const requestId = cluster.writer.read(VOLUME, ['long', 'absent'], cluster.nowMs, 3);
    cluster.pump();
    const event = cluster.events.find(
      (candidate) => candidate.type === 'read' && candidate.requestId === requestId,
    );
    assert.ok(event !== undefined && event.type === 'read');
    assert.equal(Buffer.from(event.values[0]?.value ?? []).toString(), 'abc');
    assert.equal(event.values[0]?.version.seq, 1);
    assert.equal(event.values[1]?.value, null);
  });
});
