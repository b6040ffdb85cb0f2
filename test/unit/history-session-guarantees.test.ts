import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  checkSessionGuarantees,
  HistoryRecorder,
  type SessionAnomalyKind,
  type SessionInput,
  type SessionOperation,
  type SessionOutput,
} from '../../libs/history/src/index.js';

const never = Number.POSITIVE_INFINITY;

function op(
  process: number,
  call: number,
  ret: number,
  f: 'incr' | 'get',
  value: number | undefined,
  key: string,
): SessionOperation {
  return {
    process,
    call,
    return: ret,
    input: { f, key },
    output: value === undefined ? undefined : { value },
  };
}

/** An INCR; leaving out the value (with return `never`) makes its outcome unknown. */
const incr = (process: number, call: number, ret: number, value?: number, key = 'k') =>
  op(process, call, ret, 'incr', value, key);
const get = (process: number, call: number, ret: number, value?: number, key = 'k') =>
  op(process, call, ret, 'get', value, key);

/** `count` back-to-back increments by one process, the i-th called at `start + 2i` and returning i + 1. */
function increments(process: number, count: number, start = 0, key = 'k'): SessionOperation[] {
  return Array.from({ length: count }, (_, i) => incr(process, start + 2 * i, start + 2 * i + 1, i + 1, key));
}

function assertValid(history: readonly SessionOperation[]): void {
  assert.deepEqual(checkSessionGuarantees(history), { valid: true, anomalies: [] });
}

function assertAnomalies(history: readonly SessionOperation[], kinds: SessionAnomalyKind[]) {
  const result = checkSessionGuarantees(history);
  assert.equal(result.valid, false);
  assert.deepEqual(
    result.anomalies.map((anomaly) => anomaly.kind),
    kinds,
    result.anomalies.map((anomaly) => anomaly.message).join('\n'),
  );
  for (const anomaly of result.anomalies) {
    assert.ok(history.includes(anomaly.operation));
    if (anomaly.earlier !== undefined) assert.ok(history.includes(anomaly.earlier));
  }
  return result.anomalies;
}

