// A storage node snapshots its state as its log grows, and a restarted node rebuilds the same
// state from the snapshot plus the records after it.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { OutboundLink } from '../../libs/wire/src/outbound-link.js';
import { freePort } from '../support/processes.js';
import { startLoneStorageNode } from '../support/storage-fleet.js';
import { waitUntil } from '../support/wait.js';

const VOLUME = 'snapshots';
const COMMITS = 120;

const dataDir = await mkdtemp(join(tmpdir(), 'borealis-snapshot-'));
after(() => rm(dataDir, { recursive: true, force: true }));

const startNode = (port: number, peerPorts: number[]) =>
  startLoneStorageNode({ dataDir, port, peerPorts, snapshotEveryRecords: 40 });

test('snapshots while writing and restores from the snapshot after a restart', async () => {
  const port = await freePort();
  // Peers that never answer: this node alone votes and applies what it is told.
  const peerPorts = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
  const node = await startNode(port, peerPorts);
  let votes = 0;
  const writer = new OutboundLink({
    host: '127.0.0.1',
    port,
    hello: { type: 'hello', role: 'writer', id: 'w1' },
    onMessage: (message) => {
      if ((message as { type?: string }).type === 'vote') votes++;
    },
  });
  try {
    await waitUntil('the writer link', 10_000, () => writer.connected);
    for (let index = 0; index < COMMITS; index++) {
      const key = `k${index}`;
      const proposal = {
        txid: `w1.${index}`,
        reads: [{ key, seq: 0 }],
        writes: [{ key, value: Buffer.from(`v${index}`) }],
        proposedAtMs: Date.now(),
      };
      writer.send({ type: 'propose', volume: VOLUME, proposal });
      writer.send({ type: 'decided', volume: VOLUME, txid: proposal.txid, decision: 'commit' });
      // Spread over several batches, so that the threshold is crossed more than once.
      if (index % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await waitUntil('every vote', 10_000, () => votes === COMMITS);
    await waitUntil('a snapshot', 10_000, () => node.counters.snapshots >= 1);
  } finally {
    writer.close();
    await node.stop();
  }
  const files = await readdir(dataDir);
  assert.ok(
    files.some((name) => name.endsWith('.snap')),
    `no snapshot file in ${files.join(', ')}`,
  );

  const restarted = await startNode(port, peerPorts);
  try {
    assert.equal(restarted.replayStats.fromSnapshot, true);
    for (let index = 0; index < COMMITS; index++) {
      const state = restarted.replica.inspectKey(VOLUME, `k${index}`);
      assert.equal(state?.seq, 1, `k${index} after the restart`);
      assert.deepEqual(Buffer.from(state?.value ?? []), Buffer.from(`v${index}`));
      assert.equal(state?.pendingTxid, null);
    }
  } finally {
    await restarted.stop();
  }
});

test('a dropped volume stays dropped in the snapshot taken after the drop, and after a restart', async () => {
  const dropDir = await mkdtemp(join(tmpdir(), 'borealis-snapshot-drop-'));
  const port = await freePort();
  const peerPorts = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
  const start = () => startLoneStorageNode({ dataDir: dropDir, port, peerPorts, snapshotEveryRecords: 40 });
  const node = await start();
  let votes = 0;
  const writer = new OutboundLink({
    host: '127.0.0.1',
    port,
    hello: { type: 'hello', role: 'writer', id: 'w2' },
    onMessage: (message) => {
      if ((message as { type?: string }).type === 'vote') votes++;
    },
  });
  let txids = 0;
  const commit = async (volume: string, key: string) => {
    const proposal = {
      txid: `w2.${++txids}`,
      reads: [{ key, seq: 0 }],
      writes: [{ key, value: Buffer.from(`${volume}:${key}`) }],
      proposedAtMs: Date.now(),
    };
    writer.send({ type: 'propose', volume, proposal });
    writer.send({ type: 'decided', volume, txid: proposal.txid, decision: 'commit' });
    if (txids % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  };
  try {
    await waitUntil('the writer link', 10_000, () => writer.connected);
    for (let index = 0; index < 30; index++) await commit('dropped', `d${index}`);
    for (let index = 0; index < 30; index++) await commit('kept', `k${index}`);
    await waitUntil('every vote', 10_000, () => votes === 60);
    const snapshotsBefore = node.counters.snapshots;
    assert.deepEqual(await node.dropVolume('dropped'), { volume: 'dropped', existed: true, keys: 30 });
    // The drop brings a snapshot forward, which leaves the volume out and deletes the segments
    // that held its values: nothing of them is left on disk.
    await waitUntil('a snapshot after the drop', 10_000, () => node.counters.snapshots > snapshotsBefore);
    await waitUntil('the segments holding the values to be deleted', 10_000, async () => {
      for (const name of await readdir(dropDir)) {
        // A file listed here may be gone by the time it is read: the node deletes segments and
        // older snapshots as it goes, and a deleted file holds nothing.
        const bytes = await readFile(join(dropDir, name)).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return Buffer.alloc(0);
          throw error;
        });
        if (bytes.includes('dropped:d')) return false;
      }
      return true;
    });
    for (let index = 30; index < 130; index++) await commit('kept', `k${index}`);
    await waitUntil('every vote', 10_000, () => votes === 160);
  } finally {
    writer.close();
    await node.stop();
  }

  const restarted = await start();
  try {
    assert.equal(restarted.replayStats.fromSnapshot, true);
    assert.equal(restarted.replica.isDropped('dropped'), true);
    assert.deepEqual(restarted.replica.volumeNames(), ['kept']);
    for (let index = 0; index < 30; index++)
      assert.equal(restarted.replica.inspectKey('dropped', `d${index}`), null);
    for (let index = 0; index < 130; index++)
      assert.equal(restarted.replica.inspectKey('kept', `k${index}`)?.seq, 1);
    assert.deepEqual(await restarted.dropVolume('dropped'), { volume: 'dropped', existed: false, keys: 0 });
  } finally {
    await restarted.stop();
    await rm(dropDir, { recursive: true, force: true });
  }
});
