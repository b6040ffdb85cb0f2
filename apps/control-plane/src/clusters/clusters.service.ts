import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Cluster } from '../../../../generated/prisma/client.js';
import { generateSecret, hashPassword } from '../../../../libs/secrets/src/index.js';
import { ApiError } from '../common/api-error.js';
import { CONTROL_PLANE_CONFIG, ControlPlaneConfig } from '../config/config.js';
import { RoutesService } from '../endpoints/routes.service.js';
import { ClusterChanges } from './cluster-changes.js';
import {
  ClusterSettings,
  lowestFreePort,
  SettingsInput,
  settingsAfterChange,
  settingsFields,
  settingsForNewCluster,
} from './cluster-rules.js';
import { canTransition, settingsEditableStates } from './cluster-state.js';
import { ClustersRepository } from './clusters.repository.js';
import type { ClusterPageDto, ClusterViewDto, CreatedClusterDto } from './dto/cluster.view.js';
import type { CreateClusterDto } from './dto/create-cluster.dto.js';
import { decodeCursor, encodeCursor } from './page-cursor.js';

// Two creates may pick the same free port; the unique index makes one of them retry.
const portAllocationAttempts = 5;
// Concurrent PATCHes of one cluster: each retries on a fresh read, a bounded number of times.
const updateAttempts = 5;
const defaultPageSize = 20;
/** A new endpoint must be open before the create answers, so a client can connect at once. */
const endpointOpenWaitMs = 3_000;
/** DELETE waits this long for the compute to be torn down; then it answers 202 and goes on. */
const deleteWaitMs = 30_000;

function settingsOf(cluster: Cluster): ClusterSettings {
  return {
    mode: cluster.mode,
    minCu: cluster.minCu,
    maxCu: cluster.maxCu,
    autoPauseSeconds: cluster.autoPauseSeconds,
    cuPerWriterMax: cluster.cuPerWriterMax,
    scaleDownWindowSeconds: cluster.scaleDownWindowSeconds,
    writerCount: cluster.provisionedWriterCount,
    cuPerWriter: cluster.cuPerWriter,
    readConsistency: cluster.readConsistency,
    tls: cluster.tls,
  };
}

/** The settings fields of a request body, and nothing else of it. */
function settingsInput(body: SettingsInput): SettingsInput {
  const input: Record<string, unknown> = {};
  for (const field of settingsFields) input[field] = body[field];
  return input as SettingsInput;
}

@Injectable()
export class ClustersService {
  private readonly logger = new Logger('Clusters');

  constructor(
    private readonly clusters: ClustersRepository,
    private readonly routes: RoutesService,
    private readonly changes: ClusterChanges,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  toView(cluster: Cluster): ClusterViewDto {
    const { endpointHost } = this.config;
    const { writerCount, cuPerWriter, ...settings } = settingsOf(cluster);
    const address = `${endpointHost.includes(':') ? `[${endpointHost}]` : endpointHost}:${cluster.endpointPort}`;
    return {
      id: cluster.id,
      name: cluster.name,
      state: cluster.state,
      ...settings,
      writerCount,
      cuPerWriter,
      failureReason: cluster.failureReason,
      endpoint: {
        host: endpointHost,
        port: cluster.endpointPort,
        uri: `${cluster.tls === 'required' ? 'rediss' : 'redis'}://${address}`,
        tlsUri: cluster.tls === 'off' ? null : `rediss://${address}`,
      },
      createdAt: cluster.createdAt.toISOString(),
      updatedAt: cluster.updatedAt.toISOString(),
    };
  }

  async create(body: CreateClusterDto): Promise<CreatedClusterDto> {
    const result = settingsForNewCluster(body.mode, settingsInput(body));
    if (!result.ok) throw ApiError.invalidFields(result.problems);
    const dataPassword = generateSecret(24);
    const dataPasswordHash = await hashPassword(dataPassword);
    const id = randomUUID();
    const { endpointPortMin, endpointPortMax } = this.config;

    for (let attempt = 0; attempt < portAllocationAttempts; attempt += 1) {
      const port = lowestFreePort(await this.clusters.usedEndpointPorts(), endpointPortMin, endpointPortMax);
      if (port === null) {
        throw ApiError.conflict(
          `no endpoint port is free in ${endpointPortMin}-${endpointPortMax}: delete unused clusters or widen ENDPOINT_PORT_MIN/ENDPOINT_PORT_MAX`,
        );
      }
      const outcome = await this.clusters.create({
        id,
        name: body.name,
        settings: result.settings,
        endpointPort: port,
        dataPasswordHash,
        // Internal: what the proxy says to the cluster's writers; users never see it.
        writerPassword: generateSecret(24),
        // Named after the cluster's id, so a volume name is never reused.
        volume: `v-${id}`,
      });
      if (outcome.kind === 'name-taken') {
        throw ApiError.conflict(
          `a cluster named "${body.name}" already exists: choose another name or delete that cluster`,
        );
      }
      if (outcome.kind === 'created') {
        this.logger.log(
          `created ${result.settings.mode} cluster ${body.name} (${outcome.cluster.id}) on endpoint port ${port}`,
        );
        await this.openEndpoint(outcome.cluster);
        this.changes.changed(outcome.cluster.id);
        return { ...this.toView(outcome.cluster), dataPassword };
      }
    }
    throw ApiError.conflict('endpoint ports are being taken by concurrent creates: try again');
  }

  async list(limit = defaultPageSize, cursor?: string): Promise<ClusterPageDto> {
    const after = cursor === undefined ? null : decodeCursor(cursor);
    if (cursor !== undefined && after === null) {
      throw ApiError.badRequest('cursor is invalid: pass the nextCursor value of the previous page');
    }
    // One extra row tells whether another page follows.
    const rows = await this.clusters.listPage(limit + 1, after);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map((cluster) => this.toView(cluster)),
      nextCursor: rows.length > limit && last ? encodeCursor(last) : null,
    };
  }

