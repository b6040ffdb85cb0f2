// A storage node snapshots its state as its log grows, and a restarted node rebuilds the same
// state from the snapshot plus the records after it.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
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