describe('session guarantees', () => {
  it('accepts the empty history and one connection that reads its own increments', () => {
    assertValid([]);
    assertValid([
      incr(1, 0, 1, 1),
      get(1, 2, 3, 1),
      incr(1, 4, 5, 2),
      incr(1, 6, 7, 3),
      get(1, 8, 9, 3),
      get(1, 10, 11, 0, 'other'),
    ]);
  });

  it('accepts stale reads across connections, which instance consistency allows', () => {
    assertValid([
      ...increments(1, 3),
      // Process 2's writer has seen none of process 1's increments, then catches up one at a time.
      get(2, 6, 7, 0),
      get(2, 8, 9, 1),
      get(2, 10, 11, 1),
      incr(2, 12, 13, 4),
      get(2, 14, 15, 4),
      // Well after version 4 was committed, process 3 is still served version 2.
      get(3, 16, 17, 2),
      // An INCR called exactly when a read returns is concurrent with it, so it can explain it.
      get(4, 0, 20, 5),
      incr(5, 20, 21, 5),
    ]);
  });

  it('accepts operations with an unknown outcome and counts the increments among them', () => {
    assertValid([
      // May take effect at any moment after its call, or never.
      incr(1, 0, never),
      // Only the unknown increment can explain this 1.
      get(2, 1, 2, 1),
      // Process 1 never learned what its INCR returned, so reading 0 contradicts nothing.
      get(1, 3, 4, 0),
      get(2, 5, never),
      incr(1, 6, 7, 2),
      get(2, 8, 9, 2),
      incr(3, 10, never),
      get(3, 11, 12, 3),
    ]);
  });

  it('reports a read below the same process’s own increment as read-your-writes', () => {
    const wrote = incr(3, 10, 11, 6);
    const stale = get(3, 12, 13, 4);
    const [anomaly] = assertAnomalies([...increments(1, 5), wrote, stale], ['read-your-writes']);
    assert.deepEqual(anomaly, {
      kind: 'read-your-writes',
      process: 3,
      key: 'k',
      operation: stale,
      earlier: wrote,
      message: 'process 3 read k=4 at [12, 13] after it had written k=6 at [10, 11] (read-your-writes)',
    });
  });

  it('reports every read below an earlier read of the same process as monotonic-reads', () => {
    const high = get(2, 10, 11, 4);
    const history = [...increments(1, 5), high, get(2, 12, 13, 2), get(2, 14, 15, 3), get(2, 16, 17, 5)];
    const anomalies = assertAnomalies(history, ['monotonic-reads', 'monotonic-reads']);
    for (const anomaly of anomalies) assert.equal(anomaly.earlier, high);
    assert.equal(
      anomalies[0]?.message,
      'process 2 read k=2 at [12, 13] after it had read k=4 at [10, 11] (monotonic reads)',
    );
  });

  it('reports an increment at or below what the process saw before as monotonic-writes', () => {
    // Monotonic writes: the process's second increment returns an older version than its first.
    const first = incr(1, 0, 1, 2);
    const [writes] = assertAnomalies([incr(2, 0, never), first, incr(1, 2, 3, 1)], ['monotonic-writes']);
    assert.equal(writes?.earlier, first);
    assert.match(
      writes?.message ?? '',
      /wrote k=1 at \[2, 3\] after it had written k=2 .*\(monotonic writes\)$/,
    );

    // Writes follow reads: an increment lands before a version the process already read.
    const read = get(3, 10, 11, 5);
    const [follows] = assertAnomalies(
      [...increments(1, 4), incr(1, 8, never), read, incr(3, 12, 13, 5)],
      ['monotonic-writes'],
    );
    assert.equal(follows?.earlier, read);
    assert.match(follows?.message ?? '', /after it had read k=5 at \[10, 11\] \(writes-follow-reads\)$/);
  });

  it('reports values that no increment called by then could have produced', () => {
    const early = get(1, 0, 1, 1);
    const anomalies = assertAnomalies(
      [
        early,
        // Called after the read returned: it cannot explain it.
        incr(2, 2, 3, 1),
        incr(2, 4, 5, 3),
        get(3, 0, 1, 2, 'other'),
      ],
      ['value-from-nowhere', 'value-from-nowhere', 'value-from-nowhere'],
    );
    assert.equal(anomalies[0]?.operation, early);
    assert.equal(anomalies[0]?.earlier, undefined);
    assert.deepEqual(
      anomalies.map((anomaly) => anomaly.message),
      [
        'process 1 read k=1 at [0, 1], but no INCR of k had been called by 1 (value from nowhere)',
        'process 3 read other=2 at [0, 1], but no INCR of other had been called by 1 (value from nowhere)',
        'process 2 wrote k=3 at [4, 5], but only 2 INCRs of k had been called by 5 (value from nowhere)',
      ],
    );
  });

  it('reports two increments that returned the same version', () => {
    const first = incr(1, 0, 2, 1);
    const second = incr(2, 1, 3, 1);
    const [anomaly] = assertAnomalies([second, first, incr(3, 4, 5, 2)], ['duplicate-increment']);
    assert.equal(anomaly?.operation, second);
    assert.equal(anomaly?.earlier, first);
    assert.equal(anomaly?.process, 2);
    assert.equal(
      anomaly?.message,
      'process 2 wrote k=1 at [1, 3], but process 1 had written k=1 at [0, 2] too ' +
        '(duplicate increment: each increment is one version)',
    );
  });

  it('orders each process by call time, not by position in the history', () => {
    const valid = [...increments(1, 3), get(2, 6, 7, 1), get(2, 8, 9, 3), incr(2, 10, 11, 4)];
    assertValid([...valid].reverse());
    const invalid = [...increments(1, 3), get(2, 6, 7, 3), get(2, 8, 9, 1)];
    const forward = checkSessionGuarantees(invalid);
    assert.deepEqual(checkSessionGuarantees([...invalid].reverse()), forward);
    assert.equal(forward.anomalies[0]?.operation, invalid[4]);
  });

  it('with maxStalenessMs, reports a read that misses an increment acknowledged long enough before it', () => {
    const history = [
      ...increments(1, 3, 0), // process 1 acknowledged k=3 at time 5
      get(2, 100, 101, 1), // 95 ms later process 2 still reads k=1
      get(3, 7, 8, 2), // 2 ms after: within the bound
    ];
    assert.equal(checkSessionGuarantees(history).valid, true, 'stale reads across connections are allowed');
    const checked = checkSessionGuarantees(history, { maxStalenessMs: 50 });
    assert.equal(checked.valid, false);
    assert.deepEqual(
      checked.anomalies.map((anomaly) => [anomaly.kind, anomaly.process, anomaly.earlier?.output?.value]),
      [['stale-read', 2, 3]],
    );
    assert.match(checked.anomalies[0]?.message ?? '', /more than 50 ms before \(stale read\)/);
    assert.equal(checkSessionGuarantees(history, { maxStalenessMs: 200 }).valid, true);
  });

  it('lists the earliest anomalies first, up to maxAnomalies', () => {
    // Process 2 keeps reading 0 after it read 1: every one of those reads is an anomaly.
    const stale = Array.from({ length: 150 }, (_, i) => get(2, 10 + 2 * i, 11 + 2 * i, 0));
    const history = [...stale.reverse(), incr(1, 0, 1, 1), get(2, 4, 5, 1)];
    const capped = checkSessionGuarantees(history, { maxAnomalies: 2 });
    assert.equal(capped.valid, false);
    assert.deepEqual(
      capped.anomalies.map((anomaly) => anomaly.operation.call),
      [10, 12],
    );
    assert.equal(checkSessionGuarantees(history).anomalies.length, 100);
    assert.equal(
      checkSessionGuarantees(history, { maxAnomalies: Number.POSITIVE_INFINITY }).anomalies.length,
      150,
    );
    assert.deepEqual(checkSessionGuarantees(history, { maxAnomalies: 0 }), { valid: false, anomalies: [] });
  });

  it('rejects malformed histories with clear errors', () => {
    const cases: [SessionOperation[], RegExp][] = [
      [[get(1, 0, 1, -1)], /value -1 is not a non-negative integer/],
      [[get(1, 0, 1, 1.5)], /value 1\.5 is not a non-negative integer/],
      [[incr(1, 0, 1, 0)], /an INCR returns at least 1/],
      [[get(1, 5, 4, 0)], /returns at 4, before its call/],
      [[get(1, Number.NaN, 4, 0)], /call time must be finite/],
      [
        [incr(1, 0, 1, 1), incr(1, 2, 3, 2), get(1, 2.5, 4, 2)],
        /process 1 calls it at 2\.5 .*one operation at a time/,
      ],
      [[incr(1, 0, 1, 1), incr(1, 0, 2, 2)], /one operation at a time/],
    ];
    for (const [history, message] of cases) {
      assert.throws(() => checkSessionGuarantees(history), { name: 'RangeError', message });
    }
    const malformed: [unknown, RegExp][] = [
      [{ ...get(1, 0, 1, 0), return: never }, /unknown outcome needs both/],
      [get(1, 0, 1, undefined), /unknown outcome needs both/],
      [{ ...get(1, 0, 1, 0), input: { f: 'set', key: 'k' } }, /unknown operation "set"/],
      [{ ...get(1, 0, 1, 0), output: { value: '3' } }, /output must be \{ value: number \}/],
    ];
    for (const [operation, message] of malformed) {
      assert.throws(() => checkSessionGuarantees([operation as SessionOperation]), {
        name: 'TypeError',
        message,
      });
    }
    assert.throws(() => checkSessionGuarantees([], { maxAnomalies: -1 }), RangeError);
  });

  it('checks histories collected by the recorder', () => {
    const recorder = new HistoryRecorder<SessionInput, SessionOutput>();
    const written = recorder.invoke(1, { f: 'incr', key: 'k' }, 0);
    const read = recorder.invoke(2, { f: 'get', key: 'k' }, 1);
    recorder.complete(written, { value: 1 }, 2);
    recorder.complete(read, { value: 1 }, 3);
    recorder.fail(recorder.invoke(1, { f: 'incr', key: 'k' }, 4));
    recorder.invoke(2, { f: 'incr', key: 'k' }, 5);
    const again = recorder.invoke(1, { f: 'get', key: 'k' }, 6);
    recorder.complete(again, { value: 2 }, 7);
    assertValid(recorder.operations());

    const reread = recorder.invoke(1, { f: 'get', key: 'k' }, 8);
    recorder.complete(reread, { value: 0 }, 9);
    assertAnomalies(recorder.operations(), ['monotonic-reads']);
  });
});

