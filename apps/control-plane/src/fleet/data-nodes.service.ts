// Data-node processes: the warm pool (started, unattached) and writers (attached to one
// cluster each). A writer comes from the pool (an attach: milliseconds) or, when the pool is
// empty, from a cold start; released writers go back to the pool while it is short. Each
// process gets a coordinator id from PostgreSQL at start, so no two writers share one.
import { EventEmitter } from 'node:events';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { DataNode } from '../../../../generated/prisma/client.js';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/config.js';
import { COMPUTE_DRIVER, type ComputeDriver, type FleetInstance } from './compute-driver.js';
import { FleetRepository } from './fleet.repository.js';
import { FleetActions } from './fleet-actions.js';
import { FleetSecrets } from './fleet-secrets.service.js';
import { type AttachCall, type DataNodeReport, nodeAdmin } from './node-admin-client.js';
import { NodeTokens } from './node-tokens.service.js';
import { StorageFleetService } from './storage-fleet.service.js';

const STOP_GRACE_MS = 10_000;
/** How long after a pool process is taken its replacement is started. */
const REFILL_DELAY_MS = 500;
/** How long an acquire waits for a pool process that is starting before it starts one of its own. */
const POOL_WAIT_MS = 5_000;
const POOL_POLL_MS = 20;
/** How long a released writer may take to finish the commands it runs before they are cut. */
const DRAIN_TIMEOUT_MS = 30_000;

export interface WriterLost {
  clusterId: string;
  nodeId: string;
  reason: string;
}

@Injectable()
export class DataNodesService {
  private readonly logger = new Logger('DataNodes');
  private readonly instances = new Map<string, FleetInstance>();
  private readonly events = new EventEmitter();
  private refill: Promise<void> | null = null;
  private stopping = false;

