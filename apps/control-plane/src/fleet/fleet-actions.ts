import { Injectable, Logger } from '@nestjs/common';
import { FleetRepository } from './fleet.repository.js';

export interface ActionContext {
  /** What is done: `start-storage-node`, `attach`, `drain`, … */
  action: string;
  /** The process (or volume) it is done to. */
  target: string;
  /** Why, in words a person reading the record understands. */
  reason: string;
  clusterId?: string | null;
}

/**
 * Runs and records every fleet action: what, to what, why, how long it took and how it ended
 * (the FleetAction table, and one log line). A failure to record never fails the action.
 */
@Injectable()
export class FleetActions {
  private readonly logger = new Logger('Fleet');

  constructor(private readonly repository: FleetRepository) {}

  async run<T>(context: ActionContext, work: () => Promise<T>): Promise<T> {
    const startedAt = performance.now();
    try {
      const result = await work();
      this.record(context, startedAt, null);
      return result;
    } catch (error) {
      this.record(context, startedAt, error instanceof Error ? error.message : String(error));
      throw error;
    }
  }

  private record(context: ActionContext, startedAt: number, error: string | null): void {
    const durationMs = Math.round(performance.now() - startedAt);
    const line = `${context.action} ${context.target} (${context.reason}) ${error === null ? 'done' : 'failed'} in ${durationMs} ms${error === null ? '' : `: ${error}`}`;
    if (error === null) this.logger.log(line);
    else this.logger.warn(line);
    void this.repository
      .recordAction({ ...context, outcome: error === null ? 'ok' : 'failed', error, durationMs })
      .catch((cause: unknown) =>
        this.logger.warn(`could not record ${context.action} ${context.target}: ${String(cause)}`),
      );
  }
}
