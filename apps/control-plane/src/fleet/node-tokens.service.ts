// Node tokens (docs/security.md): every data node and storage node the fleet manager starts gets
// a token of its own for its admin API, derived from one key made at the first start and kept
// beside the platform's data with mode 600: token = HMAC-SHA256(key, "<role>:<id>") in hex.
// Fleet processes outlive the control plane (ADR 0006): a restarted control plane recomputes the
// token of every process it adopts from the key, without storing or reading any token. Tokens
// reach a process in its environment and the control plane's calls in a header; none is logged.
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { readRequiredPrivateFile } from '../../../../libs/secrets/src/index.js';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/config.js';
import type { FleetInstance, FleetRole } from './compute-driver.js';
import type { NodeAdminTarget } from './node-admin-client.js';

/** The key file's name under the data directory. */
export const NODE_TOKEN_KEY_FILE = 'node-token-key';
const KEY_BYTES = 32;

/** The token of the process `id` of `role`: what it is started with and what its callers send. */
export function nodeToken(key: Buffer, role: FleetRole, id: string): string {
  return createHmac('sha256', key).update(`${role}:${id}`, 'utf8').digest('hex');
}

/** Reads the key; throws a message that says what to fix (mode, content). */
export function readNodeTokenKey(file: string): Buffer {
  const text = readRequiredPrivateFile(file, 'node-token key').trim();
  if (!new RegExp(`^[0-9a-f]{${KEY_BYTES * 2}}$`).test(text)) {
    throw new Error(
      `the node-token key ${file} is not ${KEY_BYTES * 2} hex digits: restore it, or delete it and restart ` +
        'the fleet processes with the control plane (a new key gives every process a new token)',
    );
  }
  return Buffer.from(text, 'hex');
}

/**
 * Makes the key file with mode 600 unless it exists. Written aside and linked into place: two
 * control planes starting at once over one data directory end up with the same key.
 * Returns whether this call made it.
 */
export function makeNodeTokenKey(file: string): boolean {
  if (existsSync(file)) return false;
  mkdirSync(dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, `${randomBytes(KEY_BYTES).toString('hex')}\n`, { mode: 0o600 });
  // The umask may only take bits away; this makes the mode exactly 600 whatever it is.
  chmodSync(partial, 0o600);
  try {
    linkSync(partial, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(partial);
  }
}

@Injectable()
export class NodeTokens {
  private readonly logger = new Logger('NodeTokens');
  /** `<data dir>/node-token-key`. */
  readonly file: string;
  private readonly key: Buffer;

  constructor(@Inject(CONTROL_PLANE_CONFIG) config: ControlPlaneConfig) {
    this.file = resolve(config.dataDir, NODE_TOKEN_KEY_FILE);
    if (makeNodeTokenKey(this.file)) this.logger.log(`made the node-token key (${this.file}, mode 600)`);
    // Fails the start with a message that says what to fix.
    this.key = readNodeTokenKey(this.file);
  }

  /** The token of the process `id` of `role`. */
  tokenFor(role: FleetRole, id: string): string {
    return nodeToken(this.key, role, id);
  }

  /** Where and with what token to call an instance's admin API. */
  targetOf(instance: FleetInstance): NodeAdminTarget {
    return { adminUrl: instance.adminUrl, token: this.tokenFor(instance.role, instance.id) };
  }
}
