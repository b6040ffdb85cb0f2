// The linter (Biome: formatting, recommended rules, and no import cycles) is part of the suite.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { repoRoot } from '../support/environment.js';

it('passes the linter, the formatter and the import-cycle check', () => {
  const biome = join(repoRoot, 'node_modules', '.bin', 'biome');
  const result = spawnSync(biome, ['check', '--colors=off', '--max-diagnostics=30', '.'], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(
    result.status,
    0,
    `biome check found problems (fix with: npx biome check --write .)\n${result.stdout}${result.stderr}`,
  );
});
