// docs/deploy.md, run: every step not marked "not run in tests" is executed as written, under a temporary
// root folder (absolute paths of the install moved into it, `sudo` dropped because the tests run as root,
// the contimg user created with useradd --prefix and referred to by its numeric ids). Then the result is
// checked: owners and modes of the config, secrets and data folders, a migrated database, units that
// systemd-analyze verifies, a Prometheus config promtool accepts, an Alertmanager config amtool accepts,
// Grafana provisioning in place.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireExecutable } from '../../cli/prometheus.js';
import { headVersion } from '../../lib/migrations/index.js';
import { loadAssets } from '../../lib/status/assets.js';
import { makeTmpDir, removeTmpDir, REPO_ROOT } from '../helpers/tmp.js';
import { runTool } from './helpers.js';

const DOC = path.join(REPO_ROOT, 'docs', 'deploy.md');

interface Step {
  name: string;
  notRun?: string;
  script: string;
}

/** The steps: a `<!-- step: NAME[; not run in tests: WHY] -->` comment, then a ```sh block. */
function steps(): Step[] {
  const text = fs.readFileSync(DOC, 'utf8');
  const out: Step[] = [];
  for (const m of text.matchAll(
    /<!-- step: ([a-z-]+)(?:; not run in tests: ([^>]+?))? -->\s*```sh\n([\s\S]*?)```/g,
  ))
    out.push({ name: m[1], notRun: m[2], script: m[3] });
  return out;
}

/** Absolute install paths that move under the test root. */
const MOVED = [
  '/etc/contimg',
  '/etc/prometheus',
  '/etc/systemd/system',
  '/etc/grafana',
  '/opt/contimg',
  '/data/',
  '/stage/',
  '/var/lib/contimg',
  '/usr/local/bin',
];

let root: string;
let ids: { uid: number; gid: number };
const ran = new Map<string, { stdout: string; stderr: string }>();

function rewrite(script: string): string {
  let s = script.replace(/\bsudo -u contimg /g, '').replace(/\bsudo /g, '');
  for (const p of MOVED) s = s.split(` ${p}`).join(` ${root}${p}`).split(`>${p}`).join(`>${root}${p}`);
  // The user exists only in the test root's passwd: name it by its ids.
  s = s
    .replace(/-o contimg\b/g, `-o ${ids.uid}`)
    .replace(/-g contimg\b/g, `-g ${ids.gid}`)
    .replace(/\broot:contimg\b/g, `0:${ids.gid}`)
    .replace(/\bcontimg:contimg\b/g, `${ids.uid}:${ids.gid}`)
    .replace(/\bnode \S*\/dist\/cli\/contimg\.js/g, (m) => m.replace('node', process.execPath));
  // Never touch the real host: every install path must have moved.
  for (const p of MOVED)
    if (
      s
        .split(root + p)
        .join('')
        .includes(p)
    )
      throw new Error(`a path ${p} did not move under the test root:\n${s}`);
  return s;
}

function run(step: Step): void {
  // The real passwd stays untouched: useradd works on copies in the test root (with paths as on the host).
  const script =
    step.name === 'user'
      ? step.script
          .replace(/\bid -u contimg\b/, `grep -q '^contimg:' ${root}/etc/passwd`)
          .replace('useradd ', `useradd --prefix ${root} `)
      : rewrite(step.script);
  const r = spawnSync('bash', ['-euo', 'pipefail', '-c', script], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0)
    throw new Error(`deploy.md step "${step.name}" failed (${r.status}):\n${script}\n${r.stdout}${r.stderr}`);
  ran.set(step.name, { stdout: r.stdout, stderr: r.stderr });
}

function mode(p: string): string {
  return (fs.statSync(path.join(root, p)).mode & 0o777).toString(8).padStart(4, '0');
}

function owner(p: string): string {
  const st = fs.statSync(path.join(root, p));
  return `${st.uid}:${st.gid}`;
}

beforeAll(() => {
  for (const tool of ['useradd', 'systemd-analyze', 'promtool', 'amtool']) requireExecutable(tool);
  root = makeTmpDir('contimg-deploy-');
  // What the host already has: systemd's unit folder and the prometheus package's config folder.
  for (const d of ['etc/systemd/system', 'etc/prometheus'])
    fs.mkdirSync(path.join(root, d), { recursive: true });
  for (const f of ['passwd', 'group', 'shadow', 'gshadow', 'login.defs'])
    if (fs.existsSync(`/etc/${f}`)) fs.copyFileSync(`/etc/${f}`, path.join(root, 'etc', f));
  const all = steps();
  for (const step of all) {
    if (step.notRun) continue;
    if (step.name === 'install-dependencies') continue;
    if (step.name === 'databases') {
      // The operator edits the config for the host (step 5): here, its folders move under the test root.
      const cfg = path.join(root, 'etc/contimg/contimg.yaml');
      fs.writeFileSync(
        cfg,
        fs
          .readFileSync(cfg, 'utf8')
          .replace(/ \/data\//g, ` ${root}/data/`)
          .replace(/ \/stage\//g, ` ${root}/stage/`),
      );
    }
    run(step);
    if (step.name === 'user') {
      const line = fs
        .readFileSync(path.join(root, 'etc/passwd'), 'utf8')
        .split('\n')
        .find((l) => l.startsWith('contimg:'))!;
      const [, , uid, gid] = line.split(':');
      ids = { uid: Number(uid), gid: Number(gid) };
    }
    if (step.name === 'install-build') {
      // Stands in for `npm ci --omit=dev` (not run: it downloads and compiles): the checkout's modules.
      fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'opt/contimg/node_modules'));
    }
  }
}, 180_000);

