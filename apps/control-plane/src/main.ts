// The control plane process: REST API, OpenAPI, metrics. Started by `npm start`,
// which provides DATABASE_URL and REDIS_URL (see README for every variable).
import 'reflect-metadata';
import { accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { configureApp } from './app.setup.js';
import { writeAdminKeyFile } from './auth/admin-key-file.js';
import { ApiKeysService } from './auth/api-keys.service.js';
import { ControlPlaneLogger } from './common/logger.js';
import { ConfigError, ControlPlaneConfig, loadConfig } from './config/config.js';
import { databaseUnavailableReason } from './database/database-errors.js';
import { RoutesService } from './endpoints/routes.service.js';
import { FleetManager } from './fleet/fleet-manager.service.js';
import { serverNames } from './tls/certificate-plan.js';
import { ensurePlatformCertificates } from './tls/platform-certificates.js';

// Stopping the fleet (BOREALIS_FLEET_ON_EXIT=stop) drains writers: give it time.
const shutdownTimeoutMs = 45_000;
/** How long the banner waits for the proxy to open the existing clusters' endpoints. */
const ENDPOINTS_OPEN_WAIT_MS = 15_000;

/** Where the new admin key went: saved to the key file, or why not (then the banner is its only copy). */
type KeyFileOutcome = { saved: true } | { saved: false; reason: string };

function banner(
  config: ControlPlaneConfig,
  port: number,
  newAdminKey: string | null,
  keyFile: KeyFileOutcome,
  fleet: string[],
): string {
  const base = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  const where = keyFile.saved
    ? `saved to ${config.adminKeyFile}, mode 600`
    : `NOT saved: ${keyFile.reason}; copy it now`;
  const key = newAdminKey
    ? `Admin API key:  ${newAdminKey}\n                (shown once; ${where})`
    : `Admin API key:  in ${config.adminKeyFile} (new one: npm run admin:reset-key)`;
  return [
    '',
    'Borealis control plane is ready',
    `  REST API:     ${base}/v1/clusters`,
    `  OpenAPI:      ${base}/docs   (JSON: ${base}/docs-json)`,
    `  Health:       ${base}/health, ${base}/ready, metrics at ${base}/metrics`,
    ...fleet,
    `  ${key}`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  let config: ControlPlaneConfig;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`control-plane: ${error.message}\n`);
    process.exit(2);
  }
  // Before the fleet starts: the proxy reads the certificate once, when it starts; storage nodes
  // read theirs at start and look for a renewed one at their connections. The endpoints' first,
  // so that a CA it has to make again is the one the internal certificate is then made from.
  if (config.computeDriver !== 'none') {
    await prepareEndpointTls(config);
    await prepareInternalTls(config);
  }
  const app = await NestFactory.create(AppModule.forRoot(config), {
    bodyParser: false,
    logger: new ControlPlaneLogger(),
  });
  configureApp(app, config);

  const newAdminKey = await app.get(ApiKeysService).ensureBootstrapKey();
  let keyFile: KeyFileOutcome = { saved: true };
  if (newAdminKey) {
    try {
      writeAdminKeyFile(config.adminKeyFile, newAdminKey);
    } catch (error) {
      // The key exists only in this process now: losing it would need a reset, so print it anyway.
      keyFile = { saved: false, reason: error instanceof Error ? error.message : String(error) };
    }
  }

  // Not app.enableShutdownHooks(): it re-raises the signal after closing, so the process
  // would end "killed by SIGTERM" instead of exiting 0 after a clean shutdown.
  const logger = new Logger('control-plane');
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      // Ctrl-C of `npm start` reaches this process twice: from the terminal and from npm start.
      if (stopping) return;
      stopping = true;
      logger.log(`${signal} received: closing connections and stopping`);
      const forceExit = setTimeout(() => process.exit(1), shutdownTimeoutMs).unref();
      app.close().then(
        () => {
          clearTimeout(forceExit);
          process.exit(0);
        },
        (error: unknown) => {
          logger.error(`shutdown failed: ${String(error)}`);
          process.exit(1);
        },
      );
    });
  }

  await app.listen(config.port, config.host);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const fleet = app.get(FleetManager);
  await fleet.ready();
  if (fleet.enabled) {
    const closed = await app.get(RoutesService).waitUntilAllServing(ENDPOINTS_OPEN_WAIT_MS);
    if (closed.length > 0)
      logger.warn(
        `the endpoints of ${closed.join(', ')} are not accepting connections yet; see the proxy's log under ${config.dataDir}/logs`,
      );
  }
  process.stdout.write(`${banner(config, port, newAdminKey, keyFile, fleetLines(config, fleet))}\n`);
}

/**
 * The platform's own certificates are made on the first start and reused (made again when they
 * near their end); the user's are checked for being readable, so that a wrong path stops the start
 * here, with its name, rather than the proxy in a restart loop.
 */
