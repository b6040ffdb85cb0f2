// The platform's own server certificates renewed while it runs: the endpoints' (when the user
// brought none) and the storage nodes' (BOREALIS_INTERNAL_TLS=1). A start renews them too
// (main.ts); this covers a platform that runs for longer than a certificate lives. The proxy and
// the storage nodes look for renewed files at new connections, so a renewal reaches new clients
// and links without a restart, and open ones stay. A CA near its own end is only reported: every
// client and node trusts the CA it read at its start, so a new CA waits for a restart.
import { dirname } from 'node:path';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/config.js';
import { serverNames } from './certificate-plan.js';
import { ensurePlatformCertificates, type PlatformCertificate } from './platform-certificates.js';

/** How often the certificates are looked at; a renewal is due 30 days before the end. */
export const RENEWAL_CHECK_MS = 12 * 3_600_000;

@Injectable()
export class CertificateRenewal implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('TLS');
  private timer: NodeJS.Timeout | null = null;

  constructor(@Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig) {}

  onApplicationBootstrap(): void {
    if (this.config.computeDriver === 'none' || this.certificates().length === 0) return;
    this.timer = setInterval(() => void this.renewDue(new Date()), RENEWAL_CHECK_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }

  /** Renews what is due at `now`; returns what it made, by certificate. Failures are logged. */
  async renewDue(now: Date): Promise<Partial<Record<PlatformCertificate, string>>> {
    const made: Partial<Record<PlatformCertificate, string>> = {};
    for (const { certificate, directory, host } of this.certificates()) {
      try {
        const plan = await ensurePlatformCertificates(directory, serverNames(host), now, certificate, false);
        if (plan.make === 'server') {
          made[certificate] = plan.reason;
          this.logger.log(
            `renewed the ${certificate} certificate under ${directory} (${plan.reason}); new connections use it`,
          );
        } else if (plan.make === 'ca-and-server') {
          this.logger.warn(
            `the platform CA under ${directory} needs to be made again (${plan.reason}): restart the platform, then give clients the new ca.pem`,
          );
        }
      } catch (error) {
        this.logger.error(
          `could not renew the ${certificate} certificate under ${directory}: ${(error as Error).message}`,
        );
      }
    }
    return made;
  }

  /** The certificates this platform makes itself, and where. */
  private certificates(): { certificate: PlatformCertificate; directory: string; host: string }[] {
    const { endpointTls, internalTls } = this.config;
    return [
      ...(endpointTls?.madeByPlatform === true
        ? [
            {
              certificate: 'server' as const,
              directory: dirname(endpointTls.certFile),
              host: this.config.endpointHost,
            },
          ]
        : []),
      ...(internalTls !== null
        ? [
            {
              certificate: 'internal' as const,
              directory: dirname(internalTls.certFile),
              host: this.config.fleetHost,
            },
          ]
        : []),
    ];
  }
}
