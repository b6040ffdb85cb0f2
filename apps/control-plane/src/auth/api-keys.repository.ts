import { Injectable } from '@nestjs/common';
import type { ApiKey, ApiKeyRole, Prisma } from '../../../../generated/prisma/client.js';
import { PrismaService } from '../database/prisma.service.js';

export interface NewApiKeyRow {
  name: string;
  role: ApiKeyRole;
  prefix: string;
  secretHash: string;
  bootstrap: boolean;
}

@Injectable()
export class ApiKeysRepository {
  constructor(private readonly prisma: PrismaService) {}

  findByPrefix(prefix: string): Promise<ApiKey | null> {
    return this.prisma.apiKey.findUnique({ where: { prefix } });
  }

  findById(id: string): Promise<ApiKey | null> {
    return this.prisma.apiKey.findUnique({ where: { id } });
  }

  list(): Promise<ApiKey[]> {
    return this.prisma.apiKey.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  }

  create(row: NewApiKeyRow): Promise<ApiKey> {
    return this.prisma.apiKey.create({ data: row });
  }

  /** Deletes the key unless it is the last admin key. */
  deleteUnlessLastAdmin(id: string): Promise<'deleted' | 'missing' | 'last-admin'> {
    return this.withKeysLocked(async (tx) => {
      const key = await tx.apiKey.findUnique({ where: { id } });
      if (!key) return 'missing';
      if (key.role === 'admin' && (await tx.apiKey.count({ where: { role: 'admin' } })) <= 1)
        return 'last-admin';
      await tx.apiKey.delete({ where: { id } });
      return 'deleted';
    });
  }

  /** Creates `row` as the bootstrap key unless one exists; returns whether it did. */
  createBootstrapKeyIfNone(row: NewApiKeyRow): Promise<boolean> {
    return this.withKeysLocked(async (tx) => {
      if ((await tx.apiKey.count({ where: { bootstrap: true } })) > 0) return false;
      await tx.apiKey.create({ data: row });
      return true;
    });
  }

  /** Replaces every bootstrap key by `row`. */
  replaceBootstrapKey(row: NewApiKeyRow): Promise<ApiKey> {
    return this.withKeysLocked(async (tx) => {
      await tx.apiKey.deleteMany({ where: { bootstrap: true } });
      return tx.apiKey.create({ data: row });
    });
  }

  /**
   * Runs `work` in a transaction holding one advisory lock for the whole key set: checks
   * such as "is this the last admin key?" and "is there a bootstrap key yet?" then hold
   * even when two requests or two control planes race (two revokes of the last two admin
   * keys, two first starts).
   */
  private withKeysLocked<T>(work: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('borealis.api_keys'))`;
      return work(tx);
    });
  }

  touch(id: string, at: Date): Promise<unknown> {
    return this.prisma.apiKey.updateMany({ where: { id }, data: { lastUsedAt: at } });
  }
}
