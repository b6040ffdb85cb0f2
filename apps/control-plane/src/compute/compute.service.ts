// A cluster's compute through its life (DESIGN §2, §6, §7; docs/adr/0006): provisioning when
// it is created, writers kept to plan (a dead one replaced), pause and resume (by hand or on a
// proxy's wake), and tear-down on delete. Work on one cluster runs one piece at a time (a
// per-cluster queue); every state change is one conditional update of the cluster's row, so a
// second control plane could not take the same step twice.
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Cluster, ClusterState, DataNode } from '../../../../generated/prisma/client.js';
import { ClusterChanges } from '../clusters/cluster-changes.js';
import { canTransition } from '../clusters/cluster-state.js';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { ApiError } from '../common/api-error.js';
import { ProxyEventsService } from '../endpoints/proxy-events.service.js';
import { RoutesService } from '../endpoints/routes.service.js';
import { DataNodesService, type WriterLost } from '../fleet/data-nodes.service.js';
import { FleetRepository } from '../fleet/fleet.repository.js';
import { FleetActions } from '../fleet/fleet-actions.js';
import { FleetManager } from '../fleet/fleet-manager.service.js';
import { StorageFleetService } from '../fleet/storage-fleet.service.js';
import { ScalingEventsRepository, type ScalingRecord, scalingKind } from './scaling-events.repository.js';
import { planCapacity, planWriters, startingCu, type WriterPlan } from './writer-plan.js';

/** Every cluster is checked against its plan this often (and at once on any change). */
const RECONCILE_INTERVAL_MS = 2_000;
/** How long a pause waits for the proxy's answer before it goes on without it. */
const PAUSE_ANSWER_WAIT_MS = 10_000;
/** How long a writer leaving a cluster waits for the proxy to move its sessions away. */
const RELEASE_WAIT_MS = 10_000;
/** Tries to give a cluster its writers before it is marked failed. */
const PROVISION_ATTEMPTS = 3;
const PROVISION_RETRY_MS = 1_000;

export class ComputeStateError extends Error {}

