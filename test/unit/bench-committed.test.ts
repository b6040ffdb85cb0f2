import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { committedSection, compareWithCommitted, median } from '../../bench/lib/committed.js';

const DOC = `# Benchmarks

<!-- bench:quorum -->
## quorum

Measured 2026-11-22 04:41 UTC on AMD EPYC, 2 cores.

| system | shape | in flight | commits/s | server CPU ms per commit |
| --- | --- | ---: | ---: | ---: |
| etcd | batch 1: put of a new key | 64 | 3983 | 0.37 |
| Borealis | batch 1: insert of a new key (seq 0) | 64 | 4019 | 0.41 |
| Borealis | batch 1: insert of a new key (seq 0) | 256 | 5642 | 0.29 |

- a note
<!-- /bench:quorum -->
`;

describe('the committed benchmark figures', () => {
  it('reads a section’s table back and compares a run with it, flagging a figure above the allowed ratio', () => {
    const section = committedSection(DOC, 'quorum');
    assert.ok(section !== null);
    assert.match(section.measured, /^Measured 2026-11-22/);
    assert.equal(section.rows.length, 3);
    assert.equal(section.rows[1]?.['server CPU ms per commit'], '0.41');
    const now = [
      {
        system: 'Borealis',
        shape: 'batch 1: insert of a new key (seq 0)',
        'in flight': 64,
        'server CPU ms per commit': 0.64,
      },
      {
        system: 'Borealis',
        shape: 'batch 1: insert of a new key (seq 0)',
        'in flight': 256,
        'server CPU ms per commit': 0.3,
      },
      { system: 'Borealis', shape: 'a shape not committed', 'in flight': 64, 'server CPU ms per commit': 9 },
    ];
    const compared = compareWithCommitted(
      now,
      section,
      ['system', 'shape', 'in flight'],
      'server CPU ms per commit',
      1.25,
    );
    assert.equal(compared.regressions, 1);
    assert.deepEqual(compared.lines, [
      'Borealis · batch 1: insert of a new key (seq 0) · 64: 0.64 now, 0.41 committed (1.56×), higher than the 1.25× allowed',
      'Borealis · batch 1: insert of a new key (seq 0) · 256: 0.3 now, 0.29 committed (1.03×)',
    ]);
    // The machine ran 1.5× slower for its peer too: then nothing stands out.
    const drifted = compareWithCommitted(
      now,
      section,
      ['system', 'shape', 'in flight'],
      'server CPU ms per commit',
      1.25,
      1.5,
    );
    assert.equal(drifted.regressions, 0);
    assert.match(drifted.lines[0] ?? '', /\(1\.56×, 1\.04× after the machine's drift\)$/);
    assert.deepEqual(
      drifted.ratios.map((ratio) => ratio.toFixed(2)),
      ['1.56', '1.03'],
    );
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([1, 2, 3, 4]), 2.5);
    assert.equal(median([]), 1);
    assert.equal(committedSection(DOC, 'absent'), null);
  });
});
