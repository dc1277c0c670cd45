// The vitest config for mutation runs (scripts/mutate.ts): the repository's own, restricted to the test files
// of the module under test, which scripts/mutate.ts passes in CONTIMG_MUTATE_TESTS (a JSON array).
// Choosing the files here instead of with Stryker's --testFiles keeps static mutants (module-level constants)
// honest: given a test filter, Stryker 9.6 activates them only after the module has been imported, so they
// would all "survive" (stryker-js issue 6144).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import base from '../vitest.config.js';

const include = JSON.parse(process.env.CONTIMG_MUTATE_TESTS ?? '[]') as string[];
if (include.length === 0) throw new Error('CONTIMG_MUTATE_TESTS names no test files (run npm run mutate)');

export default defineConfig({
  ...base,
  root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'),
  test: { ...base.test, include },
});
