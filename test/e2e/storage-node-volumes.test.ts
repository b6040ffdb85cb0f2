// Deleting a volume from six real storage-node processes, as the control plane does when a cluster
// is deleted: keys written through a real quorum client, DELETE /volumes/<name> on every node
// (answered once the drop is durable, idempotent, bad names and bodies refused with a clear error
// while the node keeps serving), then kill -9 and restart of the whole fleet: the volume stays
// gone and the other volume is untouched. Also what the control plane reads from each node: its
// registry entry and /health (instance id, log bytes on disk, volume count).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QuorumClient, ReadFailedError } from '../../libs/storage-client/src/index.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';
import { waitUntil } from '../support/wait.js';

const RUN = randomBytes(4).toString('hex');
const DELETED = `v-deleted-${RUN}`;
const KEPT = `v-kept-${RUN}`;
const DELETED_KEYS = 40;
const KEPT_KEYS = 25;
const TOKEN = `token-${randomBytes(16).toString('hex')}`;
const AUTHORIZED = { authorization: `Bearer ${TOKEN}` };

const keyNames = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(
  url: string,
  method: string,
  headers: Record<string, string> = AUTHORIZED,
  body?: string,
): Promise<Answer> {
  const response = await fetch(url, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

/** Raw HTTP: a request whose headers announce a body far over the bound, and only a little of it. */
function oversizedRequest(adminUrl: string, path: string): Promise<string> {
  const { hostname, port } = new URL(adminUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let text = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('connect', () => {
      socket.write(
        `DELETE ${path} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${TOKEN}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n{"padding":"`,
      );
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    socket.on('close', () => resolve(text));
    socket.on('error', (error) => (text.length > 0 ? resolve(text) : reject(error)));
  });
}

function assertErrorBody(answer: Answer, status: number, message: RegExp): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body.statusCode, status);
  assert.equal(typeof answer.body.error, 'string');
  assert.match(String(answer.body.message), message);
  assert.ok('details' in answer.body, 'the error body has details');
}

describe('storage nodes: deleting a volume', { timeout: 240_000 }, () => {
  let fleet: StorageFleet | undefined;
  let client: QuorumClient | undefined;
  let registryDir = '';
  const running = (): StorageFleet => fleet as StorageFleet;

  const connectClient = async (writerId: string): Promise<QuorumClient> => {
    const connected = new QuorumClient({
      writerId,
      coordinatorId: 7,
      nodes: running().nodes,
      timing: { readDeadlineMs: 2_000 },
    });
    await connected.waitForNodes(6, 20_000);
    return connected;
  };

  const write = async (volume: string, keys: string[]): Promise<void> => {
    for (const key of keys) {
      const outcome = await (client as QuorumClient).commit(
        volume,
        [{ key, seq: 0 }],
        [{ key, value: Buffer.from(`${volume}:${key}`) }],
      );
      assert.equal(outcome.outcome, 'committed', `${volume}/${key}`);
    }
  };

  const assertKeptVolumeIntact = async (reader: QuorumClient): Promise<void> => {
    const values = await reader.read(KEPT, keyNames('k', KEPT_KEYS));
    for (const value of values) {
      assert.equal(value.version.seq, 1, value.key);
      assert.equal(Buffer.from(value.value ?? []).toString(), `${KEPT}:${value.key}`);
    }
  };

  before(async () => {
    registryDir = await mkdtemp(join(tmpdir(), 'borealis-registry-'));
    fleet = await startStorageFleet({ env: { BOREALIS_NODE_TOKEN: TOKEN }, registryDir });
    client = await connectClient(`writer-${RUN}`);
    await write(DELETED, keyNames('d', DELETED_KEYS));
    await write(KEPT, keyNames('k', KEPT_KEYS));
    // Every replica has applied every commit (DECIDED reaches all six), so each reports its keys.
    await waitUntil('every replica to hold both volumes', 20_000, async () => {
      for (let index = 0; index < 6; index++) {
        const health = await running().health(index);
        if ((health.replica as { keys: number }).keys < DELETED_KEYS + KEPT_KEYS) return false;
      }
      return true;
    });
  });

  after(async () => {
    await client?.close();
    await fleet?.stop();
    await rm(registryDir, { recursive: true, force: true });
  });

  it('writes a registry entry per node that matches its /health, which reports log bytes, volumes and its event loop', async () => {
    for (let index = 0; index < 6; index++) {
      const node = running().nodes[index] as { id: string };
      const health = await running().health(index);
      const entry = JSON.parse(await readFile(join(registryDir, `${node.id}.json`), 'utf8')) as Record<
        string,
        unknown
      >;
      assert.equal(entry.app, 'storage-node');
      assert.equal(entry.id, node.id);
      assert.equal(entry.pid, running().process(index).child.pid);
      assert.equal(entry.pid, health.pid);
      assert.equal(entry.instanceId, health.instanceId);
      assert.match(String(entry.instanceId), /^[0-9a-f]{24}$/);
      assert.equal(`http://${entry.host}:${entry.adminPort}`, running().adminUrl(index));
      assert.equal(health.volumes, 2);
      assert.ok(Number(health.logBytes) > 0, `logBytes ${health.logBytes}`);
      assert.equal(health.logBytes, (health.log as { diskBytes: number }).diskBytes);
      // How long its event loop was held: counters a stalled node would show.
      const eventLoop = health.eventLoop as Record<string, number>;
      for (const field of ['delayMaxMs', 'lastSecondDelayMaxMs', 'secondsOver100Ms', 'secondsOver1S']) {
        assert.ok(
          Number.isInteger(eventLoop[field]) && (eventLoop[field] as number) >= 0,
          `${field} ${eventLoop[field]}`,
        );
      }
    }
  });

  it('refuses bad calls with a clear error and keeps serving', async () => {
    const adminUrl = running().adminUrl(0);
    const missing = await call(`${adminUrl}/volumes/${DELETED}`, 'DELETE', {});
    assertErrorBody(
      missing,
      401,
      /^this call needs the node token: send Authorization: Bearer <BOREALIS_NODE_TOKEN>$/,
    );
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="borealis-node"');
    for (const authorization of ['Bearer wrong', `Bearer ${TOKEN.slice(0, -1)}x`, `Basic ${TOKEN}`]) {
      assertErrorBody(
        await call(`${adminUrl}/volumes/${DELETED}`, 'DELETE', { authorization }),
        401,
        /^the token sent is not this node's: send Authorization: Bearer <BOREALIS_NODE_TOKEN>$/,
      );
    }
    const badNames = ['', 'bad%20name', '.hidden', 'x'.repeat(129), '%E0%A4%A', 'a%2Fb'];
    for (const name of badNames) {
      const answer = await call(`${adminUrl}/volumes/${name}`, 'DELETE');
      assertErrorBody(answer, 400, /volume name|percent-encoding/);
      assert.ok(String((answer.body.details as { volume: string }).volume).length <= 200);
    }
    assertErrorBody(await call(`${adminUrl}/volumes/a/b`, 'DELETE'), 404, /DELETE \/volumes\/<name>/);
    const wrongMethod = await call(`${adminUrl}/volumes/${DELETED}`, 'GET');
    assertErrorBody(wrongMethod, 405, /use DELETE/);
    assert.equal(wrongMethod.headers.get('allow'), 'DELETE');
    assertErrorBody(
      await call(`${adminUrl}/volumes/${DELETED}`, 'DELETE', AUTHORIZED, 'x'.repeat(70 * 1024)),
      413,
      /larger than 65536 bytes/,
    );
    const announcedHuge = await oversizedRequest(adminUrl, `/volumes/${DELETED}`);
    assert.match(announcedHuge, /^HTTP\/1\.1 413 /);
    assert.match(announcedHuge, /"statusCode":413/);

    // None of these deleted anything, and the node still answers.
    const health = await running().health(0);
    assert.equal(health.volumes, 2);
    assert.equal((health.replica as { droppedVolumes: number }).droppedVolumes, 0);
  });

  it('deletes the volume on every node once durable, idempotently, and leaves the other volume alone', async () => {
    for (let index = 0; index < 6; index++) {
      const answer = await call(`${running().adminUrl(index)}/volumes/${DELETED}`, 'DELETE');
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.deepEqual(answer.body, { volume: DELETED, existed: true, keys: DELETED_KEYS });
      const again = await call(`${running().adminUrl(index)}/volumes/${DELETED}`, 'DELETE');
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, { volume: DELETED, existed: false, keys: 0 });
      const health = await running().health(index);
      assert.equal(health.volumes, 1);
      assert.equal((health.replica as { keys: number }).keys, KEPT_KEYS);
    }
    await assertKeptVolumeIntact(client as QuorumClient);
    // Nobody answers about the deleted volume any more: a read finds no quorum.
    await assert.rejects((client as QuorumClient).read(DELETED, ['d0']), ReadFailedError);
  });

  it('keeps the volume deleted across kill -9 and restart of every node', async () => {
    await client?.close();
    for (let index = 0; index < 6; index++) await running().kill(index);
    for (let index = 0; index < 6; index++) await running().restart(index);
    client = await connectClient(`writer-after-restart-${RUN}`);
    for (let index = 0; index < 6; index++) {
      const health = await running().health(index);
      assert.equal(health.volumes, 1, `s${index + 1} after the restart`);
      const replica = health.replica as { keys: number; droppedVolumes: number };
      assert.equal(replica.keys, KEPT_KEYS);
      assert.equal(replica.droppedVolumes, 1);
      const answer = await call(`${running().adminUrl(index)}/volumes/${DELETED}`, 'DELETE');
      assert.deepEqual(answer.body, { volume: DELETED, existed: false, keys: 0 });
    }
    await assertKeptVolumeIntact(client);
    await assert.rejects(client.read(DELETED, ['d0']), ReadFailedError);
    // The kept volume still takes writes.
    const outcome = await client.commit(
      KEPT,
      [{ key: 'k0', seq: 1 }],
      [{ key: 'k0', value: Buffer.from('new') }],
    );
    assert.equal(outcome.outcome, 'committed');
  });
});
