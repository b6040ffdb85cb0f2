import { Injectable } from '@nestjs/common';
import type { Cluster, ClusterState } from '../../../../generated/prisma/client.js';
import { Prisma } from '../../../../generated/prisma/client.js';
import { PrismaService } from '../database/prisma.service.js';
import type { ClusterSettings } from './cluster-rules.js';
import { canTransition } from './cluster-state.js';

export interface NewClusterRow {
  id: string;
  name: string;
  settings: ClusterSettings;
  endpointPort: number;
  dataPasswordHash: string;
  writerPassword: string;
  volume: string;
}

export type CreateOutcome =
  | { kind: 'created'; cluster: Cluster }
  | { kind: 'name-taken' }
  | { kind: 'port-taken' };

export interface PagePosition {
  createdAt: Date;
  id: string;
}

function settingsColumns(settings: ClusterSettings) {
  return {
    mode: settings.mode,
    minCu: settings.minCu,
    maxCu: settings.maxCu,
    autoPauseSeconds: settings.autoPauseSeconds,
    cuPerWriterMax: settings.cuPerWriterMax,
    scaleDownWindowSeconds: settings.scaleDownWindowSeconds,
    provisionedWriterCount: settings.writerCount,
    cuPerWriter: settings.cuPerWriter,
    readConsistency: settings.readConsistency,
    tls: settings.tls,
  };
}

/** Which unique constraint a P2002 error broke (the driver adapter reports it in `meta`). */
function violatedField(error: Prisma.PrismaClientKnownRequestError): 'name' | 'endpointPort' | 'other' {
  const meta = JSON.stringify(error.meta ?? {});
  if (meta.includes('endpointPort')) return 'endpointPort';
  if (/"name"|Cluster_name_key/.test(meta)) return 'name';
  return 'other';
}

@Injectable()
export class ClustersRepository {
  constructor(private readonly prisma: PrismaService) {}

  async create(row: NewClusterRow): Promise<CreateOutcome> {
    try {
      const cluster = await this.prisma.cluster.create({
        data: {
          id: row.id,
          name: row.name,
          ...settingsColumns(row.settings),
          endpointPort: row.endpointPort,
          dataPasswordHash: row.dataPasswordHash,
          writerPassword: row.writerPassword,
          volume: row.volume,
        },
      });
      return { kind: 'created', cluster };
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        const field = violatedField(error);
        if (field === 'name') return { kind: 'name-taken' };
        if (field === 'endpointPort') return { kind: 'port-taken' };
      }
      throw error;
    }
  }

  async usedEndpointPorts(): Promise<number[]> {
    const rows = await this.prisma.cluster.findMany({ select: { endpointPort: true } });
    return rows.map((row) => row.endpointPort);
  }

  findById(id: string): Promise<Cluster | null> {
    return this.prisma.cluster.findUnique({ where: { id } });
  }

  /** One page in creation order, starting after `after`. */
  listPage(limit: number, after: PagePosition | null): Promise<Cluster[]> {
    const where: Prisma.ClusterWhereInput = after
      ? { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] }
      : {};
    return this.prisma.cluster.findMany({
      where,
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: limit,
    });
  }

  /**
   * Writes new settings only if the cluster's settings are still those read (same
   * settingsVersion, which every settings write increments) and its state allows it; returns
   * whether the write happened.
   */
  async updateSettingsIfUnchanged(
    current: Cluster,
    settings: ClusterSettings,
    editableStates: readonly ClusterState[],
  ): Promise<boolean> {
    const { count } = await this.prisma.cluster.updateMany({
      where: { id: current.id, settingsVersion: current.settingsVersion, state: { in: [...editableStates] } },
      data: { ...settingsColumns(settings), settingsVersion: { increment: 1 } },
    });
    return count === 1;
  }

  /**
   * Moves the cluster from `from` to `to` if it is still in `from`; returns whether it moved.
   * Leaving `failed` clears the failure's reason; `reason` is recorded when moving to `failed`.
   * Callers check `canTransition` first: a move the table does not allow is a bug here.
   */
  async transition(
    id: string,
    from: ClusterState,
    to: ClusterState,
    reason: string | null = null,
  ): Promise<boolean> {
    if (!canTransition(from, to)) throw new Error(`no cluster transition from ${from} to ${to}`);
    // Raw SQL: state changes sit on the path of a client waiting for a resume, and a raw statement
    // skips the client's query planning (about half the cost of a small update here).
    const failureReason = to === 'failed' ? reason : null;
    const count = await this.prisma.$executeRaw`
      UPDATE "Cluster" SET state = ${to}::"ClusterState", "failureReason" = ${failureReason}, "updatedAt" = now()
      WHERE id = ${id}::uuid AND state = ${from}::"ClusterState"`;
    return count === 1;
  }

  /** Every cluster, for the compute side's periodic check. */
  all(): Promise<Cluster[]> {
    return this.prisma.cluster.findMany({ orderBy: { createdAt: 'asc' } });
  }

  /** Removes the row of a cluster whose deletion has started; scaling events go with it (cascade). */
  async removeDeleted(id: string): Promise<void> {
    await this.prisma.cluster.deleteMany({ where: { id, state: 'deleting' } });
  }

  async countByStateAndMode(): Promise<{ state: ClusterState; mode: string; count: number }[]> {
    const groups = await this.prisma.cluster.groupBy({ by: ['state', 'mode'], _count: { _all: true } });
    return groups.map((group) => ({ state: group.state, mode: group.mode, count: group._count._all }));
  }
}