@Injectable()
export class ComputeService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Compute');
  private readonly queues = new Map<string, Promise<unknown>>();
  private reconcileTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private readonly scalingListeners: ((event: ScalingRecord) => void)[] = [];

  constructor(
    private readonly clusters: ClustersRepository,
    private readonly changes: ClusterChanges,
    private readonly fleet: FleetManager,
    private readonly fleetRows: FleetRepository,
    private readonly dataNodes: DataNodesService,
    private readonly storage: StorageFleetService,
    private readonly routes: RoutesService,
    private readonly proxyEvents: ProxyEventsService,
    private readonly actions: FleetActions,
    private readonly scalingEvents: ScalingEventsRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.changes.onChange((clusterId) => this.kick(clusterId));
    this.dataNodes.onWriterLost((lost) => this.kick(lost.clusterId, () => this.replaceLost(lost)));
    this.proxyEvents.onWake((event) => {
      const heardAtMs = Date.now();
      this.kick(event.clusterId, () => this.wake(event.clusterId, heardAtMs));
    });
    void this.fleet.ready().then(() => {
      if (this.stopping) return;
      this.reconcileTimer = setInterval(() => this.reconcileAll(), RECONCILE_INTERVAL_MS);
      this.reconcileTimer.unref();
      this.reconcileAll();
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    if (this.reconcileTimer !== null) clearInterval(this.reconcileTimer);
    await Promise.allSettled([...this.queues.values()]);
  }

  /** POST /v1/clusters/:id/pause. */
  pause(clusterId: string): Promise<Cluster> {
    return this.enqueue(clusterId, async () => {
      const cluster = await this.require(clusterId);
      if (cluster.mode === 'provisioned') {
        throw ApiError.conflict(
          `cluster ${cluster.name} is provisioned: provisioned clusters run their writers all the time and never pause; convert it to serverless to pause it`,
        );
      }
      if (cluster.state === 'paused') return cluster;
      if (cluster.state !== 'available') {
        throw ApiError.conflict(
          `cluster ${cluster.name} is ${cluster.state}: only an available cluster can be paused`,
        );
      }
      this.requireFleet();
      if (!(await this.clusters.transition(clusterId, 'available', 'pausing'))) {
        throw ApiError.conflict(`cluster ${cluster.name} changed state meanwhile: try again`);
      }
      await this.runPause({ ...cluster, state: 'pausing' }, 'paused by request');
      return this.require(clusterId);
    });
  }

  /** POST /v1/clusters/:id/resume. */
  resume(clusterId: string): Promise<Cluster> {
    return this.enqueue(clusterId, async () => {
      const cluster = await this.require(clusterId);
      if (cluster.mode === 'provisioned') {
        throw ApiError.conflict(
          `cluster ${cluster.name} is provisioned: provisioned clusters never pause, so there is nothing to resume`,
        );
      }
      if (cluster.state === 'available') return cluster;
      if (cluster.state !== 'paused') {
        throw ApiError.conflict(
          `cluster ${cluster.name} is ${cluster.state}: only a paused cluster can be resumed`,
        );
      }
      this.requireFleet();
      await this.runResume(cluster, 'resumed by request');
      return this.require(clusterId);
    });
  }

  /** Hears every capacity change once it is recorded (metrics, the autoscaler). */
  onScaled(listener: (event: ScalingRecord) => void): void {
    this.scalingListeners.push(listener);
  }

  /** Whether work on the cluster is queued or running. */
  isBusy(clusterId: string): boolean {
    return this.queues.has(clusterId);
  }

  /**
   * The autoscaler's decision: run `toCu` over the writers its layout needs. Capacity grows
   * first (resizes up, new writers), then shrinks (resizes down, writers drained: their sessions
   * move at command boundaries), so the cluster never has less than either end while it changes.
   */
  scaleTo(clusterId: string, toCu: number, reason: string, decidedAtMs: number): Promise<void> {
    return this.enqueue(clusterId, async () => {
      const cluster = await this.clusters.findById(clusterId);
      // Deleted, paused or changed meanwhile: the next tick decides again.
      if (cluster === null || cluster.mode !== 'serverless' || cluster.state !== 'available') return;
      if (!this.fleet.enabled) return;
      const writers = await this.fleetRows.writersOf(cluster.id);
      const from = summary(writers);
      const plan = planCapacity(cluster, toCu);
      await this.applyPlan(cluster, writers, plan, reason);
      const to = summary(await this.fleetRows.writersOf(cluster.id));
      await this.recordScaling({
        clusterId,
        kind: scalingKind(from, to),
        from,
        to,
        reason,
        decidedAtMs,
        effectiveAtMs: Date.now(),
      });
    });
  }

  /** The autoscaler's decision to pause an idle cluster (a command arriving meanwhile cancels it). */
  autoPause(clusterId: string, reason: string, decidedAtMs: number): Promise<void> {
    return this.enqueue(clusterId, async () => {
      const cluster = await this.clusters.findById(clusterId);
      if (cluster === null || cluster.mode !== 'serverless' || cluster.state !== 'available') return;
      if (!this.fleet.enabled || !(await this.clusters.transition(clusterId, 'available', 'pausing'))) return;
      await this.runPause({ ...cluster, state: 'pausing' }, reason, decidedAtMs);
    });
  }

  /** Runs `work` after everything already queued for the cluster (one piece of work at a time). */
  private enqueue<T>(clusterId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(clusterId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.queues.set(clusterId, next);
    void next
      .catch(() => undefined)
      .finally(() => {
        if (this.queues.get(clusterId) === next) this.queues.delete(clusterId);
      });
    return next;
  }

  /** Queues `work` (by default, bringing the cluster to its plan); a failure is logged, and the next check tries again. */
  private kick(clusterId: string, work: () => Promise<void> = () => this.reconcile(clusterId)): void {
    if (this.stopping) return;
    void this.enqueue(clusterId, work).catch((error: unknown) =>
      this.logger.warn(`cluster ${clusterId}: ${(error as Error).message}`),
    );
  }

  /**
   * The periodic check: clusters in the middle of a change (one an earlier control plane may have
   * left unfinished) and clusters whose writers disagree with their state. Two queries for all
   * clusters; the others are left alone (their changes kick them at once).
   */
  private reconcileAll(): void {
    void Promise.all([this.clusters.all(), this.fleetRows.writerCounts()])
      .then(([clusters, writerCounts]) => {
        for (const cluster of clusters) {
          if (this.queues.has(cluster.id)) continue;
          if (needsReconcile(cluster, writerCounts.get(cluster.id) ?? 0)) this.kick(cluster.id);
        }
      })
      .catch(() => undefined);
  }

  /** Brings one cluster's compute to where its state says it should be. */
  private async reconcile(clusterId: string): Promise<void> {
    const cluster = await this.clusters.findById(clusterId);
    if (cluster === null) return;
    if (cluster.state === 'deleting') return this.runDelete(cluster);
    if (!this.fleet.enabled) return;
    switch (cluster.state) {
      case 'creating':
        return this.provision(cluster);
      case 'available':
        return this.keepToPlan(cluster, 'its settings or writers changed');
      case 'pausing':
        return this.runPause(cluster, 'a pause left unfinished by an earlier control plane');
      case 'resuming':
        return this.runResume(cluster, 'a resume left unfinished by an earlier control plane');
      case 'paused':
        return this.releaseAll(cluster, 'a paused cluster runs no writers');
      default:
        return;
    }
  }

  /** creating → available with the writers of its plan, or → failed with the reason. */
  private async provision(cluster: Cluster): Promise<void> {
    const startedAtMs = Date.now();
    let lastError = '';
    for (let attempt = 1; attempt <= PROVISION_ATTEMPTS && !this.stopping; attempt++) {
      try {
        await this.keepToPlan(cluster, 'the cluster was created');
        await this.move(cluster, 'creating', 'available');
        const writers = await this.fleetRows.writersOf(cluster.id);
        await this.recordScaling({
          clusterId: cluster.id,
          kind: 'created',
          from: { cu: 0, writers: 0 },
          to: summary(writers),
          reason: 'created',
          decidedAtMs: startedAtMs,
          effectiveAtMs: Date.now(),
        });
        return;
      } catch (error) {
        // Deleted (or otherwise moved on) meanwhile: whoever moved it takes over.
        if (error instanceof ComputeStateError) return;
        lastError = (error as Error).message;
        this.logger.warn(`cluster ${cluster.name}: provisioning attempt ${attempt} failed: ${lastError}`);
        await sleep(PROVISION_RETRY_MS * attempt);
      }
    }
    if (
      await this.clusters.transition(
        cluster.id,
        'creating',
        'failed',
        `its compute did not start: ${lastError}. Delete it and create it again; if this repeats, check GET /v1/storage-nodes`,
      )
    ) {
      await this.routes.publish(cluster.id).catch(() => undefined);
    }
  }

  /** Adds, removes and resizes writers until the cluster matches its plan; publishes its route if anything changed. */
  private async keepToPlan(cluster: Cluster, reason: string): Promise<void> {
    const writers = await this.fleetRows.writersOf(cluster.id);
    await this.applyPlan(
      cluster,
      writers,
      planWriters(
        cluster,
        writers.map((writer) => writer.cu),
      ),
      reason,
    );
  }

  /**
   * Brings the writers to `plan`: the first ones are kept (resized), new ones added (all at
   * once), the rest drained. Growth goes first and shrinking last; the route (which carries each
   * writer's CU) is published once writers join or grow, once more when they shrink, and again
   * as each one leaves.
   */
  private async applyPlan(
    cluster: Cluster,
    writers: DataNode[],
    plan: WriterPlan,
    reason: string,
  ): Promise<void> {
    const kept = writers.slice(0, plan.count);
    const leaving = writers.slice(plan.count);
    const shrinking: [DataNode, number][] = [];
    let grew = false;
    for (const [index, writer] of kept.entries()) {
      const cu = plan.sizes[index] as number;
      if (writer.state !== 'attached' || writer.cu === cu) continue;
      if (writer.cu !== null && cu < writer.cu) shrinking.push([writer, cu]);
      else {
        await this.dataNodes.resize(writer, cu, reason);
        grew = true;
      }
    }
    // New writers attach side by side: a scale-out takes one attach, not one per writer. Those
    // that joined go into the route even when another failed (its error is thrown after).
    const attaches = await Promise.allSettled(
      plan.sizes.slice(kept.length).map((cu) => this.addWriter(cluster, cu, reason)),
    );
    // The route carries each writer's CU (the proxy spreads sessions by it): published when
    // writers join or change size.
    if (grew || attaches.some((attach) => attach.status === 'fulfilled'))
      await this.routes.publish(cluster.id);
    const failed = attaches.find((attach) => attach.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    for (const [writer, cu] of shrinking) await this.dataNodes.resize(writer, cu, reason);
    if (shrinking.length > 0 && leaving.length === 0) await this.routes.publish(cluster.id);
    for (const writer of leaving) {
      await this.retireWriter(cluster, writer, `${reason}: the cluster runs ${plan.count} writers`);
    }
  }

  private async addWriter(cluster: Cluster, cu: number, reason: string): Promise<DataNode> {
    const node = await this.dataNodes.acquire(cluster.id);
    return this.dataNodes.attach(
      node,
      {
        clusterId: cluster.id,
        volume: cluster.volume,
        cu,
        readConsistency: cluster.readConsistency,
        password: cluster.writerPassword,
        storageNodes: this.storage.addresses,
      },
      reason,
    );
  }

  /** Takes a writer out of the route, waits for the proxy to move its sessions, then drains it. */
  private async retireWriter(cluster: Cluster, writer: DataNode, reason: string): Promise<void> {
    await this.fleetRows.moveDataNode(writer.id, ['attached'], 'detaching');
    const route = await this.routes.publish(cluster.id);
    if (route !== null)
      await this.proxyEvents.waitForRelease(cluster.id, writer.id, route.version, RELEASE_WAIT_MS);
    await this.dataNodes.release(writer, reason);
  }

  private async releaseAll(cluster: Cluster, reason: string): Promise<void> {
    for (const writer of await this.fleetRows.writersOf(cluster.id))
      await this.dataNodes.release(writer, reason);
  }

  /**
   * pausing → paused (docs/adr/0006): publish the pausing route, wait for the proxy's answer;
   * a wake cancels the pause (→ available), a quiesced proxy (or none answering) lets the writers
   * be drained and returned to the warm pool.
   */
  private async runPause(cluster: Cluster, reason: string, decidedAtMs = Date.now()): Promise<void> {
    const before = summary(await this.fleetRows.writersOf(cluster.id));
    const answer = this.proxyEvents.waitForPauseAnswer(
      cluster.id,
      cluster.routeVersion + 1,
      PAUSE_ANSWER_WAIT_MS,
    );
    await this.routes.publish(cluster.id);
    const outcome = await answer;
    if (outcome === 'wake') {
      await this.actions.run(
        {
          action: 'cancel-pause',
          target: cluster.id,
          reason: 'a command arrived while pausing',
          clusterId: cluster.id,
        },
        async () => {
          await this.move(cluster, 'pausing', 'available');
          await this.routes.publish(cluster.id);
        },
      );
      return;
    }
    if (outcome === 'timeout')
      this.logger.warn(
        `cluster ${cluster.name}: no answer from the proxy within ${PAUSE_ANSWER_WAIT_MS} ms; pausing anyway`,
      );
    await this.releaseAll(cluster, reason);
    await this.move(cluster, 'pausing', 'paused');
    await this.routes.publish(cluster.id);
    await this.recordScaling({
      clusterId: cluster.id,
      kind: 'pause',
      from: before,
      to: { cu: 0, writers: 0 },
      reason,
      decidedAtMs,
      effectiveAtMs: Date.now(),
    });
  }

  /** paused → resuming → available: a writer from the warm pool, then the route that opens the cluster. */
  private async runResume(cluster: Cluster, reason: string, decidedAtMs = Date.now()): Promise<void> {
    // A paused cluster has no writers (its pause released them); one left `resuming` by an
    // earlier control plane may have got one already.
    if (cluster.state === 'paused') await this.move(cluster, 'paused', 'resuming');
    const writers = cluster.state === 'paused' ? [] : await this.fleetRows.writersOf(cluster.id);
    if (writers.length === 0) writers.push(await this.addWriter(cluster, startingCu(cluster), reason));
    await this.move(cluster, 'resuming', 'available');
    await this.routes.publish(cluster.id);
    const effectiveAtMs = Date.now();
    this.logger.log(`cluster ${cluster.name} resumed in ${effectiveAtMs - decidedAtMs} ms (${reason})`);
    await this.recordScaling({
      clusterId: cluster.id,
      kind: 'resume',
      from: { cu: 0, writers: 0 },
      to: summary(writers),
      reason,
      decidedAtMs,
      effectiveAtMs,
    });
  }

  private async recordScaling(event: ScalingRecord): Promise<void> {
    // Listeners first: the autoscaler must know of a resume before its next tick.
    for (const listener of this.scalingListeners) listener(event);
    await this.scalingEvents.record(event);
  }

  /** A proxy holds a command for the cluster: resume it, or give it writers if it has none. */
  private async wake(clusterId: string, heardAtMs: number): Promise<void> {
    const cluster = await this.clusters.findById(clusterId);
    if (cluster === null || !this.fleet.enabled) return;
    if (cluster.state === 'paused')
      await this.runResume(cluster, 'a client sent a command while it was paused', heardAtMs);
    else if (cluster.state === 'available')
      await this.keepToPlan(cluster, 'a client waits and the cluster has no writer');
  }

  /** A writer's process died: its route drops it at once, then the cluster gets another. */
  private async replaceLost(lost: WriterLost): Promise<void> {
    const cluster = await this.clusters.findById(lost.clusterId);
    if (cluster === null) return;
    await this.routes.publish(cluster.id);
    if (cluster.state !== 'available' || !this.fleet.enabled) return;
    await this.actions.run(
      { action: 'replace-writer', target: lost.nodeId, reason: `it ${lost.reason}`, clusterId: cluster.id },
      () => this.keepToPlan(cluster, `writer ${lost.nodeId} was lost`),
    );
  }

  /** deleting → gone: route withdrawn, writers released, volume deleted from the storage nodes. */
  private async runDelete(cluster: Cluster): Promise<void> {
    await this.routes.remove(cluster.id, cluster.routeVersion).catch(() => undefined);
    if (this.fleet.enabled) {
      await this.releaseAll(cluster, 'its cluster is being deleted');
      await this.storage.deleteVolume(cluster.volume, cluster.id);
    }
    await this.clusters.removeDeleted(cluster.id);
    this.changes.removed(cluster.id);
  }

  private async move(cluster: Cluster, from: ClusterState, to: ClusterState): Promise<void> {
    if (!canTransition(from, to) || !(await this.clusters.transition(cluster.id, from, to))) {
      throw new ComputeStateError(`cluster ${cluster.name} is no longer ${from}`);
    }
  }

  private async require(clusterId: string): Promise<Cluster> {
    const cluster = await this.clusters.findById(clusterId);
    if (cluster === null)
      throw ApiError.notFound(`cluster ${clusterId} does not exist; list clusters with GET /v1/clusters`);
    return cluster;
  }

  private requireFleet(): void {
    if (!this.fleet.enabled) {
      throw new ApiError(
        503,
        'this control plane runs no compute (COMPUTE_DRIVER=none): unset COMPUTE_DRIVER to use the local driver',
      );
    }
  }
}

/** Whether a cluster's compute may be out of step with its state and settings. */
function needsReconcile(cluster: Cluster, writers: number): boolean {
  switch (cluster.state) {
    case 'available':
      return cluster.mode === 'provisioned' ? writers !== cluster.provisionedWriterCount : writers === 0;
    case 'paused':
      return writers > 0;
    case 'failed':
    case 'modifying':
    case 'migrating':
      return false;
    default:
      return true;
  }
}

function summary(writers: DataNode[]): { cu: number; writers: number } {
  return { cu: writers.reduce((total, writer) => total + (writer.cu ?? 0), 0), writers: writers.length };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
