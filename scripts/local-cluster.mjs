// `npm run local-cluster -- [--data-nodes 1] [--cu 2] [--read-consistency instance|cluster]
// [--password pw] [--redis-url redis://…] [--fresh]`: a storage fleet of six nodes and data
// nodes attached to one cluster, without the control plane, for development and tests.
// Ports: storage 7811–7816 (health 7821–7826), data nodes RESP 7401…, admin 7701…
// Data lives under .data/local/ (kept across runs; --fresh starts empty). Ctrl-C stops all.
// Every node's admin API needs a token: a random one per run, given to the nodes in their
// environment and kept in .data/local/node-token (mode 600) for your own admin calls.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnFailure } from './lib/exec.mjs';
import { dataDir, repoRoot } from './lib/paths.mjs';
import { prepare } from './lib/platform.mjs';
import { fail, info, Steps } from './lib/ui.mjs';

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        'data-nodes': { type: 'string', default: '1' },
        cu: { type: 'string', default: '2' },
        'read-consistency': { type: 'string', default: 'instance' },
        password: { type: 'string' },
        'redis-url': { type: 'string' },
        cluster: { type: 'string', default: 'local' },
        fresh: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    return fail(
      `${error.message}. usage: npm run local-cluster -- [--data-nodes N] [--cu CU] [--read-consistency instance|cluster] [--password PW] [--redis-url URL] [--fresh]`,
    );
  }
})();
const dataNodeCount = Number(values['data-nodes']);
if (!Number.isInteger(dataNodeCount) || dataNodeCount < 1 || dataNodeCount > 16)
  fail('--data-nodes must be 1 to 16');

const localDir = resolve(dataDir, 'local');
const tokenFile = resolve(localDir, 'node-token');
const nodeToken = randomBytes(32).toString('hex');
const children = [];
let stopping = false;

function launch(label, args, env) {
  const child = spawn(process.execPath, args, {
    // The token goes in the environment: a command line is readable by every user of the host.
    env: { ...process.env, HOST: '127.0.0.1', BOREALIS_NODE_TOKEN: nodeToken, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const ready = new Promise((resolveReady, rejectReady) => {
    let output = '';
    const onData = (chunk) => {
      output += chunk;
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') info(`[${label}] ${line}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setInterval(() => {
      if (/serving the quorum protocol|serving RESP on/.test(output)) {
        clearInterval(timer);
        resolveReady();
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(timer);
      rejectReady(new Error(`${label} exited with code ${code}`));
      if (!stopping) void stopAll(1);
    });
    // A child that cannot be started gets 'error' and no 'exit'.
    child.once('error', (error) => {
      clearInterval(timer);
      rejectReady(spawnFailure(process.execPath, error, `${label} could not be started.`));
    });
  });
  return ready;
}

async function stopAll(exitCode) {
  if (stopping) return;
  stopping = true;
  for (const child of children.reverse()) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
  await Promise.all(
    children.map(
      (child) =>
        new Promise((resolveExit) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolveExit();
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolveExit();
          });
        }),
    ),
  );
  info('local cluster stopped; data under .data/local/ is kept.');
  process.exit(exitCode);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

const steps = new Steps('local cluster', 4);
try {
  await prepare(steps);
  if (values.fresh) await rm(localDir, { recursive: true, force: true });
  await mkdir(localDir, { recursive: true });
  await writeFile(tokenFile, `${nodeToken}\n`, { mode: 0o600 });
  // An older file keeps its mode on a rewrite: make it 600 whatever it was.
  await chmod(tokenFile, 0o600);
  const storage = Array.from({ length: 6 }, (_, index) => ({ id: `s${index + 1}`, port: 7811 + index }));
  const members = storage.map((node) => `${node.id}=127.0.0.1:${node.port}`).join(',');
  await steps.run('storage fleet (6 nodes, 3 AZs)', () =>
    Promise.all(
      storage.map((node, index) =>
        launch(
          node.id,
          [
            resolve(repoRoot, 'dist/apps/storage-node/src/main.js'),
            '--id',
            node.id,
            '--az',
            ['az-a', 'az-b', 'az-c'][Math.floor(index / 2)],
            '--port',
            String(node.port),
            '--data-dir',
            resolve(localDir, node.id),
            '--members',
            members,
          ],
          { HEALTH_PORT: String(7821 + index) },
        ),
      ),
    ),
  );
  await steps.run(`data nodes (${dataNodeCount})`, () =>
    Promise.all(
      Array.from({ length: dataNodeCount }, (_, index) => {
        const args = [
          resolve(repoRoot, 'dist/apps/data-node/src/main.js'),
          '--id',
          `d${index + 1}`,
          '--port',
          String(7401 + index),
          '--storage',
          members,
          '--coordinator-id',
          String(7 + index),
          '--cluster',
          values.cluster,
          '--cu',
          values.cu,
          '--read-consistency',
          values['read-consistency'],
        ];
        if (values.password !== undefined) args.push(`--password=${values.password}`);
        if (values['redis-url'] !== undefined) args.push('--redis-url', values['redis-url']);
        return launch(`d${index + 1}`, args, { HEALTH_PORT: String(7701 + index) });
      }),
    ),
  );
  info('');
  info(`local cluster "${values.cluster}" is up (Ctrl-C stops it):`);
  for (let index = 0; index < dataNodeCount; index++) {
    info(
      `  writer d${index + 1}: redis-cli -p ${7401 + index}    admin: http://127.0.0.1:${7701 + index}/health`,
    );
  }
  info(`  storage: ${members}`);
  info(
    `  admin calls need the run's token: curl -H "Authorization: Bearer $(cat ${tokenFile})" -X POST http://127.0.0.1:7701/resize -d '{"cu":1}'`,
  );
} catch (error) {
  info(`error: ${error instanceof Error ? error.message : error}`);
  await stopAll(1);
}
