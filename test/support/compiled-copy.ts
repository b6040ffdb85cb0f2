// A patched copy of parts of the compiled tree, for mutation checks: break a rule in the copy
// (never in the sources), run the checker on the copy, and require it to notice. The copy lives
// inside dist/, so that its imports of packages resolve from the repository's node_modules.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/, from dist/test/support. */
const compiled = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Patch {
  /** File in the compiled tree, relative to dist/ (e.g. `libs/quorum/src/replica.js`). */
  file: string;
  /** Must match exactly once, so that the check fails loudly if the code drifts. */
  anchor: RegExp;
  replacement: string;
}

/** Copies `parts` of dist/ (folders such as `libs`) and applies `patches`; `remove` deletes the copy. */
export function patchedCopy(
  parts: readonly string[],
  patches: readonly Patch[],
): { root: string; remove(): void } {
  const root = mkdtempSync(join(compiled, '.mutant-'));
  const remove = () => rmSync(root, { recursive: true, force: true });
  try {
    for (const part of parts) cpSync(join(compiled, part), join(root, part), { recursive: true });
    for (const patch of patches) {
      const path = join(root, patch.file);
      const source = readFileSync(path, 'utf8');
      const matches = source.match(new RegExp(patch.anchor.source, 'g')) ?? [];
      assert.equal(matches.length, 1, `the anchor ${patch.anchor} must occur exactly once in ${patch.file}`);
      writeFileSync(path, source.replace(patch.anchor, patch.replacement));
    }
  } catch (error) {
    remove();
    throw error;
  }
  return { root, remove };
}
