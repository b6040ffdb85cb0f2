import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkRegisterLinearizability,
  HistoryRecorder,
  type RegisterInput,
  type RegisterOperation,
  type RegisterOutput,
  type RegisterValue,
  type RegisterWrite,
} from '../../libs/history/src/index.js';
import { mulberry32 } from '../support/prng.js';

const never = Number.POSITIVE_INFINITY;

function op(
  process: number,
  call: number,
  ret: number,
  input: RegisterInput,
  output: RegisterOutput | undefined,
): RegisterOperation {
  return { process, call, return: ret, input, output };
}

const write = (process: number, call: number, ret: number, value: RegisterValue, key = 'x') =>
  op(process, call, ret, { key, kind: 'write', value }, ret === never ? undefined : 'ok');
const read = (process: number, call: number, ret: number, value: RegisterValue | undefined, key = 'x') =>
  op(process, call, ret, { key, kind: 'read' }, value);
const cas = (
  process: number,
  call: number,
  ret: number,
  expected: RegisterValue,
  value: RegisterValue,
  swapped: boolean | undefined,
  key = 'x',
) => op(process, call, ret, { key, kind: 'cas', expected, value }, swapped);

function assertLinearizable(history: RegisterOperation[]): void {
  assert.deepEqual(checkRegisterLinearizability(history), { ok: true });
}

function assertViolation(history: RegisterOperation[], key = 'x') {
  const result = checkRegisterLinearizability(history);
  assert.equal(result.ok, false, JSON.stringify(result));
  if (result.ok !== false) assert.fail('narrowed by the assertion above');
  assert.equal(result.key, key);
  assert.ok(result.operations.length > 0);
  for (const reported of result.operations) assert.ok(history.includes(reported));
  return result;
}

