import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiAuthenticatedErrors } from '../common/api-error.responses.js';
import { uuidParam } from '../common/uuid-param.js';
import { ApiKeysService } from './api-keys.service.js';
import { AdminOnly } from './auth.decorators.js';
import { ApiKeyViewDto, CreatedApiKeyDto } from './dto/api-key.view.js';
import { CreateApiKeyDto } from './dto/create-api-key.dto.js';

class ApiKeyListDto {
  items!: ApiKeyViewDto[];
}

@ApiTags('api-keys')
@ApiAuthenticatedErrors()
@AdminOnly()
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @ApiOperation({ summary: 'Create an API key (admin only). The key is returned once.' })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  create(@Body() body: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    return this.apiKeys.create(body.name, body.role);
  }

  @Get()
  @ApiOperation({ summary: 'List API keys (admin only). Secrets are never listed.' })
  @ApiOkResponse({ type: ApiKeyListDto })
  async list(): Promise<{ items: ApiKeyViewDto[] }> {
    return { items: await this.apiKeys.list() };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke an API key (admin only). The last admin key cannot be revoked.' })
  @ApiNoContentResponse({ description: 'Revoked.' })
  async revoke(@Param('id', uuidParam('API key id')) id: string): Promise<void> {
    await this.apiKeys.revoke(id);
  }
}
