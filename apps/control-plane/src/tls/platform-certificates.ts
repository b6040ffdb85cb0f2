// The certificates the platform makes itself: a local CA and server certificates it signs, under
// the data directory beside the admin key, made on the first start and reused after (a server
// certificate is made again from the same CA when it nears its end or lacks a name). Two server
// certificates share the CA: `server` for the endpoints when the user brings none (docs/adr/0012),
// `internal` for the storage nodes with BOREALIS_INTERNAL_TLS=1 (docs/adr/0014). Private keys are
// mode 600; the CA's certificate is what clients are given (`redis-cli --tls --cacert <ca.pem>`).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomically } from '../../../../libs/secrets/src/index.js';
import {
  createCertificateAuthority,
  createServerCertificate,
  describeCertificate,
  isSignedBy,
  type PemPair,
} from '../../../../libs/tls/src/index.js';
import { type CertificatePlan, type OnDisk, planCertificates } from './certificate-plan.js';

export interface PlatformCertificateFiles {
  caFile: string;
  caKeyFile: string;
  certFile: string;
  keyFile: string;
}

/** Which server certificate: the endpoints' or the storage nodes'. Both are signed by the one CA. */
export type PlatformCertificate = 'server' | 'internal';

export function platformCertificateFiles(
  directory: string,
  certificate: PlatformCertificate = 'server',
): PlatformCertificateFiles {
  return {
    caFile: join(directory, 'ca.pem'),
    caKeyFile: join(directory, 'ca.key'),
    certFile: join(directory, `${certificate}.pem`),
    keyFile: join(directory, `${certificate}.key`),
  };
}

/**
 * Makes what the plan says is missing under `directory`; returns the plan. With `newAuthority`
 * false (a renewal while the platform runs), a plan that needs a new CA is returned unmade: every
 * client and node trusts the CA it read at its start, so a new one waits for a restart.
 */
export async function ensurePlatformCertificates(
  directory: string,
  names: readonly string[],
  now: Date,
  certificate: PlatformCertificate = 'server',
  newAuthority = true,
): Promise<CertificatePlan> {
  const files = platformCertificateFiles(directory, certificate);
  const plan = planCertificates(await readOnDisk(files), names, now);
  if (plan.make === 'nothing' || (plan.make === 'ca-and-server' && !newAuthority)) return plan;
  // Readable by others (a client of another local user needs ca.pem); the keys are not.
  mkdirSync(directory, { recursive: true, mode: 0o755 });
  let authority: PemPair;
  if (plan.make === 'ca-and-server') {
    authority = await createCertificateAuthority('Borealis local CA', now);
    writeFileAtomically(files.caKeyFile, authority.privateKeyPem, 0o600);
    writeFileAtomically(files.caFile, authority.certificatePem, 0o644);
  } else {
    authority = {
      certificatePem: readFileSync(files.caFile, 'utf8'),
      privateKeyPem: readFileSync(files.caKeyFile, 'utf8'),
    };
  }
  const server = await createServerCertificate(authority, names, now);
  // The key first: a certificate on disk without its key would be a broken pair.
  writeFileAtomically(files.keyFile, server.privateKeyPem, 0o600);
  writeFileAtomically(files.certFile, server.certificatePem, 0o644);
  return plan;
}

async function readOnDisk(files: PlatformCertificateFiles): Promise<OnDisk> {
  const caPem = readIfThere(files.caFile);
  const ca = caPem !== null && existsSync(files.caKeyFile);
  let caNotAfter: Date | undefined;
  try {
    if (caPem !== null) caNotAfter = describeCertificate(caPem).notAfter;
  } catch {
    // An unreadable CA certificate is found out when a certificate is signed with it.
  }
  const serverPem = readIfThere(files.certFile);
  if (!ca || serverPem === null || !existsSync(files.keyFile))
    return { ca, ...(caNotAfter !== undefined ? { caNotAfter } : {}), server: null };
  try {
    const facts = describeCertificate(serverPem);
    return {
      ca,
      ...(caNotAfter !== undefined ? { caNotAfter } : {}),
      server: {
        notAfter: facts.notAfter,
        names: facts.names,
        signedByCa: await isSignedBy(serverPem, caPem),
      },
    };
  } catch {
    // Not a certificate we can read: made again.
    return { ca, ...(caNotAfter !== undefined ? { caNotAfter } : {}), server: null };
  }
}

function readIfThere(path: string): string | null {
  return existsSync(path) ? readFileSync(path, 'utf8') : null;
}
