// When the platform makes its own endpoint certificates (docs/adr/0012), what to make at start:
// nothing (the files on disk serve), a new server certificate from the same CA (it ends soon, it
// lacks a name the endpoints are reached by, or it is missing), or a new CA and server
// certificate (no CA yet, or the CA itself ends soon). Pure: the caller reads the files and writes what is planned.
import { canonicalAddress } from '../../../../libs/tls/src/index.js';

/** Made again when it has less than this left, so that it never ends while the platform runs. */
export const SERVER_RENEW_BEFORE_DAYS = 30;
const DAY_MS = 86_400_000;

/** The names every platform certificate carries: what a client on this machine may dial. */
export const LOCAL_NAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];

export interface ServerCertificateOnDisk {
  notAfter: Date;
  names: readonly string[];
  /** Whether the CA on disk signed it (a CA replaced by hand leaves it orphaned). */
  signedByCa: boolean;
}

export interface OnDisk {
  /** The CA's certificate and key are both there and readable. */
  ca: boolean;
  /** When the CA's certificate ends, if it could be read. */
  caNotAfter?: Date;
  server: ServerCertificateOnDisk | null;
}

export type CertificatePlan =
  | { make: 'nothing' }
  | { make: 'server'; reason: string }
  | { make: 'ca-and-server'; reason: string };

/** The host names and addresses the server certificate must carry for endpoints at `endpointHost`. */
export function serverNames(endpointHost: string): string[] {
  const names = [...LOCAL_NAMES];
  const host = canonicalAddress(endpointHost.replace(/^\[(.*)\]$/, '$1'));
  // 0.0.0.0 and :: are where to listen, not names a client dials.
  if (!names.includes(host) && host !== '0.0.0.0' && host !== '::') names.push(host);
  return names;
}

export function planCertificates(onDisk: OnDisk, names: readonly string[], now: Date): CertificatePlan {
  if (!onDisk.ca) return { make: 'ca-and-server', reason: 'no local CA yet' };
  const caEnding = onDisk.caNotAfter === undefined ? null : ending('the local CA', onDisk.caNotAfter, now);
  if (caEnding !== null) return { make: 'ca-and-server', reason: caEnding };
  const server = onDisk.server;
  if (server === null) return { make: 'server', reason: 'no server certificate yet' };
  if (!server.signedByCa)
    return { make: 'server', reason: 'the server certificate was not signed by this CA' };
  const missing = names.filter((name) => !server.names.includes(name));
  if (missing.length > 0)
    return { make: 'server', reason: `the server certificate does not name ${missing.join(', ')}` };
  const serverEnding = ending('the server certificate', server.notAfter, now);
  if (serverEnding !== null) return { make: 'server', reason: serverEnding };
  return { make: 'nothing' };
}

/** Why a certificate ending at `notAfter` must be made again at `now`, or null while it has time. */
function ending(what: string, notAfter: Date, now: Date): string | null {
  const daysLeft = (notAfter.getTime() - now.getTime()) / DAY_MS;
  if (daysLeft >= SERVER_RENEW_BEFORE_DAYS) return null;
  return daysLeft <= 0 ? `${what} has expired` : `${what} ends in ${Math.floor(daysLeft)} days`;
}
