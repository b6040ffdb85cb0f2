// Fleet processes started as the control plane's local driver starts them (ADR 0006): six storage
// nodes and a data node, each detached (its own process group), stdin closed, output to a log
// file, found through its registry entry. The process that started them is then killed with
// SIGKILL, as a crashed control plane would be: every one keeps serving (the data node answers
// Redis commands over the storage nodes), and each /health matches its registry entry. They exit
// only once the process named by BOREALIS_EXIT_WITH_PID is gone.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { formatFleet } from '../../libs/wire/src/index.js';
import { repoRoot } from '../support/environment.js';
import { freePort, isAlive, type RunningProcess, startProcess } from '../support/processes.js';
import { waitUntil } from '../support/wait.js';

const STORAGE_IDS = ['s1', 's2', 's3', 's4', 's5', 's6'];
const AZ_OF_INDEX = ['az-a', 'az-a', 'az-b', 'az-b', 'az-c', 'az-c'];
const DATA_NODE_ID = 'd-detached';

interface RegistryEntry {
  app: string;
  id: string;
  pid: number;
  instanceId: string;
  host: string;
  adminPort: number;
  startedAt: string;
}

async function health(entry: RegistryEntry): Promise<Record<string, unknown>> {
  const response = await fetch(`http://${entry.host}:${entry.adminPort}/health`, {
    signal: AbortSignal.timeout(5_000),
  });
  assert.equal(response.status, 200);
  return (await response.json()) as Record<string, unknown>;
}

