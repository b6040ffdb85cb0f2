import { Module } from '@nestjs/common';
import { CertificateRenewal } from './certificate-renewal.service.js';

/** The platform's own TLS certificates, renewed while it runs. */
@Module({ providers: [CertificateRenewal], exports: [CertificateRenewal] })
export class TlsModule {}
