// A writer's DECIDED rides with its next message to the same storage node (docs/adr/0018): it
// leaves in the same socket write, ahead of that message, and is never lost to waiting: the
// client's tick sends what is still held, and close() sends it before the links close. While
// another writer commits on the volume, a DECIDED goes at once. The storage nodes here are TCP
// listeners that vote YES on every proposal (six YES votes choose a commit in one round, ADR
// 0015) and record each frame they receive as the list of message types it carried.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { QuorumClient } from '../../libs/storage-client/src/index.js';
import { QUIET_TIMING, startScriptedStorageNode } from '../support/scripted-storage-node.js';
import { waitUntil } from '../support/wait.js';

const VOLUME = 'rides';

/** Votes YES on every proposal. */
function voteYes(message: { type: string } & Record<string, unknown>): unknown | null {
  if (message.type !== 'propose') return null;
  return { type: 'vote', volume: VOLUME, txid: (message.proposal as { txid: string }).txid, vote: 'yes' };
}

const nodes = await Promise.all(
  ['s1', 's2', 's3', 's4', 's5', 's6'].map((id) => startScriptedStorageNode(id, voteYes)),
);
after(() => Promise.all(nodes.map((node) => node.close())));

/** A client whose tick never comes within a test: held decisions leave only with other messages or at close. */
function connectClient(writerId: string, onApplied?: () => void): QuorumClient {
  return new QuorumClient({
    writerId,
    coordinatorId: 7,
    nodes: nodes.map((node) => ({ id: node.id, host: '127.0.0.1', port: node.port })),
    timing: QUIET_TIMING,
    tickIntervalMs: 600_000,
    ...(onApplied !== undefined ? { onApplied } : {}),
  });
}

function commitOne(client: QuorumClient, key: string) {
  return client.commit(VOLUME, [], [{ key, value: Buffer.from(`value of ${key}`) }]);
}

/** Frames of every node since `marks` (their frame counts then). */
function framesSince(marks: readonly number[]): string[][][] {
  return nodes.map((node, index) => node.frames.slice(marks[index]));
}

const decidedCount = (frames: readonly string[][]) =>
  frames.reduce((sum, frame) => sum + frame.filter((type) => type === 'decided').length, 0);

describe('QuorumClient: a DECIDED rides with the next message to its node', () => {
  it('sends a decision ahead of the next proposal, in the same write, and the last one at close()', async () => {
    const client = connectClient('rider');
    await client.waitForNodes(6, 10_000);
    const marks = nodes.map((node) => node.frames.length);
    const first = await commitOne(client, 'a');
    assert.equal(first.outcome, 'committed');
    const second = await commitOne(client, 'b');
    assert.equal(second.outcome, 'committed');
    await waitUntil('the second proposal at all six nodes', 10_000, () =>
      framesSince(marks).every((frames) => frames.filter((frame) => frame.includes('propose')).length === 2),
    );
    for (const [index, frames] of framesSince(marks).entries()) {
      // The first commit's DECIDED arrived in the frame of the second PROPOSE, before it; the second
      // commit's DECIDED is still held: nothing went to the node after it.
      assert.deepEqual(frames, [['propose'], ['decided', 'propose']], `node ${nodes[index]?.id}`);
    }
    assert.equal(client.counters.decisionsRidden, 6);

    await client.close();
    await waitUntil('the last DECIDED at all six nodes after close()', 10_000, () =>
      framesSince(marks).every((frames) => decidedCount(frames) === 2),
    );
    for (const frames of framesSince(marks)) assert.deepEqual(frames.at(-1), ['decided']);
  });

  it("sends a decision at once while another writer's commits arrive", async () => {
    let notices = 0;
    const client = connectClient('neighbour', () => notices++);
    await client.waitForNodes(6, 10_000);
    // Another writer's commit, as the storage nodes report it to the volume's other writers.
    for (const node of nodes) {
      node.tellClients({
        type: 'applied',
        volume: VOLUME,
        txid: 'elsewhere.1',
        changes: [{ key: 'x', seq: 1 }],
        stream: 1,
        n: 1,
      });
    }
    await waitUntil("the other writer's commit reported by all six nodes", 10_000, () => notices === 6);
    const marks = nodes.map((node) => node.frames.length);
    assert.equal((await commitOne(client, 'c')).outcome, 'committed');
    // No later message and no tick: only a DECIDED sent at once reaches the nodes.
    await waitUntil('the DECIDED at all six nodes', 10_000, () =>
      framesSince(marks).every((frames) => decidedCount(frames) === 1),
    );
    for (const frames of framesSince(marks)) assert.deepEqual(frames, [['propose'], ['decided']]);
    assert.equal(client.counters.decisionsRidden, 0);
    await client.close();
  });
});
