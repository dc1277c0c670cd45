// Child process for the descriptor test: inspect each given file N times, print fd counts as JSON.
// Run in its own process so the test can see everything written to the real stderr (fd 2).
import fs from 'node:fs';
import { inspectUvh5 } from '../../../lib/uvh5/index.js';

const [nText, ...files] = process.argv.slice(2);
const n = Number(nText);
const fdCount = (): number => fs.readdirSync('/proc/self/fd').length;
// Warm up once so lazily opened descriptors (the diag capture file) are counted before the baseline.
for (const f of files) inspectUvh5(f);
const before = fdCount();
const reasons: Record<string, string> = {};
for (let i = 0; i < n; i++) {
  const f = files[i % files.length];
  const r = inspectUvh5(f);
  reasons[f] = r.ok ? 'ok' : r.reason;
}
process.stdout.write(JSON.stringify({ before, after: fdCount(), reasons }));
