// What every cluster endpoint shares with the proxy: its settings, the password checker, the hold
// budget, the event publisher, the metrics, the TLS certificate, and the proxy-wide bound on client
// connections.
import type { PasswordChecker } from '../auth/password-checker.js';
import type { ProxyConfig } from '../config.js';
import type { EventPublisher } from '../events/event-publisher.js';
import type { HoldBudget } from '../hold/hold-budget.js';
import type { ProxyMetrics } from '../metrics/proxy-metrics.js';
import type { LoadedCertificate } from '../tls/certificate.js';

export interface ProxyContext {
  readonly config: ProxyConfig;
  readonly checker: PasswordChecker;
  readonly budget: HoldBudget;
  readonly events: EventPublisher;
  readonly metrics: ProxyMetrics;
  /** The certificate new TLS clients are served with (reloaded when its files change); null: none. */
  readonly certificate: (() => LoadedCertificate) | null;
  log(line: string): void;
  nextClientId(): number;
  /** Takes a place among the proxy's client connections; false when every place is taken. */
  admitClient(): boolean;
  releaseClient(): void;
}
