// In-process notices about clusters: the REST side says a cluster changed (created, settings
// changed, deletion requested); the compute side acts on it and says when a deleted one is
// gone. Keeps the clusters module free of any dependency on compute.
import { EventEmitter } from 'node:events';
import { Injectable } from '@nestjs/common';

@Injectable()
export class ClusterChanges {
  private readonly events = new EventEmitter();

  constructor() {
    this.events.setMaxListeners(0);
  }

  changed(clusterId: string): void {
    this.events.emit('changed', clusterId);
  }

  onChange(listener: (clusterId: string) => void): void {
    this.events.on('changed', listener);
  }

  removed(clusterId: string): void {
    this.events.emit(`removed:${clusterId}`);
  }

  /** Resolves true once the cluster's row is removed, false after `timeoutMs`. */
  waitForRemoval(clusterId: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const onRemoved = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.events.off(`removed:${clusterId}`, onRemoved);
        resolve(false);
      }, timeoutMs);
      this.events.once(`removed:${clusterId}`, onRemoved);
    });
  }
}
