// Six real storage-node processes on loopback, each with its own data directory, for tests
// and benchmarks that need the real thing: kill -9, restart, SIGSTOP/SIGCONT by PID. The nodes
// share one random admin token (BOREALIS_NODE_TOKEN) unless the test's `env` sets one.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageNodeServer } from '../../apps/storage-node/src/storage-node.js';
import type { ReadResult } from '../../libs/quorum/src/index.js';
import type { StorageNodeAddress } from '../../libs/storage-client/src/index.js';
import { createCertificateAuthority, createServerCertificate } from '../../libs/tls/src/index.js';
import {
  type FleetSecret,
  fleetSecret,
  formatFleet,
  type LinkTlsClient,
  mintWriterCredential,
  newFleetSecretKey,
  type Revocation,
  readFleetSecretsFile,
  type WriterCredential,
  writeFleetSecretsFile,
  writeRevocationsFile,
  writerHello,
} from '../../libs/wire/src/index.js';
import { OutboundLink } from '../../libs/wire/src/outbound-link.js';
import { repoRoot } from './environment.js';
import { freePort, type RunningProcess, startProcess } from './processes.js';

const STARTUP_TIMEOUT_MS = 60_000;
const AZ_OF_INDEX = ['az-a', 'az-a', 'az-b', 'az-b', 'az-c', 'az-c'];

export interface StorageFleet {
  nodes: StorageNodeAddress[];
  /** Current process of each node (replaced on restart). */
  process(index: number): RunningProcess;
  kill(index: number): Promise<void>;
  /** Starts a stopped node again on the same port and data; resolves once it serves. */
  restart(index: number): Promise<{ replayedRecords: number; replayMs: number }>;
  pause(index: number): void;
  resume(index: number): void;
  isRunning(index: number): boolean;
  /** A READ sent to one node only: what that replica holds. */
  readFrom(index: number, volume: string, keys: string[]): Promise<ReadResult[]>;
  /** `http://host:port` of a running node's HTTP side (GET /health, DELETE /volumes/<name>). */
  adminUrl(index: number): string;
  /** What the nodes' admin routes need: `Authorization: Bearer <token>`. */
  token: string;
  /** GET /health of a running node. */
  health(index: number): Promise<Record<string, unknown>>;
  /** With `secured`: the fleet secrets file every node reads (mode 600), else null. */
  secretsFile: string | null;
  /** With `secured`: a writer credential for `volume`, minted under the current fleet secret. */
  credential(
    volume: string,
    grant?: { ttlMs?: number; coordinatorId?: number; cluster?: string },
  ): WriterCredential;
  /** With `secured`: the secrets as the nodes will read them next (a rotation), the current first. */
  writeSecrets(secrets: readonly FleetSecret[]): void;
  /** With `secured`: the revoked credentials the nodes will read next (they look once a second). */
  writeRevocations(revocations: readonly Revocation[]): void;
  /**
   * With `tls`: the throwaway CA the nodes' certificate is signed by (its file, and what a client's
   * `tls` option wants), else null.
   */
  tls: { caFile: string; client: LinkTlsClient } | null;
  stop(): Promise<void>;
}

/**
 * A throwaway CA and a certificate it signs for the names a test dials (127.0.0.1, localhost, ::1),
 * under `directory`, keys mode 600, as the control plane makes them for BOREALIS_INTERNAL_TLS=1.
 */
export async function makeInternalTlsFiles(
  directory: string,
): Promise<{ caFile: string; certFile: string; keyFile: string; ca: string }> {
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const now = new Date();
  const ca = await createCertificateAuthority('Borealis test CA', now);
  const server = await createServerCertificate(ca, ['127.0.0.1', 'localhost', '::1'], now);
  const files = {
    caFile: join(directory, 'ca.pem'),
    certFile: join(directory, 'internal.pem'),
    keyFile: join(directory, 'internal.key'),
  };
  writeFileSync(files.caFile, ca.certificatePem, { mode: 0o644 });
  writeFileSync(files.certFile, server.certificatePem, { mode: 0o644 });
  writeFileSync(files.keyFile, server.privateKeyPem, { mode: 0o600 });
  chmodSync(files.keyFile, 0o600);
  return { ...files, ca: ca.certificatePem };
}

/** A credential lives this long unless a test asks otherwise. */
const CREDENTIAL_TTL_MS = 60 * 60_000;

