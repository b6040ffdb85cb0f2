// Proxy process. Today it only serves a health endpoint; see ../ARCHITECTURE.md.
import { runHealthOnlyProcess } from '../../../libs/health/src/index.js';

void runHealthOnlyProcess({
  app: 'proxy',
  defaultHealthPort: 7601,
  // No cluster endpoints are served yet, so the count is a constant 0.
  details: () => ({ endpoints: 0 }),
});
