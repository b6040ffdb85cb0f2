// Revoked writer credentials (libs/wire/src/revocations.ts): a revocation covers every credential
// of its (volume, coordinator id) expiring at or before its time, and nothing else; one minted
// after it is let in; the file's text round-trips, refuses malformed lines, and refuses a file
// others may read.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  firstAcceptedExpiry,
  isRevoked,
  parseRevocations,
  type Revocation,
  readRevocationsFile,
  revocationList,
  type WriterClaims,
  writeRevocationsFile,
} from '../../libs/wire/src/index.js';

const claims = (volume: string, coordinatorId: number, expiresAtMs: number): WriterClaims => ({
  cluster: 'c',
  volume,
  coordinatorId,
  expiresAtMs,
  secretId: 's',
});

const volume = fc.stringMatching(/^[a-z0-9-]{1,20}$/);
const revocation = fc.record({
  volume,
  coordinatorId: fc.integer({ min: 0, max: 1_000_000 }),
  expiresAtMsAtMost: fc.integer({ min: 1, max: 2 ** 45 }),
});

describe('revoked writer credentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'borealis-revocations-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a revocation covers its pair up to its time, and nothing else', () => {
    fc.assert(
      fc.property(
        fc.array(revocation, { maxLength: 8 }),
        revocation,
        fc.integer({ min: -5, max: 5 }),
        (rest, one, delta) => {
          const list = revocationList([...rest, one]);
          const latest = Math.max(
            ...[...rest, one]
              .filter((r) => r.volume === one.volume && r.coordinatorId === one.coordinatorId)
              .map((r) => r.expiresAtMsAtMost),
          );
          const expiry = latest + delta;
          assert.equal(isRevoked(list, claims(one.volume, one.coordinatorId, expiry)), expiry <= latest);
          // Another coordinator id of the volume, or the same id on another volume, is untouched
          // unless a revocation names that pair too.
          const otherId = one.coordinatorId + 1_000_001;
          assert.equal(isRevoked(list, claims(one.volume, otherId, 1)), false);
          assert.equal(isRevoked(list, claims(`${one.volume}_other`, one.coordinatorId, 1)), false);
          // The first expiry let in is just past the latest revocation.
          const first = firstAcceptedExpiry(list, one.volume, one.coordinatorId);
          assert.equal(isRevoked(list, claims(one.volume, one.coordinatorId, first)), false);
          assert.equal(isRevoked(list, claims(one.volume, one.coordinatorId, first - 1)), true);
        },
      ),
    );
  });

  test('the file round-trips, with mode 600, and an absent file revokes nothing', () => {
    const file = join(dir, 'revoked-credentials');
    assert.deepEqual(readRevocationsFile(file), []);
    fc.assert(
      fc.property(fc.array(revocation, { maxLength: 10 }), (revocations: Revocation[]) => {
        writeRevocationsFile(file, revocations);
        assert.deepEqual(readRevocationsFile(file), revocations);
      }),
      { numRuns: 50 },
    );
  });

  test('refuses malformed lines, and a file others may read, saying what to fix', () => {
    for (const line of ['1 2', 'x 2 v', '1 2 v w', '-1 2 v', `${'9'.repeat(17)} 1 v`]) {
      assert.throws(() => parseRevocations(`${line}\n`), /line 1 of the revocations file/);
    }
    const open = join(dir, 'open');
    writeFileSync(open, '');
    chmodSync(open, 0o644);
    assert.throws(() => readRevocationsFile(open), /chmod 600/);
  });
});