async function prepareEndpointTls(config: ControlPlaneConfig): Promise<void> {
  const tls = config.endpointTls;
  if (tls === null) return;
  const logger = new Logger('TLS');
  if (tls.madeByPlatform) {
    try {
      const outcome = await ensurePlatformCertificates(
        dirname(tls.certFile),
        serverNames(config.endpointHost),
        new Date(),
      );
      if (outcome.make !== 'nothing')
        logger.log(
          `made ${outcome.make === 'server' ? 'a server certificate' : 'a local CA and a server certificate'} under ${dirname(tls.certFile)} (${outcome.reason})`,
        );
    } catch (error) {
      process.stderr.write(
        `control-plane: cannot make the endpoint certificates under ${dirname(tls.certFile)} (${String(error)}): check that the directory is writable, or give your own with BOREALIS_TLS_CERT_FILE and BOREALIS_TLS_KEY_FILE\n`,
      );
      process.exit(2);
    }
    return;
  }
  for (const [variable, file] of [
    ['BOREALIS_TLS_CERT_FILE', tls.certFile],
    ['BOREALIS_TLS_KEY_FILE', tls.keyFile],
    ['BOREALIS_TLS_CA_FILE', tls.caFile],
  ] as const) {
    if (file === null) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch {
      process.stderr.write(
        `control-plane: ${variable}=${file} cannot be read: point it at a PEM file this user can read\n`,
      );
      process.exit(2);
    }
  }
}

/**
 * The storage nodes' certificate (BOREALIS_INTERNAL_TLS=1, docs/adr/0014), from the platform's CA,
 * for the names writers and peers dial (the fleet host) and the local ones; made at the first start
 * with TLS, and again at a start when it has under 30 days left, lacks a name, or another CA
 * signed it. A failure stops the start: a fleet asked to encrypt its links must not run plain.
 */
async function prepareInternalTls(config: ControlPlaneConfig): Promise<void> {
  const tls = config.internalTls;
  if (tls === null) return;
  const directory = dirname(tls.certFile);
  try {
    const outcome = await ensurePlatformCertificates(
      directory,
      serverNames(config.fleetHost),
      new Date(),
      'internal',
    );
    if (outcome.make !== 'nothing')
      new Logger('TLS').log(
        `made ${outcome.make === 'server' ? "the storage nodes' certificate" : "a local CA and the storage nodes' certificate"} under ${directory} (${outcome.reason})`,
      );
  } catch (error) {
    process.stderr.write(
      `control-plane: cannot make the internal TLS certificate under ${directory} (${String(error)}): check that the directory is writable, or unset BOREALIS_INTERNAL_TLS\n`,
    );
    process.exit(2);
  }
}

/** How to reach the endpoints over TLS, for the banner. */
function tlsLines(config: ControlPlaneConfig): string[] {
  const tls = config.endpointTls;
  if (tls === null) return [];
  const host = config.endpointHost;
  const origin = tls.madeByPlatform
    ? 'made by this platform: trust it, or pass it to clients'
    : 'BOREALIS_TLS_CA_FILE';
  if (tls.caFile === null)
    return [`  TLS:          certificate ${tls.certFile}; clients connect with rediss://${host}:<port>`];
  return [
    `  TLS CA:       ${tls.caFile}   (${origin})`,
    `  TLS client:   redis-cli --tls --cacert ${tls.caFile} -h ${host} -p <port> -a <password>`,
  ];
}

/** Where the fleet's parts are, for the banner. */
function fleetLines(config: ControlPlaneConfig, fleet: FleetManager): string[] {
  if (!fleet.enabled) return ['  Compute:      none (COMPUTE_DRIVER=none): clusters get no writers'];
  const status = fleet.status();
  return [
    `  Endpoints:    ${config.endpointHost}:${config.endpointPortMin}-${config.endpointPortMax}, one port per cluster (proxy health at ${status.proxyAdminUrl ?? 'not running'}/health)`,
    `  Storage:      ${status.storageServing}/6 storage nodes serving: ${status.storageMembers}; GET /v1/storage-nodes`,
    `  Warm pool:    ${config.warmPoolSize} data nodes; fleet data, registry and logs under ${config.dataDir}`,
    ...tlsLines(config),
    ...(config.internalTls === null
      ? []
      : [`  Internal TLS: storage links over TLS 1.3, certificate ${config.internalTls.certFile}`]),
  ];
}

/** A start-up failure in one sentence that says what to do, when the cause is a known one. */
function startupFailure(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL') {
    return `cannot listen on ${process.env.HOST ?? '127.0.0.1'}:${process.env.PORT ?? 7400} (${code}): stop the process using it or set PORT/HOST`;
  }
  const databaseProblem = databaseUnavailableReason(error);
  if (databaseProblem) {
    return `cannot use the metadata database (${databaseProblem}): check that PostgreSQL runs and DATABASE_URL is right`;
  }
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

main().catch((error: unknown) => {
  new Logger('control-plane').error(startupFailure(error));
  process.exit(1);
});
