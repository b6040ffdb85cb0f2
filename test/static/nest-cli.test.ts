// nest-cli.json describes the monorepo; every project it names must exist and compile.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { repoRoot } from '../support/environment.js';

interface NestProject {
  type: 'application' | 'library';
  root: string;
  sourceRoot: string;
  entryFile: string;
}

const nestCli = JSON.parse(readFileSync(join(repoRoot, 'nest-cli.json'), 'utf8')) as {
  monorepo: boolean;
  projects: Record<string, NestProject>;
};

it('lists every app and library, each with a source entry file that compiles', () => {
  assert.equal(nestCli.monorepo, true);
  const onDisk = [
    ...readdirSync(join(repoRoot, 'apps')).map((name) => `apps/${name}`),
    ...readdirSync(join(repoRoot, 'libs')).map((name) => `libs/${name}`),
  ].sort();
  assert.deepEqual(
    Object.values(nestCli.projects)
      .map((project) => project.root)
      .sort(),
    onDisk,
  );
  for (const [name, project] of Object.entries(nestCli.projects)) {
    const source = join(repoRoot, project.sourceRoot, `${project.entryFile}.ts`);
    const compiled = join(repoRoot, 'dist', project.sourceRoot, `${project.entryFile}.js`);
    assert.ok(existsSync(source), `${name}: ${source} is missing`);
    assert.ok(existsSync(compiled), `${name}: ${compiled} was not built`);
  }
});

it('gives every app an ARCHITECTURE.md', () => {
  for (const [name, project] of Object.entries(nestCli.projects)) {
    if (project.type !== 'application') continue;
    assert.ok(existsSync(join(repoRoot, project.root, 'ARCHITECTURE.md')), `${name} has no ARCHITECTURE.md`);
  }
});
