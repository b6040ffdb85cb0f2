import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ClusterSettings,
  isMultipleOfStep,
  lowestFreePort,
  settingsAfterChange,
  settingsForNewCluster,
} from '../../apps/control-plane/src/clusters/cluster-rules.js';

function ok(result: ReturnType<typeof settingsForNewCluster>): ClusterSettings {
  assert.equal(result.ok, true, JSON.stringify(result));
  return (result as { settings: ClusterSettings }).settings;
}

function problems(result: ReturnType<typeof settingsForNewCluster>): string[] {
  assert.equal(result.ok, false, `expected a refusal, got ${JSON.stringify(result)}`);
  return (result as { problems: { field: string; problems: string[] }[] }).problems.map(
    (problem) => `${problem.field}: ${problem.problems.join(' ')}`,
  );
}

describe('settings of a new cluster', () => {
  it('gives a serverless cluster the defaults: 0 to 4 CU, pausing after 300 s, writers of up to 8 CU, a 30 s window', () => {
    assert.deepEqual(ok(settingsForNewCluster('serverless', {})), {
      mode: 'serverless',
      minCu: 0,
      maxCu: 4,
      autoPauseSeconds: 300,
      cuPerWriterMax: 8,
      scaleDownWindowSeconds: 30,
      writerCount: null,
      cuPerWriter: null,
      readConsistency: 'instance',
      tls: 'optional',
    });
  });

  it('raises the default maximum to a minimum above it', () => {
    const settings = ok(settingsForNewCluster('serverless', { minCu: 16 }));
    assert.equal(settings.maxCu, 16);
    assert.equal(settings.autoPauseSeconds, null, 'a cluster with minCu > 0 never pauses');
  });

  it('refuses min above max, naming both values', () => {
    assert.match(
      problems(settingsForNewCluster('serverless', { minCu: 8, maxCu: 2 }))[0] ?? '',
      /minCu \(8\).*maxCu \(2\)/,
    );
  });

  it('refuses a maximum of 0', () => {
    assert.match(
      problems(settingsForNewCluster('serverless', { maxCu: 0 }))[0] ?? '',
      /^maxCu: .*at least 0.5/,
    );
  });

  it('refuses auto-pause with minCu above 0, and no auto-pause at minCu 0', () => {
    assert.match(
      problems(settingsForNewCluster('serverless', { minCu: 1, autoPauseSeconds: 60 }))[0] ?? '',
      /^autoPauseSeconds: .*only when minCu is 0/,
    );
    assert.match(
      problems(settingsForNewCluster('serverless', { minCu: 0, autoPauseSeconds: null }))[0] ?? '',
      /^autoPauseSeconds: autoPauseSeconds cannot be null/,
    );
  });

  it('refuses the fields of the other mode', () => {
    assert.match(
      problems(settingsForNewCluster('serverless', { writerCount: 2 }))[0] ?? '',
      /^writerCount: .*does not apply to serverless/,
    );
    const refused = problems(settingsForNewCluster('provisioned', { minCu: 1, autoPauseSeconds: 5 }));
    assert.equal(refused.length, 2);
  });

  it('gives a provisioned cluster one writer of 2 CU by default and caps the total at 256 CU', () => {
    const settings = ok(settingsForNewCluster('provisioned', { readConsistency: 'cluster' }));
    assert.deepEqual([settings.writerCount, settings.cuPerWriter, settings.minCu], [1, 2, null]);
    assert.equal(settings.readConsistency, 'cluster');
    assert.match(
      problems(settingsForNewCluster('provisioned', { writerCount: 16, cuPerWriter: 16.5 }))[0] ?? '',
      /must not exceed 256/,
    );
  });
});

describe('settings after a change', () => {
  const current = ok(settingsForNewCluster('serverless', { minCu: 0, maxCu: 8, autoPauseSeconds: 60 }));

  it('keeps what the change does not mention', () => {
    const changed = ok(settingsAfterChange(current, { maxCu: 16 }));
    assert.deepEqual([changed.minCu, changed.maxCu, changed.autoPauseSeconds], [0, 16, 60]);
  });

  it('drops auto-pause when the minimum rises above 0, and restores the default when it returns to 0', () => {
    const raised = ok(settingsAfterChange(current, { minCu: 2 }));
    assert.equal(raised.autoPauseSeconds, null);
    const lowered = ok(settingsAfterChange(raised, { minCu: 0 }));
    assert.equal(lowered.autoPauseSeconds, 300);
  });

  it('checks the merged settings: a lower max under the current min is refused', () => {
    const raised = ok(settingsAfterChange(current, { minCu: 4 }));
    assert.match(problems(settingsAfterChange(raised, { maxCu: 2 }))[0] ?? '', /minCu \(4\).*maxCu \(2\)/);
  });

  it('changes the TLS policy alone, in either mode, keeping the rest', () => {
    const required = ok(settingsAfterChange(current, { tls: 'required' }));
    assert.deepEqual(required, { ...current, tls: 'required' });
    const provisioned = ok(settingsForNewCluster('provisioned', { tls: 'off' }));
    assert.equal(provisioned.tls, 'off');
    assert.equal(ok(settingsAfterChange(provisioned, { writerCount: 2 })).tls, 'off');
  });

  it('refuses an empty change', () => {
    assert.match(problems(settingsAfterChange(current, {}))[0] ?? '', /send at least one of/);
  });
});

describe('capacity steps and endpoint ports', () => {
  it('accepts only multiples of 0.5', () => {
    for (const value of [0, 0.5, 1, 7.5, 256]) assert.equal(isMultipleOfStep(value), true, String(value));
    for (const value of [0.25, 0.3, 1.1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.equal(isMultipleOfStep(value), false, String(value));
    }
  });

  it('finds the lowest free port and reports exhaustion', () => {
    assert.equal(lowestFreePort([], 7500, 7502), 7500);
    assert.equal(lowestFreePort([7500, 7502], 7500, 7502), 7501);
    assert.equal(lowestFreePort([7500, 7501, 7502], 7500, 7502), null);
  });

  it('agrees with a brute-force search over random port sets', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 500; round += 1) {
      const used = Array.from({ length: Math.floor(random() * 12) }, () => 100 + Math.floor(random() * 10));
      const expected =
        [100, 101, 102, 103, 104, 105, 106, 107, 108, 109].find((port) => !used.includes(port)) ?? null;
      assert.equal(lowestFreePort(used, 100, 109), expected);
    }
  });
});
