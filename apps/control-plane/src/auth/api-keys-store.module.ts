import { Module } from '@nestjs/common';
import { ApiKeysRepository } from './api-keys.repository.js';
import { ApiKeysService } from './api-keys.service.js';

/** Storing and checking API keys, without HTTP: shared by the REST API and the admin CLI. */
@Module({ providers: [ApiKeysRepository, ApiKeysService], exports: [ApiKeysService] })
export class ApiKeysStoreModule {}
