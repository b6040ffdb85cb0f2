// Authentication of the links to storage nodes (docs/security.md, ADR 0013): a challenge and a
// response over keys that never travel. A storage node opens every connection with a fresh random
// nonce; the other side answers with its hello, which carries an HMAC of the nonce and of who it
// says it is.
//
// - Peers (storage nodes) answer with a key derived from the fleet secret: fleet-wide rights.
// - Writers answer with the key of a credential the control plane minted for one volume: the
//   claims (cluster, volume, coordinator id, expiry) travel in clear, the key is the HMAC of the
//   claims under the fleet secret, so a storage node derives it again and a writer holds no key
//   to any other volume. A script inside a data node can read its own volume's key and no other.
//
// The fleet secret is a list during a rotation: the first is current (new links use it), the
// others are still accepted. Each secret is named by a short hash, so that a hello says which one
// it used and nothing about the secret itself.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Bumped if the transcript changes: a node never accepts a proof of another version. */
const VERSION = 'borealis-link-v1';
/** Bytes of a nonce. */
export const NONCE_BYTES = 32;
/** Bytes of a fleet secret (256 bits). */
export const FLEET_SECRET_BYTES = 32;

export interface FleetSecret {
  /** The first 16 hex digits of the secret's SHA-256: names it in a hello, reveals nothing. */
  id: string;
  key: Buffer;
}

/** What a writer's credential grants: one volume of one cluster, to one coordinator, until a time. */
export interface WriterClaims {
  cluster: string;
  volume: string;
  coordinatorId: number;
  /** Milliseconds since the epoch. */
  expiresAtMs: number;
  /** The fleet secret it was minted under. */
  secretId: string;
}

/** A writer's credential: the claims, and the key that only the holder and the fleet can derive. */
export interface WriterCredential {
  claims: WriterClaims;
  /** base64 of HMAC-SHA256(fleet secret, claims). */
  key: string;
}

/** The first message of a storage node on every connection. */
export interface ChallengeMessage {
  type: 'challenge';
  /** hex, NONCE_BYTES random bytes. */
  nonce: string;
}

export interface AuthenticatedHello {
  type: 'hello';
  role: 'writer' | 'peer';
  id: string;
  /** Peers: the fleet secret their proof uses. */
  secretId?: string;
  /** Writers: the claims of their credential. */
  claims?: WriterClaims;
  /** base64 HMAC-SHA256 of the transcript under the peer key or the credential's key. */
  proof: string;
  notifyVolumes?: string[];
}

export function fleetSecret(key: Buffer): FleetSecret {
  if (key.length < 16) throw new RangeError(`a fleet secret has at least 16 bytes, got ${key.length}`);
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 16), key };
}

export function newFleetSecretKey(): Buffer {
  return randomBytes(FLEET_SECRET_BYTES);
}

/** The secrets file: one hex secret per line, the current first; blank lines and `#` comments skipped. */
export function parseFleetSecrets(text: string): FleetSecret[] {
  const secrets: FleetSecret[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (!/^[0-9a-f]{32,128}$/i.test(line) || line.length % 2 !== 0) {
      throw new Error(`line ${index + 1} of the fleet secrets is not a hex secret of 16 to 64 bytes`);
    }
    secrets.push(fleetSecret(Buffer.from(line, 'hex')));
  }
  if (secrets.length === 0) throw new Error('the fleet secrets file holds no secret');
  return secrets;
}

export function formatFleetSecrets(secrets: readonly FleetSecret[]): string {
  return `# Borealis fleet secrets: the first is current, the others still accepted (a rotation)\n${secrets
    .map((secret) => secret.key.toString('hex'))
    .join('\n')}\n`;
}

export function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('hex');
}

/** The bytes a proof covers: the version, the nonce, the role and the claimed id, unambiguous. */
function transcript(nonce: string, role: 'writer' | 'peer', id: string): Buffer {
  return Buffer.from(JSON.stringify([VERSION, nonce, role, id]), 'utf8');
}

function hmac(key: Buffer, data: Buffer | string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function peerKey(secret: FleetSecret): Buffer {
  return hmac(secret.key, `${VERSION}:peer`);
}

/** The claims as the bytes their key signs: a fixed order of fixed fields. */
function claimsBytes(claims: WriterClaims): string {
  return JSON.stringify([
    `${VERSION}:writer`,
    claims.cluster,
    claims.volume,
    claims.coordinatorId,
    claims.expiresAtMs,
    claims.secretId,
  ]);
}

export function mintWriterCredential(
  secret: FleetSecret,
  grant: Omit<WriterClaims, 'secretId'>,
): WriterCredential {
  const claims: WriterClaims = { ...grant, secretId: secret.id };
  return { claims, key: hmac(secret.key, claimsBytes(claims)).toString('base64') };
}

/** A peer's hello, answering `challenge` under the current fleet secret. */
export function peerHello(
  secret: FleetSecret,
  nodeId: string,
  challenge: ChallengeMessage,
): AuthenticatedHello {
  return {
    type: 'hello',
    role: 'peer',
    id: nodeId,
    secretId: secret.id,
    proof: hmac(peerKey(secret), transcript(challenge.nonce, 'peer', nodeId)).toString('base64'),
  };
}

/** A writer's hello, answering `challenge` with its credential. */
export function writerHello(
  credential: WriterCredential,
  writerId: string,
  challenge: ChallengeMessage,
  notifyVolumes?: string[],
): AuthenticatedHello {
  const key = Buffer.from(credential.key, 'base64');
  return {
    type: 'hello',
    role: 'writer',
    id: writerId,
    claims: credential.claims,
    proof: hmac(key, transcript(challenge.nonce, 'writer', writerId)).toString('base64'),
    ...(notifyVolumes !== undefined ? { notifyVolumes } : {}),
  };
}

/** A storage node's answer to a hello it accepted. */
export function isWelcome(message: unknown): boolean {
  return (
    typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'welcome'
  );
}

export function isChallenge(message: unknown): message is ChallengeMessage {
  const candidate = message as Partial<ChallengeMessage> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    candidate.type === 'challenge' &&
    typeof candidate.nonce === 'string' &&
    /^[0-9a-f]+$/.test(candidate.nonce) &&
    candidate.nonce.length === NONCE_BYTES * 2
  );
}