describe('register linearizability', () => {
  it('accepts empty and sequential histories', () => {
    assertLinearizable([]);
    assertLinearizable([
      read(1, 0, 1, null),
      write(1, 2, 3, 'a'),
      read(2, 4, 5, 'a'),
      write(2, 6, 7, null),
      read(1, 8, 9, null),
    ]);
  });

  it('accepts either order for a read concurrent with a write', () => {
    assertLinearizable([write(1, 0, 10, 'a'), read(2, 2, 3, null)]);
    assertLinearizable([write(1, 0, 10, 'a'), read(2, 2, 3, 'a')]);
    assertLinearizable([write(1, 0, 10, 'a'), read(2, 2, 3, 'a'), read(3, 4, 5, 'a')]);
  });

  it('treats operations whose intervals touch as concurrent', () => {
    assertLinearizable([write(1, 0, 5, 'a'), read(2, 5, 6, null)]);
  });

  it('rejects a stale read after an acknowledged write', () => {
    const first = write(1, 0, 1, 'a');
    const second = write(1, 2, 3, 'b');
    const stale = read(2, 4, 5, 'a');
    const result = assertViolation([first, second, stale]);
    assert.deepEqual(result.operations, [first, second, stale]);
    assert.match(result.reason, /read → "a" by process 2 \[4, 5\]/);
  });

  it('rejects a read of a value that was never written', () => {
    const phantom = read(2, 0, 5, 'z');
    const result = assertViolation([write(1, 0, 1, 'a'), phantom]);
    assert.match(result.reason, /"z"/);
    assert.deepEqual(result.operations, [phantom]);
    assertViolation([write(1, 0, 1, 'a'), read(2, 2, 3, 'seed')]);
  });

  it('rejects reads that observe two writes in contradictory orders', () => {
    assertViolation([
      write(1, 0, 100, '1'),
      write(2, 0, 100, '2'),
      read(3, 10, 20, '1'),
      read(3, 30, 40, '2'),
      read(4, 10, 20, '2'),
      read(4, 30, 40, '1'),
    ]);
  });

  it('rejects a lost acknowledged write', () => {
    const lost = write(1, 0, 1, 'a');
    const after = read(2, 2, 3, null);
    const result = assertViolation([lost, after]);
    assert.deepEqual(result.operations, [lost, after]);
  });

  it('accepts a write with an unknown outcome whether or not it took effect', () => {
    const pending = write(1, 0, never, 'a');
    assert.equal(pending.output, undefined);
    assertLinearizable([pending, read(2, 5, 6, null)]);
    assertLinearizable([pending, read(2, 5, 6, 'a')]);
    assertLinearizable([pending, read(2, 5, 6, null), read(2, 7, 8, 'a')]);
    // Once a read has seen it, the write cannot be undone.
    assertViolation([pending, read(2, 5, 6, 'a'), read(2, 7, 8, null)]);
    // It cannot take effect before it was called.
    assertViolation([read(2, 0, 1, 'a'), write(1, 2, never, 'a')]);
  });

  it('ignores reads with an unknown outcome', () => {
    assertLinearizable([write(1, 0, 1, 'a'), read(2, 2, never, undefined), read(3, 4, 5, 'a')]);
  });

  it('checks compare-and-set against the current value', () => {
    assertLinearizable([write(1, 0, 1, 'a'), cas(2, 2, 3, 'a', 'b', true), read(1, 4, 5, 'b')]);
    assertLinearizable([write(1, 0, 1, 'a'), cas(2, 2, 3, 'z', 'b', false), read(1, 4, 5, 'a')]);
    assertViolation([write(1, 0, 1, 'a'), cas(2, 2, 3, 'z', 'b', true)]);
    assertViolation([write(1, 0, 1, 'a'), cas(2, 2, 3, 'a', 'b', false)]);
    // Two clients cannot both win the same swap.
    assertViolation([cas(1, 0, 10, null, 'a', true), cas(2, 0, 10, null, 'b', true)]);
    assertLinearizable([
      cas(1, 0, 10, null, 'a', true),
      cas(2, 0, 10, null, 'b', false),
      read(3, 11, 12, 'a'),
    ]);
  });

  it('lets a compare-and-set with an unknown outcome apply or not', () => {
    const pending = cas(1, 0, never, null, 'a', undefined);
    assertLinearizable([pending, read(2, 1, 2, 'a')]);
    assertLinearizable([pending, read(2, 1, 2, null)]);
    // If it applies at all, it applies only while its expectation holds.
    assertViolation([write(3, 0, 1, 'b'), cas(1, 2, never, null, 'a', undefined), read(2, 3, 4, 'a')]);
  });

  // The search skips orders that cannot matter; these histories need the orders it must keep.
  it('accepts a write that only ever takes effect to be overwritten unobserved', () => {
    // The write of null lands between the two writes of "b", so the final swap from null fails.
    assertLinearizable([
      cas(2, 2, 4, 'a', null, false),
      write(1, 2, 4, 'b'),
      write(4, 3, 3, 'b'),
      read(3, 3, 5, 'b'),
      write(1, 4, 7, null),
      cas(4, 5, 8, 'a', null, false),
      cas(4, 9, 10, null, 'b', false),
    ]);
  });

  it('accepts an early write that a timed-out write then overwrites for a swap to see', () => {
    // The swap to "f" must follow the write of null, since "f" is read after that write returned;
    // so the timed-out write of "a" must land in between for the swap to succeed.
    assertLinearizable([
      write(3, 0, never, 'a'),
      write(1, 1, 1, 'a'),
      cas(5, 2, 3, 'a', 'f', true),
      cas(4, 2, 5, 'd', 'b', false),
      write(6, 3, 5, null),
      read(4, 6, 6, 'f'),
      cas(4, 7, 8, 'c', 'b', false),
    ]);
  });

  it('starts keys from the provided initial values', () => {
    const history = [read(1, 0, 1, 'seed'), read(1, 2, 3, null, 'y')];
    assert.equal(checkRegisterLinearizability(history).ok, false);
    assert.deepEqual(checkRegisterLinearizability(history, { initial: { x: 'seed' } }), { ok: true });
    assert.deepEqual(checkRegisterLinearizability(history, { initial: new Map([['x', 'seed']]) }), {
      ok: true,
    });
  });

  it('checks every key on its own and names the one that fails', () => {
    assertLinearizable([
      write(1, 0, 1, 'a', 'x'),
      write(2, 0, 1, 'b', 'y'),
      read(3, 2, 3, 'a'),
      read(3, 2, 3, 'b', 'y'),
    ]);
    assertViolation([write(1, 0, 1, 'a', 'x'), read(2, 2, 3, 'a', 'x'), read(2, 2, 3, 'a', 'y')], 'y');
  });

  it('gives up on a search that exceeds its state budget, unless another key definitely fails', () => {
    const sequential = [write(1, 0, 1, 'a', 'long'), read(2, 2, 3, 'a', 'long'), write(1, 4, 5, 'b', 'long')];
    const undecided = checkRegisterLinearizability(sequential, { maxStatesPerKey: 2 });
    assert.equal(undecided.ok, 'unknown');
    if (undecided.ok === 'unknown') assert.equal(undecided.key, 'long');
    assert.deepEqual(checkRegisterLinearizability(sequential, { maxStatesPerKey: 3 }), { ok: true });

    const decided = checkRegisterLinearizability([...sequential, read(1, 0, 1, 'never', 'short')], {
      maxStatesPerKey: 2,
    });
    assert.equal(decided.ok, false);
    if (decided.ok === false) assert.equal(decided.key, 'short');
  });

  it('throws on malformed records', () => {
    assert.throws(() => checkRegisterLinearizability([read(1, 5, 4, null)]), RangeError);
    assert.throws(() => checkRegisterLinearizability([read(1, 0, 4, undefined)]), TypeError);
    assert.throws(() =>
      checkRegisterLinearizability([op(1, 0, 1, { key: 'x', kind: 'write', value: 'a' }, true)]),
    );
    assert.throws(
      () => checkRegisterLinearizability([read(1, 0, 1, null)], { maxStatesPerKey: 0 }),
      RangeError,
    );
  });
});

