// A fresh temp folder per test, removed afterwards unless the test failed (kept for a post-mortem).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function makeTmpDir(prefix = 'contimg-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeTmpDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * The repository root and the shared data folder (tests read fixtures from ../shared/data). A copy of the
 * repository elsewhere (Stryker's sandbox under .stryker-tmp/) has no ../shared beside it: CONTIMG_SHARED_DATA
 * names the folder then.
 */
export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const SHARED_DATA = path.resolve(
  process.env.CONTIMG_SHARED_DATA || path.resolve(REPO_ROOT, '..', 'shared', 'data'),
);
