import { Logger, Module } from '@nestjs/common';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/config.js';
import { COMPUTE_DRIVER, type ComputeDriver, NoComputeDriver } from './compute-driver.js';
import { DataNodesService } from './data-nodes.service.js';
import { FleetRepository } from './fleet.repository.js';
import { FleetActionsController } from './fleet-actions.controller.js';
import { FleetActions } from './fleet-actions.js';
import { FleetManager } from './fleet-manager.service.js';
import { FleetSecretsController } from './fleet-secrets.controller.js';
import { FleetSecrets } from './fleet-secrets.service.js';
import { LocalDriver } from './local-driver.js';
import { NodeTokens } from './node-tokens.service.js';
import { ProxyService } from './proxy.service.js';
import { StorageFleetService } from './storage-fleet.service.js';
import { StorageNodesController } from './storage-nodes.controller.js';

function driverFor(config: ControlPlaneConfig, secrets: FleetSecrets, tokens: NodeTokens): ComputeDriver {
  if (config.computeDriver === 'none') return new NoComputeDriver();
  const logger = new Logger('LocalDriver');
  return new LocalDriver({
    dataDir: config.dataDir,
    host: config.fleetHost,
    redisUrl: config.redisUrl,
    redisPrefix: config.redisPrefix,
    capacityUnit: {
      commandsPerSecond: config.cuCommandsPerSecond,
      cacheBytes: config.cuCacheBytes,
      connections: config.cuConnections,
    },
    environment: process.env,
    proxyTls: config.endpointTls,
    log: (line) => logger.log(line),
    fleetSecretsFile: secrets.file,
    revocationsFile: secrets.revocationsFile,
    nodeToken: (role, id) => tokens.tokenFor(role, id),
    internalTls: config.internalTls,
  });
}

/** The compute fleet: storage nodes, data nodes (warm pool and writers), the proxy process. */
@Module({
  controllers: [StorageNodesController, FleetActionsController, FleetSecretsController],
  providers: [
    FleetSecrets,
    NodeTokens,
    {
      provide: COMPUTE_DRIVER,
      inject: [CONTROL_PLANE_CONFIG, FleetSecrets, NodeTokens],
      useFactory: driverFor,
    },
    FleetRepository,
    FleetActions,
    StorageFleetService,
    DataNodesService,
    ProxyService,
    FleetManager,
  ],
  exports: [FleetManager, DataNodesService, StorageFleetService, FleetRepository, FleetActions],
})
export class FleetModule {}
