// How many writers a cluster should run and how large, as pure functions of its settings and
// the writers it has (DESIGN §1, §5): what provisioning, resuming, settings changes and the
// autoscaler's decisions aim at.
import { capacityLimits, serverlessDefaults } from '../clusters/cluster-rules.js';

export interface ClusterShape {
  mode: 'serverless' | 'provisioned';
  minCu: number | null;
  maxCu: number | null;
  provisionedWriterCount: number | null;
  cuPerWriter: number | null;
  cuPerWriterMax: number | null;
}

export interface WriterPlan {
  /** Writers the cluster should run. */
  count: number;
  /** Capacity of each writer, by position (the writers it keeps first, new ones last). */
  sizes: number[];
}

/** The largest writer of a serverless cluster: its setting, within what one process may hold. */
export function writerCuMax(shape: ClusterShape): number {
  return Math.min(shape.cuPerWriterMax ?? serverlessDefaults.cuPerWriterMax, capacityLimits.cuPerWriterMax);
}

/** The least capacity an awake serverless cluster runs: its minimum, or half a CU at minimum 0. */
export function floorCu(range: { minCu: number | null; maxCu: number | null }): number {
  return Math.min(Math.max(range.minCu ?? 0, capacityLimits.stepCu), range.maxCu ?? Number.POSITIVE_INFINITY);
}

/** The capacity a serverless cluster starts or resumes at: its floor. */
export function startingCu(shape: ClusterShape): number {
  return floorCu(shape);
}

/**
 * How `totalCu` (a multiple of 0.5) is spread over writers of at most `cuPerWriterMax` each:
 * as few writers as hold it, sizes as equal as steps of 0.5 allow, larger first. 2.5 at 1 →
 * [1, 1, 0.5]; 10 at 8 → [5, 5].
 */
export function writerLayout(totalCu: number, cuPerWriterMax: number): number[] {
  const step = capacityLimits.stepCu;
  const steps = Math.max(1, Math.round(totalCu / step));
  const count = Math.max(1, Math.ceil(steps / Math.max(1, Math.floor(cuPerWriterMax / step))));
  const base = Math.floor(steps / count);
  const larger = steps - base * count;
  return Array.from({ length: count }, (_, index) => (base + (index < larger ? 1 : 0)) * step);
}

/** The writers of a serverless cluster running `totalCu`, brought into its range. */
export function planCapacity(shape: ClusterShape, totalCu: number): WriterPlan {
  const total = Math.min(Math.max(totalCu, floorCu(shape)), shape.maxCu ?? totalCu);
  const sizes = writerLayout(total, writerCuMax(shape));
  return { count: sizes.length, sizes };
}

/**
 * What the cluster's writers should be. Provisioned: exactly its writer count and size.
 * Serverless: the capacity it runs now (the autoscaler moves it), or its floor when it runs
 * none, brought into its range and laid out over writers of at most `cuPerWriterMax`.
 */
export function planWriters(shape: ClusterShape, currentSizes: readonly (number | null)[]): WriterPlan {
  if (shape.mode === 'provisioned') {
    const count = shape.provisionedWriterCount ?? 1;
    const cu = shape.cuPerWriter ?? capacityLimits.stepCu;
    return { count, sizes: Array.from({ length: count }, () => cu) };
  }
  const total = currentSizes.reduce<number>((sum, cu) => sum + (cu ?? 0), 0);
  return planCapacity(shape, total > 0 ? total : startingCu(shape));
}
