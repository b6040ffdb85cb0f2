import { Injectable } from '@nestjs/common';
import type { ApiKey, ApiKeyRole } from '../../../../generated/prisma/client.js';
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

  hasBootstrapKey(): Promise<boolean> {
    return this.prisma.apiKey.count({ where: { bootstrap: true } }).then((count) => count > 0);
  }

  /** Deletes the key unless it is the last admin key; both checked in one serializable transaction. */
  async deleteUnlessLastAdmin(id: string): Promise<'deleted' | 'missing' | 'last-admin'> {
    return this.prisma.$transaction(
      async (tx) => {
        const key = await tx.apiKey.findUnique({ where: { id } });
        if (!key) return 'missing';
        if (key.role === 'admin' && (await tx.apiKey.count({ where: { role: 'admin' } })) <= 1)
          return 'last-admin';
        await tx.apiKey.delete({ where: { id } });
        return 'deleted';
      },
      { isolationLevel: 'Serializable' },
    );
  }

  /** Replaces every bootstrap key by `row` atomically. */
  async replaceBootstrapKey(row: NewApiKeyRow): Promise<ApiKey> {
    return this.prisma.$transaction(async (tx) => {
      await tx.apiKey.deleteMany({ where: { bootstrap: true } });
      return tx.apiKey.create({ data: row });
    });
  }

  touch(id: string, at: Date): Promise<unknown> {
    return this.prisma.apiKey.updateMany({ where: { id }, data: { lastUsedAt: at } });
  }
}
