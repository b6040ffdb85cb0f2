// The proxy process (apps/proxy): the endpoints of every cluster. Started with the platform,
// adopted after a control plane restart, restarted with backoff if it dies. It takes its
// routes from Redis, so it serves on while the control plane is down.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { COMPUTE_DRIVER, type ComputeDriver, type FleetInstance } from './compute-driver.js';
import { FleetActions } from './fleet-actions.js';

export const PROXY_ID = 'p1';
const RESTART_BACKOFF_MS_MIN = 250;
const RESTART_BACKOFF_MS_MAX = 10_000;
const STOP_GRACE_MS = 10_000;

@Injectable()
export class ProxyService {
  private readonly logger = new Logger('Proxy');
  private instance: FleetInstance | null = null;
  private backoffMs = RESTART_BACKOFF_MS_MIN;
  private restartTimer: NodeJS.Timeout | null = null;
  private stopping = false;

  constructor(
    private readonly actions: FleetActions,
    @Inject(COMPUTE_DRIVER) private readonly driver: ComputeDriver,
  ) {}

  /** Its admin URL (health, metrics), or null while it is not running. */
  get adminUrl(): string | null {
    return this.instance?.adminUrl ?? null;
  }

  async start(discovered: FleetInstance[]): Promise<void> {
    const running = discovered.find((instance) => instance.role === 'proxy' && instance.id === PROXY_ID);
    if (running !== undefined) {
      this.instance = running;
      return;
    }
    await this.launch('the platform started and it was not running').catch(() =>
      this.scheduleRestart('its first start failed'),
    );
  }

  proxyExited(instance: FleetInstance, reason: string): void {
    if (this.instance?.instanceId !== instance.instanceId) return;
    this.instance = null;
    this.logger.warn(`the proxy ${reason}; client connections to every endpoint were cut`);
    this.scheduleRestart(`it ${reason}`);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    const instance = this.instance;
    this.instance = null;
    if (instance === null) return;
    await this.actions
      .run(
        { action: 'stop-proxy', target: instance.id, reason: 'the control plane stops its fleet on exit' },
        () => this.driver.stop(instance, STOP_GRACE_MS),
      )
      .catch(() => undefined);
  }

  private async launch(reason: string): Promise<void> {
    const instance = await this.actions.run({ action: 'start-proxy', target: PROXY_ID, reason }, () =>
      this.driver.start({ role: 'proxy', id: PROXY_ID }),
    );
    if (this.stopping) {
      await this.driver.stop(instance, STOP_GRACE_MS);
      return;
    }
    this.instance = instance;
    this.backoffMs = RESTART_BACKOFF_MS_MIN;
  }

  private scheduleRestart(reason: string): void {
    if (this.stopping || this.restartTimer !== null) return;
    const delayMs = this.backoffMs;
    this.backoffMs = Math.min(RESTART_BACKOFF_MS_MAX, delayMs * 2);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.launch(`restart after ${delayMs} ms: ${reason}`).catch(() =>
        this.scheduleRestart('its restart failed'),
      );
    }, delayMs);
    this.restartTimer.unref();
  }
}
