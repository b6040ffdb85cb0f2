// Optional TLS on the storage links (docs/adr/0014-internal-tls.md): writer → storage node and
// storage node → storage node. TLS gives the links confidentiality and integrity; the HMAC
// handshake of link-auth.ts still runs inside it, unchanged, and still says who is on the other
// end and what it may do (TLS here authenticates the server only: no client certificates).
//
// Settings come from the environment the control plane gives its fleet:
//   BOREALIS_INTERNAL_TLS_CERT_FILE, BOREALIS_INTERNAL_TLS_KEY_FILE  a storage node serves TLS
//   BOREALIS_INTERNAL_TLS_CA_FILE                                    links verify nodes with it
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { type ConnectionOptions, createSecureContext, type SecureContext } from 'node:tls';
import { watchFiles } from '../../secrets/src/index.js';

/** TLS 1.3 only: both ends are ours, so nothing older needs to be spoken. */
export const LINK_TLS_MIN_VERSION = 'TLSv1.3';

export const INTERNAL_TLS_ENV = {
  certFile: 'BOREALIS_INTERNAL_TLS_CERT_FILE',
  keyFile: 'BOREALIS_INTERNAL_TLS_KEY_FILE',
  caFile: 'BOREALIS_INTERNAL_TLS_CA_FILE',
} as const;

/** What the client side of a storage link needs: the CA a node's certificate must chain to. */
export interface LinkTlsClient {
  ca: string | Buffer;
}

export interface InternalTlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/**
 * A storage node's TLS files from its environment: all three (it serves TLS, and its peer links
 * verify the other nodes with the CA), or none (plain TCP). Any other mix is a mistake that would
 * otherwise show up as links refused at run time, so it is refused here, naming what is missing.
 */
export function storageNodeTlsFiles(env: NodeJS.ProcessEnv): InternalTlsFiles | null {
  const values = {
    certFile: env[INTERNAL_TLS_ENV.certFile]?.trim() ?? '',
    keyFile: env[INTERNAL_TLS_ENV.keyFile]?.trim() ?? '',
    caFile: env[INTERNAL_TLS_ENV.caFile]?.trim() ?? '',
  };
  const missing = (Object.keys(values) as (keyof typeof values)[]).filter((name) => values[name] === '');
  if (missing.length === 3) return null;
  if (missing.length > 0) {
    throw new Error(
      `${missing.map((name) => INTERNAL_TLS_ENV[name]).join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not set: ` +
        `a storage node serving TLS needs ${Object.values(INTERNAL_TLS_ENV).join(', ')} (or none of them for plain TCP)`,
    );
  }
  return values;
}

/** A writer's CA file (BOREALIS_INTERNAL_TLS_CA_FILE), or null: its storage links are plain TCP. */
export function writerTlsCaFile(env: NodeJS.ProcessEnv): string | null {
  const caFile = env[INTERNAL_TLS_ENV.caFile]?.trim() ?? '';
  return caFile === '' ? null : caFile;
}

/** Reads the CA file a link verifies nodes with; throws a message naming the variable. */
export function readLinkTlsCa(caFile: string): LinkTlsClient {
  const ca = readPem(caFile, INTERNAL_TLS_ENV.caFile);
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error(`${INTERNAL_TLS_ENV.caFile}=${caFile} holds no PEM certificate`);
  }
  return { ca };
}

/**
 * Options of `tls.connect` for a storage link to `host:port`: the node's certificate must chain to
 * the CA and name `host` (Node checks both; verification is never turned off), TLS 1.3 only.
 */
export function linkTlsConnectOptions(tls: LinkTlsClient, host: string, port: number): ConnectionOptions {
  return {
    host,
    port,
    ca: tls.ca,
    minVersion: LINK_TLS_MIN_VERSION,
    // SNI carries host names only (RFC 6066); an address is still checked against the certificate.
    ...(isIP(host) === 0 ? { servername: host } : {}),
  };
}