export async function startStorageFleet(
  options: {
    env?: NodeJS.ProcessEnv;
    dataRoot?: string;
    /** Each node writes its registry entry (ADR 0006) to `<registryDir>/<id>.json`. */
    registryDir?: string;
    /** Fleet authentication: a secrets file for every node, and credentials for writers. */
    secured?: boolean;
    /** Internal TLS (docs/adr/0014): every node serves its port over TLS with a throwaway CA's certificate. */
    tls?: boolean;
  } = {},
): Promise<StorageFleet> {
  const dataRoot = options.dataRoot ?? (await mkdtemp(join(tmpdir(), 'borealis-fleet-')));
  const token = options.env?.BOREALIS_NODE_TOKEN ?? randomBytes(24).toString('hex');
  const tlsFiles = options.tls === true ? await makeInternalTlsFiles(join(dataRoot, 'tls')) : null;
  const tls: StorageFleet['tls'] =
    tlsFiles === null ? null : { caFile: tlsFiles.caFile, client: { ca: tlsFiles.ca } };
  const secretsFile = options.secured === true ? join(dataRoot, 'fleet-secrets') : null;
  if (secretsFile !== null) writeFleetSecretsFile(secretsFile, [fleetSecret(newFleetSecretKey())]);
  const revocationsFile = secretsFile === null ? null : join(dataRoot, 'revoked-credentials');
  const secured = (): string => {
    if (secretsFile === null) throw new Error('this storage fleet was started without secured: true');
    return secretsFile;
  };
  const credential: StorageFleet['credential'] = (volume, grant = {}) =>
    mintWriterCredential(readFleetSecretsFile(secured())[0] as FleetSecret, {
      cluster: grant.cluster ?? `cluster-of-${volume}`,
      volume,
      coordinatorId: grant.coordinatorId ?? 7,
      expiresAtMs: Date.now() + (grant.ttlMs ?? CREDENTIAL_TTL_MS),
    });
  const nodes: StorageNodeAddress[] = [];
  for (let index = 0; index < 6; index++)
    nodes.push({ id: `s${index + 1}`, host: '127.0.0.1', port: await freePort() });
  const members = formatFleet(nodes);
  const processes: (RunningProcess | null)[] = new Array(6).fill(null);
  const adminUrls: (string | null)[] = new Array(6).fill(null);
  const paused = new Set<number>();
  /**
   * While a killed node is down, its port is held by a listener of ours: its peers and writers keep
   * connecting there (closed at once, as if the node were down), and no other test file's process
   * can take the port before the restart, which must reuse it.
   */
  const portHolds: (Server | null)[] = new Array(6).fill(null);
  const holdPort = async (index: number) => {
    const port = (nodes[index] as StorageNodeAddress).port;
    for (let attempt = 0; attempt < 50; attempt++) {
      const server = createServer((socket) => socket.destroy());
      const bound = await new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false));
        server.listen(port, '127.0.0.1', () => resolve(true));
      });
      if (bound) {
        portHolds[index] = server;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const releasePort = (index: number) =>
    new Promise<void>((resolve) => {
      const server = portHolds[index];
      portHolds[index] = null;
      if (server === null || server === undefined) resolve();
      else server.close(() => resolve());
    });
  const entry = join(repoRoot, 'dist/apps/storage-node/src/main.js');

  const launch = async (index: number) => {
    const node = nodes[index] as StorageNodeAddress;
    const running = startProcess(
      process.execPath,
      [
        entry,
        '--id',
        node.id,
        '--az',
        AZ_OF_INDEX[index] as string,
        '--port',
        String(node.port),
        '--data-dir',
        join(dataRoot, node.id),
        '--members',
        members,
      ],
      {
        env: {
          ...process.env,
          ...options.env,
          HEALTH_PORT: '0',
          HOST: '127.0.0.1',
          BOREALIS_EXIT_WITH_PARENT: '1',
          BOREALIS_NODE_TOKEN: token,
          ...(secretsFile !== null
            ? {
                BOREALIS_FLEET_SECRETS_FILE: secretsFile,
                BOREALIS_REVOKED_CREDENTIALS_FILE: revocationsFile ?? '',
              }
            : {}),
          ...(tlsFiles !== null
            ? {
                BOREALIS_INTERNAL_TLS_CERT_FILE: tlsFiles.certFile,
                BOREALIS_INTERNAL_TLS_KEY_FILE: tlsFiles.keyFile,
                BOREALIS_INTERNAL_TLS_CA_FILE: tlsFiles.caFile,
              }
            : {}),
          ...(options.registryDir !== undefined
            ? { BOREALIS_REGISTRY_FILE: join(options.registryDir, `${node.id}.json`) }
            : {}),
        },
      },
    );
    processes[index] = running;
    adminUrls[index] = null;
    const replayed = await running.waitFor(/replayed (\d+) log records.* in (\d+) ms/, STARTUP_TIMEOUT_MS);
    await running.waitFor(/serving the quorum protocol/, STARTUP_TIMEOUT_MS);
    const health = await running.waitFor(/health at (http:\/\/\S+)\/health/, STARTUP_TIMEOUT_MS);
    adminUrls[index] = health[1] as string;
    return { replayedRecords: Number(replayed[1]), replayMs: Number(replayed[2]) };
  };

  const launched = await Promise.allSettled(nodes.map((_, index) => launch(index)));
  const failure = launched.find((outcome) => outcome.status === 'rejected');
  if (failure !== undefined) {
    // One node could not start (say, its port was taken meanwhile): stop the others by PID rather
    // than leave them to keep the test file alive until the runner's timeout.
    for (const running of processes) running?.kill();
    throw (failure as PromiseRejectedResult).reason;
  }

  const current = (index: number): RunningProcess => {
    const running = processes[index];
    if (running === null || running === undefined)
      throw new Error(`storage node s${index + 1} is not running`);
    return running;
  };

  return {
    nodes,
    token,
    secretsFile,
    tls,
    credential,
    writeSecrets: (secrets) => writeFleetSecretsFile(secured(), secrets),
    writeRevocations: (revocations) => {
      secured();
      writeRevocationsFile(revocationsFile as string, revocations);
    },
    process: current,
    isRunning: (index) => {
      const running = processes[index];
      return (
        running !== null &&
        running !== undefined &&
        running.child.exitCode === null &&
        running.child.signalCode === null
      );
    },
    async kill(index) {
      const running = current(index);
      paused.delete(index);
      running.kill();
      await running.waitForExit(10_000);
      processes[index] = null;
      await holdPort(index);
    },
    async restart(index) {
      await releasePort(index);
      return launch(index);
    },
    adminUrl(index) {
      const url = adminUrls[index];
      if (url === null || url === undefined) throw new Error(`storage node s${index + 1} is not running`);
      return url;
    },
    async health(index) {
      const url = adminUrls[index];
      if (url === null || url === undefined) throw new Error(`storage node s${index + 1} is not running`);
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) });
      return (await response.json()) as Record<string, unknown>;
    },
    pause(index) {
      current(index).child.kill('SIGSTOP');
      paused.add(index);
    },
    resume(index) {
      current(index).child.kill('SIGCONT');
      paused.delete(index);
    },
    async readFrom(index, volume, keys) {
      const node = nodes[index] as StorageNodeAddress;
      return new Promise<ReadResult[]>((resolve, reject) => {
        const timer = setTimeout(() => {
          link.close();
          reject(new Error(`no READ reply from ${node.id} within 5 s`));
        }, 5_000);
        const id = `probe-${process.pid}-${index}-${Date.now()}`;
        const probe = secretsFile === null ? null : credential(volume);
        const link: OutboundLink = new OutboundLink({
          host: node.host,
          port: node.port,
          hello:
            probe === null
              ? { type: 'hello', role: 'writer', id }
              : (challenge: Parameters<typeof writerHello>[2]) => writerHello(probe, id, challenge),
          ...(tls !== null ? { tls: tls.client } : {}),
          onStateChange: (connected) => {
            if (connected) link.send({ type: 'read', volume, requestId: 1, keys });
          },
          onMessage: (message) => {
            const reply = message as { type?: string; results?: ReadResult[] };
            if (reply.type !== 'readReply') return;
            clearTimeout(timer);
            link.close();
            resolve(reply.results ?? []);
          },
        });
      });
    },
    async stop() {
      for (let index = 0; index < 6; index++) {
        const running = processes[index];
        if (running === null || running === undefined) continue;
        if (paused.has(index)) running.child.kill('SIGCONT');
        running.kill();
        await running.waitForExit(10_000).catch(() => undefined);
        processes[index] = null;
      }
      for (let index = 0; index < 6; index++) await releasePort(index);
      if (options.dataRoot === undefined) await rm(dataRoot, { recursive: true, force: true });
    },
  };
}

/**
 * One storage node in this process, as s1 of a group whose five peers (`peerPorts`) never
 * answer: it votes and applies what it is told, alone. For tests of the node itself.
 */
export async function startLoneStorageNode(options: {
  dataDir: string;
  port: number;
  peerPorts: number[];
  snapshotEveryRecords?: number;
  fleetSecrets?: () => readonly FleetSecret[];
  log?: (line: string) => void;
}): Promise<StorageNodeServer> {
  const { dataDir, port, peerPorts } = options;
  const node = new StorageNodeServer({
    nodeId: 's1',
    az: 'az-a',
    host: '127.0.0.1',
    port,
    dataDir,
    members: [
      { id: 's1', host: '127.0.0.1', port },
      ...peerPorts.map((peerPort, index) => ({ id: `s${index + 2}`, host: '127.0.0.1', port: peerPort })),
    ],
    ...(options.snapshotEveryRecords !== undefined
      ? { snapshotEveryRecords: options.snapshotEveryRecords }
      : {}),
    ...(options.fleetSecrets !== undefined ? { fleetSecrets: options.fleetSecrets } : {}),
    log: options.log ?? (() => undefined),
  });
  await node.start();
  return node;
}
