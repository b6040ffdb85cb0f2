// A cluster's route (docs/adr/0006): what the proxy needs to serve its endpoint. Pure: built
// from the cluster's row and its writers.
import type { Cluster, ClusterState, DataNode } from '../../../../generated/prisma/client.js';
import type { ClusterRoute, RouteMode } from '../../../../libs/routes/src/index.js';

function modeOf(state: ClusterState): RouteMode {
  if (state === 'pausing') return 'pausing';
  if (state === 'paused' || state === 'resuming') return 'paused';
  return 'open';
}

/**
 * The route of `cluster` at `version`: only attached writers with a RESP port take traffic, each
 * with its CU (the proxy spreads sessions in proportion).
 */
export function routeOf(cluster: Cluster, writers: DataNode[], version: number): ClusterRoute {
  const mode = modeOf(cluster.state);
  return {
    clusterId: cluster.id,
    name: cluster.name,
    port: cluster.endpointPort,
    passwordHash: cluster.dataPasswordHash,
    writerPassword: cluster.writerPassword,
    version,
    mode,
    tls: cluster.tls,
    writers:
      mode === 'paused'
        ? []
        : writers
            .filter((writer) => writer.state === 'attached' && writer.respPort !== null)
            .map((writer) => ({
              id: writer.id,
              host: writer.host,
              port: writer.respPort as number,
              cu: writer.cu ?? 1,
            })),
  };
}