describe('history recorder', () => {
  it('records completed, unknown and pending operations and drops failed ones', () => {
    const recorder = new HistoryRecorder<RegisterInput, RegisterOutput>();
    const written = recorder.invoke(1, { key: 'x', kind: 'write', value: 'a' }, 0);
    const timedOut = recorder.invoke(2, { key: 'x', kind: 'write', value: 'b' }, 1);
    const refused = recorder.invoke(3, { key: 'x', kind: 'write', value: 'c' }, 2);
    recorder.invoke(4, { key: 'x', kind: 'read' }, 3);
    recorder.complete(written, 'ok', 5);
    recorder.unknown(timedOut);
    recorder.fail(refused);

    const operations = recorder.operations();
    assert.deepEqual(
      operations.map(({ process, call, return: ret, output }) => ({ process, call, ret, output })),
      [
        { process: 1, call: 0, ret: 5, output: 'ok' },
        { process: 2, call: 1, ret: never, output: undefined },
        { process: 4, call: 3, ret: never, output: undefined },
      ],
    );
    assert.deepEqual(checkRegisterLinearizability(operations), { ok: true });

    assert.throws(() => recorder.complete(written, 'ok', 6));
    assert.throws(() => recorder.fail(timedOut));
    const late = recorder.invoke(5, { key: 'x', kind: 'read' }, 10);
    assert.throws(() => recorder.complete(late, null, 9), RangeError);
    recorder.complete(late, null, 11);
    assert.equal(recorder.operations().at(-1)?.return, 11);
  });
});

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function applyOperation(
  state: ReadonlyMap<string, RegisterValue>,
  operation: RegisterOperation,
): { state: Map<string, RegisterValue>; output: RegisterOutput } {
  const { input } = operation;
  const current = state.get(input.key) ?? null;
  const next = new Map(state);
  switch (input.kind) {
    case 'read':
      return { state: next, output: current };
    case 'write':
      next.set(input.key, input.value);
      return { state: next, output: 'ok' };
    case 'cas':
      if (current === input.expected) next.set(input.key, input.value);
      return { state: next, output: current === input.expected };
  }
}

/**
 * The definition, checked directly: some total order of the operations respects real time and
 * replays to the observed outputs; operations with an unknown outcome may be left out. Orders
 * are enumerated one by one, remembering only which (placed set, state) prefixes failed.
 */
function bruteForceLinearizable(history: readonly RegisterOperation[]): boolean {
  const placed = history.map(() => false);
  const failed = new Set<string>();
  const search = (state: ReadonlyMap<string, RegisterValue>): boolean => {
    if (history.every((operation, index) => placed[index] || operation.output === undefined)) return true;
    const memo = `${placed.map(Number).join('')}${JSON.stringify([...state].sort())}`;
    if (failed.has(memo)) return false;
    for (const [index, operation] of history.entries()) {
      if (placed[index]) continue;
      const mustComeFirst = history.some(
        (other, otherIndex) => !placed[otherIndex] && otherIndex !== index && other.return < operation.call,
      );
      if (mustComeFirst) continue;
      const applied = applyOperation(state, operation);
      if (operation.output !== undefined && applied.output !== operation.output) continue;
      placed[index] = true;
      if (search(applied.state)) return true;
      placed[index] = false;
    }
    failed.add(memo);
    return false;
  };
  return search(new Map());
}

