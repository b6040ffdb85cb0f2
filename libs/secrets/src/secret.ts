// Secrets handed to users (API keys, cluster data passwords) and how they are stored.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** A random URL-safe secret with `bytes` bytes of entropy. */
export function generateSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * Hash for high-entropy machine secrets (API keys): a fast digest is enough because
 * 256 random bits cannot be guessed; it also keeps per-request verification cheap.
 */
export function digestSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function digestsEqual(leftHex: string, rightHex: string): boolean {
  const left = Buffer.from(leftHex, 'hex');
  const right = Buffer.from(rightHex, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}

// scrypt cost for passwords that people may choose or copy around (cluster data passwords):
// N=2^14, r=8, p=1 costs ~16 MiB and tens of milliseconds, OWASP's floor for scrypt.
const scryptCost = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const scryptKeyLength = 32;

function scryptAsync(
  password: string,
  salt: Buffer,
  cost: { N: number; r: number; p: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, scryptKeyLength, { ...cost, maxmem: scryptCost.maxmem }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/** `scrypt$N$r$p$salt$hash`, self-describing so the cost can rise without breaking old hashes. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, scryptCost);
  const { N, r, p } = scryptCost;
  return ['scrypt', N, r, p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
