// Which config file a command uses (docs/cli.md "Which config file"): --config, then $CONTIMG_CONFIG, then
// ./var/contimg.yaml in the working directory, then the system-wide /etc/contimg/contimg.yaml. Each step is run
// through the built CLI in a temp working directory with every earlier step absent. The system-wide step is
// reached through CONTIMG_SYSTEM_CONFIG (tests never write /etc); the last test checks the real default path
// itself is the one looked at.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findConfig, SYSTEM_CONFIG } from '../../../lib/config/locate.js';
import { BUILT_CLI, runCli, type CliResult } from '../../helpers/cli.js';
import { freshDatabases } from '../../helpers/db.js';
import { freePort } from '../../helpers/net.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { spawn } from 'node:child_process';

let root: string;
/** Four distinct configs, each naming its own dataDir, so print-config tells which one was read. */
const files: Record<'option' | 'env' | 'local' | 'system', string> = {
  option: '',
  env: '',
  local: '',
  system: '',
};
let cwd: string;

let port: number;

function writeConfig(file: string, tag: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(
    file,
    JSON.stringify({
      dataDir: path.join(root, `data-${tag}`),
      databases: { state: 'state.sqlite3', pipeline: 'pipeline.sqlite3' },
      // The daemon test starts a pointing monitor on it: never its fixed default port.
      pointingMonitor: { port },
    }),
  );
  return file;
}

beforeAll(async () => {
  root = makeTmpDir('contimg-lookup-');
  port = await freePort();
  cwd = path.join(root, 'work');
  files.option = writeConfig(path.join(root, 'option.yaml'), 'option');
  files.env = writeConfig(path.join(root, 'env.yaml'), 'env');
  files.local = writeConfig(path.join(cwd, 'var', 'contimg.yaml'), 'local');
  files.system = writeConfig(path.join(root, 'etc', 'contimg.yaml'), 'system');
});
afterAll(() => removeTmpDir(root));

/** `check-config --print-config` with the given working directory and environment; which dataDir it read. */
async function printConfig(
  args: string[],
  o: { cwd: string; env?: Record<string, string> },
): Promise<CliResult & { dataDir?: string }> {
  const r = await runCli(['check-config', '--print-config', ...args], {
    built: true,
    cwd: o.cwd,
    env: { CONTIMG_SYSTEM_CONFIG: files.system, ...o.env },
  });
  const dataDir = r.code === 0 ? (JSON.parse(r.stdout) as { dataDir: string }).dataDir : undefined;
  return { ...r, dataDir };
}

const notices = (stderr: string): string[] => stderr.split('\n').filter((l) => l.includes('using config'));

