// The fleet secret (docs/security.md): made at the first start, kept beside the platform's data
// with mode 600, read by every storage node (never by data nodes), and the key every writer
// credential is minted under. A rotation puts a new secret first while the old one is still
// accepted, renews every writer's credential under the new one on its open links, then retires
// the old one: no link drops, no command fails.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Inject, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import {
  type FleetSecret,
  firstAcceptedExpiry,
  fleetSecret,
  mintWriterCredential,
  newFleetSecretKey,
  readFleetSecretsFile,
  readRevocationsFile,
  revocationList,
  type WriterCredential,
  writeFleetSecretsFile,
  writeRevocationsFile,
} from '../../../../libs/wire/src/index.js';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/config.js';

/**
 * A writer credential lives a week: the data plane keeps serving that long with the control
 * plane down (a storage node that restarts meanwhile still lets its writers back in). Writers
 * get a fresh one every hour.
 */
export const CREDENTIAL_TTL_MS = 7 * 24 * 3_600_000;
export const CREDENTIAL_RENEW_EVERY_MS = 3_600_000;
/**
 * Storage nodes reread the secrets file at most once a second (at a handshake): after a change,
 * the rotation waits this long before it relies on the nodes knowing it.
 */
const NODES_RELOAD_MS = 1_500;

@Injectable()
export class FleetSecrets {
  private readonly logger = new Logger('FleetSecrets');
  /** The secrets file every storage node reads (BOREALIS_FLEET_SECRETS_FILE). */
  readonly file: string;
  /** Writer credentials revoked before their expiry (BOREALIS_REVOKED_CREDENTIALS_FILE). */
  readonly revocationsFile: string;

  constructor(@Inject(CONTROL_PLANE_CONFIG) config: ControlPlaneConfig) {
    this.file = resolve(config.dataDir, 'fleet-secrets');
    this.revocationsFile = resolve(config.dataDir, 'revoked-credentials');
    if (!existsSync(this.file)) {
      mkdirSync(dirname(this.file), { recursive: true });
      writeFleetSecretsFile(this.file, [fleetSecret(newFleetSecretKey())]);
      this.logger.log(`made the fleet secret (${this.file}, mode 600)`);
    }
    // Fails the start with a message that says what to fix (mode, content).
    readFleetSecretsFile(this.file);
    readRevocationsFile(this.revocationsFile);
  }

  private secrets(): FleetSecret[] {
    return readFleetSecretsFile(this.file);
  }

  /** A credential for a writer of `volume`: its storage links prove it, it grants nothing else. */
  credentialFor(clusterId: string, volume: string, coordinatorId: number): WriterCredential {
    // A revocation of this pair (the process was detached before, and now attaches to the same
    // volume again) covers credentials expiring up to its time: this one must expire later.
    const revoked = revocationList(readRevocationsFile(this.revocationsFile));
    return mintWriterCredential(this.secrets()[0] as FleetSecret, {
      cluster: clusterId,
      volume,
      coordinatorId,
      expiresAtMs: Math.max(
        Date.now() + CREDENTIAL_TTL_MS,
        firstAcceptedExpiry(revoked, volume, coordinatorId),
      ),
    });
  }

  /**
   * Revokes every credential minted so far for a writer of `volume` (docs/security.md): storage
   * nodes close its links within a second and refuse them from then on. Called when a writer
   * leaves its cluster; entries whose credentials have all expired are dropped here.
   */
  revoke(volume: string, coordinatorId: number): void {
    const nowMs = Date.now();
    const kept = readRevocationsFile(this.revocationsFile).filter(
      (revocation) => revocation.expiresAtMsAtMost > nowMs,
    );
    kept.push({ volume, coordinatorId, expiresAtMsAtMost: nowMs + CREDENTIAL_TTL_MS });
    writeRevocationsFile(this.revocationsFile, kept);
    this.logger.log(`revoked the credentials of writer ${coordinatorId} for volume ${volume}`);
  }

  /**
   * Rotates the secret: the new one current and the old ones accepted, then `renewWriters`
   * (every writer's credential under the new one), then only the new one.
   */
  async rotate(renewWriters: () => Promise<{ renewed: number; failed: string[] }>): Promise<{
    current: string;
    retired: string[];
    writersRenewed: number;
  }> {
    const old = this.secrets();
    const fresh = fleetSecret(newFleetSecretKey());
    writeFleetSecretsFile(this.file, [fresh, ...old]);
    this.logger.log(
      `fleet secret rotation: ${fresh.id} is current, ${old.map((s) => s.id).join(', ')} still accepted`,
    );
    await new Promise((resolve) => setTimeout(resolve, NODES_RELOAD_MS));
    const { renewed, failed } = await renewWriters();
    if (failed.length > 0) {
      // Retiring the old secret now would cut these writers off at their next reconnect.
      throw new ServiceUnavailableException(
        `could not renew the credentials of ${failed.join(', ')}: the old fleet secret stays accepted; ` +
          'rotate again once those writers answer',
      );
    }
    writeFleetSecretsFile(this.file, [fresh]);
    this.logger.log(`fleet secret rotation done: ${fresh.id} only (${renewed} writers renewed)`);
    return { current: fresh.id, retired: old.map((secret) => secret.id), writersRenewed: renewed };
  }
}
