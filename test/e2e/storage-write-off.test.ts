// ADR 0022 on six real storage-node processes: with one node down, the decisions the other five
// keep for it stop growing at their bound (STORAGE_UNCONFIRMED_BYTES_MAX, small here) because they
// write it off; commits go on meanwhile; restarted, the node hears of it, settles what it holds,
// is taken back, and catches up on the keys written while it was away.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { QuorumClient } from '../../libs/storage-client/src/index.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';
import { waitUntil } from '../support/wait.js';

const VOLUME = 'write-off';
/** About 250 decisions of one 100-byte key (`unconfirmedBytes`' estimate). */
const BOUND_BYTES = 200_000;
const COMMITS_DOWN = 1_500;
const IN_FLIGHT = 50;
const ABSENT = 5;

interface WriteOffHealth {
  replica: {
    unconfirmedDecisions: number;
    unconfirmedBytes: number;
    unconfirmedBytesMax: number;
    pendingTransactions: number;
    writeOffs: { peers: string[]; by: string[]; writtenOff: number; readmitted: number; noticesSent: number };
  };
}

describe('a storage node down past its peers’ bound is written off, then taken back', {
  timeout: 180_000,
}, () => {
  let fleet: StorageFleet;
  let writer: QuorumClient;

  before(async () => {
    fleet = await startStorageFleet({ env: { STORAGE_UNCONFIRMED_BYTES_MAX: String(BOUND_BYTES) } });
    writer = new QuorumClient({ writerId: `write-off-${process.pid}`, coordinatorId: 7, nodes: fleet.nodes });
    await writer.waitForNodes(6, 10_000);
  });

  after(async () => {
    await writer?.close();
    await fleet?.stop();
  });

  const health = async (index: number) => (await fleet.health(index)) as unknown as WriteOffHealth;

  /** Commits one fresh key of 100 bytes each, IN_FLIGHT at a time; every one must commit. */
  async function commitKeys(prefix: string, count: number): Promise<string[]> {
    const keys = Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
    for (let from = 0; from < count; from += IN_FLIGHT) {
      const outcomes = await Promise.all(
        keys
          .slice(from, from + IN_FLIGHT)
          .map((key) => writer.commit(VOLUME, [{ key, seq: 0 }], [{ key, value: Buffer.alloc(100, key) }])),
      );
      for (const outcome of outcomes) assert.equal(outcome.outcome, 'committed');
    }
    return keys;
  }

  it('bounds what the five keep, goes on committing, and brings the node back whole', async () => {
    // The bound the nodes were started with, as /health reports it.
    for (const index of [0, 1, 2, 3, 4, 5]) {
      assert.equal((await health(index)).replica.unconfirmedBytesMax, BOUND_BYTES);
    }
    await fleet.kill(ABSENT);
    const written = await commitKeys('down', COMMITS_DOWN);

    const others = [0, 1, 2, 3, 4];
    let last: WriteOffHealth[] = [];
    await waitUntil(
      () => `the five to write s6 off: ${JSON.stringify(last.map((body) => body.replica.writeOffs))}`,
      30_000,
      async () => {
        last = await Promise.all(others.map(health));
        return last.every((body) => body.replica.writeOffs.peers.join() === 's6');
      },
      100,
    );
    // What they kept for s6 is forgotten: at most what arrived since, not the 1,500 decisions.
    await waitUntil('the five to forget what only s6 had not confirmed', 10_000, async () => {
      last = await Promise.all(others.map(health));
      return last.every((body) => body.replica.unconfirmedBytes <= BOUND_BYTES);
    });
    for (const index of others) assert.match(fleet.process(index).output(), /wrote off peer s6/);

    written.push(...(await commitKeys('written-off', 300)));

    await fleet.restart(ABSENT);
    let back: WriteOffHealth[] = [];
    await waitUntil(
      () => `s6 to be taken back: ${JSON.stringify(back.map((body) => body.replica.writeOffs))}`,
      60_000,
      async () => {
        back = await Promise.all([0, 1, 2, 3, 4, 5].map(health));
        const absent = back[ABSENT] as WriteOffHealth;
        return (
          absent.replica.writeOffs.by.length === 0 &&
          absent.replica.pendingTransactions === 0 &&
          back.every((body) => body.replica.writeOffs.peers.length === 0)
        );
      },
      100,
    );
    for (const index of others) {
      assert.match(fleet.process(index).output(), /took back peer s6/);
      assert.equal((back[index] as WriteOffHealth).replica.writeOffs.readmitted, 1);
    }

    // It takes part again: commits go on with it, and it catches up on every key written while away.
    written.push(...(await commitKeys('after', 100)));
    await waitUntil(
      's6 to hold every key written while it was away',
      60_000,
      async () => {
        const held = await fleet.readFrom(ABSENT, VOLUME, written);
        return held.every((result) => result.version.seq >= 1);
      },
      200,
    );
  });
});
