import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ApiError } from '../common/api-error.js';
import { bearerToken } from './api-key-format.js';
import { ApiKeysService, Principal } from './api-keys.service.js';
import { ADMIN_ONLY, PUBLIC_ROUTE } from './auth.decorators.js';

const readMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

export type AuthenticatedRequest = Request & { principal?: Principal };

/** Every route needs `Authorization: Bearer <key>` unless marked @Public; viewer keys only read. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeysService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;

    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const token = bearerToken(request.headers.authorization);
    if (!token) {
      throw new ApiError(
        401,
        'missing API key: send the header `Authorization: Bearer <key>` (the admin key is in .data/admin.key)',
      );
    }
    const principal = await this.apiKeys.authenticate(token);
    if (!principal) {
      throw new ApiError(
        401,
        'API key is not valid or was revoked: use a current key, or issue a new admin key with `npm run admin:reset-key`',
      );
    }
    request.principal = principal;
    if (principal.role === 'admin') return true;
    if (this.reflector.getAllAndOverride<boolean>(ADMIN_ONLY, targets)) {
      throw new ApiError(403, 'this route needs an admin API key; the key you sent has the viewer role');
    }
    if (!readMethods.has(request.method)) {
      throw new ApiError(403, 'viewer API keys can only read: use an admin API key to make changes');
    }
    return true;
  }
}
