// The proxy's password checks: the per-address throttle (a token per check, given back by a right
// password, a bounded table), the remembered digests of verified passwords (no scrypt for a
// password already found right; forgotten with the hash), and the bound on scrypt runs at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthThrottle } from '../../apps/proxy/src/auth/auth-throttle.js';
import { type AuthOutcome, PasswordChecker } from '../../apps/proxy/src/auth/password-checker.js';
import { VerifiedPasswords } from '../../apps/proxy/src/auth/verified-passwords.js';

const password = (text: string) => Buffer.from(text, 'utf8');

describe('auth throttle', () => {
  it('allows a burst per address, then refuses until tokens come back', () => {
    const throttle = new AuthThrottle({ burst: 3, refillPerSecond: 1, addressesMax: 100 });
    for (let attempt = 0; attempt < 3; attempt++)
      assert.deepEqual(throttle.tryAcquire('a', 0), { allowed: true });
    assert.deepEqual(throttle.tryAcquire('a', 0), { allowed: false, retryAfterMs: 1_000 });
    assert.deepEqual(throttle.tryAcquire('b', 0), { allowed: true }, 'another address has its own bucket');
    assert.deepEqual(throttle.tryAcquire('a', 500), { allowed: false, retryAfterMs: 500 });
    assert.deepEqual(throttle.tryAcquire('a', 1_000), { allowed: true });
  });

  it('gives the token back for a right password', () => {
    const throttle = new AuthThrottle({ burst: 1, refillPerSecond: 0.001, addressesMax: 100 });
    for (let attempt = 0; attempt < 5; attempt++) {
      assert.deepEqual(throttle.tryAcquire('a', attempt), { allowed: true });
      throttle.refund('a', attempt);
    }
  });

  it('keeps at most addressesMax addresses, forgetting the least recently seen', () => {
    const throttle = new AuthThrottle({ burst: 1, refillPerSecond: 0.001, addressesMax: 2 });
    throttle.tryAcquire('a', 0);
    throttle.tryAcquire('b', 0);
    throttle.tryAcquire('a', 1);
    throttle.tryAcquire('c', 2);
    assert.equal(throttle.addresses, 2);
    assert.equal(throttle.tryAcquire('a', 3).allowed, false, 'a was kept');
    assert.equal(throttle.tryAcquire('b', 3).allowed, true, 'b was forgotten: a full bucket again');
  });
});

describe('verified passwords', () => {
  it('remembers digests per cluster and password hash, a few at most', () => {
    const verified = new VerifiedPasswords(2);
    const digests = ['p1', 'p2', 'p3'].map((text) => verified.digest(password(text)));
    for (const digest of digests) verified.add('c', 'hash-1', digest);
    assert.equal(verified.has('c', 'hash-1', digests[0] as string), false, 'the oldest went');
    assert.equal(verified.has('c', 'hash-1', digests[2] as string), true);
    assert.equal(verified.has('c', 'hash-2', digests[2] as string), false, 'another hash: not verified');
    assert.equal(verified.has('other', 'hash-1', digests[2] as string), false);
    verified.forget('c');
    assert.equal(verified.has('c', 'hash-1', digests[2] as string), false);
  });

  it('keys its digests: the same password gives another digest in another process', () => {
    assert.notEqual(
      new VerifiedPasswords().digest(password('x')),
      new VerifiedPasswords().digest(password('x')),
    );
  });
});

describe('password checker', () => {
  const fakeVerify =
    (calls: string[], delayMs = 0) =>
    async (text: string, hash: string) => {
      calls.push(text);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return hash === `hash-of-${text}`;
    };

  it('runs scrypt once per right password, then answers from the remembered digest at once', async () => {
    const calls: string[] = [];
    const checker = new PasswordChecker({ concurrency: 2, queueMax: 10, verify: fakeVerify(calls) });
    const first = checker.check('c', 'hash-of-right', password('right'), '10.0.0.1');
    assert.ok(first instanceof Promise);
    assert.deepEqual(await first, { kind: 'ok' });
    assert.deepEqual(checker.check('c', 'hash-of-right', password('right'), '10.0.0.2'), { kind: 'ok' });
    assert.deepEqual(calls, ['right']);
    assert.equal(checker.counters.remembered, 1);
  });

  it('throttles wrong passwords from one address without running scrypt, and not other addresses', async () => {
    const calls: string[] = [];
    const throttle = new AuthThrottle({ burst: 3, refillPerSecond: 0.001, addressesMax: 100 });
    const checker = new PasswordChecker({
      concurrency: 2,
      queueMax: 100,
      verify: fakeVerify(calls),
      throttle,
    });
    const outcomes: AuthOutcome[] = [];
    for (let attempt = 0; attempt < 50; attempt++)
      outcomes.push(await checker.check('c', 'hash-of-right', password(`wrong${attempt}`), '10.0.0.66'));
    assert.equal(outcomes.filter((outcome) => outcome.kind === 'wrong').length, 3);
    assert.equal(outcomes.filter((outcome) => outcome.kind === 'throttled').length, 47);
    assert.equal(calls.length, 3);
    assert.deepEqual(await checker.check('c', 'hash-of-right', password('right'), '10.0.0.1'), {
      kind: 'ok',
    });
    assert.deepEqual(checker.counters, { remembered: 0, verified: 4, wrong: 3, throttled: 47, busy: 0 });
  });

  it('checks a password once for many clients sending it at the same time, without using their tokens', async () => {
    const calls: string[] = [];
    const throttle = new AuthThrottle({ burst: 3, refillPerSecond: 0.001, addressesMax: 100 });
    const checker = new PasswordChecker({
      concurrency: 2,
      queueMax: 10,
      verify: fakeVerify(calls, 5),
      throttle,
    });
    const right = await Promise.all(
      Array.from({ length: 100 }, () => checker.check('c', 'hash-of-right', password('right'), '10.0.0.1')),
    );
    assert.ok(right.every((outcome) => outcome.kind === 'ok'));
    const wrong = await Promise.all(
      Array.from({ length: 100 }, () =>
        checker.check('c', 'hash-of-right', password('same guess'), '10.0.0.1'),
      ),
    );
    assert.ok(wrong.every((outcome) => outcome.kind === 'wrong'));
    assert.deepEqual(calls, ['right', 'same guess']);
  });

  it('runs at most `concurrency` checks at once and refuses past its queue', async () => {
    let running = 0;
    let most = 0;
    const verify = async (text: string) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
      return text === 'right';
    };
    const throttle = new AuthThrottle({ burst: 100, refillPerSecond: 1, addressesMax: 1000 });
    const checker = new PasswordChecker({ concurrency: 2, queueMax: 3, verify, throttle });
    const outcomes = Array.from({ length: 8 }, (_, index) =>
      checker.check('c', 'h', password(`p${index}`), `10.0.0.${index}`),
    );
    const settled = await Promise.all(outcomes);
    assert.equal(most, 2);
    assert.equal(settled.filter((outcome) => outcome.kind === 'busy').length, 3);
    assert.equal(settled.filter((outcome) => outcome.kind === 'wrong').length, 5);
  });
});
