// API keys look like `brl_<prefix>_<secret>`: the prefix finds the stored row (and is
// safe to show in listings and logs), the secret is only ever stored as a digest.
import { randomBytes } from 'node:crypto';
import { generateSecret } from '../../../../libs/secrets/src/index.js';

const keyPattern = /^brl_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface ParsedApiKey {
  prefix: string;
  secret: string;
}

export function newApiKey(): ParsedApiKey & { token: string } {
  const prefix = randomBytes(6).toString('hex');
  const secret = generateSecret(32);
  return { prefix, secret, token: `brl_${prefix}_${secret}` };
}

export function parseApiKey(token: string): ParsedApiKey | null {
  const match = keyPattern.exec(token);
  return match?.[1] && match[2] ? { prefix: match[1], secret: match[2] } : null;
}

/** Extracts the token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}
