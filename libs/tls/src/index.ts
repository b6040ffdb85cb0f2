export {
  CA_VALIDITY_DAYS,
  type CertificateFacts,
  canonicalAddress,
  createCertificateAuthority,
  createServerCertificate,
  describeCertificate,
  isSignedBy,
  type PemPair,
  SERVER_VALIDITY_DAYS,
} from './certificates.js';
