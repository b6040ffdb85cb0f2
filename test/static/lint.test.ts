// The linter (Biome: formatting, recommended rules, and no import cycles) is part of the suite.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/environment.js';

const biome = join(repoRoot, 'node_modules', '.bin', 'biome');

function runBiome(args: string[]) {
  return spawnSync(biome, [...args, '--colors=off', '--max-diagnostics=30'], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

describe('static checks', () => {
  it('passes the linter, the formatter and the import-cycle check', () => {
    const result = runBiome(['check', '.']);
    assert.equal(
      result.status,
      0,
      `biome check found problems (fix with: npx biome check --write .)\n${result.stdout}${result.stderr}`,
    );
  });

  it('would catch an import cycle (the check is not a no-op)', () => {
    // Two modules that import each other, inside the linted tree, removed afterwards.
    // .mts: outside tsconfig's `**/*.ts`, so a build running meanwhile does not pick them up.
    const probe = mkdtempSync(join(repoRoot, 'test', 'cycle-probe-'));
    try {
      writeFileSync(
        join(probe, 'a.mts'),
        "import { b } from './b.mjs';\nexport const a = (): number => b() + 1;\n",
      );
      writeFileSync(
        join(probe, 'b.mts'),
        "import { a } from './a.mjs';\nexport const b = (): number => a.length;\n",
      );
      const result = runBiome(['lint', relative(repoRoot, probe)]);
      assert.notEqual(result.status, 0);
      assert.match(result.stdout + result.stderr, /noImportCycles/);
    } finally {
      rmSync(probe, { recursive: true, force: true });
    }
  });

  it('keeps network, disk and timers out of the protocol core (the rule is not a no-op)', () => {
    const probe = mkdtempSync(join(repoRoot, 'libs', 'quorum', 'src', 'io-probe-'));
    try {
      writeFileSync(
        join(probe, 'impure.mts'),
        "import { connect } from 'node:net';\nexport const later = (): unknown => setTimeout(() => connect(1), 1);\n",
      );
      const result = runBiome(['lint', relative(repoRoot, probe)]);
      assert.notEqual(result.status, 0);
      assert.match(result.stdout + result.stderr, /noRestrictedImports/);
      assert.match(result.stdout + result.stderr, /noRestrictedGlobals/);
    } finally {
      rmSync(probe, { recursive: true, force: true });
    }
  });
});