// A model of instance consistency. Each key's increments form one global sequence (the
// authoritative value counts them); each writer's cache has applied a prefix of it, which only
// grows. A process is pinned to one writer and remembers the highest version it has seen of each
// key. It reads from its writer's cache when that cache has caught up with what it has seen, and
// the authoritative value otherwise; switching writers is then safe, because the new writer's
// lagging cache is simply not used until it has caught up.
const writerCount = 3;
const processCount = 4;
const keys = ['a', 'b'];

type Timing = { lead: number; tail: number };
type Step =
  | ({ kind: 'incr'; process: number; key: number; fate: 'ok' | 'applied' | 'lost' } & Timing)
  | ({ kind: 'get'; process: number; key: number; known: boolean } & Timing)
  | { kind: 'catch-up'; writer: number; key: number; amount: number }
  | { kind: 'switch'; process: number; writer: number };

// Steps run one at a time, 10 apart; each operation's interval reaches up to 25 either side of
// the moment it takes effect, so operations of different processes overlap a lot.
const timing = { lead: fc.nat(25), tail: fc.nat(25) };
const processArbitrary = fc.nat(processCount - 1);
const keyArbitrary = fc.nat(keys.length - 1);
const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('incr' as const),
      process: processArbitrary,
      key: keyArbitrary,
      // An unknown outcome either took effect or did not.
      fate: fc.oneof(
        { weight: 8, arbitrary: fc.constant('ok' as const) },
        fc.constant('applied' as const),
        fc.constant('lost' as const),
      ),
      ...timing,
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('get' as const),
      process: processArbitrary,
      key: keyArbitrary,
      known: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, fc.constant(false)),
      ...timing,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('catch-up' as const),
      writer: fc.nat(writerCount - 1),
      key: keyArbitrary,
      amount: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('switch' as const),
      process: processArbitrary,
      writer: fc.nat(writerCount - 1),
    }),
  },
);

