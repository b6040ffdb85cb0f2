// Hold accounting: connections with held commands and held bytes, per cluster and in all; a
// command past a limit is refused naming that limit, and releasing the last held command of a
// connection frees its place.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HoldBudget, type HoldTally, holdRefusal } from '../../apps/proxy/src/hold/hold-budget.js';

const limits = { connectionsPerCluster: 2, bytesPerCluster: 100, connectionsMax: 3, bytesMax: 150 };
const tally = (): HoldTally => ({ commands: 0, bytes: 0 });

describe('hold budget', () => {
  it('counts a connection once however many commands it holds', () => {
    const budget = new HoldBudget(limits);
    const first = tally();
    assert.equal(budget.tryHold('a', first, 10), null);
    assert.equal(budget.tryHold('a', first, 10), null);
    assert.deepEqual(budget.of('a'), { connections: 1, bytes: 20 });
    assert.deepEqual(budget.totals, { connections: 1, bytes: 20 });
    assert.deepEqual(first, { commands: 2, bytes: 20 });
  });

  it('refuses a new connection past the per-cluster limit, and the proxy-wide one', () => {
    const budget = new HoldBudget(limits);
    assert.equal(budget.tryHold('a', tally(), 1), null);
    assert.equal(budget.tryHold('a', tally(), 1), null);
    assert.equal(budget.tryHold('a', tally(), 1), 'connectionsPerCluster');
    assert.equal(budget.tryHold('b', tally(), 1), null);
    assert.equal(budget.tryHold('b', tally(), 1), 'connectionsMax');
  });

  it('refuses bytes past the per-cluster limit, and the proxy-wide one', () => {
    const budget = new HoldBudget(limits);
    const holder = tally();
    assert.equal(budget.tryHold('a', holder, 90), null);
    assert.equal(budget.tryHold('a', holder, 11), 'bytesPerCluster');
    assert.deepEqual(holder, { commands: 1, bytes: 90 }, 'a refused command holds nothing');
    assert.equal(budget.tryHold('b', tally(), 61), 'bytesMax');
  });

  it('frees the connection when its last held command is released', () => {
    const budget = new HoldBudget(limits);
    const holder = tally();
    budget.tryHold('a', holder, 5);
    budget.tryHold('a', holder, 7);
    budget.release('a', holder, 5);
    assert.deepEqual(budget.of('a'), { connections: 1, bytes: 7 });
    budget.release('a', holder, 7);
    assert.deepEqual(budget.of('a'), { connections: 0, bytes: 0 });
    assert.deepEqual(budget.totals, { connections: 0, bytes: 0 });
    assert.deepEqual(holder, { commands: 0, bytes: 0 });
  });

  it('names the limit and its setting in the refusal', () => {
    assert.equal(
      holdRefusal('connectionsPerCluster', limits, 'orders'),
      'TRYAGAIN cluster orders is resuming and already holds commands of the most connections it may (PROXY_HOLD_CONNECTIONS_PER_CLUSTER=2); retry',
    );
    assert.match(holdRefusal('bytesMax', limits, 'orders'), /^TRYAGAIN .*PROXY_HOLD_BYTES_MAX=150/);
  });
});
