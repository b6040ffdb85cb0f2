// The storage links' handshake (libs/wire/src/link-auth.ts, ADR 0013) as an attacker would probe
// it, with fast-check: a genuine hello is accepted under its own nonce only; any change to a field
// a proof covers (role, id, nonce, every claim, the proof itself, cut or flipped) is refused;
// arbitrary values and arbitrary bytes decoded as frames never throw and are never accepted.
// The real-process side (the node closes such connections before reading further) is
// test/e2e/storage-node-auth.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type AuthenticatedHello,
  encodeFrames,
  type FleetSecret,
  FrameDecoder,
  flattenBatches,
  fleetSecret,
  mintWriterCredential,
  newNonce,
  peerHello,
  verifyHello,
  type WriterClaims,
  writerHello,
} from '../../libs/wire/src/index.js';

const NOW_MS = 1_800_000_000_000;
const SECRET = fleetSecret(Buffer.alloc(32, 7));
const OTHER_SECRET = fleetSecret(Buffer.alloc(32, 9));
const NONCE = 'ab'.repeat(32);

const text = fc.string({ minLength: 1, maxLength: 40 });
const grant = fc.record({
  cluster: text,
  volume: text,
  coordinatorId: fc.integer({ min: 0, max: 1_000_000 }),
  expiresAtMs: fc.integer({ min: NOW_MS + 1, max: NOW_MS + 30 * 86_400_000 }),
});

const genuineWriterHello = (claims: Omit<WriterClaims, 'secretId'>, id: string, nonce = NONCE) =>
  writerHello(mintWriterCredential(SECRET, claims), id, { type: 'challenge', nonce });

/** The hello with one field a proof covers changed, or its proof damaged; never equal to the input. */
function tampered(hello: AuthenticatedHello, choice: number, salt: string): AuthenticatedHello {
  const claims = hello.claims as WriterClaims | undefined;
  const proof = Buffer.from(hello.proof, 'base64');
  switch (choice % 9) {
    case 0:
      return { ...hello, id: `${hello.id}${salt}` };
    case 1:
      return { ...hello, role: hello.role === 'writer' ? 'peer' : 'writer' };
    case 2: {
      // One bit of the proof flipped.
      const flipped = Buffer.from(proof);
      const index = salt.length % flipped.length;
      flipped[index] = (flipped[index] as number) ^ (1 << (salt.length % 8));
      return { ...hello, proof: flipped.toString('base64') };
    }
    case 3:
      // The proof cut short (a truncated response).
      return { ...hello, proof: proof.subarray(0, (salt.length % proof.length) + 0).toString('base64') };
    case 4:
      return claims === undefined
        ? { ...hello, secretId: OTHER_SECRET.id }
        : { ...hello, claims: { ...claims, volume: `${claims.volume}${salt}` } };
    case 5:
      return claims === undefined
        ? { ...hello, id: `${salt}${hello.id}` }
        : { ...hello, claims: { ...claims, expiresAtMs: claims.expiresAtMs + 1 + salt.length } };
    case 6:
      return claims === undefined
        ? { ...hello, proof: '' }
        : { ...hello, claims: { ...claims, coordinatorId: claims.coordinatorId + 1 } };
    case 7:
      return claims === undefined
        ? { ...hello, type: 'helo' as 'hello' }
        : { ...hello, claims: { ...claims, cluster: `${claims.cluster}${salt}` } };
    default:
      return claims === undefined
        ? { ...hello, proof: `${hello.proof}${salt}` }
        : { ...hello, claims: { ...claims, secretId: OTHER_SECRET.id } };
  }
}

const secrets: readonly FleetSecret[] = [SECRET, OTHER_SECRET];

