// bench/thumbnail-daemon: the thumbnail daemon's real per-image cost, claim → PNG written → row updated
// (jobs.started_at → thumbnails.rendered_at), for 4096² and 8192² simulated images, measured on the built
// daemon of this tree ("after") and of a baseline git ref ("before", extracted with git archive and built
// in a temp folder) in the same run, alternating, against the render-only figure (renderThumbnail without
// statistics, in a fresh process) of this tree. Ratios first, then where the time goes: the render thread's
// stages (the daemon's contimg_thumbnails_render_seconds, mean per image) and the rest of claim → row (the
// hand-off to and from the render thread, the claim and the row's transaction). The images are read once
// before the runs, so neither tree pays a cold page cache.
//   npm run build && npx tsx bench/thumbnail-daemon.ts [--baseline main] [--images 4] [--sizes 4096,8192] [--rounds 2]
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { migrateUp } from '../lib/migrations/index.js';
import { writeSimulatedImage } from '../lib/sim/fits-images.js';
import { buildBaseline, median } from './baseline.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const baselineRef = opt('--baseline', 'main');
const nImages = Number(opt('--images', '4'));
const rounds = Number(opt('--rounds', '2'));
const sizes = opt('--sizes', '4096,8192').split(',').map(Number);

/** Render-only: renderThumbnail (no statistics) of the file, reps times in a fresh process; median ms. */
function renderOnly(tree: string, file: string, reps: number): number {
  const lib = path.join(tree, 'dist/lib/fits/index.js');
  const code = `
    import { renderThumbnail } from ${JSON.stringify('file://' + lib)};
    import { performance } from 'node:perf_hooks';
    const times = [];
    for (let i = 0; i < ${reps}; i++) { const t = performance.now(); renderThumbnail(${JSON.stringify(file)}); times.push(performance.now() - t); }
    console.log(JSON.stringify(times));`;
  const times = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }),
  ) as number[];
  return median(times);
}

/**
 * The same renders warm in one fresh process, alternating: the before tree's and this tree's renderThumbnail
 * with statistics, and this tree's without (render-only); median ms of each over `reps` after 4 to warm up.
 * Free of the daemon runs' cold first images, and each of the three meets the same moment's load.
 */
function warmRenders(beforeTree: string, file: string, reps: number): Record<string, number> {
  const lib = (tree: string): string => JSON.stringify('file://' + path.join(tree, 'dist/lib/fits/index.js'));
  const code = `
    const { renderThumbnail: before } = await import(${lib(beforeTree)});
    const { renderThumbnail: after } = await import(${lib(root)});
    const t = { before: [], after: [], renderOnly: [] };
    for (let i = 0; i < ${reps} + 4; i++)
      for (const [k, f, o] of [['before', before, { stats: true }], ['after', after, { stats: true }], ['renderOnly', after, {}]]) {
        const r = f(${JSON.stringify(file)}, o);
        if (i >= 4) t[k].push(r.timings.total);
      }
    console.log(JSON.stringify(t));`;
  const t = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }),
  ) as Record<string, number[]>;
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]));
}

interface RunResult {
  /** Per image: claim → row updated (ms). */
  perImage: number[];
  /** Per image: claim → row updated minus the render thread's own time (ms). */
  outside: number[];
  /** Stage → [sum of seconds, count] from the daemon's render histogram. */
  stages: Map<string, [number, number]>;
}

/** The render histogram's per-stage sums and counts from a /metrics text. */
function stageSums(text: string): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const m of text.matchAll(
    /^contimg_thumbnails_render_seconds_(sum|count)\{stage="([a-z_]+)"\} (\S+)$/gm,
  )) {
    const cur = out.get(m[2]) ?? [0, 0];
    cur[m[1] === 'sum' ? 0 : 1] = Number(m[3]);
    out.set(m[2], cur);
  }
  return out;
}