interface Executed extends Timing {
  process: number;
  input: SessionInput;
  output: SessionOutput | undefined;
  time: number;
  operation?: SessionOperation;
}

interface ModelRun {
  /** In invocation order, as a recorder lists it. */
  history: SessionOperation[];
  /** Every completed GET, with the highest value its process had seen of the key before it. */
  reads: { operation: SessionOperation; seenBefore: number }[];
}

function runModel(steps: readonly Step[]): ModelRun {
  const authoritative = keys.map(() => 0);
  const applied = Array.from({ length: writerCount }, () => keys.map(() => 0));
  const pinned = Array.from({ length: processCount }, (_, process) => process % writerCount);
  const seen = Array.from({ length: processCount }, () => keys.map(() => 0));
  const executed: Executed[] = [];
  const readsSeenBefore = new Map<Executed, number>();

  steps.forEach((step, i) => {
    const time = 100 + 10 * i;
    switch (step.kind) {
      case 'catch-up': {
        const cache = applied[step.writer] as number[];
        cache[step.key] = Math.min(
          authoritative[step.key] as number,
          (cache[step.key] as number) + step.amount,
        );
        return;
      }
      case 'switch':
        pinned[step.process] = step.writer;
        return;
      case 'incr': {
        const key = keys[step.key] as string;
        let output: SessionOutput | undefined;
        if (step.fate !== 'lost') {
          const value = (authoritative[step.key] as number) + 1;
          authoritative[step.key] = value;
          if (step.fate === 'ok') {
            output = { value };
            (seen[step.process] as number[])[step.key] = value;
          }
        }
        executed.push({ ...step, input: { f: 'incr', key }, output, time });
        return;
      }
      case 'get': {
        const key = keys[step.key] as string;
        const floor = (seen[step.process] as number[])[step.key] as number;
        const cached = (applied[pinned[step.process] as number] as number[])[step.key] as number;
        const value = cached >= floor ? cached : (authoritative[step.key] as number);
        const entry: Executed = {
          ...step,
          input: { f: 'get', key },
          output: step.known ? { value } : undefined,
          time,
        };
        if (step.known) {
          (seen[step.process] as number[])[step.key] = Math.max(floor, value);
          readsSeenBefore.set(entry, floor);
        }
        executed.push(entry);
        return;
      }
    }
  });

  // Each operation's interval contains the moment it took effect and stays clear of its
  // process's neighbours, which is all a real client's timing guarantees.
  const byProcess = new Map<number, Executed[]>();
  for (const entry of executed) {
    const entries = byProcess.get(entry.process);
    if (entries === undefined) byProcess.set(entry.process, [entry]);
    else entries.push(entry);
  }
  for (const entries of byProcess.values()) {
    let previousReturn = Number.NEGATIVE_INFINITY;
    entries.forEach((entry, m) => {
      const next = entries[m + 1]?.time ?? Number.POSITIVE_INFINITY;
      const call = Math.max(previousReturn, entry.time - entry.lead);
      previousReturn = Math.min(entry.time + entry.tail, next);
      entry.operation = {
        process: entry.process,
        call,
        return: entry.output === undefined ? never : previousReturn,
        input: entry.input,
        output: entry.output,
      };
    });
  }
  const operationOf = (entry: Executed) => entry.operation as SessionOperation;
  return {
    history: executed.map(operationOf).sort((a, b) => a.call - b.call),
    reads: [...readsSeenBefore].map(([entry, seenBefore]) => ({ operation: operationOf(entry), seenBefore })),
  };
}

