import { ConsoleLogger } from '@nestjs/common';

// Nest logs every module it loads and every route it maps at start; that buries the
// lines a user needs. They are kept when LOG_LEVEL=debug.
const startupChatter = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory']);

export class ControlPlaneLogger extends ConsoleLogger {
  private readonly showStartupChatter = process.env.LOG_LEVEL === 'debug';

  override log(message: unknown, context?: string): void {
    if (!this.showStartupChatter && context && startupChatter.has(context)) return;
    super.log(message, context);
  }
}
