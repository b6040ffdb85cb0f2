// Runs the real control plane in the test process: the same modules and HTTP stack as
// `main.ts`, built with @nestjs/testing, listening on a free loopback port, over a
// real PostgreSQL database and a real Redis.
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../apps/control-plane/src/app.module.js';
import { configureApp } from '../../apps/control-plane/src/app.setup.js';
import { ApiKeysService } from '../../apps/control-plane/src/auth/api-keys.service.js';
import { ControlPlaneConfig, configDefaults } from '../../apps/control-plane/src/config/config.js';
import { createTestDatabase, TestDatabase } from './database.js';
import { testEnvironment } from './environment.js';
import { ApiClient } from './http-client.js';

export interface RunningControlPlane {
  app: INestApplication;
  config: ControlPlaneConfig;
  /** A client holding the bootstrap admin key. */
  admin: ApiClient;
  baseUrl: string;
  close(): Promise<void>;
}

export function testConfig(
  databaseUrl: string,
  overrides: Partial<ControlPlaneConfig> = {},
): ControlPlaneConfig {
  return {
    ...configDefaults,
    port: 0,
    databaseUrl,
    redisUrl: testEnvironment.redisUrl(),
    adminKeyFile: '/dev/null',
    // The REST API alone: these tests run no fleet (the end-to-end tests run the real one).
    computeDriver: 'none',
    ...overrides,
  };
}

export async function startControlPlane(config: ControlPlaneConfig): Promise<RunningControlPlane> {
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
  const app = moduleRef.createNestApplication({ bodyParser: false, logger: ['error'] });
  configureApp(app, config);
  await app.listen(0, '127.0.0.1');
  const adminKey =
    (await app.get(ApiKeysService).ensureBootstrapKey()) ??
    (await app.get(ApiKeysService).resetBootstrapKey());
  const address = app.getHttpServer().address();
  const baseUrl = `http://127.0.0.1:${address.port}`;
  return { app, config, admin: new ApiClient(baseUrl, adminKey), baseUrl, close: () => app.close() };
}

/** A control plane over a fresh database of its own; `close` also drops the database. */
export async function startIsolatedControlPlane(
  overrides: Partial<ControlPlaneConfig> = {},
): Promise<RunningControlPlane & { database: TestDatabase }> {
  const database = await createTestDatabase();
  const running = await startControlPlane(testConfig(database.url, overrides));
  return {
    ...running,
    database,
    close: async () => {
      await running.close();
      await database.drop();
    },
  };
}
