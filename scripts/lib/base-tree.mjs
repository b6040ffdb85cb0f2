// An earlier commit checked out beside this one and compiled, for the scripts that compare two
// builds (`npm run side-by-side`, `npm run sim-compare`).
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.mjs';
import { repoRoot } from './paths.mjs';

/** Removes the worktree at `tree`, if any: its link to node_modules first, so that only the link goes. */
export async function removeBaseTree(tree) {
  const sharedModules = join(tree, 'node_modules');
  if (existsSync(sharedModules)) unlinkSync(sharedModules);
  if (existsSync(tree)) {
    await run('git', ['worktree', 'remove', '--force', tree], { cwd: repoRoot }).catch(() => undefined);
    rmSync(tree, { recursive: true, force: true });
  }
  await run('git', ['worktree', 'prune'], { cwd: repoRoot });
}

/**
 * Checks `rev` out as a git worktree at `tree` (replacing one left there) and compiles it. It
 * shares this checkout's node_modules, so `rev` must have the same package-lock.json.
 * @param {string} rev @param {string} tree @returns {Promise<string>} the commit's full hash
 */
export async function checkOutAndBuild(rev, tree) {
  const commit = (await run('git', ['rev-parse', '--verify', `${rev}^{commit}`], { cwd: repoRoot })).trim();
  await removeBaseTree(tree);
  mkdirSync(join(tree, '..'), { recursive: true });
  await run('git', ['worktree', 'add', '--detach', tree, commit], { cwd: repoRoot });
  const lock = (root) => readFileSync(join(root, 'package-lock.json'), 'utf8');
  if (lock(tree) !== lock(repoRoot))
    throw new Error(`${rev} has another package-lock.json: compare builds that share their dependencies`);
  symlinkSync(join(repoRoot, 'node_modules'), join(tree, 'node_modules'), 'dir');
  await run(process.execPath, [join(tree, 'scripts', 'build.mjs')], { cwd: tree });
  return commit;
}