/** A node's certificate, loaded: the context to serve with, and what /health shows of it. */
export interface LinkTlsServer {
  context: SecureContext;
  /** ISO time the certificate ends. */
  validTo: string;
  /** Its subjectAltName, as Node prints it. */
  names: string;
}

/** Loads a storage node's certificate and key; throws a message naming the variables. */
export function loadLinkTlsServer(files: Pick<InternalTlsFiles, 'certFile' | 'keyFile'>): LinkTlsServer {
  const cert = readPem(files.certFile, INTERNAL_TLS_ENV.certFile);
  const key = readPem(files.keyFile, INTERNAL_TLS_ENV.keyFile);
  let context: SecureContext;
  try {
    context = createSecureContext({ cert, key, minVersion: LINK_TLS_MIN_VERSION });
  } catch (error) {
    throw new Error(
      `${INTERNAL_TLS_ENV.certFile} (${files.certFile}) and ${INTERNAL_TLS_ENV.keyFile} (${files.keyFile}) cannot serve TLS: ` +
        `${(error as Error).message}; check that the key is the certificate's, both in PEM`,
    );
  }
  const certificate = new X509Certificate(cert);
  return {
    context,
    validTo: new Date(certificate.validTo).toISOString(),
    names: certificate.subjectAltName ?? '',
  };
}

/** How often a node looks for a renewed certificate at most: a handshake checks the files' times. */
const RECHECK_MS = 1_000;

/**
 * The node's certificate as a function that loads the files again when either changed (checked at
 * most once a second, at a connection): the control plane renews the certificate at its start
 * (docs/adr/0014), and a node it adopted then serves the new one from its next connection. A pair
 * that cannot be loaded (say, the key written and the certificate not yet) keeps the last good one
 * and says why through `log`, once per change.
 */
export function watchLinkTlsServer(
  files: Pick<InternalTlsFiles, 'certFile' | 'keyFile'>,
  log: (line: string) => void,
): () => LinkTlsServer {
  return watchFiles([files.certFile, files.keyFile], () => loadLinkTlsServer(files), {
    recheckMs: RECHECK_MS,
    log,
    reloaded: (server) => `TLS certificate reloaded from ${files.certFile} (valid to ${server.validTo})`,
    kept: (error) => `${error.message}; keeping the certificate loaded before`,
  });
}

/** Codes of a certificate that did not verify, as OpenSSL names them through Node. */
const VERIFY_ERROR_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * One line on why a link's TLS handshake failed, with what to check: the node's certificate did
 * not verify against the CA, or the node speaks no TLS at all (a plain node's challenge arrives
 * where a TLS record was expected).
 */
export function describeLinkTlsFailure(error: Error & { code?: string }, host: string, port: number): string {
  const code = error.code ?? '';
  const what = `TLS handshake with storage node ${host}:${port} failed: ${tlsErrorReason(error.message)}${code === '' ? '' : ` (${code})`}`;
  if (VERIFY_ERROR_CODES.has(code)) {
    return `${what}: its certificate does not verify against ${INTERNAL_TLS_ENV.caFile} (another CA, expired, or not naming ${host}); retrying`;
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return `${what}: the node does not serve TLS (started without ${INTERNAL_TLS_ENV.certFile}?); retrying`;
  }
  return `${what}; retrying`;
}

/** The reason of a TLS error, without the OpenSSL trace Node's messages carry after it. */
export function tlsErrorReason(text: string): string {
  const line = (text.split('\n')[0] ?? '').trim();
  // OpenSSL's messages read `<id>:error:<code>:SSL routines:<function>:<reason>:<file>:<line>:`:
  // the reason is what a log wants.
  const parts = line.split(':');
  const library = parts.findIndex((part) => part.endsWith(' routines'));
  const reason = library >= 0 ? parts[library + 2] : undefined;
  return reason !== undefined && reason !== '' ? reason : line;
}

function readPem(path: string, variable: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(
      `${variable}=${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): point it at a PEM file this user can read`,
    );
  }
}
