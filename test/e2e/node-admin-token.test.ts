// The node token on real processes: a data node or a storage node started without
// BOREALIS_NODE_TOKEN (or with an unfit one) exits at once with one line that says what to set,
// before it listens or replays anything; a running data node answers every admin route but
// GET /health and GET /metrics with 401 unless the call carries its token, says what to send,
// changes nothing, and keeps the connection usable for the next call. (An attach refused and
// then accepted is in data-node-lifecycle; the storage node's DELETE /volumes in
// storage-node-volumes.)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NODE_TOKEN_MISSING, NODE_TOKEN_WRONG } from '../../libs/health/src/index.js';
import { formatFleet } from '../../libs/wire/src/index.js';
import { type RunningDataNode, startDataNode } from '../support/data-nodes.js';
import { repoRoot } from '../support/environment.js';
import { freePort, startProcess } from '../support/processes.js';

const DATA_NODE = join(repoRoot, 'dist/apps/data-node/src/main.js');
const STORAGE_NODE = join(repoRoot, 'dist/apps/storage-node/src/main.js');
const EXIT_TIMEOUT_MS = 20_000;

/** Runs a node to its end; resolves with its exit code and everything it wrote. */
async function runToExit(
  entry: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | string; output: string; healthPort: number }> {
  const healthPort = await freePort();
  const base: NodeJS.ProcessEnv = { ...process.env };
  delete base.BOREALIS_NODE_TOKEN;
  const running = startProcess(process.execPath, [entry, ...args], {
    env: {
      ...base,
      HOST: '127.0.0.1',
      HEALTH_PORT: String(healthPort),
      BOREALIS_EXIT_WITH_PARENT: '1',
      ...env,
    },
  });
  // 'close' comes after the output is read to its end, unlike 'exit'.
  const closed = new Promise<void>((resolve) => running.child.once('close', () => resolve()));
  try {
    const code = await running.waitForExit(EXIT_TIMEOUT_MS);
    await closed;
    return { code, output: running.output(), healthPort };
  } finally {
    running.kill();
  }
}

function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(3_000, () => {
      socket.destroy();
      resolve('no answer within 3 s');
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (cause: NodeJS.ErrnoException) => resolve(cause.code ?? cause.message));
  });
}

const fakeStorage = async () =>
  Promise.all(
    ['s1', 's2', 's3', 's4', 's5', 's6'].map(async (id) => ({
      id,
      host: '127.0.0.1',
      port: await freePort(),
    })),
  );

describe('node token: a node will not start without one', { timeout: 120_000 }, () => {
  it('a data node without BOREALIS_NODE_TOKEN, or with an unfit one, exits with one line saying what to set', async () => {
    const storage = formatFleet(await fakeStorage());
    const args = ['--id', 'dtok', '--port', String(await freePort()), '--storage', storage];
    for (const [env, problem] of [
      [{}, /BOREALIS_NODE_TOKEN is not set: the admin API always needs a token; /],
      [{ BOREALIS_NODE_TOKEN: '' }, /BOREALIS_NODE_TOKEN is not set/],
      [{ BOREALIS_NODE_TOKEN: 'too-short' }, /BOREALIS_NODE_TOKEN is 9 characters long; /],
    ] as const) {
      const { code, output, healthPort } = await runToExit(DATA_NODE, args, env);
      assert.equal(code, 2, output);
      const lines = output.trim().split('\n');
      assert.equal(lines.length, 1, `one line, got:\n${output}`);
      assert.match(lines[0] as string, /^data-node: /);
      assert.match(lines[0] as string, problem);
      assert.match(
        lines[0] as string,
        /set BOREALIS_NODE_TOKEN to a secret of at least 16 printable characters/,
      );
      assert.equal(await connectOutcome(healthPort), 'ECONNREFUSED', 'its admin port never opened');
    }
  });

  it('a storage node without BOREALIS_NODE_TOKEN exits with one line, before it touches its data', async () => {
    const dataRoot = mkdtempSync(join(tmpdir(), 'borealis-token-storage-'));
    try {
      const members = await fakeStorage();
      const args = [
        ...['--id', 's1', '--az', 'az-a', '--port', String(members[0]?.port)],
        ...['--data-dir', join(dataRoot, 's1'), '--members', formatFleet(members)],
      ];
      const { code, output, healthPort } = await runToExit(STORAGE_NODE, args, {});
      assert.equal(code, 2, output);
      const lines = output.trim().split('\n');
      assert.equal(lines.length, 1, `one line, got:\n${output}`);
      assert.match(
        lines[0] as string,
        /^storage-node: BOREALIS_NODE_TOKEN is not set: the admin API always needs a token; set BOREALIS_NODE_TOKEN to /,
      );
      assert.deepEqual(readdirSync(dataRoot), [], 'no log was opened or replayed');
      assert.equal(await connectOutcome(healthPort), 'ECONNREFUSED');
      assert.equal(await connectOutcome(members[0]?.port as number), 'ECONNREFUSED');
    } finally {
      rmSync(dataRoot, { recursive: true, force: true });
    }
  });
});

