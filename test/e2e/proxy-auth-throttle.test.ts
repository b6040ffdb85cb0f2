// Password guessing against a real proxy: 1,000 wrong passwords from one address (127.0.0.2),
// pipelined over 100 connections. Most must be refused by the per-address throttle without a
// scrypt check (the proxy's own counters say how many checks ran), each with a clear error; a
// client with the right password from another address (127.0.0.1) logs in and is served
// meanwhile; and once that password is known right, it is accepted even from the throttled
// address, at once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RawConnection, text } from '../support/clients.js';
import { ProxyStack, type TestRoute } from '../support/proxy.js';

const PASSWORD = 'the one right password';
const WRITER_PASSWORD = 'throttle writer password';
const ATTACKER_ADDRESS = '127.0.0.2';
const CONNECTIONS = 100;
const GUESSES_PER_CONNECTION = 10;
/** The throttle lets an address start this many checks at once, and one more per second. */
const BURST = 10;
const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';
const THROTTLED = /^ERR too many failed authentication attempts from 127\.0\.0\.2; retry in \d+ s$/;

describe('password guessing through the proxy', { timeout: 90_000 }, () => {
  const stack = new ProxyStack({
    writers: [{ id: 'guarded', cluster: 'proxy-throttle' }],
    writerPassword: WRITER_PASSWORD,
  });
  const { clients } = stack;
  let route: TestRoute;

  before(async () => {
    await stack.start();
    route = await stack.newRoute({ password: PASSWORD });
    await stack.publish(route);
  });

  after(() => stack.stop());

  it('throttles 1,000 wrong passwords from one address mostly without scrypt, and serves a right one from another', async () => {
    const running = stack.proxy;
    const checksBefore = await running.metric('borealis_proxy_password_checks_total');
    const startedAt = Date.now();
    const attackers: RawConnection[] = [];
    for (let index = 0; index < CONNECTIONS; index++)
      attackers.push(await clients.raw(route.port, ATTACKER_ADDRESS));
    const guesses = attackers.map((connection, index) =>
      connection.call(
        ...Array.from({ length: GUESSES_PER_CONNECTION }, (_, guess) => ['AUTH', `guess-${index}-${guess}`]),
      ),
    );
    // The right password from another address, while the guesses are being answered.
    const legitimate = await clients.raw(route.port);
    const [login, written, read] = await legitimate.call(
      ['AUTH', PASSWORD],
      ['SET', 'throttle:k', 'v'],
      ['GET', 'throttle:k'],
    );
    assert.deepEqual([text(login), text(written), text(read)], ['OK', 'OK', 'v']);

    const replies = (await Promise.all(guesses)).flat().map(text);
    const elapsedSeconds = (Date.now() - startedAt) / 1000;
    assert.equal(replies.length, CONNECTIONS * GUESSES_PER_CONNECTION);
    const wrong = replies.filter((reply) => reply === WRONGPASS).length;
    const throttled = replies.filter((reply) => THROTTLED.test(reply ?? '')).length;
    assert.equal(
      wrong + throttled,
      replies.length,
      `unexpected replies: ${replies.find((reply) => reply !== WRONGPASS && !THROTTLED.test(reply ?? ''))}`,
    );
    // Checks the throttle allowed: the burst, what came back while the guesses went on, and the right password.
    const checksAllowed = BURST + Math.ceil(elapsedSeconds) + 1;
    const checks = (await running.metric('borealis_proxy_password_checks_total')) - checksBefore;
    assert.ok(checks <= checksAllowed, `${checks} scrypt checks ran in ${elapsedSeconds.toFixed(1)} s`);
    assert.ok(wrong <= checksAllowed, `${wrong} guesses were checked`);
    assert.ok(throttled >= replies.length - checksAllowed, `only ${throttled} guesses were throttled`);
    assert.ok((await running.metric('borealis_proxy_auth_throttled_total')) >= throttled);
    assert.ok((await running.metric('borealis_proxy_auth_failures_total')) >= wrong);
    console.log(
      `${replies.length} guesses in ${elapsedSeconds.toFixed(1)} s: ${wrong} checked (wrong), ${throttled} throttled; ${checks} scrypt checks`,
    );
  });

  it('accepts the right password from the throttled address at once, from the digest of a verified one', async () => {
    const running = stack.proxy;
    const stillThrottled = await clients.raw(route.port, ATTACKER_ADDRESS);
    // Whatever came back since, these guesses use it up.
    const guesses = await stillThrottled.call(
      ...Array.from({ length: 2 * BURST }, (_, index) => ['AUTH', `more guesses ${index}`]),
    );
    assert.match(text(guesses.at(-1)) ?? '', THROTTLED);
    const checksBefore = await running.metric('borealis_proxy_password_checks_total');
    const [login, read] = await stillThrottled.call(['AUTH', PASSWORD], ['GET', 'throttle:k']);
    assert.deepEqual([text(login), text(read)], ['OK', 'v']);
    assert.equal(
      await running.metric('borealis_proxy_password_checks_total'),
      checksBefore,
      'no scrypt check ran',
    );
  });
});
