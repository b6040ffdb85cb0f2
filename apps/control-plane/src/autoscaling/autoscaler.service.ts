// The autoscaler's loop (DESIGN §5): every tick it reads the clusters, their writers' capacity
// and their latest load, asks the pure `decide` what to do for each, and hands the actions to
// the compute service (which runs one piece of work per cluster at a time). It keeps in memory
// only what `decide` remembers between ticks and when each cluster became available; a
// restarted control plane starts afresh (a first tick never shrinks a cluster: decide seeds its
// window with the current size).
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Cluster } from '../../../../generated/prisma/client.js';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { ComputeService } from '../compute/compute.service.js';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/config.js';
import { FleetRepository } from '../fleet/fleet.repository.js';
import { FleetManager } from '../fleet/fleet-manager.service.js';
import type { AutoscalerMemory, Capacity, ClusterView, Decision } from './autoscaler-model.js';
import { autoscalingDefaults } from './autoscaler-model.js';
import { decide, emptyMemory } from './decide.js';
import { LOAD_SOURCE, type LoadSource } from './load-source.js';

/** What the last tick made of one cluster, for the explain route. */
export interface ClusterAssessment {
  cluster: Cluster;
  view: ClusterView;
  decision: Decision;
  atMs: number;
}

@Injectable()
export class AutoscalerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Autoscaler');
  private readonly memories = new Map<string, AutoscalerMemory>();
  private readonly availableSince = new Map<string, number>();
  /** Clusters with an action handed to compute and not yet done. */
  private readonly acting = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private stopping = false;
  /** Time of the last tick over all clusters, for /metrics and the benchmark. */
  lastTickMs = 0;

  constructor(
    private readonly clusters: ClustersRepository,
    private readonly fleetRows: FleetRepository,
    private readonly fleet: FleetManager,
    private readonly compute: ComputeService,
    @Inject(LOAD_SOURCE) private readonly load: LoadSource,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  onApplicationBootstrap(): void {
    // Idle time counts from a resume at the latest: load reports from before the pause say
    // nothing about the sessions that woke it.
    this.compute.onScaled((event) => {
      if (event.kind !== 'resume' && event.kind !== 'created') return;
      this.availableSince.set(event.clusterId, event.effectiveAtMs ?? Date.now());
      this.memories.delete(event.clusterId);
    });
    if (!this.fleet.enabled) return;
    void this.fleet.ready().then(() => {
      if (this.stopping) return;
      this.timer = setInterval(() => void this.tick(), this.config.autoscalerTickMs);
      this.timer.unref();
    });
  }

  onApplicationShutdown(): void {
    this.stopping = true;
    if (this.timer !== null) clearInterval(this.timer);
  }

  /** One pass over every cluster; a tick still running when the next is due makes that one skip. */
  async tick(): Promise<void> {
    if (this.ticking || this.stopping) return;
    this.ticking = true;
    try {
      const [clusters, capacities] = await Promise.all([
        this.clusters.all(),
        this.fleetRows.writerCapacities(),
      ]);
      const startedAt = performance.now();
      const nowMs = Date.now();
      const seen = new Set<string>();
      for (const cluster of clusters) {
        seen.add(cluster.id);
        const assessment = this.assess(cluster, capacities.get(cluster.id) ?? { cu: 0, writers: 0 }, nowMs);
        this.memories.set(cluster.id, assessment.decision.memory);
        this.act(cluster, assessment.decision);
      }
      for (const id of this.memories.keys()) if (!seen.has(id)) this.forget(id);
      this.lastTickMs = performance.now() - startedAt;
    } catch (error) {
      // The metadata database is unreachable: nothing changes until it is back.
      this.logger.debug(`tick skipped: ${(error as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  /** What decide makes of one cluster now, without acting on it (the explain route). */
  async explain(cluster: Cluster): Promise<ClusterAssessment> {
    const capacities = await this.fleetRows.writerCapacities();
    return this.assess(cluster, capacities.get(cluster.id) ?? { cu: 0, writers: 0 }, Date.now());
  }

  private assess(cluster: Cluster, current: Capacity, nowMs: number): ClusterAssessment {
    if (cluster.state !== 'available' && cluster.state !== 'resuming') this.availableSince.delete(cluster.id);
    else if (!this.availableSince.has(cluster.id)) this.availableSince.set(cluster.id, nowMs);
    const view: ClusterView = {
      clusterId: cluster.id,
      mode: cluster.mode,
      state: cluster.state,
      settings: {
        minCu: cluster.minCu ?? 0,
        maxCu: cluster.maxCu ?? 0,
        cuPerWriterMax: cluster.cuPerWriterMax ?? autoscalingDefaults.cuPerWriterMax,
        autoPauseSeconds: cluster.autoPauseSeconds,
        scaleDownWindowMs:
          (cluster.scaleDownWindowSeconds ?? autoscalingDefaults.scaleDownWindowSeconds) * 1_000,
        targetUtilization: this.config.targetUtilization,
      },
      current,
      busy: this.acting.has(cluster.id) || this.compute.isBusy(cluster.id),
      availableSinceMs: this.availableSince.get(cluster.id) ?? nowMs,
      cuCommandsPerSecond: this.config.cuCommandsPerSecond,
    };
    const memory = this.memories.get(cluster.id) ?? emptyMemory();
    const decision = decide(view, memory, this.load.latest(cluster.id, nowMs), nowMs);
    return { cluster, view, decision, atMs: nowMs };
  }

  private act(cluster: Cluster, decision: Decision): void {
    for (const action of decision.actions) {
      if (action.kind === 'wait') continue;
      const decidedAtMs = Date.now();
      this.acting.add(cluster.id);
      const done = () => this.acting.delete(cluster.id);
      if (action.kind === 'scale') {
        this.logger.log(
          `cluster ${cluster.name}: scaling to ${action.toCu} CU on ${action.toWriters} writer(s): ${action.reason}`,
        );
        void this.compute
          .scaleTo(cluster.id, action.toCu, action.reason, decidedAtMs)
          .catch((error: unknown) =>
            this.logger.warn(`cluster ${cluster.name}: scaling failed: ${(error as Error).message}`),
          )
          .finally(done);
      } else {
        this.logger.log(`cluster ${cluster.name}: pausing: ${action.reason}`);
        void this.compute
          .autoPause(cluster.id, action.reason, decidedAtMs)
          .then(() => this.memories.delete(cluster.id))
          .catch((error: unknown) =>
            this.logger.warn(`cluster ${cluster.name}: pausing failed: ${(error as Error).message}`),
          )
          .finally(done);
      }
      return;
    }
  }

  private forget(clusterId: string): void {
    this.memories.delete(clusterId);
    this.availableSince.delete(clusterId);
  }
}
