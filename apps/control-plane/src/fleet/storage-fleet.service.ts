// The storage fleet: six storage nodes, two per AZ, whose identities, ports and data
// directories are defined once (in PostgreSQL) and never change. Started with the platform,
// restarted with backoff when one dies, observed for the API (state, log size), and asked to
// delete a deleted cluster's volume (owed deletions are retried when a node comes back).
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { StorageNode } from '../../../../generated/prisma/client.js';
import { formatFleet, type NodeAddress } from '../../../../libs/wire/src/index.js';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/config.js';
import { COMPUTE_DRIVER, type ComputeDriver, type FleetInstance } from './compute-driver.js';
import { FleetRepository } from './fleet.repository.js';
import { FleetActions } from './fleet-actions.js';
import { nodeAdmin } from './node-admin-client.js';
import { NodeTokens } from './node-tokens.service.js';

const AZ_OF_INDEX = ['az-a', 'az-a', 'az-b', 'az-b', 'az-c', 'az-c'] as const;
const RESTART_BACKOFF_MS_MIN = 500;
const RESTART_BACKOFF_MS_MAX = 30_000;
/** A node that served this long since its last start has its backoff reset. */
const STABLE_AFTER_MS = 60_000;
const STOP_GRACE_MS = 10_000;

/** Where the fleet's ports are chosen from, when the kernel's ephemeral range cannot be read. */
const FLEET_PORT_MIN = 20_000;
const EPHEMERAL_PORT_MIN_DEFAULT = 32_768;

/** The first port the kernel hands to outgoing connections (Linux), or the usual default. */
async function ephemeralPortMin(): Promise<number> {
  try {
    const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    const low = Number.parseInt(range.trim().split(/\s+/)[0] ?? '', 10);
    return Number.isInteger(low) && low > FLEET_PORT_MIN + 1_000 ? low : EPHEMERAL_PORT_MIN_DEFAULT;
  } catch {
    return EPHEMERAL_PORT_MIN_DEFAULT;
  }
}

/**
 * `count` distinct free loopback ports, held open together while they are chosen. They are kept
 * for the fleet's whole life, so they are taken below the ephemeral range: a port there could be
 * taken by any outgoing connection while its node is down for a restart.
 */