describe('node token: a data node refuses admin calls without it', { timeout: 120_000 }, () => {
  let node: RunningDataNode | undefined;
  const token = randomBytes(24).toString('hex');
  const running = (): RunningDataNode => node as RunningDataNode;

  const post = async (path: string, headers: Record<string, string>, body: unknown = {}) => {
    const response = await fetch(`${running().adminUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    return {
      status: response.status,
      challenge: response.headers.get('www-authenticate'),
      body: (await response.json()) as Record<string, unknown>,
    };
  };

  before(async () => {
    // Unattached: nothing here reaches the storage nodes, which need not run.
    node = await startDataNode({
      id: `tok-${randomBytes(3).toString('hex')}`,
      storage: await fakeStorage(),
      coordinatorId: 7,
      unattached: true,
      token,
    });
  });

  after(async () => {
    await node?.stop();
  });

  it('serves GET /health and GET /metrics to anyone, and neither shows the token', async () => {
    for (const path of ['/health', '/metrics']) {
      const response = await fetch(`${running().adminUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(response.status, 200, path);
      assert.ok(!(await response.text()).includes(token), `${path} shows the token`);
    }
  });

  it('answers every other route 401 without the token or with a wrong one, and changes nothing', async () => {
    const credential = {
      claims: {
        cluster: 'c',
        volume: 'v',
        coordinatorId: 7,
        expiresAtMs: Date.now() + 60_000,
        secretId: 'x',
      },
      key: 'k',
    };
    const calls: [string, unknown][] = [
      ['/attach', { clusterId: 'stolen', volume: 'stolen', cu: 1, readConsistency: 'instance' }],
      ['/resize', { cu: 2 }],
      ['/drain', {}],
      ['/detach', {}],
      ['/credential', { credential }],
      // Routes the node does not have are no exception: nothing is told before the token.
      ['/sessions', {}],
    ];
    const sameLength = token.replace(/.$/, (last) => (last === '0' ? '1' : '0'));
    for (const [path, body] of calls) {
      for (const [headers, message] of [
        [{}, NODE_TOKEN_MISSING],
        [{ authorization: `Bearer ${sameLength}` }, NODE_TOKEN_WRONG],
        [{ authorization: `Bearer ${token}0` }, NODE_TOKEN_WRONG],
        [{ authorization: `Basic ${token}` }, NODE_TOKEN_WRONG],
        [{ authorization: token }, NODE_TOKEN_WRONG],
      ] as const) {
        const answer = await post(path, headers, body);
        assert.equal(answer.status, 401, `${path} with ${JSON.stringify(headers)}`);
        assert.deepEqual(answer.body, { statusCode: 401, error: 'Unauthorized', message, details: null });
        assert.equal(answer.challenge, 'Bearer realm="borealis-node"');
      }
    }
    const health = await running().health();
    assert.equal(health.state, 'unattached');
    assert.equal(health.attachedCluster, null);
    assert.equal(health.cu, 0);
    assert.equal(await connectOutcome(running().respPort), 'ECONNREFUSED', 'no attach happened');
  });

  it('refuses one call alone: the next call on the same connection, with the token, is served', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const { hostname, port } = new URL(running().adminUrl);
    const ports: number[] = [];
    const send = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
        const request = httpRequest(
          {
            agent,
            host: hostname,
            port: Number(port),
            path: '/resize',
            method: 'POST',
            headers: { 'content-type': 'application/json', ...headers },
            timeout: 10_000,
          },
          (response) => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => {
              text += chunk;
            });
            response.on('end', () =>
              resolve({
                status: response.statusCode ?? 0,
                body: JSON.parse(text) as Record<string, unknown>,
              }),
            );
          },
        );
        request.on('socket', (socket) => {
          if (socket.localPort !== undefined) ports.push(socket.localPort);
          else socket.once('connect', () => ports.push(socket.localPort as number));
        });
        request.on('error', reject);
        request.end(JSON.stringify({ cu: 1 }));
      });
    try {
      const refused = await send({});
      assert.equal(refused.status, 401);
      const served = await send({ authorization: `Bearer ${token}` });
      // Past the token check: the node answers as it does to its control plane.
      assert.equal(served.status, 409, JSON.stringify(served.body));
      assert.match(String(served.body.message), /the node is unattached/);
      assert.equal(new Set(ports).size, 1, 'both calls went over one connection');
    } finally {
      agent.destroy();
    }
  });

  it('never writes its token to its output', () => {
    assert.ok(!running().process.output().includes(token));
  });
});
