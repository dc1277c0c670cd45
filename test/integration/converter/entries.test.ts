// Subband-named entries that are not regular files (a directory, a FIFO, a dangling symlink) and symlinks
// that leave incomingDir are never opened or converted: each is counted and logged once while it stays.
// Junk names are logged once each, at most a few lines per window, then summarised.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { createLogger } from '../../../lib/log.js';
import { Registry } from '../../../lib/metrics.js';
import { subbandFileName, writeSubbandFile } from '../../../lib/uvh5/writer.js';
import { JunkNotices } from '../../../daemons/streaming-converter/entries.js';
import { converterMetrics } from '../../../daemons/streaming-converter/metrics.js';
import { waitFor } from '../../helpers/wait.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { groups, makeEnv, query, startLogged, T0, writeSubband, type Env } from './harness.js';

let env: Env;
let d: RunningDaemon | undefined;
let outside: string | undefined;
afterEach(async () => {
  await d?.stop();
  d = undefined;
  removeTmpDir(env.dir);
  if (outside) removeTmpDir(outside);
  outside = undefined;
});

interface Line {
  msg: string;
  level: string;
  path?: string;
  name?: string;
  reason?: string;
}

async function start(e: Env): Promise<{ lines: Line[] }> {
  const started = await startLogged(e);
  d = started.daemon;
  return { lines: started.lines as unknown as Line[] };
}

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${d!.port}/metrics`)).text();
}

function counter(m: string, result: string, reason: string): number {
  const re = new RegExp(`contimg_converter_files_total\\{result="${result}",reason="${reason}"\\} (\\d+)`);
  return Number(re.exec(m)?.[1] ?? 0);
}

async function scans(): Promise<number> {
  return Number(
    /contimg_converter_scan_duration_seconds_count\{kind="quick"\} (\d+)/.exec(await metrics())![1],
  );
}

const T1 = T0 + 309_000;

/** 14 real subbands of T0, sb14 a link to a real file outside incomingDir, sb15 a link inside it. */
function layout(e: Env): { external: string; dangling: string; fifo: string; dir: string } {
  for (let sb = 0; sb < 14; sb++) writeSubband(e.incoming, T0, sb);
  outside = makeTmpDir('contimg-outside-');
  const target = path.join(outside, 'elsewhere.hdf5');
  writeSubbandFile(target, { subband: 14, startMs: T0, decRad: 0.97 });
  const external = path.join(e.incoming, subbandFileName(T0, 14));
  fs.symlinkSync(target, external);
  fs.mkdirSync(path.join(e.incoming, 'stash'));
  writeSubbandFile(path.join(e.incoming, 'stash', 'sb15.hdf5'), { subband: 15, startMs: T0, decRad: 0.97 });
  fs.symlinkSync('stash/sb15.hdf5', path.join(e.incoming, subbandFileName(T0, 15)));
  const dir = path.join(e.incoming, subbandFileName(T1, 0));
  fs.mkdirSync(dir);
  const fifo = path.join(e.incoming, subbandFileName(T1, 1));
  execFileSync('mkfifo', [fifo]);
  const dangling = path.join(e.incoming, subbandFileName(T1, 2));
  fs.symlinkSync(path.join(e.incoming, 'missing.hdf5'), dangling);
  return { external, dangling, fifo, dir };
}

describe('entries in incomingDir that are not subband files', () => {
  it('refuses an external symlink, ignores a directory, FIFO and dangling symlink: counted and logged once', async () => {
    env = await makeEnv();
    const p = layout(env);
    const { lines } = await start(env);
    await waitFor(async () => counter(await metrics(), 'valid', '') === 15, { what: '15 valid files' });
    const s0 = await scans();
    await waitFor(async () => (await scans()) >= s0 + 3, { what: 'three more scans' });
    const m = await metrics();
    for (const reason of ['external_symlink', 'directory', 'fifo', 'dangling_symlink'])
      expect(counter(m, 'ignored', reason), reason).toBe(1);
    // The group waits for sb14 (a link out of incomingDir is not an input); the in-tree link counted.
    expect(groups(env)).toMatchObject([
      { group_id: '2025-06-01T12:00:00', state: 'collecting', n_valid: 15 },
    ]);
    const paths = query<{ path: string }>(env, 'SELECT path FROM hdf5_files').map((r) => r.path);
    for (const q of Object.values(p)) expect(paths).not.toContain(q);
    for (const q of Object.values(p))
      expect(
        lines.filter((l) => l.path === q),
        q,
      ).toHaveLength(1);
    expect(lines.find((l) => l.path === p.external)).toMatchObject({
      level: 'warn',
      reason: 'external_symlink',
    });
    expect(lines.find((l) => l.path === p.fifo)).toMatchObject({ level: 'warn', reason: 'fifo' });
    // A dangling link whose target appears becomes a normal input (and would be reported again if it broke).
    fs.renameSync(path.join(env.incoming, 'stash', 'sb15.hdf5'), path.join(env.incoming, 'missing.hdf5'));
    writeSubbandFile(path.join(env.incoming, 'stash', 'sb15.hdf5'), {
      subband: 15,
      startMs: T0,
      decRad: 0.97,
    });
    await waitFor(() => query(env, 'SELECT 1 FROM hdf5_files WHERE path = ?', p.dangling).length === 1, {
      what: 'the repaired link is an input',
    });
  });

  it('follows external symlinks when streamingConverter.followExternalSymlinks is true', async () => {
    env = await makeEnv({ followExternalSymlinks: true });
    layout(env);
    await start(env);
    await waitFor(() => groups(env).some((g) => g.state === 'converted'), { what: 'converted' });
    expect(counter(await metrics(), 'ignored', 'external_symlink')).toBe(0);
  });

  it('logs a flood of junk names at most 20 lines plus one notice, and counts every name once', async () => {
    env = await makeEnv();
    const { lines } = await start(env);
    for (let i = 0; i < 60; i++) fs.writeFileSync(path.join(env.incoming, `junk-${i}.dat`), 'x');
    await waitFor(async () => counter(await metrics(), 'bad_name', 'pattern') === 60, { what: '60 counted' });
    const s0 = await scans();
    await waitFor(async () => (await scans()) >= s0 + 2, { what: 'two more scans' });
    expect(counter(await metrics(), 'bad_name', 'pattern')).toBe(60);
    expect(lines.filter((l) => l.reason === 'pattern')).toHaveLength(20);
    expect(lines.filter((l) => /not logged one by one/.test(l.msg))).toHaveLength(1);
  });
});

describe('JunkNotices', () => {
  it('caps lines per window, summarises a window with anything new, and stays quiet when nothing changes', () => {
    const lines: { msg: string; present?: Record<string, number>; notLoggedInWindow?: number }[] = [];
    const log = createLogger({
      daemon: 't',
      destination: { write: (s: string) => lines.push(JSON.parse(s) as (typeof lines)[number]) },
    });
    const m = converterMetrics(new Registry());
    const n = new JunkNotices(log, m, { maxLines: 3, windowMs: 1000 });
    const each: string[] = [];
    for (let i = 0; i < 10; i++) n.note('bad_name', `j${i}`, 'pattern', 0, () => each.push(`j${i}`));
    n.note('ignored', '/in/x_sb00.hdf5', 'fifo', 0, () => each.push('fifo'));
    expect(each).toEqual(['j0', 'j1', 'j2']);
    expect(lines.map((l) => l.msg)).toEqual([
      'more entries that are not subband files: not logged one by one; a summary follows',
    ]);
    n.summarize(999);
    expect(lines).toHaveLength(1);
    n.summarize(1000);
    expect(lines[1]).toMatchObject({
      present: { 'bad_name:pattern': 10, 'ignored:fifo': 1 },
      notLoggedInWindow: 8,
    });
    // The same names again: nothing new, no line, no summary.
    for (let i = 0; i < 10; i++) n.note('bad_name', `j${i}`, 'pattern', 2000, () => each.push('again'));
    n.summarize(5000);
    expect(lines).toHaveLength(2);
    expect(each).toHaveLength(3);
    // A listing that does not meet a name forgets it: if it comes back it is new again (and the window's
    // line budget is fresh). Names the listing met (noted again or touched) are kept.
    n.beginPass();
    for (let i = 1; i < 10; i++) n.touch(`j${i}`);
    n.touch('/in/x_sb00.hdf5');
    n.endPass();
    expect(n.size).toBe(10);
    expect(n.keys('ignored')).toEqual(['/in/x_sb00.hdf5']);
    expect(n.note('bad_name', 'j1', 'pattern', 6000, () => each.push('j1 again'))).toBe(false);
    expect(n.note('bad_name', 'j0', 'pattern', 6000, () => each.push('j0 again'))).toBe(true);
    expect(each).toEqual(['j0', 'j1', 'j2', 'j0 again']);
  });
});
