import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BankOperation, checkBank, HistoryRecorder } from '../../libs/history/src/index.js';

const accounts = ['alice', 'bob', 'carol'];
const total = 300;

function read(call: number, balances: Record<string, number> | undefined): BankOperation {
  return {
    process: 1,
    call,
    return: balances === undefined ? Number.POSITIVE_INFINITY : call + 1,
    input: { kind: 'read' },
    output: balances,
  };
}

function transfer(
  call: number,
  from: string,
  to: string,
  amount: number,
  output?: 'ok' | 'insufficient',
): BankOperation {
  return {
    process: 2,
    call,
    return: output === undefined ? Number.POSITIVE_INFINITY : call + 1,
    input: { kind: 'transfer', from, to, amount },
    output,
  };
}

describe('bank invariant', () => {
  it('accepts snapshots that conserve the total', () => {
    const history = [
      read(0, { alice: 100, bob: 100, carol: 100 }),
      transfer(1, 'alice', 'bob', 60, 'ok'),
      transfer(1, 'carol', 'bob', 500, 'insufficient'),
      transfer(2, 'bob', 'carol', 10),
      read(3, { alice: 40, bob: 160, carol: 100 }),
      read(4, { alice: 40, bob: 150, carol: 110 }),
      read(5, undefined),
    ];
    assert.deepEqual(checkBank(history, { accounts, total }), { ok: true, readsChecked: 3 });
  });

  it('counts no reads in a history without completed ones', () => {
    assert.deepEqual(
      checkBank([transfer(0, 'alice', 'bob', 1, 'ok'), read(1, undefined)], { accounts, total }),
      {
        ok: true,
        readsChecked: 0,
      },
    );
  });

  it('rejects a snapshot whose total changed, naming the earliest one', () => {
    const created = read(3, { alice: 100, bob: 160, carol: 100 });
    const destroyed = read(5, { alice: 40, bob: 100, carol: 100 });
    const result = checkBank([destroyed, read(0, { alice: 100, bob: 100, carol: 100 }), created], {
      accounts,
      total,
    });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.operation, created);
    assert.match(result.reason, /sum to 360, expected 300/);
  });

  it('rejects a negative balance even when the total is right', () => {
    const overdrawn = read(0, { alice: -20, bob: 220, carol: 100 });
    const result = checkBank([overdrawn], { accounts, total });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.operation, overdrawn);
    assert.match(result.reason, /"alice" has negative balance -20/);
  });

  it('rejects snapshots with missing, extra or malformed accounts', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ alice: 200, bob: 100 }, /"carol" is missing/],
      [{ alice: 100, bob: 100, carol: 50, dave: 50 }, /unexpected account "dave"/],
      [{ alice: 100, bob: 100, carol: Number.NaN }, /"carol" has balance NaN, not a finite number/],
      [{ alice: 100, bob: 100, carol: '100' }, /"carol" has balance "100", not a finite number/],
    ];
    for (const [balances, reason] of cases) {
      const result = checkBank([read(0, balances as Record<string, number>)], { accounts, total });
      assert.equal(result.ok, false, JSON.stringify(balances));
      if (!result.ok) assert.match(result.reason, reason);
    }
  });

  it('checks histories collected by the recorder', () => {
    const recorder = new HistoryRecorder<BankOperation['input'], NonNullable<BankOperation['output']>>();
    const moved = recorder.invoke(1, { kind: 'transfer', from: 'alice', to: 'carol', amount: 30 }, 0);
    const snapshot = recorder.invoke(2, { kind: 'read' }, 1);
    recorder.complete(moved, 'ok', 2);
    recorder.complete(snapshot, { alice: 70, bob: 100, carol: 130 }, 3);
    recorder.invoke(3, { kind: 'read' }, 4);
    assert.deepEqual(checkBank(recorder.operations(), { accounts, total }), { ok: true, readsChecked: 1 });
  });
});
