import { SetMetadata } from '@nestjs/common';

export const PUBLIC_ROUTE = 'borealis:public-route';
export const ADMIN_ONLY = 'borealis:admin-only';

/** The route needs no API key (health, readiness, docs, metrics). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** Even reading the route needs an admin key. */
export const AdminOnly = () => SetMetadata(ADMIN_ONLY, true);