const modelArbitrary = fc.array(stepArbitrary, { minLength: 10, maxLength: 80 }).map(runModel);

describe('session guarantees against a model of lagging writer caches', () => {
  it('the model serves stale reads across processes, so the properties below are not vacuous', () => {
    const staleRuns = fc
      .sample(modelArbitrary, { numRuns: 100, seed: 7 })
      .filter(({ history }) =>
        history.some(
          (read) =>
            read.input.f === 'get' &&
            read.output !== undefined &&
            history.some(
              (write) =>
                write.input.f === 'incr' &&
                write.process !== read.process &&
                write.input.key === read.input.key &&
                write.return < read.call &&
                (write.output?.value ?? 0) > (read.output?.value ?? 0),
            ),
        ),
      );
    assert.ok(staleRuns.length >= 20, `only ${staleRuns.length} of 100 histories have a stale read`);
  });

  it('accepts every history the model produces', () => {
    fc.assert(
      fc.property(modelArbitrary, ({ history }) => {
        const result = checkSessionGuarantees(history);
        assert.deepEqual(result.anomalies, []);
        assert.equal(result.valid, true);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects a history where one read goes back below what its process saw before', () => {
    fc.assert(
      fc.property(modelArbitrary, fc.nat(), fc.nat(), ({ history, reads }, pick, lower) => {
        const candidates = reads.filter((read) => read.seenBefore > 0);
        fc.pre(candidates.length > 0);
        const { operation, seenBefore } = candidates[pick % candidates.length] as (typeof candidates)[number];
        const value = lower % seenBefore;
        const moved: SessionOperation = { ...operation, output: { value } };
        const tampered = history.map((candidate) => (candidate === operation ? moved : candidate));

        const result = checkSessionGuarantees(tampered);
        assert.equal(result.valid, false);
        assert.equal(
          result.anomalies.length,
          1,
          result.anomalies.map((anomaly) => anomaly.message).join('\n'),
        );
        const [anomaly] = result.anomalies;
        assert.ok(anomaly?.kind === 'read-your-writes' || anomaly?.kind === 'monotonic-reads');
        assert.equal(anomaly.operation, moved);
        assert.equal(anomaly.earlier?.process, operation.process);
        assert.equal(anomaly.earlier?.output?.value, seenBefore);
      }),
      { numRuns: 200 },
    );
  });
});
