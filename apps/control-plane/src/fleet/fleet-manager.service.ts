// Brings the fleet up with the control plane and down with it (unless told to keep it):
// processes left running by an earlier control plane are adopted first, then the storage
// fleet, the proxy and the warm pool are completed. Dispatches every process's end to the
// service that owns it, and observes the storage fleet for the API.
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/config.js';
import { COMPUTE_DRIVER, type ComputeDriver } from './compute-driver.js';
import { DataNodesService } from './data-nodes.service.js';
import { CREDENTIAL_RENEW_EVERY_MS } from './fleet-secrets.service.js';
import { ProxyService } from './proxy.service.js';
import { StorageFleetService } from './storage-fleet.service.js';

const OBSERVE_INTERVAL_MS = 5_000;
const READY_WAIT_ON_EXIT_MS = 5_000;

@Injectable()
export class FleetManager implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Fleet');
  private observeTimer: NodeJS.Timeout | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private readyPromise: Promise<void> | null = null;

  constructor(
    private readonly storage: StorageFleetService,
    private readonly dataNodes: DataNodesService,
    private readonly proxy: ProxyService,
    @Inject(COMPUTE_DRIVER) private readonly driver: ComputeDriver,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  /** False for a control plane that runs no fleet (COMPUTE_DRIVER=none). */
  get enabled(): boolean {
    return this.driver.name !== 'none';
  }

  status(): { proxyAdminUrl: string | null; storageServing: number; storageMembers: string } {
    return {
      proxyAdminUrl: this.proxy.adminUrl,
      storageServing: this.storage.serving(),
      storageMembers: this.storage.members,
    };
  }

  /** Resolves once the fleet has been brought up (adopted or started). */
  ready(): Promise<void> {
    return this.readyPromise ?? Promise.resolve();
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    const driver = this.driver;
    driver.onExit((instance, reason) => {
      if (instance.role === 'storage-node') this.storage.nodeExited(instance, reason);
      else if (instance.role === 'data-node') this.dataNodes.nodeExited(instance, reason);
      else this.proxy.proxyExited(instance, reason);
    });
    // In the background: the REST API serves while the fleet comes up.
    this.readyPromise = this.bringUp(driver).catch((error: unknown) => {
      this.logger.error(`the fleet did not come up: ${(error as Error).message}`);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.observeTimer !== null) clearInterval(this.observeTimer);
    if (this.renewTimer !== null) clearInterval(this.renewTimer);
    if (!this.enabled) return;
    // A fleet still coming up is stopped as far as it got; what is still starting, closing the
    // driver ends.
    await Promise.race([
      this.readyPromise,
      new Promise((resolve) => setTimeout(resolve, READY_WAIT_ON_EXIT_MS)),
    ]);
    if (this.config.fleetOnExit === 'stop') {
      this.logger.log('stopping the fleet (BOREALIS_FLEET_ON_EXIT=stop)');
      // Each part is stopped even if an earlier one failed: no process is left behind for a
      // failed write or an unreachable database.
      const parts: [string, () => Promise<void>][] = [
        ['the proxy', () => this.proxy.stop()],
        ['the data nodes', () => this.dataNodes.stopAll()],
        ['the storage nodes', () => this.storage.stopAll()],
      ];
      for (const [part, stop] of parts) {
        await stop().catch((error: unknown) =>
          this.logger.error(`could not stop ${part} cleanly: ${(error as Error).message}`),
        );
      }
    } else {
      this.logger.log(
        'leaving the fleet running (BOREALIS_FLEET_ON_EXIT=keep); the next control plane adopts it',
      );
    }
    await this.driver.close();
  }

  private async bringUp(driver: ComputeDriver): Promise<void> {
    const discovered = await driver.discover();
    if (discovered.length > 0)
      this.logger.log(`found ${discovered.length} fleet processes still running: adopting them`);
    await Promise.all([this.storage.start(discovered), this.proxy.start(discovered)]);
    await this.dataNodes.start(discovered);
    this.logger.log(
      `fleet up: ${this.storage.serving()}/6 storage nodes (${this.storage.members}), proxy at ${this.proxy.adminUrl ?? 'not running'}, warm pool of ${this.config.warmPoolSize} filling`,
    );
    this.observeTimer = setInterval(() => {
      void this.storage.observe().catch(() => undefined);
      void this.storage.retryOwedDeletions().catch(() => undefined);
    }, OBSERVE_INTERVAL_MS);
    this.observeTimer.unref();
    this.renewTimer = setInterval(() => {
      void this.dataNodes.renewCredentials('hourly renewal').catch(() => undefined);
    }, CREDENTIAL_RENEW_EVERY_MS);
    this.renewTimer.unref();
  }
}