/** Run the tree's built daemon on fresh databases over the images. */
async function daemonRun(tree: string, work: string, images: string[]): Promise<RunResult> {
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const state = path.join(work, 'state.sqlite3');
  const pipeline = path.join(work, 'pipeline.sqlite3');
  await migrateUp({ path: state, set: 'state', backup: false });
  await migrateUp({ path: pipeline, set: 'pipeline', backup: false });
  const db = new Database(pipeline);
  const insert = db.prepare(
    "INSERT INTO images (path, ms_path, created_at, type) VALUES (?, 'x.ms', 0, '5min')",
  );
  for (const p of images) insert.run(p);
  db.close();
  const cfg = path.join(work, 'contimg.json');
  fs.writeFileSync(
    cfg,
    JSON.stringify({
      dataDir: work,
      databases: { state, pipeline },
      log: { level: 'info' },
      thumbnailWorker: {
        port: 0,
        outputDir: path.join(work, 'out'),
        settleS: 0,
        pollS: 0.05,
        concurrency: 1,
      },
    }),
  );
  const child = spawn(
    process.execPath,
    [path.join(tree, 'dist/daemons/thumbnail-worker/main.js'), '--config', cfg],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let port = 0;
  let buffered = '';
  child.stdout.on('data', (b: Buffer) => {
    buffered += b.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const p = /"port":(\d+).*"msg":"listening"/.exec(line);
      if (p) port = Number(p[1]);
    }
  });
  const sdb = new Database(state, { readonly: true });
  try {
    const deadline = Date.now() + 600_000;
    for (;;) {
      const n = (
        sdb.prepare("SELECT count(*) AS n FROM thumbnails WHERE status = 'done'").get() as { n: number }
      ).n;
      if (n === images.length) break;
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`daemon of ${tree} did not finish`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const rows = sdb
      .prepare(
        `SELECT t.rendered_at - j.started_at AS ms, t.render_ms AS render FROM thumbnails t
         JOIN jobs j ON j.id = t.job_id ORDER BY t.id`,
      )
      .all() as { ms: number; render: number }[];
    if (!port) throw new Error(`daemon of ${tree} logged no port`);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return {
      perImage: rows.map((r) => r.ms),
      outside: rows.map((r) => r.ms - r.render),
      stages: stageSums(metrics),
    };
  } finally {
    sdb.close();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

/** Mean ms per image of every render stage, and the median of the time outside the render thread. */
function stageTable(runs: Record<'before' | 'after', RunResult[]>): string {
  const mean = (rs: RunResult[], stage: string): string => {
    let sum = 0;
    let n = 0;
    for (const r of rs) {
      const [s, c] = r.stages.get(stage) ?? [0, 0];
      sum += s;
      n += c;
    }
    return n ? `${((sum / n) * 1000).toFixed(1)} ms` : '-';
  };
  const stages = [...new Set(runs.after.flatMap((r) => [...r.stages.keys()]))].filter(
    (s) => s !== 'settle' && s !== 'total',
  );
  const lines = ['  stage (mean per image)        before       after'];
  for (const s of [...stages, 'total'])
    lines.push(`  ${s.padEnd(28)} ${mean(runs.before, s).padStart(9)} ${mean(runs.after, s).padStart(11)}`);
  const outside = (rs: RunResult[]): string => `${median(rs.flatMap((r) => r.outside)).toFixed(1)} ms`;
  lines.push(
    `  ${'outside the thread (median)'.padEnd(28)} ${outside(runs.before).padStart(9)} ${outside(runs.after).padStart(11)}`,
  );
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const dir = path.join(os.tmpdir(), 'contimg-bench-thumbnail-daemon');
  fs.mkdirSync(dir, { recursive: true });
  const before = buildBaseline(baselineRef, dir);
  process.stdout.write(
    `node ${process.versions.node}, ${os.cpus().length} cores, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; before = ${baselineRef} (${path.basename(before)}), after = this tree; ` +
      `${nImages} images × ${rounds} rounds per size\n`,
  );
  for (const n of sizes) {
    const images = Array.from({ length: nImages }, (_, i) => {
      const name = `sim${n}-${i}-image.fits`;
      const p = path.join(dir, name);
      if (!fs.existsSync(p)) writeSimulatedImage({ dir, name, nx: n, ny: n, seed: i + 1, nSources: 300 });
      return p;
    });
    for (const p of images) fs.readFileSync(p); // warm the page cache for both trees alike
    const runs: Record<'before' | 'after', RunResult[]> = { before: [], after: [] };
    const renders: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Render-only in every round too, so the ratio's two sides meet the same load.
      runs.before.push(await daemonRun(before, path.join(dir, 'run-before'), images));
      renders.push(renderOnly(root, images[r % images.length], 3));
      runs.after.push(await daemonRun(root, path.join(dir, 'run-after'), images));
    }
    const per = {
      before: runs.before.flatMap((x) => x.perImage),
      after: runs.after.flatMap((x) => x.perImage),
    };
    const render = median(renders);
    const b = median(per.before);
    const a = median(per.after);
    process.stdout.write(
      `\n${n}²: per image (claim → PNG → row) / render-only: before ${(b / render).toFixed(2)}×, after ${(a / render).toFixed(2)}× (goal ≤ 1.5×); after/before ${(a / b).toFixed(2)}×\n` +
        `  before ${b.toFixed(0)} ms, after ${a.toFixed(0)} ms, render-only ${render.toFixed(0)} ms (median of ${per.after.length} images each; render-only: median of ${rounds} rounds)\n`,
    );
    process.stdout.write(stageTable(runs));
    const w = warmRenders(before, images[0], 10);
    process.stdout.write(
      `  warm, one process, alternating: with statistics / render-only: before ${(w.before / w.renderOnly).toFixed(2)}×, ` +
        `after ${(w.after / w.renderOnly).toFixed(2)}× (${w.before.toFixed(0)} → ${w.after.toFixed(0)} ms; render-only ${w.renderOnly.toFixed(0)} ms)\n`,
    );
  }
}

await main();
