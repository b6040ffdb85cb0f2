// The proxy's certificate and key for TLS on client endpoints (docs/adr/0012), read at start from
// the files the configuration names. A file that cannot be read, or a key that does not go with
// the certificate, stops the proxy with a message naming the variable: serving plain text where
// the user asked for TLS would be worse than not starting. Afterwards the files are watched: a
// renewed certificate (the control plane's, or one the user puts in place) serves from the next
// connection, without a restart and without dropping the connections already open.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import { watchFiles } from '../../../../libs/secrets/src/index.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface LoadedCertificate {
  context: SecureContext;
  /** For /health and the start-up line: whose certificate, until when. */
  subject: string;
  validTo: string;
  names: string;
}

export function loadCertificate(files: TlsFiles): LoadedCertificate {
  const cert = readPem(files.certFile, 'BOREALIS_TLS_CERT_FILE');
  const key = readPem(files.keyFile, 'BOREALIS_TLS_KEY_FILE');
  let context: SecureContext;
  try {
    context = createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
  } catch (cause) {
    throw new Error(
      `BOREALIS_TLS_CERT_FILE (${files.certFile}) and BOREALIS_TLS_KEY_FILE (${files.keyFile}) cannot serve TLS: ${(cause as Error).message}; check that the key is the certificate's, both in PEM`,
    );
  }
  const certificate = new X509Certificate(cert);
  return {
    context,
    subject: certificate.subject.replace(/\n/g, ', '),
    validTo: new Date(certificate.validTo).toISOString(),
    names: certificate.subjectAltName ?? '',
  };
}

function readPem(path: string, variable: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new Error(
      `${variable}=${path} cannot be read (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}): point it at a PEM file this user can read`,
    );
  }
}

/**
 * The certificate new TLS connections are served with, as a function that rereads the files
 * when they change, looked at most every `checkIntervalMs` (PROXY_TLS_RELOAD_CHECK_MS). A change
 * that does not load (a half-written file, a key that is not the certificate's) keeps the
 * certificate in use and is logged once per change; the next change is tried again.
 */
export function watchCertificate(
  files: TlsFiles,
  log: (line: string) => void,
  checkIntervalMs: number,
): () => LoadedCertificate {
  return watchFiles([files.certFile, files.keyFile], () => loadCertificate(files), {
    recheckMs: checkIntervalMs,
    log,
    reloaded: (loaded) =>
      `TLS certificate reloaded: ${loaded.subject} (${loaded.names}), valid to ${loaded.validTo}; new connections use it`,
    kept: (error, kept) =>
      `TLS certificate files changed but do not load (${error.message}); still serving the one valid to ${kept.validTo}`,
  });
}
