// The fleet's rows: storage nodes, data nodes, the actions taken on them, and volume
// deletions still owed by a storage node. Every state change of a data node is one
// conditional update (where id and state), so that two actors never claim the same process.
import { Injectable } from '@nestjs/common';
import type {
  DataNode,
  DataNodeState,
  StorageNode,
  StorageNodeState,
} from '../../../../generated/prisma/client.js';
import { PrismaService } from '../database/prisma.service.js';

export interface StorageNodeDefinition {
  id: string;
  az: string;
  host: string;
  port: number;
  dataDir: string;
}

export interface FleetActionRecord {
  action: string;
  target: string;
  clusterId?: string | null;
  reason: string;
  outcome: 'ok' | 'failed';
  error?: string | null;
  durationMs: number;
}

@Injectable()
export class FleetRepository {
  constructor(private readonly prisma: PrismaService) {}

  // ---- storage nodes ----

  storageNodes(): Promise<StorageNode[]> {
    return this.prisma.storageNode.findMany({ orderBy: { id: 'asc' } });
  }

  /** Creates the fleet's definitions unless they exist (a concurrent creator wins, harmlessly). */
  async defineStorageNodes(definitions: StorageNodeDefinition[]): Promise<void> {
    await this.prisma.storageNode.createMany({ data: definitions, skipDuplicates: true });
  }

  async storageNodeSeen(
    id: string,
    facts: {
      state: StorageNodeState;
      pid?: number | null;
      logBytes?: bigint | null;
      lastError?: string | null;
    },
  ): Promise<void> {
    await this.prisma.storageNode.update({ where: { id }, data: { ...facts, lastSeenAt: new Date() } });
  }

  async storageNodeRestarted(id: string, lastError: string): Promise<void> {
    await this.prisma.storageNode.update({
      where: { id },
      data: { state: 'down', restarts: { increment: 1 }, lastError, pid: null },
    });
  }

  // ---- data nodes ----

  /** The next coordinator id: a PostgreSQL sequence, so no two writers ever share one. */
  async nextCoordinatorId(): Promise<number> {
    const rows = await this.prisma.$queryRaw<{ id: bigint }[]>`SELECT nextval('coordinator_id_seq') AS id`;
    return Number(rows[0]?.id);
  }

  createDataNode(id: string, coordinatorId: number, host: string): Promise<DataNode> {
    return this.prisma.dataNode.create({ data: { id, coordinatorId, host, state: 'starting' } });
  }

  dataNode(id: string): Promise<DataNode | null> {
    return this.prisma.dataNode.findUnique({ where: { id } });
  }

  /** Data nodes that are not gone (stopped or dead). */
  liveDataNodes(): Promise<DataNode[]> {
    return this.prisma.dataNode.findMany({
      where: { state: { notIn: ['stopped', 'dead'] } },
      orderBy: { createdAt: 'asc' },
    });
  }

  /** Attached writers with their cluster's volume (credential renewal). */
  async attachedWritersWithVolumes(): Promise<(DataNode & { volume: string })[]> {
    const rows = await this.prisma.dataNode.findMany({
      where: { state: 'attached', clusterId: { not: null } },
      include: { cluster: { select: { volume: true } } },
    });
    return rows.flatMap(({ cluster, ...row }) =>
      cluster === null ? [] : [{ ...row, volume: cluster.volume }],
    );
  }

  async volumeOfCluster(clusterId: string): Promise<string | null> {
    const cluster = await this.prisma.cluster.findUnique({
      where: { id: clusterId },
      select: { volume: true },
    });
    return cluster?.volume ?? null;
  }

  writersOf(clusterId: string): Promise<DataNode[]> {
    return this.prisma.dataNode.findMany({
      where: { clusterId, state: { in: ['attaching', 'attached', 'detaching'] } },
      orderBy: { attachedAt: 'asc' },
    });
  }

  /** Writers (attaching, attached or detaching) per cluster, in one query. */
  async writerCounts(): Promise<Map<string, number>> {
    const groups = await this.prisma.dataNode.groupBy({
      by: ['clusterId'],
      where: { state: { in: ['attaching', 'attached', 'detaching'] }, clusterId: { not: null } },
      _count: { _all: true },
    });
    return new Map(groups.map((group) => [group.clusterId as string, group._count._all]));
  }

  /** Attached writers' capacity per cluster (sum of CU and count), in one query. */
  async writerCapacities(): Promise<Map<string, { cu: number; writers: number }>> {
    const groups = await this.prisma.dataNode.groupBy({
      by: ['clusterId'],
      where: { state: 'attached', clusterId: { not: null } },
      _count: { _all: true },
      _sum: { cu: true },
    });
    return new Map(
      groups.map((group) => [
        group.clusterId as string,
        { cu: group._sum.cu ?? 0, writers: group._count._all },
      ]),
    );
  }

  /** Moves a data node from one of `from` to `to` with `data`; false if it was in no state of `from`. */
  async moveDataNode(
    id: string,
    from: readonly DataNodeState[],
    to: DataNodeState,
    data: Partial<
      Pick<DataNode, 'clusterId' | 'cu' | 'respPort' | 'adminPort' | 'pid' | 'instanceId' | 'attachedAt'>
    > = {},
  ): Promise<boolean> {
    const { count } = await this.prisma.dataNode.updateMany({
      where: { id, state: { in: [...from] } },
      data: { ...data, state: to },
    });
    return count === 1;
  }

  /** Claims one warm-pool process for a cluster (pool → attaching); null when the pool is empty. */
  async claimPoolNode(clusterId: string): Promise<DataNode | null> {
    // One statement: concurrent claims skip each other's row instead of racing for it.
    const claimed = await this.prisma.$queryRaw<DataNode[]>`
      UPDATE "DataNode" SET state = 'attaching', "clusterId" = ${clusterId}::uuid, "updatedAt" = now()
      WHERE id = (SELECT id FROM "DataNode" WHERE state = 'pool' ORDER BY "createdAt" LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING *`;
    return claimed[0] ?? null;
  }

  async countDataNodes(states: readonly DataNodeState[]): Promise<number> {
    return this.prisma.dataNode.count({ where: { state: { in: [...states] } } });
  }

  // ---- actions and volume deletions ----

  async recordAction(record: FleetActionRecord): Promise<void> {
    await this.prisma.fleetAction.create({ data: { ...record, clusterId: record.clusterId ?? null } });
  }

  recentActions(limit: number, clusterId?: string) {
    return this.prisma.fleetAction.findMany({
      where: clusterId === undefined ? {} : { clusterId },
      orderBy: { createdAt: 'desc' },
      take: limit,
    });
  }

  async volumeDeletionOwed(volume: string, storageNodeId: string): Promise<void> {
    await this.prisma.volumeDeletion.createMany({ data: [{ volume, storageNodeId }], skipDuplicates: true });
  }

  volumeDeletionsOwed() {
    return this.prisma.volumeDeletion.findMany({ orderBy: { createdAt: 'asc' }, take: 100 });
  }

  async volumeDeletionDone(volume: string, storageNodeId: string): Promise<void> {
    await this.prisma.volumeDeletion.deleteMany({ where: { volume, storageNodeId } });
  }
}
