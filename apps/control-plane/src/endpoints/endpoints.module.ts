import { Module } from '@nestjs/common';
import { ProxyEventsService } from './proxy-events.service.js';
import { RoutesService } from './routes.service.js';

/** Cluster endpoints: the routes the proxy serves, and what the proxy tells the control plane. */
@Module({
  providers: [RoutesService, ProxyEventsService],
  exports: [RoutesService, ProxyEventsService],
})
export class EndpointsModule {}
