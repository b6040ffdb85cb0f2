// A writer's DECIDED rides with its next message to the same storage node (docs/adr/0018): it
// leaves in the same socket write, ahead of that message, and is never lost to waiting: the
// client's tick sends what is still held, and close() sends it before the links close. While
// another writer commits on the volume, a DECIDED goes at once. The storage nodes here are TCP
// listeners that vote YES on every proposal (six YES votes choose a commit in one round, ADR
// 0015) and record each frame they receive as the list of message types it carried.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { QuorumClient } from '../../libs/storage-client/src/index.js';
import { encodeFrames, FrameDecoder } from '../../libs/wire/src/frames.js';
import { waitUntil } from '../support/wait.js';

const VOLUME = 'rides';
/** No resends or recoveries while a test runs. */
const QUIET_TIMING = {
  retransmitMs: 120_000,
  retransmitMsMax: 120_000,
  commitRecoveryAfterMs: 120_000,
  commitDeadlineMs: 120_000,
  pendingTimeoutMs: 120_000,
  readDeadlineMs: 120_000,
};

interface VotingNode {
  id: string;
  port: number;
  /** Each frame received after the hello: the types of the messages it carried, in order. */
  frames: string[][];
  /** Sends `message` to every writer connected to this node. */
  tellWriters(message: unknown): void;
  close(): Promise<void>;
}

async function startVotingNode(id: string): Promise<VotingNode> {
  const frames: string[][] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        const messages = (Array.isArray(frame) ? frame : [frame]) as {
          type: string;
          proposal?: { txid: string };
        }[];
        if (messages[0]?.type === 'hello') {
          socket.write(encodeFrames([{ type: 'welcome' }]));
          continue;
        }
        frames.push(messages.map((message) => message.type));
        for (const message of messages) {
          if (message.type !== 'propose' || message.proposal === undefined) continue;
          socket.write(
            encodeFrames([{ type: 'vote', volume: VOLUME, txid: message.proposal.txid, vote: 'yes' }]),
          );
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    id,
    port: (server.address() as { port: number }).port,
    frames,
    tellWriters: (message) => {
      for (const socket of sockets) socket.write(encodeFrames([message]));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const nodes = await Promise.all(['s1', 's2', 's3', 's4', 's5', 's6'].map(startVotingNode));
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
      node.tellWriters({
        type: 'applied',
        volume: VOLUME,
        txid: 'elsewhere.1',
        changes: [{ key: 'x', seq: 1 }],
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
