import { Injectable } from '@nestjs/common';
import type { ScalingEvent } from '../../../../generated/prisma/client.js';
import type { PagePosition } from '../clusters/clusters.repository.js';
import { PrismaService } from '../database/prisma.service.js';

export interface CapacitySummary {
  cu: number;
  writers: number;
}

/** What kind of change a scaling event records. */
export type ScalingKind =
  | 'created'
  | 'scale-up'
  | 'scale-down'
  | 'scale-out'
  | 'scale-in'
  | 'resize'
  | 'pause'
  | 'resume'
  | 'failed';

export interface ScalingRecord {
  clusterId: string;
  kind: ScalingKind;
  from: CapacitySummary;
  to: CapacitySummary;
  reason: string;
  /** When the change was decided (ms since the epoch). */
  decidedAtMs: number;
  /** When the new capacity served; null when it did not take effect. */
  effectiveAtMs: number | null;
}

/** The kind of a capacity change from `from` to `to` (writers first: a scale-out may also grow CU). */
export function scalingKind(from: CapacitySummary, to: CapacitySummary): ScalingKind {
  if (to.writers > from.writers) return 'scale-out';
  if (to.writers < from.writers) return 'scale-in';
  if (to.cu > from.cu) return 'scale-up';
  if (to.cu < from.cu) return 'scale-down';
  return 'resize';
}

/** Every change of a cluster's capacity (created, paused, resumed, scaled), with why, when and how long it took. */
@Injectable()
export class ScalingEventsRepository {
  /**
   * The last `createdAt` this process gave an event. Pages are ordered by `createdAt`, and two
   * events recorded within one millisecond would otherwise tie and be ordered by their random ids:
   * each event recorded after another gets a later time, at most a millisecond ahead of the clock
   * per event recorded within that millisecond.
   */
  private lastCreatedAtMs = 0;

  constructor(private readonly prisma: PrismaService) {}

  async record(event: ScalingRecord): Promise<void> {
    const effectiveAt = event.effectiveAtMs === null ? null : new Date(event.effectiveAtMs);
    this.lastCreatedAtMs = Math.max(Date.now(), this.lastCreatedAtMs + 1);
    await this.prisma.scalingEvent
      .create({
        data: {
          createdAt: new Date(this.lastCreatedAtMs),
          clusterId: event.clusterId,
          kind: event.kind,
          fromCu: event.from.cu,
          toCu: event.to.cu,
          fromWriterCount: event.from.writers,
          toWriterCount: event.to.writers,
          reason: event.reason,
          decidedAt: new Date(event.decidedAtMs),
          effectiveAt,
          durationMs:
            event.effectiveAtMs === null
              ? null
              : Math.max(0, Math.round(event.effectiveAtMs - event.decidedAtMs)),
        },
      })
      // The cluster may have been deleted meanwhile (its events go with it).
      .catch(() => undefined);
  }

  /** A cluster's events, newest first, after `before` (a page position) when given. */
  page(clusterId: string, limit: number, before: PagePosition | null): Promise<ScalingEvent[]> {
    return this.prisma.scalingEvent.findMany({
      where: {
        clusterId,
        ...(before === null
          ? {}
          : {
              OR: [
                { createdAt: { lt: before.createdAt } },
                { createdAt: before.createdAt, id: { lt: before.id } },
              ],
            }),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit,
    });
  }
}