export type HelloVerdict =
  | { ok: true; role: 'peer'; id: string; secretId: string }
  | { ok: true; role: 'writer'; id: string; claims: WriterClaims }
  | { ok: false; reason: string };

/** The fields of an `AuthenticatedHello` and of `WriterClaims`: nothing else is accepted. */
const HELLO_FIELDS: ReadonlySet<string> = new Set([
  'type',
  'role',
  'id',
  'secretId',
  'claims',
  'proof',
  'notifyVolumes',
]);
const CLAIM_FIELDS: ReadonlySet<string> = new Set([
  'cluster',
  'volume',
  'coordinatorId',
  'expiresAtMs',
  'secretId',
]);

/**
 * Checks a hello against the nonce this node sent and the secrets it accepts: its shape, the
 * secret it names, its proof (compared in constant time), and for a writer the credential's
 * expiry. The reason of a refusal is for the node's log and counters, never sent back.
 */
export function verifyHello(
  message: unknown,
  nonce: string,
  secrets: readonly FleetSecret[],
  nowMs: number,
): HelloVerdict {
  const hello = message as Partial<AuthenticatedHello> | null;
  if (typeof hello !== 'object' || hello === null || hello.type !== 'hello') {
    return { ok: false, reason: 'the first message was not a hello' };
  }
  // One form per hello: a field it cannot carry (a changed byte can turn a map's header into one
  // more entry) makes it another message, which no proof vouches for.
  if (!Object.keys(hello).every((field) => HELLO_FIELDS.has(field))) {
    return { ok: false, reason: 'a hello with a field a hello does not carry' };
  }
  const { role, id, proof } = hello;
  if (role !== 'writer' && role !== 'peer') return { ok: false, reason: 'a hello without a valid role' };
  if (typeof id !== 'string' || id.length === 0 || id.length > 256) {
    return { ok: false, reason: 'a hello without a valid id' };
  }
  if (typeof proof !== 'string' || proof.length > 64) return { ok: false, reason: 'a hello without a proof' };
  const given = Buffer.from(proof, 'base64');
  // Node's decoder skips characters outside the alphabet: only the canonical spelling of the
  // bytes is taken, so that a hello has one form (a changed character is a changed hello).
  if (given.toString('base64') !== proof) return { ok: false, reason: 'a hello whose proof is not base64' };
  if (role === 'peer') {
    const secret = secrets.find((candidate) => candidate.id === hello.secretId);
    if (secret === undefined) return { ok: false, reason: 'a peer hello naming no accepted fleet secret' };
    const expected = hmac(peerKey(secret), transcript(nonce, 'peer', id));
    if (!sameBytes(given, expected)) return { ok: false, reason: `a wrong proof from peer ${id}` };
    return { ok: true, role, id, secretId: secret.id };
  }
  const claims = validClaims(hello.claims);
  if (claims === null) return { ok: false, reason: 'a writer hello without valid claims' };
  const secret = secrets.find((candidate) => candidate.id === claims.secretId);
  if (secret === undefined) {
    return { ok: false, reason: `writer ${id}'s credential names no accepted fleet secret` };
  }
  const key = hmac(secret.key, claimsBytes(claims));
  if (!sameBytes(given, hmac(key, transcript(nonce, 'writer', id)))) {
    return { ok: false, reason: `a wrong proof from writer ${id}` };
  }
  if (claims.expiresAtMs <= nowMs) {
    return {
      ok: false,
      reason: `writer ${id}'s credential for volume ${claims.volume} expired at ${new Date(claims.expiresAtMs).toISOString()}`,
    };
  }
  return { ok: true, role, id, claims };
}

function validClaims(value: unknown): WriterClaims | null {
  const claims = value as Partial<WriterClaims> | null;
  if (typeof claims !== 'object' || claims === null) return null;
  if (!Object.keys(claims).every((field) => CLAIM_FIELDS.has(field))) return null;
  const { cluster, volume, coordinatorId, expiresAtMs, secretId } = claims;
  if (typeof cluster !== 'string' || cluster.length > 256) return null;
  if (typeof volume !== 'string' || volume.length === 0 || volume.length > 256) return null;
  if (!Number.isSafeInteger(coordinatorId) || !Number.isSafeInteger(expiresAtMs)) return null;
  if (typeof secretId !== 'string' || secretId.length > 64) return null;
  return {
    cluster,
    volume,
    coordinatorId: coordinatorId as number,
    expiresAtMs: expiresAtMs as number,
    secretId,
  };
}

function sameBytes(given: Buffer, expected: Buffer): boolean {
  return given.length === expected.length && timingSafeEqual(given, expected);
}
