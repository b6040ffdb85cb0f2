// Certificates for the cluster endpoints when the user brings none (docs/adr/0012): a local
// certificate authority and a server certificate it signs, as PEM text. No files here: the
// control plane decides where they live and when they are made again.
//
// Made with @peculiar/x509 over Node's own WebCrypto rather than by running the `openssl` command:
// it needs nothing installed beside Node (slim images and some distributions have no openssl
// binary, and its flags differ between 1.1 and 3.x), and it fails with an exception we can report
// instead of a tool's text on stderr. Keys are ECDSA P-256: made in milliseconds, and accepted by
// every TLS client we care about (redis-cli on OpenSSL, Node, Go, Java).
import 'reflect-metadata'; // @peculiar/x509 resolves its algorithms through tsyringe, which needs it
import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

// Node's WebCrypto, typed by @types/node rather than by the DOM library this project does not load.
x509.cryptoProvider.set('default', webcrypto as Parameters<typeof x509.cryptoProvider.set>[1]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** A local CA the user was asked to trust should not have to be trusted again soon. */
export const CA_VALIDITY_DAYS = 3_650;
/**
 * 397 days: the longest validity that browsers and Apple's TLS stack accept for a server
 * certificate; the control plane makes a new one well before it ends.
 */
export const SERVER_VALIDITY_DAYS = 397;
/** Clock skew between this machine and a client's: certificates start to be valid an hour early. */
const BACKDATE_MS = 3_600_000;

export interface PemPair {
  certificatePem: string;
  privateKeyPem: string;
}

/** A new certificate authority, named `commonName`, allowed to sign server certificates only. */
export async function createCertificateAuthority(commonName: string, now: Date): Promise<PemPair> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: distinguishedName(commonName),
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      // pathLength 0: this CA signs end certificates, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificatePem: certificate.toString('pem'), privateKeyPem: await privateKeyPem(keys.privateKey) };
}

/**
 * A server certificate for `names` (host names and IP addresses, IPv4 or IPv6), signed by
 * `authority`. Its subject is the first name; every name is in its subjectAltName, which is what
 * clients check.
 */
export async function createServerCertificate(
  authority: PemPair,
  names: readonly string[],
  now: Date,
): Promise<PemPair> {
  if (names.length === 0) throw new Error('a server certificate needs at least one host name or address');
  const issuer = new x509.X509Certificate(authority.certificatePem);
  const signingKey = await importPrivateKey(authority.privateKeyPem);
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: distinguishedName(names[0] as string),
    issuer: issuer.subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + SERVER_VALIDITY_DAYS * DAY_MS),
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((name) => (isIP(name) === 0 ? { type: 'dns', value: name } : { type: 'ip', value: name })),
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer),
    ],
  });
  return { certificatePem: certificate.toString('pem'), privateKeyPem: await privateKeyPem(keys.privateKey) };
}

/** What a certificate says about itself, for deciding whether to make a new one. */
export interface CertificateFacts {
  subject: string;
  notBefore: Date;
  notAfter: Date;
  /** DNS names and IP addresses of its subjectAltName (IPv6 in its canonical compressed form). */
  names: string[];
}

export function describeCertificate(certificatePem: string): CertificateFacts {
  const certificate = new x509.X509Certificate(certificatePem);
  const extension = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  const names = (extension?.names.items ?? [])
    .filter((name) => name.type === 'dns' || name.type === 'ip')
    .map((name) => (name.type === 'ip' ? canonicalAddress(name.value) : name.value));
  return {
    subject: certificate.subject,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    names,
  };
}

/** Whether `certificatePem` was signed by `authorityPem`'s key. */
export async function isSignedBy(certificatePem: string, authorityPem: string): Promise<boolean> {
  const certificate = new x509.X509Certificate(certificatePem);
  const authority = new x509.X509Certificate(authorityPem);
  return certificate.verify({ publicKey: authority.publicKey, signatureOnly: true });
}

/** IPv6 written one way (`::1`, not `0:0:0:0:0:0:0:1`), so that names compare as text. */
export function canonicalAddress(address: string): string {
  if (isIP(address) !== 6) return address;
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0];
  if (der === undefined) throw new Error('the CA private key file holds no PEM block');
  return webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
}

/** 16 random bytes, the top bit clear so that the serial is a positive integer as RFC 5280 wants. */
function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] as number) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}

function distinguishedName(commonName: string): string {
  // A name with DN special characters would change the meaning of the string form.
  return `CN=${commonName.replace(/[,+"\\<>;=]/g, '_')}`;
}
