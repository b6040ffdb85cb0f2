// Data-node (writer) process. Today it only serves a health endpoint; see ../ARCHITECTURE.md.
import { runHealthOnlyProcess } from '../../../libs/health/src/index.js';

void runHealthOnlyProcess({
  app: 'data-node',
  defaultHealthPort: 7701,
  // There is no attach step yet, so the process is always an unattached worker.
  details: () => ({ attachedCluster: null }),
});
