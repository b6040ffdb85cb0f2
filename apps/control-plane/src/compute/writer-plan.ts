// How many writers a cluster should run and how large, as pure functions of its settings and
// the writers it has (DESIGN §1, §5): what provisioning, resuming and settings changes aim at.
import { capacityLimits } from '../clusters/cluster-rules.js';

export interface ClusterShape {
  mode: 'serverless' | 'provisioned';
  minCu: number | null;
  maxCu: number | null;
  provisionedWriterCount: number | null;
  cuPerWriter: number | null;
}

export interface WriterPlan {
  /** Writers the cluster should run. */
  count: number;
  /** Capacity each writer should have after this change, by writer index (new ones last). */
  cuOf(currentCu: number | null): number;
}

/** The capacity a serverless cluster starts or resumes at: its minimum, or half a CU at minimum 0. */
export function startingCu(shape: ClusterShape): number {
  const floor = Math.max(shape.minCu ?? 0, capacityLimits.stepCu);
  return Math.min(floor, shape.maxCu ?? floor, capacityLimits.cuPerWriterMax);
}

/**
 * What the cluster's writers should be. Provisioned: exactly its writer count and size.
 * Serverless: at least one writer; each keeps its size when within the cluster's range (the
 * autoscaler moves it), else it is brought into the range.
 */
export function planWriters(shape: ClusterShape, currentCount: number): WriterPlan {
  if (shape.mode === 'provisioned') {
    const cu = shape.cuPerWriter ?? capacityLimits.stepCu;
    return { count: shape.provisionedWriterCount ?? 1, cuOf: () => cu };
  }
  const low = startingCu(shape);
  const high = Math.min(Math.max(shape.maxCu ?? low, low), capacityLimits.cuPerWriterMax);
  return {
    count: Math.max(1, currentCount),
    cuOf: (currentCu) => (currentCu === null ? low : Math.min(high, Math.max(low, currentCu))),
  };
}
