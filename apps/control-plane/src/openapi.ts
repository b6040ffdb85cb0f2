import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Borealis control plane')
    .setDescription(
      'Create and manage Borealis database clusters. Every /v1 route needs `Authorization: Bearer <API key>`; ' +
        'viewer keys may only read. Errors share one body: { statusCode, error, message, details }.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key: brl_<prefix>_<secret>' })
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** Serves the OpenAPI document at /docs-json and an interactive page at /docs. */
export function serveOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
}
