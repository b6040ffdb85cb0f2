// What a writer's QuorumClient tells its caller when a call cannot finish normally, and the Redis
// error text the data node makes of it: a commit cut off by close() has an unknown outcome (it may
// have been chosen), a read cut off failed and changed nothing, and a call refused for too many in
// flight was never sent. The storage nodes here are TCP listeners that welcome the hello, record
// what they receive and never answer, so that calls stay in flight for as long as the test needs.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { storageErrorReply } from '../../apps/data-node/src/engine/transaction-engine.js';
import {
  ClientOverloadedError,
  OutcomeUnknownError,
  QuorumClient,
  QuorumUnavailableError,
  ReadFailedError,
} from '../../libs/storage-client/src/index.js';
import { QUIET_TIMING, startScriptedStorageNode } from '../support/scripted-storage-node.js';
import { waitUntil } from '../support/wait.js';

const VOLUME = 'errors';

const nodes = await Promise.all(
  ['s1', 's2', 's3', 's4', 's5', 's6'].map((id) => startScriptedStorageNode(id)),
);
after(() => Promise.all(nodes.map((node) => node.close())));

function connectClient(writerId: string, inFlightMax?: number): QuorumClient {
  return new QuorumClient({
    writerId,
    coordinatorId: 7,
    nodes: nodes.map((node) => ({ id: node.id, host: '127.0.0.1', port: node.port })),
    timing: QUIET_TIMING,
    ...(inFlightMax !== undefined ? { inFlightMax } : {}),
  });
}

function received(type: string): number {
  return nodes.reduce((sum, node) => sum + node.frames.flat().filter((entry) => entry === type).length, 0);
}

function errorText(cause: unknown): string {
  const reply = storageErrorReply(cause);
  assert.equal(reply.kind, 'error');
  return (reply as { message: string }).message;
}

describe('QuorumClient: calls that cannot finish', () => {
  it('close() ends a commit in flight with an unknown outcome, and reads and scans as failed', async () => {
    const client = connectClient('closing');
    await client.waitForNodes(6, 10_000);
    const proposesBefore = received('propose');
    const commit = client.commit(VOLUME, [{ key: 'k', seq: 0 }], [{ key: 'k', value: Buffer.from('v') }]);
    const read = client.read(VOLUME, ['k']);
    const scan = client.scan(VOLUME, 0, 10);
    const settled = Promise.allSettled([commit, read, scan]);
    // Every node has the proposal: a quorum could have chosen it before the close.
    await waitUntil('the proposal at all six nodes', 10_000, () => received('propose') >= proposesBefore + 6);
    await client.close();
    const [commitResult, readResult, scanResult] = await settled;

    assert.equal(commitResult.status, 'rejected');
    const commitError = (commitResult as PromiseRejectedResult).reason as unknown;
    assert.ok(commitError instanceof OutcomeUnknownError, `commit ended with ${String(commitError)}`);
    assert.match(commitError.txid, /^closing\./);
    assert.match(commitError.message, /closed before the decision arrived/);
    assert.match(errorText(commitError), /^UNKNOWN .*may or may not have been applied/);
    assert.equal(client.counters.unknownOutcomes, 1);

    for (const result of [readResult, scanResult]) {
      assert.equal(result.status, 'rejected');
      const readError = (result as PromiseRejectedResult).reason as unknown;
      assert.ok(readError instanceof ReadFailedError, `read ended with ${String(readError)}`);
      assert.match(errorText(readError), /^UNAVAILABLE the quorum client was closed/);
    }

    // After the close nothing is sent at all, and the error says so.
    await assert.rejects(
      client.commit(VOLUME, [{ key: 'k', seq: 0 }], []),
      (cause: unknown) => cause instanceof QuorumUnavailableError && /nothing was sent/.test(cause.message),
    );
  });

  it('refuses a call beyond its in-flight bound before sending anything; the data node answers TRYAGAIN', async () => {
    const client = connectClient('crowded', 2);
    try {
      await client.waitForNodes(6, 10_000);
      const readsBefore = received('read');
      const inFlight = [client.read(VOLUME, ['a']), client.read(VOLUME, ['b'])];
      for (const call of inFlight) call.catch(() => undefined);
      await waitUntil('both reads at all six nodes', 10_000, () => received('read') >= readsBefore + 12);
      const messagesBefore = received('read') + received('propose');

      const refused = await client
        .commit(VOLUME, [{ key: 'c', seq: 0 }], [{ key: 'c', value: Buffer.from('v') }])
        .then(
          () => assert.fail('the commit should have been refused'),
          (cause: unknown) => cause,
        );
      assert.ok(refused instanceof ClientOverloadedError, `refused with ${String(refused)}`);
      assert.match(
        errorText(refused),
        /^TRYAGAIN this writer already has 2 calls in flight to the storage nodes, its limit; nothing was sent: retry shortly$/,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(received('read') + received('propose'), messagesBefore, 'the refused commit was sent');
      assert.equal(client.inFlight, 2);
    } finally {
      await client.close();
    }
  });
});