describe('fleet processes started detached', { timeout: 180_000 }, () => {
  let root = '';
  let launcher: RunningProcess | undefined;
  /** The process the fleet watches (BOREALIS_EXIT_WITH_PID): it stands for the test runner. */
  let sentinel: ChildProcess | undefined;
  let pids: Record<string, number> = {};
  const entries = new Map<string, RegistryEntry>();

  const readEntry = async (id: string): Promise<RegistryEntry | null> => {
    try {
      return JSON.parse(await readFile(join(root, 'fleet', `${id}.json`), 'utf8')) as RegistryEntry;
    } catch {
      return null;
    }
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'borealis-detached-'));
    await Promise.all([mkdir(join(root, 'fleet')), mkdir(join(root, 'logs'))]);
    // Exits once this test process is gone, so that a killed test run leaves nothing behind.
    sentinel = spawn(
      process.execPath,
      ['-e', 'const p = process.ppid; setInterval(() => { if (process.ppid !== p) process.exit(0); }, 200);'],
      { stdio: 'ignore' },
    );
    const storage = await Promise.all(
      STORAGE_IDS.map(async (id) => ({ id, host: '127.0.0.1', port: await freePort() })),
    );
    const members = formatFleet(storage);
    const environment = (id: string): Record<string, string> => {
      const env: Record<string, string> = {};
      for (const [name, value] of Object.entries(process.env)) {
        if (value !== undefined && !name.startsWith('BOREALIS_')) env[name] = value;
      }
      return {
        ...env,
        HOST: '127.0.0.1',
        HEALTH_PORT: '0',
        BOREALIS_REGISTRY_FILE: join(root, 'fleet', `${id}.json`),
        BOREALIS_EXIT_WITH_PID: String(sentinel?.pid),
        BOREALIS_NODE_TOKEN: randomBytes(24).toString('hex'),
      };
    };
    const specs = [
      ...storage.map((node, index) => ({
        name: node.id,
        args: [
          join(repoRoot, 'dist/apps/storage-node/src/main.js'),
          ...['--id', node.id, '--az', AZ_OF_INDEX[index] as string, '--port', String(node.port)],
          ...['--data-dir', join(root, 'storage', node.id), '--members', members],
        ],
        env: environment(node.id),
        logFile: join(root, 'logs', `${node.id}.log`),
      })),
      {
        name: DATA_NODE_ID,
        args: [
          join(repoRoot, 'dist/apps/data-node/src/main.js'),
          ...['--id', DATA_NODE_ID, '--port', '0', '--storage', members, '--coordinator-id', '7'],
          ...['--cluster', 'detached', '--volume', 'v-detached', '--cu', '1'],
        ],
        env: environment(DATA_NODE_ID),
        logFile: join(root, 'logs', `${DATA_NODE_ID}.log`),
      },
    ];
    launcher = startProcess(
      process.execPath,
      [join(repoRoot, 'dist/test/support/detached-launcher.js'), JSON.stringify(specs)],
      { env: process.env },
    );
    pids = JSON.parse((await launcher.waitFor(/^\{.*\}$/m, 10_000))[0]) as Record<string, number>;
  });

  after(async () => {
    launcher?.kill();
    sentinel?.kill('SIGKILL');
    // Normally gone already (they watch the sentinel); stopped by PID otherwise.
    await waitUntil('the fleet to exit', 10_000, () =>
      Object.values(pids).every((pid) => !isAlive(pid)),
    ).catch(() => {
      for (const pid of Object.values(pids)) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    });
    await rm(root, { recursive: true, force: true });
  });

  it('writes a registry entry per process once it is ready, matching its /health', async () => {
    for (const id of [...STORAGE_IDS, DATA_NODE_ID]) {
      await waitUntil(`the registry entry of ${id}`, 60_000, async () => (await readEntry(id)) !== null);
      const entry = (await readEntry(id)) as RegistryEntry;
      entries.set(id, entry);
      assert.equal(entry.id, id);
      assert.equal(entry.app, id === DATA_NODE_ID ? 'data-node' : 'storage-node');
      assert.equal(entry.pid, pids[id]);
      assert.ok(Number.isInteger(entry.adminPort) && entry.adminPort > 0);
      assert.ok(!Number.isNaN(Date.parse(entry.startedAt)));
      const answer = await health(entry);
      assert.equal(answer.pid, entry.pid);
      assert.equal(answer.instanceId, entry.instanceId);
      assert.match(entry.instanceId, /^[0-9a-f]{24}$/);
    }
    const instanceIds = new Set([...entries.values()].map((entry) => entry.instanceId));
    assert.equal(instanceIds.size, entries.size, 'every process has its own instance id');
  });

  it('keeps serving after the process that started them is killed', async () => {
    const dataNode = entries.get(DATA_NODE_ID) as RegistryEntry;
    await waitUntil(
      'the data node to attach',
      60_000,
      async () => (await health(dataNode)).state === 'attached',
    );
    (launcher as RunningProcess).child.kill('SIGKILL');
    await (launcher as RunningProcess).waitForExit(10_000);
    // Long enough for a process watching its parent, or writing to a closed pipe, to have died.
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    for (const [id, entry] of entries) {
      assert.ok(isAlive(entry.pid), `${id} died with the process that started it`);
      const answer = await health(entry);
      assert.equal(answer.instanceId, entry.instanceId, `${id} is the same process`);
    }
    const respPort = (await health(dataNode)).respPort as number;
    const client = new Redis({
      host: '127.0.0.1',
      port: respPort,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
    });
    try {
      await client.connect();
      assert.equal(await client.set('after-launcher-died', 'still here'), 'OK');
      assert.equal(await client.get('after-launcher-died'), 'still here');
    } finally {
      client.disconnect();
    }
    const storageLog = await readFile(join(root, 'logs', 's1.log'), 'utf8');
    assert.match(storageLog, /serving the quorum protocol/);
    const dataLog = await readFile(join(root, 'logs', `${DATA_NODE_ID}.log`), 'utf8');
    assert.match(dataLog, /attached to cluster detached/);
  });

  it('exits once the process named by BOREALIS_EXIT_WITH_PID is gone', async () => {
    (sentinel as ChildProcess).kill('SIGKILL');
    await waitUntil('every fleet process to exit', 10_000, () =>
      Object.values(pids).every((pid) => !isAlive(pid)),
    );
  });
});