interface Simulated {
  operation: RegisterOperation;
  takesEffectAt: number | undefined;
}

/**
 * Replays operations against an atomic register at their linearization points, filling in
 * outputs, so the result is linearizable until something corrupts it.
 */
function fillOutputs(simulated: Simulated[]): void {
  let state = new Map<string, RegisterValue>();
  const effective = simulated
    .filter((entry) => entry.takesEffectAt !== undefined)
    .sort((a, b) => (a.takesEffectAt as number) - (b.takesEffectAt as number));
  for (const entry of effective) {
    const applied = applyOperation(state, entry.operation);
    state = applied.state;
    if (entry.operation.return !== never) entry.operation.output = applied.output;
  }
}

interface HistoryShape {
  maxOperations: number;
  processes: number;
  values: readonly RegisterValue[];
}

/** A random history, linearizable as generated and then often corrupted. */
function randomHistory(random: () => number, shape: HistoryShape): RegisterOperation[] {
  const values = shape.values;
  const keys = random() < 0.3 ? ['x', 'y'] : ['x'];
  const clock = Array.from({ length: shape.processes }, () => Math.floor(random() * 3));
  const simulated: Simulated[] = [];
  const count = 1 + Math.floor(random() * shape.maxOperations);
  for (let index = 0; index < count; index++) {
    const process = Math.floor(random() * clock.length);
    const call = (clock[process] as number) + Math.floor(random() * 3);
    const duration = Math.floor(random() * 5);
    const key = pick(random, keys);
    const roll = random();
    const input: RegisterInput =
      roll < 0.4
        ? { key, kind: 'read' }
        : roll < 0.8
          ? { key, kind: 'write', value: pick(random, values.slice(1)) }
          : { key, kind: 'cas', expected: pick(random, values), value: pick(random, values) };
    const unknownOutcome = random() < 0.15;
    const ret = unknownOutcome ? never : call + duration;
    const takesEffect = !unknownOutcome || random() < 0.5;
    const span = unknownOutcome ? 10 : duration;
    simulated.push({
      operation: op(process + 1, call, ret, input, undefined),
      takesEffectAt: takesEffect ? call + random() * span : undefined,
    });
    clock[process] = unknownOutcome ? call + 20 : call + duration + Math.floor(random() * 2);
  }
  fillOutputs(simulated);

  if (random() < 0.7) {
    const victim = pick(random, simulated).operation;
    if (random() < 0.25) {
      // Shifting an interval later or earlier breaks real-time order rather than values.
      const shift = Math.floor(random() * 9) - 4;
      victim.call = Math.max(0, victim.call + shift);
      victim.return = Math.max(victim.call, victim.return + shift);
    } else if (victim.output !== undefined) {
      if (victim.input.kind === 'read') victim.output = pick(random, values);
      else if (victim.input.kind === 'cas') victim.output = !victim.output;
      else victim.input = { ...victim.input, value: pick(random, values) };
    }
  }
  return simulated.map((entry) => entry.operation);
}

function agreesWithBruteForce(seed: number, histories: number, shape: HistoryShape): void {
  const random = mulberry32(seed);
  const verdicts = { linearizable: 0, violation: 0 };
  for (let round = 0; round < histories; round++) {
    const history = randomHistory(random, shape);
    const expected = bruteForceLinearizable(history);
    const result = checkRegisterLinearizability(history);
    assert.equal(result.ok, expected, JSON.stringify({ round, history, result }));
    verdicts[expected ? 'linearizable' : 'violation']++;
  }
  assert.ok(
    verdicts.linearizable > histories / 5 && verdicts.violation > histories / 5,
    JSON.stringify(verdicts),
  );
}

describe('register linearizability against brute force', () => {
  const small: HistoryShape = { maxOperations: 7, processes: 3, values: [null, 'a', 'b', 'c'] };
  for (const seed of [1, 2, 3, 4]) {
    it(`agrees on 1,500 small random histories (seed ${seed})`, () =>
      agreesWithBruteForce(seed, 1500, small));
  }

  const medium: HistoryShape = { maxOperations: 14, processes: 5, values: [null, 'a', 'b', 'c', 'd', 'e'] };
  for (const seed of [5, 6]) {
    it(`agrees on 1,000 random histories of up to 14 operations (seed ${seed})`, () =>
      agreesWithBruteForce(seed, 1000, medium));
  }
});

