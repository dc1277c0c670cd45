// The "before" of a before/after bench: a git ref of this repository extracted with `git archive` into a temp
// folder, node_modules linked, built with tsc; reused while the ref's commit is the same.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The built tree of `ref` under dir (dir/baseline-<commit>), building it on first use. */
export function buildBaseline(ref: string, dir: string): string {
  const commit = execFileSync('git', ['rev-parse', ref], { cwd: REPO, encoding: 'utf8' }).trim();
  const tree = path.join(dir, `baseline-${commit.slice(0, 12)}`);
  const done = path.join(tree, '.built');
  if (!fs.existsSync(done)) {
    fs.rmSync(tree, { recursive: true, force: true });
    fs.mkdirSync(tree, { recursive: true });
    const tar = execFileSync('git', ['archive', commit], { cwd: REPO, maxBuffer: 1 << 30 });
    execFileSync('tar', ['-x', '-C', tree], { input: tar });
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(tree, 'node_modules'));
    execFileSync(
      process.execPath,
      [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      { cwd: tree, stdio: 'inherit' },
    );
    fs.writeFileSync(done, `${commit}\n`);
  }
  // A tree built from another checkout (a removed worktree) links node_modules that may be gone: link this one.
  const modules = path.join(tree, 'node_modules');
  if (fs.readlinkSync(modules) !== path.join(REPO, 'node_modules')) {
    fs.rmSync(modules);
    fs.symlinkSync(path.join(REPO, 'node_modules'), modules);
  }
  return tree;
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