  constructor(
    private readonly repository: FleetRepository,
    private readonly actions: FleetActions,
    private readonly storage: StorageFleetService,
    private readonly secrets: FleetSecrets,
    private readonly tokens: NodeTokens,
    @Inject(COMPUTE_DRIVER) private readonly driver: ComputeDriver,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  /** Called when a writer's process is gone: its cluster must get another. */
  onWriterLost(listener: (lost: WriterLost) => void): void {
    this.events.on('writer-lost', listener);
  }

  instanceOf(nodeId: string): FleetInstance | undefined {
    return this.instances.get(nodeId);
  }

  /** Makes the rows agree with the processes found running, then fills the warm pool. */
  async start(discovered: FleetInstance[]): Promise<void> {
    const running = new Map(discovered.filter((i) => i.role === 'data-node').map((i) => [i.id, i]));
    for (const row of await this.repository.liveDataNodes()) {
      const instance = running.get(row.id);
      running.delete(row.id);
      if (instance === undefined)
        await this.markDead(row, 'it was not running when the control plane started');
      else await this.reconcile(row, instance);
    }
    // Processes in the registry that no row knows (a row lost mid-start): not ours to keep.
    for (const orphan of running.values())
      await this.driver.stop(orphan, STOP_GRACE_MS).catch(() => undefined);
    this.refillPool();
  }

  /**
   * A fresh credential for every attached writer, proven on its open storage links (none drop):
   * hourly, and after a rotation of the fleet secret. A writer that does not answer is named in
   * `failed`; it keeps its current credential until it expires.
   */
  async renewCredentials(reason: string): Promise<{ renewed: number; failed: string[] }> {
    let renewed = 0;
    const failed: string[] = [];
    for (const writer of await this.repository.attachedWritersWithVolumes()) {
      const instance = this.instances.get(writer.id);
      if (instance === undefined || writer.clusterId === null) {
        failed.push(writer.id);
        continue;
      }
      if (await this.renewOne(writer, writer.clusterId, writer.volume, instance, reason)) renewed++;
      else failed.push(writer.id);
    }
    return { renewed, failed };
  }

  /** Starts pool processes in the background until the pool is full; one refill at a time. */
  refillPool(): void {
    if (this.refill !== null || this.stopping) return;
    this.refill = (async () => {
      while (
        !this.stopping &&
        (await this.repository.countDataNodes(['starting', 'pool'])) < this.config.warmPoolSize
      ) {
        await this.startPoolNode('refill the warm pool').catch(() => sleep(1_000));
      }
    })().finally(() => {
      this.refill = null;
    });
  }

  /**
   * A process for `clusterId`: from the warm pool (waiting briefly for one that is starting,
   * which is sooner than a cold start), else a cold start. Refills the pool after.
   */
  async acquire(clusterId: string): Promise<DataNode> {
    let node = await this.repository.claimPoolNode(clusterId);
    const deadline = Date.now() + POOL_WAIT_MS;
    while (
      node === null &&
      Date.now() < deadline &&
      (await this.repository.countDataNodes(['starting'])) > 0
    ) {
      await sleep(POOL_POLL_MS);
      node = await this.repository.claimPoolNode(clusterId);
    }
    if (node === null) {
      const started = await this.startPoolNode('cold start: the warm pool is empty');
      if (!(await this.repository.moveDataNode(started.id, ['pool'], 'attaching', { clusterId }))) {
        throw new Error(`data node ${started.id} was taken by another request`);
      }
      node = { ...started, state: 'attaching', clusterId };
    }
    // A new process takes most of a core for a second while it boots: start it once the attach
    // it was taken for is done, not in the middle of a resume a client is waiting on.
    setTimeout(() => this.refillPool(), REFILL_DELAY_MS).unref();
    return node;
  }

  async attach(node: DataNode, request: AttachCall, reason: string): Promise<DataNode> {
    const instance = this.requireInstance(node.id);
    const credential = this.secrets.credentialFor(request.clusterId, request.volume, node.coordinatorId);
    try {
      const report = await this.actions.run(
        { action: 'attach', target: node.id, reason, clusterId: request.clusterId },
        () => nodeAdmin.attach(this.tokens.targetOf(instance), { ...request, credential }),
      );
      const data = { cu: request.cu, respPort: report.respPort, attachedAt: new Date() };
      if (!(await this.repository.moveDataNode(node.id, ['attaching'], 'attached', data))) {
        throw new Error(`data node ${node.id} stopped being ours while attaching`);
      }
      return { ...node, ...data, state: 'attached' };
    } catch (error) {
      // Its state is unknown after a failed attach: stop it rather than pool something half-attached.
      await this.retire(node, 'its attach failed');
      throw error;
    }
  }

  async resize(node: DataNode, cu: number, reason: string): Promise<void> {
    const instance = this.requireInstance(node.id);
    await this.actions.run(
      {
        action: 'resize',
        target: node.id,
        reason: `${reason} (${node.cu} → ${cu} CU)`,
        clusterId: node.clusterId,
      },
      () => nodeAdmin.resize(this.tokens.targetOf(instance), cu),
    );
    await this.repository.moveDataNode(node.id, ['attached'], 'attached', { cu });
  }

  /** Drains and detaches a writer; the process goes back to the pool if it is short, else stops. */
  async release(node: DataNode, reason: string): Promise<void> {
    if (!(await this.repository.moveDataNode(node.id, ['attached', 'attaching', 'detaching'], 'detaching')))
      return;
    const instance = this.instances.get(node.id);
    if (instance === undefined) return;
    try {
      await this.actions.run(
        { action: 'drain-and-detach', target: node.id, reason, clusterId: node.clusterId },
        async () => {
          await nodeAdmin.drain(this.tokens.targetOf(instance), DRAIN_TIMEOUT_MS).catch(ignoreNotAttached);
          await nodeAdmin.detach(this.tokens.targetOf(instance)).catch(ignoreNotAttached);
        },
      );
    } catch {
      await this.retire(node, 'its detach failed');
      return;
    }
    await this.revokeCredentials(node);
    const poolSize = await this.repository.countDataNodes(['starting', 'pool']);
    if (!this.stopping && poolSize < this.config.warmPoolSize) {
      await this.repository.moveDataNode(node.id, ['detaching'], 'pool', {
        clusterId: null,
        cu: null,
        respPort: null,
        attachedAt: null,
      });
    } else {
      await this.retire(node, 'the warm pool is full');
    }
  }

  /** A data node ended on its own. */
  nodeExited(instance: FleetInstance, reason: string): void {
    if (this.instances.get(instance.id)?.instanceId !== instance.instanceId) return;
    this.instances.delete(instance.id);
    void this.repository.dataNode(instance.id).then(async (row) => {
      if (row === null) return;
      await this.markDead(row, reason);
      this.refillPool();
    });
  }

  /**
   * Stops every data node this control plane runs. The database may be gone by now: a node whose
   * row cannot be read or written is stopped all the same, and what could not be recorded is logged
   * (the next control plane finds the row out of date and the process gone, as after a crash).
   */
  async stopAll(): Promise<void> {
    this.stopping = true;
    await this.refill?.catch(() => undefined);
    const reason = 'the control plane stops its fleet on exit';
    await Promise.all(
      [...this.instances.keys()].map(async (id) => {
        try {
          const row = await this.repository.dataNode(id);
          if (row !== null) await this.retire(row, reason);
        } catch (error) {
          this.logger.warn(
            `data node ${id}: its records could not be read or written (${(error as Error).message}); it is stopped all the same`,
          );
        }
        // retire() stops the process first; here it is still running only if that was not reached.
        const instance = this.instances.get(id);
        this.instances.delete(id);
        if (instance !== undefined) {
          await this.actions
            .run({ action: 'stop-data-node', target: id, reason }, () =>
              this.driver.stop(instance, STOP_GRACE_MS),
            )
            .catch(() => undefined);
        }
      }),
    );
  }

  private async startPoolNode(reason: string): Promise<DataNode> {
    const coordinatorId = await this.repository.nextCoordinatorId();
    const id = `d${coordinatorId}`;
    await this.repository.createDataNode(id, coordinatorId, this.config.fleetHost);
    try {
      const instance = await this.actions.run({ action: 'start-data-node', target: id, reason }, () =>
        this.driver.start({ role: 'data-node', id, storage: this.storage.members, coordinatorId }),
      );
      this.instances.set(id, instance);
      const adminPort = Number(new URL(instance.adminUrl).port);
      await this.repository.moveDataNode(id, ['starting'], 'pool', {
        adminPort,
        instanceId: instance.instanceId,
      });
      const row = await this.repository.dataNode(id);
      if (row === null) throw new Error(`data node ${id} has no row`);
      return row;
    } catch (error) {
      await this.repository.moveDataNode(id, ['starting'], 'dead');
      throw error;
    }
  }

  private async reconcile(row: DataNode, instance: FleetInstance): Promise<void> {
    this.instances.set(row.id, instance);
    let report: DataNodeReport;
    try {
      report = await nodeAdmin.health<DataNodeReport>(instance.adminUrl);
    } catch (error) {
      await this.retire(row, `it did not answer its health check: ${(error as Error).message}`);
      return;
    }
    const attachedAsRecorded =
      report.state === 'attached' && report.attachedCluster === row.clusterId && row.clusterId !== null;
    if (attachedAsRecorded) {
      await this.repository.moveDataNode(row.id, ['attaching', 'attached', 'detaching'], 'attached', {
        respPort: report.respPort,
        cu: report.cu,
      });
      await this.renewAdopted(row, instance);
    } else if (report.state === 'unattached' && (row.state === 'pool' || row.state === 'starting')) {
      await this.repository.moveDataNode(row.id, ['pool', 'starting'], 'pool');
    } else {
      // An action was cut short by the control plane's end: put the process back in a known state.
      this.logger.warn(
        `data node ${row.id} is ${report.state} but recorded ${row.state}: resetting it to the pool`,
      );
      await this.reset(row, instance);
    }
  }

  /**
   * A writer adopted from an earlier control plane gets a fresh credential at once, on its open
   * links (no client connection drops): the one it holds may be close to its expiry, or minted
   * under a secret rotated since. If the call fails, the hourly renewal tries again.
   */
  private async renewAdopted(row: DataNode, instance: FleetInstance): Promise<void> {
    const clusterId = row.clusterId as string;
    const volume = await this.repository.volumeOfCluster(clusterId);
    if (volume === null) return;
    if (await this.renewOne(row, clusterId, volume, instance, 'adopted after a control plane restart'))
      this.logger.log(`renewed the credential of adopted writer ${row.id} (cluster ${clusterId})`);
  }

  /** Mints a credential for `writer` and hands it over; false (logged) if the node did not take it. */
  private async renewOne(
    writer: DataNode,
    clusterId: string,
    volume: string,
    instance: FleetInstance,
    reason: string,
  ): Promise<boolean> {
    const credential = this.secrets.credentialFor(clusterId, volume, writer.coordinatorId);
    try {
      await nodeAdmin.renewCredential(this.tokens.targetOf(instance), credential);
      return true;
    } catch (error) {
      this.logger.warn(
        `could not renew the credential of ${writer.id} (${reason}): ${(error as Error).message}`,
      );
      return false;
    }
  }

  /**
   * A writer left its cluster: every credential it was given for the cluster's volume is revoked
   * (docs/security.md), so that one copied out of the process opens nothing from now on. A node
   * that held no cluster, or whose cluster is gone with its volume, has nothing to revoke.
   */
  private async revokeCredentials(node: DataNode): Promise<void> {
    if (node.clusterId === null) return;
    try {
      const volume = await this.repository.volumeOfCluster(node.clusterId);
      if (volume !== null) this.secrets.revoke(volume, node.coordinatorId);
    } catch (error) {
      this.logger.error(
        `could not revoke the credentials of ${node.id} (cluster ${node.clusterId}): ${(error as Error).message}; they stay valid until they expire`,
      );
    }
  }

  /** Detaches whatever the process is attached to and pools it; its cluster, if any, lost a writer. */
  private async reset(row: DataNode, instance: FleetInstance): Promise<void> {
    try {
      await this.actions.run(
        {
          action: 'reset-data-node',
          target: row.id,
          reason: 'it disagreed with its record after a control plane restart',
          clusterId: row.clusterId,
        },
        async () => {
          await nodeAdmin.drain(this.tokens.targetOf(instance), DRAIN_TIMEOUT_MS).catch(ignoreNotAttached);
          await nodeAdmin.detach(this.tokens.targetOf(instance)).catch(ignoreNotAttached);
        },
      );
    } catch {
      await this.retire(row, 'its reset failed');
      return;
    }
    await this.revokeCredentials(row);
    await this.repository.moveDataNode(row.id, [row.state], 'pool', {
      clusterId: null,
      cu: null,
      respPort: null,
      attachedAt: null,
    });
    if (row.clusterId !== null && row.state !== 'pool' && row.state !== 'starting')
      this.emitLost(row, 'its attachment was cut short');
  }

  private async markDead(row: DataNode, reason: string): Promise<void> {
    const wasWriter = ['attaching', 'attached', 'detaching'].includes(row.state);
    if (!(await this.repository.moveDataNode(row.id, [row.state], 'dead'))) return;
    this.logger.warn(`data node ${row.id} is gone: ${reason}`);
    if (wasWriter) await this.revokeCredentials(row);
    if (wasWriter && row.clusterId !== null) this.emitLost(row, reason);
  }

  private emitLost(row: DataNode, reason: string): void {
    if (row.clusterId === null) return;
    this.events.emit('writer-lost', {
      clusterId: row.clusterId,
      nodeId: row.id,
      reason,
    } satisfies WriterLost);
  }

  /** Stops a process for good. */
  private async retire(node: DataNode, reason: string): Promise<void> {
    const instance = this.instances.get(node.id);
    this.instances.delete(node.id);
    if (instance !== undefined) {
      await this.actions
        .run({ action: 'stop-data-node', target: node.id, reason, clusterId: node.clusterId }, () =>
          this.driver.stop(instance, STOP_GRACE_MS),
        )
        .catch(() => undefined);
    }
    await this.revokeCredentials(node);
    await this.repository.moveDataNode(
      node.id,
      ['starting', 'pool', 'attaching', 'attached', 'detaching'],
      'stopped',
      {
        clusterId: null,
        respPort: null,
      },
    );
  }

  private requireInstance(nodeId: string): FleetInstance {
    const instance = this.instances.get(nodeId);
    if (instance === undefined) throw new Error(`data node ${nodeId} is not running`);
    return instance;
  }
}

/** A drain or detach of a node that is no longer attached has nothing left to do. */
function ignoreNotAttached(error: unknown): void {
  if ((error as { status?: number | null }).status === 409) return;
  throw error;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
