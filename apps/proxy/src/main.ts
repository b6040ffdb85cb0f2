// Proxy process: every cluster's endpoint, from routes in Redis. See ../ARCHITECTURE.md.
import {
  exitWithError,
  exitWithParentIfAsked,
  type HealthServer,
  healthUrl,
  onShutdown,
  startHealthServer,
  writeRegistryEntry,
} from '../../../libs/health/src/index.js';
import { type ProxyConfig, readConfig } from './config.js';
import { ProxyServer } from './proxy.js';
import { type LoadedCertificate, watchCertificate } from './tls/certificate.js';

const APP = 'proxy';

async function main(): Promise<void> {
  exitWithParentIfAsked();
  let config: ProxyConfig;
  try {
    config = readConfig(process.env);
  } catch (cause) {
    return exitWithError(APP, (cause as Error).message, 2);
  }
  const label = `proxy ${config.proxyId}`;
  const log = (line: string) => console.log(`${label}: ${line}`);
  let certificate: (() => LoadedCertificate) | null;
  try {
    certificate = config.tls === null ? null : watchCertificate(config.tls, log, config.tlsReloadCheckMs);
  } catch (cause) {
    return exitWithError(APP, (cause as Error).message, 2);
  }
  const served = certificate?.() ?? null;
  log(
    served === null
      ? 'no TLS certificate (BOREALIS_TLS_CERT_FILE unset): TLS clients are refused'
      : `TLS with ${served.subject} (${served.names}), valid to ${served.validTo}`,
  );
  const proxy = new ProxyServer(config, log, certificate);
  const { registry } = proxy.context.metrics;
  let admin: HealthServer;
  try {
    // GET /health (routes, connections, held commands per cluster) and GET /metrics (Prometheus).
    admin = await startHealthServer({
      app: APP,
      host: config.host,
      port: config.healthPort,
      details: () => proxy.describe(),
      routes: [
        {
          method: 'GET',
          path: /^\/metrics$/,
          summary: 'GET /metrics',
          handle: async () => ({
            statusCode: 200,
            body: await registry.metrics(),
            contentType: registry.contentType,
          }),
        },
      ],
    });
  } catch (cause) {
    return exitWithError(APP, (cause as Error).message, 1);
  }
  proxy.start();
  onShutdown(async () => {
    proxy.close();
    await admin.close();
  }, log);
  await writeRegistryEntry({ app: APP, id: config.proxyId, host: config.host, adminPort: admin.port });
  console.log(`${label} health at ${healthUrl(config.host, admin.port)}`);
}

void main().catch((cause: unknown) => exitWithError(APP, (cause as Error).message, 1));