describe('the storage-link handshake', () => {
  test('accepts a genuine writer hello, with its claims, and a genuine peer hello', () => {
    fc.assert(
      fc.property(grant, text, (claims, id) => {
        const verdict = verifyHello(genuineWriterHello(claims, id), NONCE, [SECRET], NOW_MS);
        assert.deepEqual(verdict, {
          ok: true,
          role: 'writer',
          id,
          claims: { ...claims, secretId: SECRET.id },
        });
        const peer = verifyHello(
          peerHello(SECRET, id, { type: 'challenge', nonce: NONCE }),
          NONCE,
          [SECRET],
          NOW_MS,
        );
        assert.deepEqual(peer, { ok: true, role: 'peer', id, secretId: SECRET.id });
      }),
      { numRuns: 200 },
    );
  });

  test('refuses a hello answering another connection’s nonce (a replay)', () => {
    fc.assert(
      fc.property(grant, text, (claims, id) => {
        const replayed = genuineWriterHello(claims, id, newNonce());
        assert.equal(verifyHello(replayed, NONCE, secrets, NOW_MS).ok, false);
        const peer = peerHello(SECRET, id, { type: 'challenge', nonce: newNonce() });
        assert.equal(verifyHello(peer, NONCE, secrets, NOW_MS).ok, false);
      }),
      { numRuns: 200 },
    );
  });

  test('refuses any change to what a proof covers, and a cut or flipped proof', () => {
    fc.assert(
      fc.property(
        grant,
        text,
        fc.boolean(),
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 8 }),
        (claims, id, asPeer, choice, salt) => {
          const genuine = asPeer
            ? peerHello(SECRET, id, { type: 'challenge', nonce: NONCE })
            : genuineWriterHello(claims, id);
          const forged = tampered(genuine, choice, salt);
          const verdict = verifyHello(forged, NONCE, secrets, NOW_MS);
          assert.equal(verdict.ok, false, `accepted a forgery: ${JSON.stringify(forged)}`);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  test('refuses a credential past its expiry, even with a correct proof', () => {
    fc.assert(
      fc.property(grant, fc.integer({ min: 0, max: 86_400_000 }), text, (claims, pastBy, id) => {
        const expired = { ...claims, expiresAtMs: NOW_MS - pastBy };
        const verdict = verifyHello(genuineWriterHello(expired, id), NONCE, [SECRET], NOW_MS);
        assert.equal(verdict.ok, false);
      }),
    );
  });

  test('never throws on, and never accepts, arbitrary values in place of a hello', () => {
    fc.assert(
      fc.property(
        fc.anything({ withNullPrototype: true, withBigInt: true, withTypedArray: true }),
        (value) => {
          assert.equal(verifyHello(value, NONCE, secrets, NOW_MS).ok, false);
        },
      ),
      { numRuns: 2_000 },
    );
    // Hello-shaped values with wrong types in every field.
    const field = fc.oneof(fc.anything(), text, fc.integer());
    fc.assert(
      fc.property(field, field, field, field, field, (role, id, proof, claims, secretId) => {
        const hello = { type: 'hello', role, id, proof, claims, secretId };
        assert.equal(verifyHello(hello, NONCE, secrets, NOW_MS).ok, false);
      }),
      { numRuns: 2_000 },
    );
  });

  test('a hello or its claims with a field they do not carry are refused, though the proof still matches', () => {
    const hello = genuineWriterHello(
      { cluster: 'c', volume: 'v', coordinatorId: 1, expiresAtMs: NOW_MS + 1 },
      'w',
    );
    assert.equal(verifyHello(hello, NONCE, secrets, NOW_MS).ok, true);
    // One changed byte made a map16 header of 5 entries a fixmap of 6: a key "0" in front.
    assert.equal(verifyHello({ 0: 5, ...hello }, NONCE, secrets, NOW_MS).ok, false);
    const claims = hello.claims as WriterClaims;
    assert.equal(verifyHello({ ...hello, claims: { 0: 5, ...claims } }, NONCE, secrets, NOW_MS).ok, false);
    // The optional field a writer may send stays accepted.
    assert.equal(verifyHello({ ...hello, notifyVolumes: ['v'] }, NONCE, secrets, NOW_MS).ok, true);
  });

  test('random and truncated bytes decode to an error or to messages that are never accepted', () => {
    const genuine = encodeFrames([
      genuineWriterHello({ cluster: 'c', volume: 'v', coordinatorId: 1, expiresAtMs: NOW_MS + 1 }, 'w'),
    ]);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
          fc.nat({ max: genuine.length - 1 }).map((cut) => genuine.subarray(0, cut)),
          // The genuine frame with one byte changed.
          fc
            .tuple(fc.nat({ max: genuine.length - 1 }), fc.integer({ min: 1, max: 255 }))
            .map(([index, xor]) => {
              const copy = Buffer.from(genuine);
              copy[index] = (copy[index] as number) ^ xor;
              return copy;
            }),
        ),
        (bytes) => {
          let messages: unknown[];
          try {
            messages = flattenBatches(new FrameDecoder().push(bytes));
          } catch {
            return; // the node closes the connection on a frame error
          }
          for (const message of messages) {
            const verdict = verifyHello(message, NONCE, secrets, NOW_MS);
            // Only an unchanged hello may pass; a changed byte inside it must not.
            if (verdict.ok)
              assert.ok(bytes.equals(genuine) || bytes.subarray(0, genuine.length).equals(genuine));
          }
        },
      ),
      { numRuns: 3_000 },
    );
  });
});
