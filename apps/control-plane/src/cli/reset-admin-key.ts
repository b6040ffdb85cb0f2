// `npm run admin:reset-key`: revokes the bootstrap admin key and issues a new one,
// for when .data/admin.key is lost or leaked. Other API keys are not touched.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { writeAdminKeyFile } from '../auth/admin-key-file.js';
import { ApiKeysService } from '../auth/api-keys.service.js';
import { ApiKeysStoreModule } from '../auth/api-keys-store.module.js';
import { configDefaults } from '../config/config.js';
import { DatabaseModule } from '../database/database.module.js';

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    process.stderr.write(
      'DATABASE_URL is not set: run this through `npm run admin:reset-key`, which provides it\n',
    );
    process.exit(2);
  }
  const adminKeyFile = process.env.ADMIN_KEY_FILE?.trim() || configDefaults.adminKeyFile;

  @Module({ imports: [DatabaseModule.forRoot(databaseUrl), ApiKeysStoreModule] })
  class ResetAdminKeyModule {}

  const context = await NestFactory.createApplicationContext(ResetAdminKeyModule, {
    logger: ['error', 'warn'],
  });
  try {
    const token = await context.get(ApiKeysService).resetBootstrapKey();
    writeAdminKeyFile(adminKeyFile, token);
    process.stdout.write(
      `New admin API key (the previous bootstrap key no longer works):\n  ${token}\nSaved to ${adminKeyFile} (mode 600).\n`,
    );
  } finally {
    await context.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`admin:reset-key failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
