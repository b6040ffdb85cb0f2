import { Injectable } from '@nestjs/common';
import type { ApiKey, ApiKeyRole } from '../../../../generated/prisma/client.js';
import { digestSecret, digestsEqual } from '../../../../libs/secrets/src/index.js';
import { ApiError } from '../common/api-error.js';
import { newApiKey, type ParsedApiKey, parseApiKey } from './api-key-format.js';
import { ApiKeysRepository, type NewApiKeyRow } from './api-keys.repository.js';

export interface ApiKeyView {
  id: string;
  name: string;
  role: ApiKeyRole;
  /** Public part of the key, to recognise it in listings. */
  prefix: string;
  bootstrap: boolean;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface Principal {
  keyId: string;
  role: ApiKeyRole;
}

export const bootstrapKeyName = 'bootstrap-admin';

// lastUsedAt is informative; writing it on every request would double the database load.
const lastUsedResolutionMs = 60_000;

function bootstrapRow(generated: ParsedApiKey): NewApiKeyRow {
  return {
    name: bootstrapKeyName,
    role: 'admin',
    prefix: generated.prefix,
    secretHash: digestSecret(generated.secret),
    bootstrap: true,
  };
}

function toView(key: ApiKey): ApiKeyView {
  return {
    id: key.id,
    name: key.name,
    role: key.role,
    prefix: key.prefix,
    bootstrap: key.bootstrap,
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
  };
}

@Injectable()
export class ApiKeysService {
  constructor(private readonly keys: ApiKeysRepository) {}

  /** The principal a bearer token stands for, or null when it is not a live key. */
  async authenticate(token: string): Promise<Principal | null> {
    const parsed = parseApiKey(token);
    if (!parsed) return null;
    const key = await this.keys.findByPrefix(parsed.prefix);
    if (!key || !digestsEqual(key.secretHash, digestSecret(parsed.secret))) return null;
    const now = new Date();
    if (!key.lastUsedAt || now.getTime() - key.lastUsedAt.getTime() > lastUsedResolutionMs) {
      await this.keys.touch(key.id, now);
    }
    return { keyId: key.id, role: key.role };
  }

  async create(name: string, role: ApiKeyRole): Promise<ApiKeyView & { key: string }> {
    const generated = newApiKey();
    const row = await this.keys.create({
      name,
      role,
      prefix: generated.prefix,
      secretHash: digestSecret(generated.secret),
      bootstrap: false,
    });
    return { ...toView(row), key: generated.token };
  }

  async list(): Promise<ApiKeyView[]> {
    return (await this.keys.list()).map(toView);
  }

  async revoke(id: string): Promise<void> {
    const outcome = await this.keys.deleteUnlessLastAdmin(id);
    if (outcome === 'missing')
      throw ApiError.notFound(`API key ${id} does not exist; list keys with GET /v1/api-keys`);
    if (outcome === 'last-admin') {
      throw ApiError.conflict(
        'this is the last admin key: create another admin key first (POST /v1/api-keys), or run `npm run admin:reset-key`',
      );
    }
  }

  /** Creates the bootstrap admin key if none exists; returns its token only when it was just created. */
  async ensureBootstrapKey(): Promise<string | null> {
    const generated = newApiKey();
    const created = await this.keys.createBootstrapKeyIfNone(bootstrapRow(generated));
    return created ? generated.token : null;
  }

  /** Revokes the bootstrap key(s) and issues a new one; returns the new token. */
  async resetBootstrapKey(): Promise<string> {
    const generated = newApiKey();
    await this.keys.replaceBootstrapKey(bootstrapRow(generated));
    return generated.token;
  }
}
