// What an idle daemon carries (docs/performance.md "Idle footprint"): in `npm start`'s configuration (contimg
// dev without the simulator), once every daemon is ready, no daemon has loaded a heavy module it does not need
// yet. h5wasm (HDF5 in WebAssembly, ~40 MB) loads when the first UVH5 header is read, the FITS render path and
// the render threads with the first thumbnail; the pointing monitor needs the astronomy code from the start
// (it computes transits), and the alert dispatcher its channels' clients. Every module resolution of each
// process is recorded by a node:module hook (one trace file per pid).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { moduleTraceEnv, readModuleTrace } from '../../helpers/module-trace.js';
import { freePort } from '../../helpers/net.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

/** Heavy modules by name: a package, or the files of a code path that loads on first use. */
const HEAVY: Record<string, RegExp> = {
  h5wasm: /^node_modules\/h5wasm\//,
  'uvh5 reader': /^dist\/lib\/uvh5\/(header|writer)\.js$/,
  'fits render': /^dist\/lib\/fits\/(render|decode|png|colormap-data|zscale|downsample)\.js$/,
  'render thread': /^dist\/daemons\/thumbnail-worker\/render-(thread|task)\.js$/,
  astronomy: /^node_modules\/astronomy-engine\//,
  nodemailer: /^node_modules\/nodemailer\//,
  slack: /^node_modules\/@slack\//,
};

/** What each idle daemon may have loaded of HEAVY. */
const ALLOWED: Record<string, string[]> = {
  'streaming-converter': [],
  'pointing-monitor': ['astronomy'],
  scheduler: [],
  'alert-dispatcher': ['nodemailer', 'slack'],
  'thumbnail-worker': [],
};

let dir: string;
let dev: ChildProcess | undefined;
afterEach(async () => {
  if (dev && dev.exitCode === null && dev.signalCode === null) {
    const exited = new Promise((r) => dev!.once('exit', r));
    dev.kill('SIGTERM');
    await exited;
  }
  dev = undefined;
  removeTmpDir(dir);
});

it('an idle daemon in npm start has loaded no heavy module it does not need yet', async () => {
  dir = makeTmpDir('contimg-idle-modules-');
  const trace = path.join(dir, 'trace-%p.txt');
  const base = ((await freePort()) % 50_000) + 10_000;
  let out = '';
  dev = spawn(
    process.execPath,
    [
      path.join(REPO_ROOT, 'dist/cli/contimg.js'),
      'dev',
      '--no-simulate',
      '--no-demo-alert',
      '--data-dir',
      path.join(dir, 'var'),
      '--port-base',
      String(base),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...moduleTraceEnv(dir, trace) } },
  );
  dev.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  dev.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const started = (): Map<string, { pid: number; port: number }> =>
    new Map(
      [...out.matchAll(/^dev: started (\S+) \(pid (\d+)\): http:\/\/[^:]+:(\d+)\//gm)].map((m) => [
        m[1],
        { pid: Number(m[2]), port: Number(m[3]) },
      ]),
    );
  await waitFor(() => started().size === Object.keys(ALLOWED).length, {
    what: 'every daemon started',
    timeoutMs: 90_000,
    intervalMs: 250,
  });
  const daemons = started();
  for (const [name, d] of daemons)
    await waitFor(
      async () =>
        (await fetch(`http://127.0.0.1:${d.port}/readyz`, { signal: AbortSignal.timeout(5000) })).ok,
      { what: `${name} ready`, timeoutMs: 90_000, intervalMs: 250 },
    );
  const heavyLoaded = Object.fromEntries(
    [...daemons].map(([name, d]) => {
      const files = [
        ...readModuleTrace(trace.replace('%p', String(d.pid))).files,
        ...readModuleTrace(trace.replace('%p', String(d.pid))).packages.map((p) => `node_modules/${p}/`),
      ];
      return [name, Object.keys(HEAVY).filter((h) => files.some((f) => HEAVY[h].test(f)))];
    }),
  );
  expect(heavyLoaded).toEqual(ALLOWED);
  // The trace is real: every daemon loaded its own entry point and the shared daemon lifecycle.
  for (const [name, d] of daemons)
    expect(readModuleTrace(trace.replace('%p', String(d.pid))).files).toEqual(
      expect.arrayContaining([`dist/daemons/${name}/main.js`, 'dist/lib/daemon/index.js']),
    );
}, 180_000);