  async get(id: string): Promise<Cluster> {
    const cluster = await this.clusters.findById(id);
    if (!cluster)
      throw ApiError.notFound(`cluster ${id} does not exist; list clusters with GET /v1/clusters`);
    return cluster;
  }

  async update(id: string, body: SettingsInput): Promise<Cluster> {
    for (let attempt = 0; attempt < updateAttempts; attempt += 1) {
      const current = await this.get(id);
      if (!settingsEditableStates.includes(current.state)) {
        throw ApiError.conflict(
          `cluster ${current.name} is ${current.state}; its settings cannot change until that ends`,
        );
      }
      const result = settingsAfterChange(settingsOf(current), settingsInput(body));
      if (!result.ok) throw ApiError.invalidFields(result.problems);
      if (await this.clusters.updateSettingsIfUnchanged(current, result.settings, settingsEditableStates)) {
        this.logger.log(`updated settings of cluster ${current.name} (${id})`);
        if (result.settings.tls !== current.tls) await this.publishTlsChange(current, result.settings.tls);
        this.changes.changed(id);
        return this.get(id);
      }
    }
    throw ApiError.conflict(`cluster ${id} is being changed by other requests: try again`);
  }

  /**
   * Starts the deletion (its compute is drained and stopped, its volume deleted from the storage
   * nodes, its port freed) and waits for it, within a bound. Returns null once the cluster is gone,
   * or its row while the deletion goes on in the background.
   */
  async delete(id: string): Promise<Cluster | null> {
    const cluster = await this.get(id);
    if (cluster.state !== 'deleting') {
      if (!canTransition(cluster.state, 'deleting')) {
        throw ApiError.conflict(
          `cluster ${cluster.name} is ${cluster.state}: it can be deleted once that ends; check its state with GET /v1/clusters/${id}`,
        );
      }
      if (!(await this.clusters.transition(id, cluster.state, 'deleting'))) {
        throw ApiError.conflict(`cluster ${cluster.name} changed state while being deleted: try again`);
      }
    }
    const removal = this.changes.waitForRemoval(id, deleteWaitMs);
    this.changes.changed(id);
    if (await removal) {
      this.logger.log(
        `deleted cluster ${cluster.name} (${id}); endpoint port ${cluster.endpointPort} is free again`,
      );
      return null;
    }
    return this.clusters.findById(id);
  }

  /**
   * The proxy learns a new TLS policy from the route, and applies it to connections from then on
   * (open ones stay as they are). Published before PATCH answers, so that a client connecting
   * after the answer meets the new policy.
   */
  private async publishTlsChange(cluster: Cluster, tls: string): Promise<void> {
    try {
      await this.routes.publish(cluster.id);
      this.logger.log(
        `cluster ${cluster.name} (${cluster.id}): tls ${cluster.tls} → ${tls}, route published`,
      );
    } catch (error) {
      // Saved: the next route published for the cluster carries it (the compute side publishes often).
      this.logger.warn(
        `tls of cluster ${cluster.name} saved but its route not published yet: ${String(error)}`,
      );
    }
  }

  /** Publishes a new cluster's route and waits (bounded) until the proxy serves its port. */
  private async openEndpoint(cluster: Cluster): Promise<void> {
    try {
      await this.routes.publish(cluster.id);
    } catch (error) {
      // The compute side publishes it again; the endpoint opens a little later.
      this.logger.warn(`route of new cluster ${cluster.name} not published yet: ${String(error)}`);
      return;
    }
    if (this.config.computeDriver === 'none') return;
    if (!(await this.routes.waitUntilServing(cluster.endpointPort, endpointOpenWaitMs))) {
      this.logger.warn(
        `endpoint port ${cluster.endpointPort} of ${cluster.name} not open after ${endpointOpenWaitMs} ms: is the proxy running?`,
      );
    }
  }
}