function simulatedRegisterHistory(
  seed: number,
  options: { operations: number; clients: number; keys: readonly string[] },
): RegisterOperation[] {
  const random = mulberry32(seed);
  const simulated: Simulated[] = [];
  const clock = Array.from({ length: options.clients }, () => Math.floor(random() * 10));
  const processOf = clock.map((_, client) => client);
  let written = 0;
  for (let index = 0; index < options.operations; index++) {
    let client = 0;
    for (let candidate = 1; candidate < clock.length; candidate++) {
      if ((clock[candidate] as number) < (clock[client] as number)) client = candidate;
    }
    const call = clock[client] as number;
    const duration = 1 + Math.floor(random() * 20);
    const key = pick(random, options.keys);
    const roll = random();
    const input: RegisterInput =
      roll < 0.5
        ? { key, kind: 'read' }
        : roll < 0.9
          ? { key, kind: 'write', value: `v${written++}` }
          : {
              key,
              kind: 'cas',
              expected: `v${Math.max(0, written - 1 - Math.floor(random() * 3))}`,
              value: `v${written++}`,
            };
    // A client that times out is replaced by a fresh process, as a crashed client would be.
    const unknownOutcome = random() < 0.02;
    simulated.push({
      operation: op(
        processOf[client] as number,
        call,
        unknownOutcome ? never : call + duration,
        input,
        undefined,
      ),
      takesEffectAt: unknownOutcome && random() < 0.5 ? undefined : call + random() * duration,
    });
    if (unknownOutcome) processOf[client] = (processOf[client] as number) + options.clients;
    clock[client] = call + duration + Math.floor(random() * 5);
  }
  fillOutputs(simulated);
  return simulated.map((entry) => entry.operation);
}

describe('register linearizability on long histories', () => {
  it('accepts a 2,000-operation history of an atomic register with 10 clients', () => {
    const history = simulatedRegisterHistory(7, { operations: 2000, clients: 10, keys: ['x'] });
    assert.deepEqual(checkRegisterLinearizability(history), { ok: true });
  });

  it('accepts a 2,000-operation history with 30 clients', () => {
    const history = simulatedRegisterHistory(8, { operations: 2000, clients: 30, keys: ['x'] });
    assert.deepEqual(checkRegisterLinearizability(history), { ok: true });
  });

  it('accepts 10,000 operations spread over several keys', () => {
    const history = simulatedRegisterHistory(9, {
      operations: 10_000,
      clients: 20,
      keys: ['a', 'b', 'c', 'd', 'e'],
    });
    assert.deepEqual(checkRegisterLinearizability(history), { ok: true });
  });

  it('reports a stale read in a long history with the three operations that prove it', () => {
    const history = simulatedRegisterHistory(10, { operations: 2000, clients: 10, keys: ['x'] });
    const firstWrite = history.find(
      (operation) => operation.input.kind === 'write' && operation.output === 'ok',
    ) as RegisterOperation & { input: RegisterWrite };
    const victim = history.find(
      (operation, index) => index > 1000 && operation.input.kind === 'read' && operation.output !== undefined,
    ) as RegisterOperation;
    victim.output = firstWrite.input.value;
    const result = checkRegisterLinearizability(history);
    assert.equal(result.ok, false);
    if (result.ok !== false) return;
    assert.equal(result.operations.length, 3);
    assert.equal(result.operations[0], firstWrite);
    assert.equal(result.operations[2], victim);
    assert.match(result.reason, /\(written by write "v\d+" by process \d+ \[\d+, \d+\]\), but write/);
  });

  it('finds reads that disagree on the order of two writes at the end of a long history', () => {
    const history = simulatedRegisterHistory(11, { operations: 2000, clients: 10, keys: ['x'] });
    const end = Math.max(...history.map((operation) => operation.call)) + 100;
    const contradiction = [
      write(1001, end, end + 100, 'first'),
      write(1002, end, end + 100, 'second'),
      read(1003, end + 10, end + 20, 'first'),
      read(1003, end + 30, end + 40, 'second'),
      read(1004, end + 10, end + 20, 'second'),
      read(1004, end + 30, end + 40, 'first'),
    ];
    assert.deepEqual(checkRegisterLinearizability(history), { ok: true });
    const result = checkRegisterLinearizability([...history, ...contradiction]);
    assert.equal(result.ok, false);
    if (result.ok !== false) return;
    assert.ok(result.operations.length >= 2);
    for (const reported of result.operations) assert.ok(contradiction.includes(reported), result.reason);
  });
});
