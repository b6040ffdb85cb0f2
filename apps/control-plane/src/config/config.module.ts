import { DynamicModule, Global, Module } from '@nestjs/common';
import { CONTROL_PLANE_CONFIG, ControlPlaneConfig } from './config.js';

/** Makes the parsed configuration injectable everywhere under one token. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: ControlPlaneConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: CONTROL_PLANE_CONFIG, useValue: config }],
      exports: [CONTROL_PLANE_CONFIG],
    };
  }
}