async function freePorts(host: string, count: number): Promise<number[]> {
  const limit = await ephemeralPortMin();
  const servers: Server[] = [];
  try {
    for (let attempt = 0; servers.length < count && attempt < 1_000; attempt++) {
      const port = FLEET_PORT_MIN + Math.floor(Math.random() * (limit - FLEET_PORT_MIN));
      const server = createServer();
      const bound = await new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false));
        server.listen(port, host, () => resolve(true));
      });
      if (bound) servers.push(server);
    }
    if (servers.length < count)
      throw new Error(
        `no ${count} free ports on ${host} between ${FLEET_PORT_MIN} and ${limit}: free some ports there and start again`,
      );
    return servers.map((server) => (server.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

@Injectable()
export class StorageFleetService {
  private readonly logger = new Logger('StorageFleet');
  private readonly instances = new Map<string, FleetInstance>();
  private readonly backoffMs = new Map<string, number>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private definitions: StorageNode[] = [];
  private stopping = false;

  constructor(
    private readonly repository: FleetRepository,
    private readonly actions: FleetActions,
    private readonly tokens: NodeTokens,
    @Inject(COMPUTE_DRIVER) private readonly driver: ComputeDriver,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  /** The six nodes as writers and peers address them. */
  get addresses(): NodeAddress[] {
    return this.definitions.map((node) => ({ id: node.id, host: node.host, port: node.port }));
  }

  get members(): string {
    return formatFleet(this.addresses);
  }

  serving(): number {
    return this.instances.size;
  }

  /** Adopts the nodes already running, starts the others; resolves once all were tried. */
  async start(discovered: FleetInstance[]): Promise<void> {
    this.definitions = await this.define();
    await Promise.all(
      this.definitions.map(async (node) => {
        const running = discovered.find(
          (instance) => instance.role === 'storage-node' && instance.id === node.id,
        );
        if (running !== undefined) {
          this.instances.set(node.id, running);
          await this.repository.storageNodeSeen(node.id, { state: 'serving', pid: pidOf(running) });
          return;
        }
        await this.launch(node, 'the platform started and it was not running').catch(() =>
          this.scheduleRestart(node, 'its first start failed'),
        );
      }),
    );
  }

  /** A storage node ended on its own: record it and start it again after a backoff. */
  nodeExited(instance: FleetInstance, reason: string): void {
    const node = this.definitions.find((candidate) => candidate.id === instance.id);
    if (node === undefined || this.instances.get(node.id)?.instanceId !== instance.instanceId) return;
    this.instances.delete(node.id);
    this.logger.warn(`storage node ${node.id} (${node.az}) ${reason}`);
    void this.repository.storageNodeRestarted(node.id, reason).catch(() => undefined);
    if (Date.now() - instance.startedAt.getTime() > STABLE_AFTER_MS) this.backoffMs.delete(node.id);
    this.scheduleRestart(node, `it ${reason}`);
  }

  /** Health of every node into PostgreSQL: state, log size, when it was last seen. */
  async observe(): Promise<void> {
    await Promise.all(
      this.definitions.map(async (node) => {
        const instance = this.instances.get(node.id);
        if (instance === undefined) return;
        try {
          const health = await nodeAdmin.health<{ logBytes?: number }>(instance.adminUrl);
          const logBytes = typeof health.logBytes === 'number' ? BigInt(health.logBytes) : null;
          await this.repository.storageNodeSeen(node.id, {
            state: 'serving',
            logBytes,
            pid: pidOf(instance),
            lastError: null,
          });
        } catch (error) {
          await this.repository
            .storageNodeSeen(node.id, { state: 'down', lastError: (error as Error).message })
            .catch(() => undefined);
        }
      }),
    );
  }

  /** Asks every node to delete `volume`; a node that cannot now owes it (retried by `retryOwedDeletions`). */
  async deleteVolume(volume: string, clusterId: string): Promise<void> {
    await Promise.all(
      this.definitions.map(async (node) => {
        const done = await this.deleteOn(node.id, volume, clusterId, 'its cluster was deleted');
        if (!done) await this.repository.volumeDeletionOwed(volume, node.id);
      }),
    );
  }

  async retryOwedDeletions(): Promise<void> {
    for (const owed of await this.repository.volumeDeletionsOwed()) {
      if (!this.instances.has(owed.storageNodeId)) continue;
      const done = await this.deleteOn(
        owed.storageNodeId,
        owed.volume,
        null,
        'it was down when its cluster was deleted',
      );
      if (done) await this.repository.volumeDeletionDone(owed.volume, owed.storageNodeId);
    }
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const timer of this.restartTimers.values()) clearTimeout(timer);
    await Promise.all(
      [...this.instances.entries()].map(([id, instance]) =>
        this.actions
          .run(
            { action: 'stop-storage-node', target: id, reason: 'the control plane stops its fleet on exit' },
            () => this.driver.stop(instance, STOP_GRACE_MS),
          )
          .catch(() => undefined),
      ),
    );
    this.instances.clear();
  }

  /** The fleet's definitions: made once, with ports the operating system had free then. */
  private async define(): Promise<StorageNode[]> {
    const existing = await this.repository.storageNodes();
    if (existing.length === 6) return existing;
    const ports = await freePorts(this.config.fleetHost, 6);
    await this.repository.defineStorageNodes(
      ports.map((port, index) => ({
        id: `s${index + 1}`,
        az: AZ_OF_INDEX[index] as string,
        host: this.config.fleetHost,
        port,
        dataDir: join(this.config.dataDir, 'storage', `s${index + 1}`),
      })),
    );
    return this.repository.storageNodes();
  }

  private async launch(node: StorageNode, reason: string): Promise<void> {
    const instance = await this.actions.run({ action: 'start-storage-node', target: node.id, reason }, () =>
      this.driver.start({
        role: 'storage-node',
        id: node.id,
        az: node.az,
        port: node.port,
        dataDir: node.dataDir,
        members: this.members,
      }),
    );
    if (this.stopping) {
      await this.driver.stop(instance, STOP_GRACE_MS);
      return;
    }
    this.instances.set(node.id, instance);
    await this.repository.storageNodeSeen(node.id, {
      state: 'serving',
      pid: pidOf(instance),
      lastError: null,
    });
  }

  private scheduleRestart(node: StorageNode, reason: string): void {
    if (this.stopping || this.restartTimers.has(node.id)) return;
    const delayMs = this.backoffMs.get(node.id) ?? RESTART_BACKOFF_MS_MIN;
    this.backoffMs.set(node.id, Math.min(RESTART_BACKOFF_MS_MAX, delayMs * 2));
    const timer = setTimeout(() => {
      this.restartTimers.delete(node.id);
      this.launch(node, `restart after ${delayMs} ms: ${reason}`).catch(() =>
        this.scheduleRestart(node, 'its restart failed'),
      );
    }, delayMs);
    timer.unref();
    this.restartTimers.set(node.id, timer);
  }

  private async deleteOn(
    nodeId: string,
    volume: string,
    clusterId: string | null,
    reason: string,
  ): Promise<boolean> {
    const instance = this.instances.get(nodeId);
    if (instance === undefined) return false;
    try {
      await this.actions.run(
        { action: 'delete-volume', target: `${volume}@${nodeId}`, reason, clusterId },
        () => nodeAdmin.deleteVolume(this.tokens.targetOf(instance), volume),
      );
      return true;
    } catch {
      return false;
    }
  }
}

/** The PID behind a local instance, for the API's display only. */
function pidOf(instance: FleetInstance): number | null {
  const match = /^pid (\d+)$/.exec(instance.location);
  return match === null ? null : Number(match[1]);
}
