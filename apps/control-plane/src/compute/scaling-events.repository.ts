import { Injectable } from '@nestjs/common';
import { PrismaService } from '../database/prisma.service.js';

export interface CapacitySummary {
  cu: number;
  writers: number;
}

/** Every change of a cluster's capacity (created, paused, resumed, resized), with why and how long it took. */
@Injectable()
export class ScalingEventsRepository {
  constructor(private readonly prisma: PrismaService) {}

  async record(
    clusterId: string,
    from: CapacitySummary,
    to: CapacitySummary,
    reason: string,
    durationMs: number,
  ): Promise<void> {
    await this.prisma.scalingEvent
      .create({
        data: {
          clusterId,
          fromCu: from.cu,
          toCu: to.cu,
          fromWriterCount: from.writers,
          toWriterCount: to.writers,
          reason,
          durationMs,
        },
      })
      // The cluster may have been deleted meanwhile (its events go with it).
      .catch(() => undefined);
  }
}
