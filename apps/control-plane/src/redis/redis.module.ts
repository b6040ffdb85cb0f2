import { DynamicModule, Global, Module } from '@nestjs/common';
import { REDIS_URL, RedisService } from './redis.service.js';

@Global()
@Module({})
export class RedisModule {
  static forRoot(redisUrl: string): DynamicModule {
    return {
      module: RedisModule,
      providers: [{ provide: REDIS_URL, useValue: redisUrl }, RedisService],
      exports: [RedisService, REDIS_URL],
    };
  }
}
