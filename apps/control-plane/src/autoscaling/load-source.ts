import type { LoadSample } from './autoscaler-model.js';

/** Where the autoscaler reads a cluster's latest load (the cluster-metrics module provides it). */
export interface LoadSource {
  latest(clusterId: string, nowMs: number): LoadSample | null;
  /** Connections each cluster's endpoint holds (waiting for a resume), from fresh proxy reports. */
  heldConnections(nowMs: number): Map<string, number>;
}

export const LOAD_SOURCE = Symbol('LOAD_SOURCE');