afterAll(() => {
  if (root) removeTmpDir(root);
});

describe('docs/deploy.md, run step by step', () => {
  it('has the steps, each either run here or saying why not', () => {
    const all = steps();
    const names = all.map((s) => s.name);
    for (const n of [
      'user',
      'install-build',
      'directories',
      'config',
      'secrets',
      'databases',
      'units',
      'prometheus',
      'alertmanager',
      'grafana',
    ])
      expect(names).toContain(n);
    for (const s of all)
      expect(ran.has(s.name) || s.notRun !== undefined || s.name === 'install-dependencies', s.name).toBe(
        true,
      );
    expect(all.find((s) => s.name === 'install-dependencies')?.notRun).toBeDefined();
  });

  it('creates a system user with no login shell', () => {
    const line = fs
      .readFileSync(path.join(root, 'etc/passwd'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('contimg:'))!;
    expect(line).toMatch(/^contimg:x:\d+:\d+::\/var\/lib\/contimg:\/usr\/sbin\/nologin$/);
    expect(ids.uid).toBeLessThan(1000);
    // Re-running the step is harmless.
    run(steps().find((s) => s.name === 'user')!);
    expect(fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8').match(/^contimg:/gm)).toHaveLength(1);
  });

  it('config and secrets: root-owned, group contimg, no access for others', () => {
    const g = `0:${ids.gid}`;
    expect([owner('etc/contimg'), mode('etc/contimg')]).toEqual([g, '0750']);
    expect([owner('etc/contimg/secrets'), mode('etc/contimg/secrets')]).toEqual([g, '0750']);
    expect([owner('etc/contimg/contimg.yaml'), mode('etc/contimg/contimg.yaml')]).toEqual([g, '0640']);
    expect([owner('etc/contimg/secrets/http-token'), mode('etc/contimg/secrets/http-token')]).toEqual([
      g,
      '0640',
    ]);
    const token = fs.readFileSync(path.join(root, 'etc/contimg/secrets/http-token'), 'utf8');
    expect(token).toMatch(/^[A-Za-z0-9]{32,}$/);
    const prom = execFileSync('getent', ['group', 'prometheus'], { encoding: 'utf8' }).split(':')[2];
    expect([owner('etc/prometheus/contimg-http-token'), mode('etc/prometheus/contimg-http-token')]).toEqual([
      `0:${prom}`,
      '0640',
    ]);
    expect(fs.readFileSync(path.join(root, 'etc/prometheus/contimg-http-token'), 'utf8')).toBe(token);
    expect(ran.get('config')!.stdout).toContain('config ok');
  });

  it('data folders belong to contimg; the state database is at this build head', () => {
    const u = `${ids.uid}:${ids.gid}`;
    for (const d of [
      'data/dsa110-contimg',
      'data/dsa110-contimg/state/db',
      'stage/dsa110-contimg/ms',
      'stage/dsa110-contimg/scratch',
    ])
      expect([d, owner(d), mode(d)]).toEqual([d, u, '0750']);
    const db = path.join(root, 'data/dsa110-contimg/state/db/contimg.sqlite3');
    const v = execFileSync('sqlite3', [db, 'PRAGMA user_version'], { encoding: 'utf8' }).trim();
    expect(Number(v)).toBe(headVersion('state'));
    expect(ran.get('databases')!.stdout + ran.get('databases')!.stderr).not.toMatch(/drift|mismatch|error/i);
  });

  it('installs the units and the target, and systemd-analyze verify has nothing to say', async () => {
    const dir = path.join(root, 'etc/systemd/system');
    const units = fs.readdirSync(dir).sort();
    expect(units).toContain('contimg.target');
    expect(units).toContain('contimg-migrate.service');
    expect(units.length).toBe(fs.readdirSync(path.join(REPO_ROOT, 'ops/systemd')).length);
    expect(ran.get('units')!.stdout + ran.get('units')!.stderr).toBe('');
    const r = await runTool('systemd-analyze', ['verify', ...units.map((u) => path.join(dir, u))]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('writes a Prometheus config with the rules and the token file that promtool accepts', () => {
    const out = ran.get('prometheus')!.stdout;
    expect(out).toMatch(/SUCCESS: \d+ rule files found/);
    const cfg = fs.readFileSync(path.join(root, 'etc/prometheus/prometheus.yml'), 'utf8');
    expect(cfg).toContain(`credentials_file: ${root}/etc/prometheus/contimg-http-token`);
    expect(fs.readdirSync(path.join(root, 'etc/prometheus/rules')).sort()).toEqual(
      fs.readdirSync(path.join(REPO_ROOT, 'ops/prometheus/rules')).sort(),
    );
  });

  it('installs the Alertmanager example and the Grafana provisioning', () => {
    expect(ran.get('alertmanager')!.stdout).toMatch(/SUCCESS/);
    for (const f of ['datasources/contimg.yaml', 'dashboards/contimg.yaml'])
      expect(fs.readFileSync(path.join(root, 'etc/grafana/provisioning', f), 'utf8')).toBe(
        fs.readFileSync(path.join(REPO_ROOT, 'ops/grafana/provisioning', f), 'utf8'),
      );
    expect(
      fs.readdirSync(path.join(root, 'opt/contimg/ops/grafana/dashboards')).length,
    ).toBeGreaterThanOrEqual(4);
  });

  it("installs the status page's files where the daemons look for them", () => {
    const assets = loadAssets(path.join(root, 'opt/contimg'));
    expect(assets.problem).toBeNull();
    expect([...assets.files.keys()]).toContain('/status/app.js');
  });
});