describe('config lookup order', () => {
  it('1. --config wins over everything, and is not announced', async () => {
    const r = await printConfig(['--config', files.option], { cwd, env: { CONTIMG_CONFIG: files.env } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.dataDir).toBe(path.join(root, 'data-option'));
    expect(r.stderr).toBe('');
  });

  it('2. then $CONTIMG_CONFIG, over ./var/contimg.yaml and the system file, named once on stderr', async () => {
    const r = await printConfig([], { cwd, env: { CONTIMG_CONFIG: files.env } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.dataDir).toBe(path.join(root, 'data-env'));
    expect(notices(r.stderr)).toEqual([`contimg: using config ${files.env} (from $CONTIMG_CONFIG)`]);
  });

  it('3. then ./var/contimg.yaml in the working directory (what npm start writes), over the system file', async () => {
    const r = await printConfig([], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.dataDir).toBe(path.join(root, 'data-local'));
    expect(notices(r.stderr)).toEqual([`contimg: using config ${files.local} (from ./var/contimg.yaml)`]);
  });

  it('4. then the system-wide file, when nothing else is there', async () => {
    const r = await printConfig([], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    expect(r.dataDir).toBe(path.join(root, 'data-system'));
    expect(notices(r.stderr)).toEqual([`contimg: using config ${files.system} (the system-wide default)`]);
  });

  it('no config anywhere: exit 78 naming every place tried, in order', async () => {
    const missing = path.join(root, 'etc', 'absent.yaml');
    const r = await printConfig([], { cwd: root, env: { CONTIMG_SYSTEM_CONFIG: missing } });
    expect(r.code).toBe(78);
    const line = r.stderr.trim();
    expect(line.split('\n')).toHaveLength(1);
    const order = [
      '--config (not given)',
      '$CONTIMG_CONFIG (not set)',
      `./var/contimg.yaml (${path.join(root, 'var', 'contimg.yaml')}: no such file)`,
      `${missing} (no such file)`,
    ].map((p) => line.indexOf(p));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('an explicit place that does not exist is an error, never a fall-through to the next', async () => {
    const gone = path.join(root, 'gone.yaml');
    const viaEnv = await printConfig([], { cwd, env: { CONTIMG_CONFIG: gone } });
    expect([viaEnv.code, viaEnv.stderr]).toEqual([
      78,
      expect.stringContaining(`cannot read config file ${gone}`),
    ]);
    const viaOption = await printConfig(['--config', gone], { cwd });
    expect(viaOption.code).toBe(78);
    // An empty CONTIMG_CONFIG (X= in a shell) counts as unset.
    const empty = await printConfig([], { cwd, env: { CONTIMG_CONFIG: '' } });
    expect(empty.dataDir).toBe(path.join(root, 'data-local'));
  });

  it('commands whose config is optional use the one found (and say so once)', async () => {
    const site = { site: { latDeg: 10, lonDeg: 20, heightM: 30 } };
    const dir = path.join(root, 'lst');
    fs.mkdirSync(path.join(dir, 'var'), { recursive: true });
    const file = path.join(dir, 'var', 'contimg.yaml');
    const dbs = await freshDatabases(dir);
    fs.writeFileSync(
      file,
      JSON.stringify({
        dataDir: dir,
        databases: { state: dbs.statePath, pipeline: dbs.pipelinePath },
        ...site,
      }),
    );
    const at = ['--at', '2025-06-01T00:00:00Z', '--json'];
    const found = await runCli(['lst', ...at], { built: true, cwd: dir });
    const none = await runCli(['lst', ...at], { built: true, cwd: root });
    expect([found.code, none.code]).toEqual([0, 0]);
    // Longitude 20° E instead of DSA-110's −118.28°: LST differs by 138.28° = 9.219 h.
    const hours = (r: CliResult) => (JSON.parse(r.stdout) as { lastHours: number }[])[0].lastHours;
    expect((((hours(found) - hours(none)) % 24) + 24) % 24).toBeCloseTo(138.2817 / 15, 3);
    expect(notices(found.stderr)).toEqual([`contimg: using config ${file} (from ./var/contimg.yaml)`]);
    expect(none.stderr).toBe('');
    // transits --store reads the config twice (site, then the database): still one line.
    const stored = await runCli(['transits', '--from', '2025-06-01T00:00:00Z', '--next', '6h', '--store'], {
      built: true,
      cwd: dir,
    });
    expect(stored.code, stored.stderr).toBe(0);
    expect(notices(stored.stderr)).toHaveLength(1);
  });

  it('the daemons look up the same way (systemd passes --config; by hand the lookup applies)', async () => {
    const run = (dir: string, env: Record<string, string>) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          [path.join(path.dirname(BUILT_CLI), '..', 'daemons', 'pointing-monitor', 'main.js')],
          {
            cwd: dir,
            env: { ...process.env, CONTIMG_CONFIG: '', ...env },
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        );
        let stderr = '';
        child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
        child.once('exit', (code) => resolve({ code, stderr }));
      });
    // The local config names a state database that does not exist: the daemon says which config it used,
    // then exits 78 for the database, without creating anything.
    const found = await run(cwd, { CONTIMG_SYSTEM_CONFIG: files.system });
    expect(found.code).toBe(78);
    expect(found.stderr).toContain(
      `contimg-pointing-monitor: using config ${files.local} (from ./var/contimg.yaml)`,
    );
    const none = await run(root, { CONTIMG_SYSTEM_CONFIG: path.join(root, 'absent.yaml') });
    expect(none.code).toBe(78);
    expect(none.stderr).toMatch(/contimg-pointing-monitor: no config file: tried --config \(not given\)/);
  });

  it('the system-wide default is /etc/contimg/contimg.yaml when CONTIMG_SYSTEM_CONFIG is not set', () => {
    const env = { PATH: process.env.PATH };
    const { found, tried } = findConfig({ env, cwd: root });
    if (fs.existsSync(SYSTEM_CONFIG)) {
      // A host with an installed config: it is the one found.
      expect(found).toMatchObject({ path: SYSTEM_CONFIG, source: 'system' });
    } else {
      expect(found).toBeUndefined();
      expect(tried.at(-1)).toBe('/etc/contimg/contimg.yaml (no such file)');
    }
  });
});
